"""Every input is checked before anything is written: a repeated cell, a regex that templating
breaks, a bad translate: section, a read-only or newer database. And how a run fails is recorded."""
from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import text

from hanprompt.store import open_engine
from hanprompt.store.schema import runs

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _spec(tmp_path, body: str):
    path = tmp_path / "exp.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _nothing_stored(rows) -> None:
    assert rows("runs") == 0 and rows("generations") == 0 and rows("translations") == 0


@SQLITE
@pytest.mark.parametrize("body, message", [
    ("""\
     vars:
       city: [서울, 부산, 서울]
     variants:
       - {id: v, prompt: "{{city}}의 날씨는?"}
     """, "exp.yaml:2: vars.city[2]: repeated value '서울' (first at vars.city[0]); give each value once"),
    ("""\
     models:
       - hf:MODEL
       - hf:MODEL
     variants:
       - {id: v, prompt: "안녕?"}
     """, "exp.yaml:3: models[1]: repeats models[0] (hf:MODEL); give each model once"),
    ("""\
     vars:
       sym: [a, "("]
     checks:
       - regex: "{{sym}}+"
     variants:
       - {id: v, prompt: "say {{sym}}"}
     """, "regex '(+' (after templating) does not compile"),
    ("""\
     translate: {to: ko, translator: "zz:nothing"}
     variants:
       - {id: v, prompt: "hi"}
     """, "exp.yaml:1: translate: --translator 'zz:nothing'"),
    ("""\
     translate: {to: xx, translator: "mt:whatever"}
     variants:
       - {id: v, prompt: "hi"}
     """, "exp.yaml:1: translate: --to: unknown language code 'xx'"),
])
def test_a_bad_experiment_writes_nothing(cli, tmp_path, tiny_model, rows, db_url, body, message):
    path = _spec(tmp_path, body.replace("MODEL", str(tiny_model)))
    code, out, err = cli("run", path, "--model", tiny_model, "--db", db_url) if "models:" not in body \
        else cli("run", path, "--db", db_url)
    assert code == 2, err
    (line,) = err.splitlines()
    assert message.replace("MODEL", str(tiny_model)) in line, line
    _nothing_stored(rows)


@SQLITE
def test_the_same_model_twice_on_the_command_line(cli, tmp_path, tiny_model, rows, db_url):
    path = _spec(tmp_path, 'variants:\n  - {id: v, prompt: "hi"}\n')
    code, _, err = cli("run", path, "--model", tiny_model, "--model", tiny_model, "--db", db_url)
    assert code == 2 and "twice" in err and len(err.splitlines()) == 1, err
    _nothing_stored(rows)


def _read_only(db_url: str, tmp_path) -> str:
    """The same database, opened read-only (as root, file modes would not stop a write)."""
    open_engine(db_url)  # the schema exists
    if db_url.startswith("sqlite"):
        return f"sqlite:///file:{tmp_path / 'log.db'}?mode=ro&uri=true"
    name = db_url.rsplit("/", 1)[1]
    with open_engine(db_url).connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        conn.commit()
    return db_url


def test_a_read_only_database_is_found_before_generating(cli_process, tmp_path, tiny_model, rows, db_url):
    ro = _read_only(db_url, tmp_path)
    path = _spec(tmp_path, 'variants:\n  - {id: v, prompt: "hi"}\n')
    for args in (["ask", "안녕?", "--model", tiny_model], ["run", path, "--model", tiny_model],
                 ["translate", "hello", "-t", f"llm:hf:{tiny_model}"]):
        done = cli_process(*args, "--db", ro)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith("hanprompt: error: cannot write to database ") and "read" in line, line
        assert done.stdout == ""
    if db_url.startswith("postgresql"):
        with open_engine(db_url).connect() as conn:
            conn.execute(text("SET default_transaction_read_only = off"))
            _nothing_stored(lambda t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
    else:
        _nothing_stored(rows)


@SQLITE
def test_a_newer_database_is_refused_by_every_command(cli, tmp_path, tiny_model, rows, db_url):
    with open_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'm999'"))
    from hanprompt.store import db

    db._engines.pop(db_url).dispose()
    for args in (["ask", "hi", "--model", tiny_model], ["runs"], ["logs"]):
        code, _, err = cli(*args, "--db", db_url)
        assert code == 2 and "database is at revision m999, this hanprompt knows up to" in err, err
        assert err.rstrip().endswith(": upgrade hanprompt")


@SQLITE
def test_any_failure_marks_the_run_failed_with_its_error_and_keeps_what_was_stored(tmp_path, tiny_model, rows, db_url):
    from hanprompt.experiments import model_entries, run_experiment

    path = _spec(tmp_path, "params: {max_new_tokens: 4, temperature: 0}\nvariants:\n"
                 + "".join(f'  - {{id: v{i}, prompt: "question {i}"}}\n' for i in range(4)))
    calls = []

    def progress(done, total, label):  # fails once the first chunk is stored
        calls.append(done)
        if done >= 1:
            raise MemoryError("cannot allocate 1 TiB\nsecond line")

    with pytest.raises(MemoryError):
        run_experiment(path, models=model_entries([f"hf:{tiny_model}"]), db=db_url, max_concurrency=1,
                       progress=progress)
    assert rows("runs", runs.c.status == "failed", runs.c.error == "MemoryError: cannot allocate 1 TiB",
                runs.c.holder.is_(None)) == 1
    assert rows("generations") == 1
