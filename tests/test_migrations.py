"""Alembic migrations: from empty and from each schema of the runner before Alembic, on SQLite and
PostgreSQL; the schema they build is schema.py's; duplicates are archived; newer databases refused."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import legacy_runner
from hanprompt.errors import StoreError
from hanprompt.store import db, migrations, open_engine
from hanprompt.store.schema import metadata

T0 = "2026-01-01 00:00:00"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    return request.getfixturevalue("pg_url")


def _fresh(url):
    """A plain engine (no migration on open) for building old databases by hand."""
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def _reopen(url):
    old = db._engines.pop(url, None)
    if old is not None:
        old.dispose()
    return open_engine(url)


def _no_diff(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def _fill(engine, version: int) -> None:
    """Rows in every table a database at ``version`` of the old runner has."""
    with engine.begin() as c:
        c.execute(text("INSERT INTO runs (name, kind, status, spec, created_at) "
                       "VALUES ('옛 실험', 'experiment', 'done', '{\"a\": 1}', :t)"), {"t": T0})
        extra = ", variant, cell_key, cached" if version >= 2 else ""
        values = ", 'v1', 'cell-a', false" if version >= 2 else ""
        c.execute(text(f"INSERT INTO generations (run_id, model, backend, response, params, created_at{extra}) "
                       f"VALUES (1, 'hf:x', 'hf', '옛 대답', '{{\"max_new_tokens\": 8}}', :t{values})"), {"t": T0})
        if version >= 2:
            c.execute(text("INSERT INTO checks (generation_id, name, passed, reason) VALUES (1, 'contains', true, 'ok')"))
        if version >= 3:
            c.execute(text("INSERT INTO translations (run_id, generation_id, translator, source_lang, target_lang, "
                           "source, translation, created_at) VALUES (1, 1, 'mt:x', 'en', 'ko', 'hi', '안녕', :t)"),
                      {"t": T0})
            c.execute(text("INSERT INTO translation_scores (run_id, translator, segments, chrf, created_at) "
                           "VALUES (1, 'mt:x', 1, 42.5, :t)"), {"t": T0})
        if version >= 4:
            c.execute(text("INSERT INTO analyses (run_id, params_hash, params, documents, total_tokens, result, "
                           "created_at) VALUES (1, 'h', '{}', 1, 3, '{\"top\": []}', :t)"), {"t": T0})


def _check_kept(engine, version: int) -> None:
    with engine.connect() as c:
        run = c.execute(text("SELECT name, kind, status, spec FROM runs")).one()
        assert tuple(run[:3]) == ("옛 실험", "experiment", "done")
        gen = c.execute(text("SELECT run_id, response, model FROM generations")).one()
        assert tuple(gen) == (1, "옛 대답", "hf:x")
        if version >= 2:
            assert c.execute(text("SELECT cell_key, variant FROM generations")).one() == ("cell-a", "v1")
            assert c.execute(text("SELECT name, reason FROM checks")).one() == ("contains", "ok")
        if version >= 3:
            assert c.execute(text("SELECT translation FROM translations")).scalar_one() == "안녕"
            assert c.execute(text("SELECT chrf FROM translation_scores")).scalar_one() == 42.5
        if version >= 4:
            assert c.execute(text("SELECT total_tokens FROM analyses")).scalar_one() == 3
        assert c.execute(text("SELECT count(*) FROM archived_rows")).scalar_one() == 0


def test_from_empty_builds_schema_py(url):
    engine = open_engine(url)
    _no_diff(engine)
    with engine.connect() as conn:
        assert db.current_revision(conn) == migrations.head()
        assert not inspect(conn).has_table("schema_migrations")
    assert db.migrate(engine) == migrations.head()  # a second run changes nothing


def test_the_written_out_head_is_alembics():
    assert migrations.HEAD == migrations.head()


def test_an_up_to_date_database_opens_without_alembic(url, tmp_path):
    open_engine(url)  # built (and stamped) by Alembic
    code = ("import sys; from hanprompt.store import open_engine; "
            f"open_engine({url!r}); print('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr


def test_a_database_one_revision_behind_still_migrates(url):
    engine = _fresh(url)
    if engine.dialect.name == "sqlite":
        db._sqlite_setup(engine)
    try:
        assert migrations.upgrade(engine, "m005") == "m005"
        assert not migrations._at_head(engine)
        assert migrations.upgrade(engine) == migrations.HEAD
        assert migrations._at_head(engine)
        _no_diff(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_from_each_schema_before_alembic_keeps_data(url, version, tmp_path):
    old = _fresh(url)
    legacy_runner.build(old, version)
    _fill(old, version)
    old.dispose()
    engine = _reopen(url)
    _check_kept(engine, version)
    _no_diff(engine)
    with engine.connect() as conn:
        assert db.current_revision(conn) == migrations.head()
        assert not inspect(conn).has_table("schema_migrations")
    if url.startswith("sqlite"):
        backup = tmp_path / f"log.db.m00{version}.bak"
        with sqlite3.connect(backup) as copy:  # the copy is the database as it was
            assert copy.execute("SELECT max(version) FROM schema_migrations").fetchone() == (version,)
            assert copy.execute("SELECT response FROM generations").fetchall() == [("옛 대답",)]
        backup.unlink()


def test_each_revision_step_by_step_then_down_and_up(url):
    from alembic import command

    engine = _fresh(url)
    if engine.dialect.name == "sqlite":
        db._sqlite_setup(engine)
    try:
        for rev in ("m001", "m002", "m003", "m004"):
            assert migrations.upgrade(engine, rev) == rev
        _fill(engine, 4)
        assert migrations.upgrade(engine) == migrations.head()
        _check_kept(engine, 4)
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")
            with conn.begin():
                command.downgrade(migrations._config(conn), "m004")
            assert "holder" not in {c["name"] for c in inspect(conn).get_columns("runs")}
        assert migrations.upgrade(engine) == migrations.head()
        _check_kept(engine, 4)
        _no_diff(engine)
    finally:
        engine.dispose()


def test_translations_before_m007_stay_unflagged(url):
    from alembic import command

    engine = _fresh(url)
    if engine.dialect.name == "sqlite":
        db._sqlite_setup(engine)
    try:
        assert migrations.upgrade(engine, "m006") == "m006"
        _fill(engine, 4)
        assert migrations.upgrade(engine) == migrations.head()
        _check_kept(engine, 4)
        with engine.connect() as c:
            assert c.execute(text("SELECT flag FROM translations")).one() == (None,)
            assert c.execute(text("SELECT flagged FROM translation_scores")).one() == (None,)
        with engine.connect() as conn, conn.begin():
            command.downgrade(migrations._config(conn), "m006")
        with engine.connect() as conn:
            assert "flag" not in {c["name"] for c in inspect(conn).get_columns("translations")}
        _check_kept(engine, 4)
    finally:
        engine.dispose()


def _duplicates(engine):
    with engine.begin() as c:
        for run in (1, 2):
            c.execute(text("INSERT INTO runs (name, kind, status, created_at) VALUES ('r', 'experiment', 'done', :t)"),
                      {"t": T0})
        rows = [(1, "a"), (1, "a"), (1, "b"), (1, "a"), (2, "a"), (1, None), (1, None)]
        for run, cell in rows:
            c.execute(text("INSERT INTO generations (run_id, model, backend, response, cell_key, created_at) "
                           "VALUES (:r, 'm', 'hf', 'x', :k, :t)"), {"r": run, "k": cell, "t": T0})
        # generation 2 duplicates 1: its check and translation go with it
        c.execute(text("INSERT INTO checks (generation_id, name, passed) VALUES (2, 'c', true)"))
        for gen, translator, text_ in [(1, "a", "첫"), (1, "a", "둘"), (1, "b", "셋"), (2, "a", "넷"), (3, "a", "다")]:
            c.execute(text("INSERT INTO translations (run_id, generation_id, translator, source_lang, target_lang, "
                           "source, translation, created_at) VALUES (1, :g, :tr, 'en', 'ko', 's', :x, :t)"),
                      {"g": gen, "tr": translator, "x": text_, "t": T0})
        for _ in range(2):  # translations of free text (no generation) never collide
            c.execute(text("INSERT INTO translations (run_id, translator, source_lang, target_lang, source, "
                           "translation, created_at) VALUES (1, 'a', 'en', 'ko', 's', 'free', :t)"), {"t": T0})


def test_duplicates_are_archived_and_reported(url, caplog):
    old = _fresh(url)
    legacy_runner.build(old, 4)
    _duplicates(old)
    old.dispose()
    with caplog.at_level("WARNING", logger="hanprompt.store"):
        engine = _reopen(url)
    moved = [r.getMessage() for r in caplog.records if "duplicate generations" in r.getMessage()]
    assert moved == ["moved 2 duplicate generations (with 1 checks) and 2 duplicate translations to the table "
                     "archived_rows; the first of each stays"]
    with engine.connect() as c:
        assert list(c.execute(text("SELECT id FROM generations ORDER BY id")).scalars()) == [1, 3, 5, 6, 7]
        assert list(c.execute(text("SELECT translation FROM translations ORDER BY id")).scalars()) == [
            "첫", "셋", "다", "free", "free"]
        assert c.execute(text("SELECT count(*) FROM checks")).scalar_one() == 0
        archived = c.execute(text("SELECT table_name, row_id, run_id FROM archived_rows ORDER BY id")).all()
        assert sorted(map(tuple, archived)) == sorted([
            ("checks", 1, 1), ("translations", 4, 1), ("generations", 2, 1), ("generations", 4, 1),
            ("translations", 2, 1)])
        row = c.execute(text("SELECT row FROM archived_rows WHERE table_name = 'translations' AND row_id = 2")).scalar_one()
    row = row if isinstance(row, dict) else __import__("json").loads(row)
    assert row["translation"] == "둘" and row["created_at"].startswith("2026-01-01T00:00:00")
    # and the constraints hold from now on
    with pytest.raises(Exception, match="(?i)unique"):
        with engine.begin() as c:
            c.execute(text("INSERT INTO generations (run_id, model, backend, cell_key, created_at) "
                           "VALUES (1, 'm', 'hf', 'a', :t)"), {"t": T0})
    with pytest.raises(Exception, match="(?i)unique"):
        with engine.begin() as c:
            c.execute(text("INSERT INTO translations (run_id, generation_id, translator, source_lang, target_lang, "
                           "source, translation, created_at) VALUES (1, 1, 'a', 'en', 'ko', 's', 'x', :t)"), {"t": T0})


def test_a_newer_database_is_refused_before_anything_is_written(url):
    engine = _fresh(url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        c.execute(text("INSERT INTO alembic_version VALUES ('m999')"))
    with pytest.raises(StoreError, match=f"database is at revision m999, this hanprompt knows up to "
                                         f"{migrations.head()}: upgrade hanprompt"):
        _reopen(url)
    assert inspect(engine).get_table_names() == ["alembic_version"]
    engine.dispose()


def test_a_newer_database_of_the_old_runner_is_refused(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
        c.execute("INSERT INTO schema_migrations VALUES (7, 'm007', '2026')")
    with pytest.raises(StoreError, match="database is at revision 7, this hanprompt knows up to"):
        open_engine(f"sqlite:///{path}")
    with sqlite3.connect(path) as c:
        assert [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["schema_migrations"]


def test_the_cli_names_the_backup_in_one_line(tmp_path, cli_process):
    path = tmp_path / "old.db"
    old = _fresh(f"sqlite:///{path}")
    legacy_runner.build(old, 4)
    _fill(old, 4)
    old.dispose()
    done = cli_process("runs", "--db", f"sqlite:///{path}")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"hanprompt: upgrading the database schema from m004 to {migrations.head()}; "
        f"a copy of it before the upgrade is at {path}.m004.bak"
    ]
    assert "옛 실험" in done.stdout
    again = cli_process("runs", "--db", f"sqlite:///{path}")
    assert again.returncode == 0 and again.stderr == ""


OPENER = """
import sys
from hanprompt.store import open_engine
from hanprompt.store.runs import list_runs
print(len(list_runs(open_engine(sys.argv[1]))))
"""


def test_processes_opening_an_old_database_at_once_migrate_it_once(url, tmp_path):
    old = _fresh(url)
    legacy_runner.build(old, 4)
    _fill(old, 4)
    old.dispose()
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "1"
    engine = _reopen(url)
    _check_kept(engine, 4)
    if url.startswith("sqlite"):
        assert len(list(tmp_path.glob("log.db.*.bak"))) == 1


def _canonical(schema: str) -> list[str]:
    """A SQLite schema dump with each table's constraints sorted: Alembic's table rebuilds write
    them in an order that changes from process to process (columns keep theirs: it matters)."""
    out = []
    for statement in filter(None, schema.split(";\n")):
        head, sep, body = statement.partition("(\n")
        if not sep:
            out.append(statement)
            continue
        items = [item.strip() for item in body.rstrip().removesuffix(")").split(", \n")]
        constraint = ("PRIMARY KEY", "FOREIGN KEY", "CONSTRAINT", "UNIQUE", "CHECK")
        columns = [i for i in items if not i.startswith(constraint)]
        out.append(head + "(" + " | ".join(columns) + " | " + " | ".join(sorted(set(items) - set(columns))) + ")")
    return out


def _alembic_sqlite_schema(path) -> str:
    engine = create_engine(f"sqlite:///{path}")
    db._sqlite_setup(engine)
    try:
        assert migrations._upgrade_with_alembic(engine, None) == migrations.HEAD
        with engine.connect() as conn:
            return migrations.sqlite_schema(conn)
    finally:
        engine.dispose()


def test_the_sqlite_head_file_is_what_alembic_builds(tmp_path):
    header, _, body = migrations.SQLITE_HEAD.read_text(encoding="utf-8").partition("\n")
    assert f"revision {migrations.HEAD}," in header
    assert "CREATE TABLE generations" in body or 'CREATE TABLE "generations"' in body
    assert _canonical(body) == _canonical(_alembic_sqlite_schema(tmp_path / "alembic.db")), (
        "store/migrations/head.sqlite.sql is stale: python -c \"from hanprompt.store import migrations; "
        "migrations.write_sqlite_head()\"")


def test_a_new_sqlite_file_is_built_in_one_step_without_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = ("import sys; from hanprompt.store import open_engine; "
            f"open_engine({url!r}); print('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr
    engine = open_engine(url)
    _no_diff(engine)
    with engine.connect() as conn:
        assert db.current_revision(conn) == migrations.HEAD
        built = migrations.sqlite_schema(conn)
        assert _canonical(built) == _canonical(_alembic_sqlite_schema(tmp_path / "alembic.db"))
        assert built == migrations.SQLITE_HEAD.read_text(encoding="utf-8").partition("\n")[2]
        assert conn.exec_driver_sql("PRAGMA foreign_key_list(generations)").fetchall()
    assert not list(tmp_path.glob("*.bak"))  # nothing to back up: the file was new


def test_a_sqlite_file_with_other_tables_is_migrated_by_alembic_not_overwritten(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    engine = open_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT body FROM notes").scalar() == "keep me"
        assert conn.exec_driver_sql("SELECT count(*) FROM generations").scalar() == 0
        assert db.current_revision(conn) == migrations.HEAD
