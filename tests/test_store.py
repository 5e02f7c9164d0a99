"""The log: round trips on SQLite and PostgreSQL, concurrent writers, delete, export."""
import io
import json
import subprocess
import sys

import pytest
from sqlalchemy import inspect, select

from hanprompt.errors import NotFoundError, StoreError
from hanprompt.store import db, open_engine
from hanprompt.store.export import write_export
from hanprompt.store import migrations
from hanprompt.store.runs import (
    delete_generations, get_generation, list_generations, list_runs, record_single,
)
from hanprompt.store.schema import generations, metadata


def _record(**extra):
    rec = {
        "model": "hf:tiny", "backend": "hf", "device": "cpu", "dtype": "float32",
        "params": {"max_new_tokens": 8}, "messages": [{"role": "user", "content": "안녕?"}],
        "prompt": "안녕?", "response": "안녕하세요", "input_tokens": 3, "output_tokens": 5,
        "total_s": 0.5, "tokens_per_s": 10.0, "finish_reason": "eos",
    }
    rec.update(extra)
    return rec


def _schema(engine):
    insp = inspect(engine)
    return {t: sorted(c["name"] for c in insp.get_columns(t)) for t in insp.get_table_names()}


def test_open_builds_the_current_schema_in_wal_mode(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'log.db'}")
    got = _schema(engine)
    for table in metadata.sorted_tables:
        assert got[table.name] == sorted(c.name for c in table.columns), table.name
    with engine.connect() as conn:
        assert db.current_revision(conn) == migrations.head()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def _round_trip(url):
    engine = open_engine(url)
    run_id, gen_id = record_single(engine, name="q", kind="ask", spec={"model": "hf:tiny"}, record=_record())
    row = get_generation(engine, gen_id)
    assert row["run_id"] == run_id and row["response"] == "안녕하세요"
    assert row["messages"] == [{"role": "user", "content": "안녕?"}]
    assert row["created_at"].endswith("+00:00")
    runs = list_runs(engine)
    assert runs[0]["id"] == run_id and runs[0]["generations"] == 1 and runs[0]["kind"] == "ask"
    assert [r["id"] for r in list_generations(engine, search="안녕하")] == [gen_id]
    assert list_generations(engine, search="nothing like this") == []
    delete_generations(engine, [gen_id])
    assert list_generations(engine) == []
    assert list_runs(engine) == []  # the ask run went with its only generation


def test_round_trip_sqlite_file(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'log.db'}")


@pytest.mark.postgres
def test_round_trip_postgresql(pg_url):
    _round_trip(pg_url)
    engine = open_engine(pg_url)
    assert "translations" in _schema(engine)


def test_delete_with_an_unknown_id_deletes_nothing(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'log.db'}")
    _, gen_id = record_single(engine, name="q", kind="ask", spec={}, record=_record())
    with pytest.raises(NotFoundError, match="nothing was deleted"):
        delete_generations(engine, [gen_id, gen_id + 100])
    assert len(list_generations(engine)) == 1


def test_export_jsonl_and_csv(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'log.db'}")
    for i in range(3):
        record_single(engine, name=f"q{i}", kind="ask", spec={}, record=_record(response=f"대답 {i}"))
    out = io.StringIO()
    assert write_export(engine, out, "jsonl") == 3
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["response"] for r in rows] == ["대답 2", "대답 1", "대답 0"]
    out = io.StringIO()
    assert write_export(engine, out, "csv") == 3
    assert out.getvalue().splitlines()[0].startswith("\ufeffid,run_id,model")  # BOM: Excel reads UTF-8


WRITER = """
import sys
from hanprompt.store import open_engine
from hanprompt.store.runs import record_single
engine = open_engine(sys.argv[1])
for i in range(int(sys.argv[2])):
    record_single(engine, name=f"{sys.argv[3]}-{i}", kind="ask", spec={},
                  record={"model": "m", "backend": "hf", "response": str(i)})
"""


def _concurrent_writers(url, n=60):
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(n), tag], stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    engine = open_engine(url)
    names = [r["name"] for r in list_runs(engine)]
    assert len(names) == 2 * n and len(set(names)) == 2 * n
    with engine.connect() as conn:
        assert len(conn.execute(select(generations.c.id)).all()) == 2 * n


def test_two_processes_writing_at_once_lose_nothing_sqlite(tmp_path):
    _concurrent_writers(f"sqlite:///{tmp_path / 'shared.db'}")


@pytest.mark.postgres
def test_two_processes_writing_at_once_lose_nothing_postgresql(pg_url):
    _concurrent_writers(pg_url)


@pytest.mark.parametrize(
    "url, message",
    [
        ("nonsense", "invalid database URL"),
        ("mysql+nosuchdriver://x/y", "invalid database URL"),
        ("postgresql://nobody@127.0.0.1:1/none", "cannot reach database"),
        ("sqlite:////no/such/folder/log.db", "does not exist"),
    ],
)
def test_bad_database_urls(url, message):
    with pytest.raises(StoreError, match=message):
        open_engine(url)


def test_password_is_never_shown(monkeypatch):
    with pytest.raises(StoreError) as e:
        open_engine("postgresql://user:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(e.value)
