"""The one run lifecycle (store.runs.RunLife): start, lease, finish or fail, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from hanprompt.errors import StoreError, Terminated
from hanprompt.store import leases, open_engine
from hanprompt.store.runs import RunLife, end_state, get_run
from hanprompt.store.schema import runs


def _row(engine, run_id):
    with engine.connect() as conn:
        return conn.execute(select(runs.c.status, runs.c.error, runs.c.holder, runs.c.finished_at)
                            .where(runs.c.id == run_id)).one()


class _Silent(Exception):
    def __str__(self):
        return ""


def test_end_states_are_defined_once():
    assert end_state(None) == ("done", None)
    assert end_state(KeyboardInterrupt()) == ("interrupted", "interrupted (Ctrl-C)")
    assert end_state(Terminated()) == ("interrupted", "interrupted (SIGTERM)")
    assert end_state(OSError("disk full\nmore")) == ("failed", "OSError: disk full")
    assert end_state(_Silent()) == ("failed", "_Silent")  # an empty message still says what failed


def test_a_run_is_held_while_it_works_and_done_after(db_url):
    engine = open_engine(db_url)
    with RunLife(engine, name="life", kind="bench", spec={"a": 1}) as life:
        status, _, holder, finished = _row(engine, life.run_id)
        assert (status, holder, finished) == ("running", life.holder, None)
        assert get_run(engine, life.run_id)["status"] == "running"
    status, error, holder, finished = _row(engine, life.run_id)
    assert (status, error, holder) == ("done", None, None) and finished is not None


@pytest.mark.parametrize("raised, status, error", [
    (ValueError("bad row"), "failed", "ValueError: bad row"),
    (_Silent(), "failed", "_Silent"),
    (KeyboardInterrupt(), "interrupted", "interrupted (Ctrl-C)"),
    (Terminated(), "interrupted", "interrupted (SIGTERM)"),
])
def test_an_exception_ends_the_run_and_propagates(db_url, raised, status, error):
    engine = open_engine(db_url)
    life = RunLife(engine, name="life", kind="translate")
    with pytest.raises(type(raised)):
        with life:
            raise raised
    assert _row(engine, life.run_id)[:3] == (status, error, None)


def test_finishing_a_failed_run_is_best_effort(db_url):
    """The store failing while the run records its end must not hide why the run failed."""
    engine = open_engine(db_url)
    life = RunLife(engine, name="life", kind="words")
    with pytest.raises(ValueError, match="the first error"):
        with life:
            with engine.begin() as conn:  # the database loses the table the end is written to
                conn.execute(text("ALTER TABLE runs RENAME TO runs_gone"))
            raise ValueError("the first error")
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE runs_gone RENAME TO runs"))
    assert _row(engine, life.run_id)[0] == "running"  # never ended: listings show it interrupted


def test_a_run_taken_over_is_not_ended_by_the_process_that_lost_it(db_url):
    engine = open_engine(db_url)
    life = RunLife(engine, name="life", kind="bench")
    other = leases.new_holder()
    with pytest.raises(StoreError, match="taken over"):
        with life:
            with engine.begin() as conn:
                conn.execute(runs.update().where(runs.c.id == life.run_id).values(holder=other))
    status, _, holder, _ = _row(engine, life.run_id)
    assert (status, holder) == ("running", other)


def test_holding_a_run_without_owning_it_leaves_its_status(db_url):
    engine = open_engine(db_url)
    with RunLife(engine, name="experiment", kind="experiment") as owner:
        pass
    with pytest.raises(RuntimeError):
        with RunLife(engine, owner.run_id, owns=False) as held:
            assert _row(engine, owner.run_id)[2] == held.holder
            with pytest.raises(Exception, match="is held by process"):  # one process at a time
                RunLife(engine, owner.run_id, owns=False).start()
            raise RuntimeError("translator died")
    assert _row(engine, owner.run_id)[:3] == ("done", None, None)


def test_a_resume_reopens_the_run_and_ends_it_again(db_url):
    engine = open_engine(db_url)
    first = RunLife(engine, name="experiment", kind="experiment")
    with pytest.raises(KeyboardInterrupt):
        with first:
            raise KeyboardInterrupt
    with RunLife(engine, first.run_id, reopen=True) as again:
        assert _row(engine, again.run_id)[:2] == ("running", None)
    assert _row(engine, first.run_id)[:3] == ("done", None, None)


def test_a_run_that_kept_nothing_can_be_discarded(db_url):
    engine = open_engine(db_url)
    with RunLife(engine, name="words", kind="words") as life:
        life.discard()
    with engine.connect() as conn:
        assert conn.execute(select(runs.c.id).where(runs.c.id == life.run_id)).first() is None
