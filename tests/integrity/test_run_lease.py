"""One process per run: concurrent resumes, a resume of a live run, kill -9, SIGTERM, lapsed leases."""
from __future__ import annotations

import datetime as dt
import signal
import time

import pytest

from sqlalchemy import update

from procs import freeze_when
from hanprompt.store import open_engine
from hanprompt.store.schema import generations, runs

SLOW = ["--max-concurrency", "1"]
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # one database is enough


def _one_row_per_cell(rows, n: int) -> None:
    assert rows("generations") == n
    assert rows("generations", generations.c.cell_key.is_(None)) == 0


def _distinct_cells(db_url) -> int:
    from sqlalchemy import distinct, func, select

    with open_engine(db_url).connect() as conn:
        return conn.execute(select(func.count(distinct(generations.c.cell_key)))).scalar_one()


def _kill_midway(hp, path, model, rows) -> int:
    proc = hp("run", path, "--model", model, *SLOW)
    freeze_when(proc, lambda: rows("generations") >= 2, "two stored rows")  # however fast it goes
    proc.kill()
    proc.communicate()
    return rows("generations")


def test_a_resume_while_the_run_is_live_is_refused_and_each_cell_stored_once(hp, experiment, slow_model, rows, db_url):
    path = experiment(8, max_new_tokens=48)
    original = hp("run", path, "--model", slow_model, *SLOW)
    # frozen (SIGSTOP) right after a row: alive, holding the run, however fast this machine is
    freeze_when(original, lambda: rows("generations") >= 1, "a first row")
    refused = hp.run("run", path, "--model", slow_model, "--resume", "1")
    assert refused.returncode == 2, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert f"run 1 is held by process {original.pid} on " in line and " since 20" in line, line
    original.kill()
    original.communicate()
    stored = rows("generations")

    # the killed holder is dead: a resume takes over at once; a second one while it works is refused
    first = hp("run", path, "--model", slow_model, "--resume", "1", *SLOW)
    freeze_when(first, lambda: rows("generations") > stored, "the first resume to store a row")
    second = hp.run("run", path, "--model", slow_model, "--resume", "1")
    assert second.returncode == 2 and f"held by process {first.pid} on " in second.stderr, second.stderr
    first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    _one_row_per_cell(rows, 8)
    assert _distinct_cells(db_url) == 8
    assert rows("runs", runs.c.status == "done", runs.c.holder.is_(None)) == 1


def test_two_resumes_started_together_store_each_cell_once(hp, experiment, slow_model, rows, db_url):
    path = experiment(6, max_new_tokens=48)
    _kill_midway(hp, path, slow_model, rows)
    procs = [hp("run", path, "--model", slow_model, "--resume", "1", "--json") for _ in range(2)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    codes = sorted(code for _, _, code in results)
    assert codes in ([0, 0], [0, 2]), results  # [0, 0]: the second started after the first ended
    for out, err, code in results:
        if code == 2:
            assert "is held by process" in err
    _one_row_per_cell(rows, 6)
    assert _distinct_cells(db_url) == 6


@SQLITE
def test_kill_9_shows_the_run_interrupted_and_a_resume_takes_it_over(hp, experiment, slow_model, rows, db_url):
    path = experiment(6, max_new_tokens=48)
    _kill_midway(hp, path, slow_model, rows)
    assert rows("runs", runs.c.status == "running") == 1  # the database never learnt it died
    from hanprompt.store.runs import get_run, list_runs

    assert [r["status"] for r in list_runs(open_engine(db_url))] == ["interrupted"]
    assert get_run(open_engine(db_url), 1)["status"] == "interrupted"
    done = hp.run("run", path, "--model", slow_model, "--resume", "1")
    assert done.returncode == 0, done.stderr
    _one_row_per_cell(rows, 6)


def test_a_lease_held_elsewhere_is_respected_until_its_heartbeat_lapses(cli, experiment, tiny_model, rows, db_url):
    from hanprompt.store.runs import list_runs

    path = experiment(4, max_new_tokens=8)
    run = lambda *a: cli("run", path, "--model", tiny_model, "--db", db_url, *a)  # noqa: E731
    assert run()[0] == 0
    engine = open_engine(db_url)
    # another host, alive: its heartbeat is fresh (its pid means nothing here)
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(update(runs).values(status="running", finished_at=None, holder="elsewhere:4242:x-1:t",
                                         held_since=now - dt.timedelta(hours=1), heartbeat_at=now))
    assert list_runs(engine)[0]["status"] == "running"
    code, _, err = run("--resume", "1")
    assert code == 2
    assert err.startswith("hanprompt: error: run 1 is held by process 4242 on elsewhere since "), err
    assert rows("runs", runs.c.holder == "elsewhere:4242:x-1:t", runs.c.status == "running") == 1  # untouched
    # its heartbeat stops: the run lists as interrupted, and a resume takes it over
    with engine.begin() as conn:
        conn.execute(update(runs).values(heartbeat_at=now - dt.timedelta(minutes=5)))
    assert list_runs(engine)[0]["status"] == "interrupted"
    code, _, err = run("--resume", "1")
    assert code == 0, err
    assert rows("runs", runs.c.status == "done", runs.c.holder.is_(None)) == 1
    _one_row_per_cell(rows, 4)


def test_the_heartbeat_keeps_a_held_run_alive(db_url):
    from sqlalchemy import select

    from hanprompt.store import leases
    from hanprompt.store.runs import create_run, finish_run, list_runs

    engine = open_engine(db_url)
    holder, ttl = leases.new_holder(), 0.5
    run_id = create_run(engine, name="held", kind="experiment", holder=holder)

    def beat_moved_on(by: float) -> bool:
        with engine.connect() as conn:
            row = conn.execute(select(runs.c.held_since, runs.c.heartbeat_at)).one()
        return (row.heartbeat_at - row.held_since).total_seconds() > by

    with leases.Lease(engine, run_id, holder, ttl) as lease:
        deadline = dt.datetime.now() + dt.timedelta(minutes=2)
        while not beat_moved_on(4 * ttl):  # several beats, each a quarter of the lifetime apart
            assert dt.datetime.now() < deadline, "the heartbeat never moved"
            lease.check()
            time.sleep(0.05)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("HANPROMPT_LEASE_TTL", "60")  # a beat a moment ago: well within a minute
            assert list_runs(engine)[0]["status"] == "running"
        # a second holder is refused while this one beats
        with pytest.raises(Exception, match="is held by process"):
            leases.acquire(engine, run_id, leases.new_holder(), 60)
    finish_run(engine, run_id, holder=holder)
    with engine.connect() as conn:
        assert conn.execute(select(runs.c.holder, runs.c.status)).one() == (None, "done")


@SQLITE
def test_sigterm_marks_the_run_interrupted_and_prints_the_resume_command(hp, experiment, slow_model, rows):
    path = experiment(8, max_new_tokens=48)
    proc = hp("run", path, "--model", slow_model, *SLOW)
    freeze_when(proc, lambda: rows("generations") >= 2, "two stored rows")
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert f"hanprompt run {path} --resume 1" in err
    assert rows("runs", runs.c.status == "interrupted", runs.c.error == "interrupted (SIGTERM)",
                runs.c.finished_at.is_not(None), runs.c.holder.is_(None)) == 1
    kept = rows("generations")
    assert 2 <= kept < 8
    done = hp.run("run", path, "--model", slow_model, "--resume", "1", "--max-concurrency", "8")
    assert done.returncode == 0 and f"{kept} already done" in done.stderr, done.stderr
    _one_row_per_cell(rows, 8)
