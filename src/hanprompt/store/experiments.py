"""Queries of the experiment runner: the result cache, a run's finished cells, checks, results."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, Engine, insert, select, update

from hanprompt.store.db import reading
from hanprompt.store.schema import checks, generations

#: the columns a cache hit copies from the generation that first produced the answer
CACHED_FIELDS = [
    "prompt", "response", "input_tokens", "output_tokens", "ttft_s", "total_s",
    "tokens_per_s", "finish_reason", "usage_source", "cost",
]


def cached_generations(conn: Connection, keys: Iterable[str]) -> dict[str, dict]:
    """For each cache key that has one: the newest successful generation that measured its answer.

    Each hit holds the :data:`CACHED_FIELDS` plus ``origin_id`` (the measuring generation) and
    ``origin_run_id`` (its run; None when that generation has since been deleted). Rows that
    were themselves served from the cache lead to their origin; they serve only when no
    measured row is left.
    """
    keys = sorted(set(keys))
    if not keys:
        return {}
    g = generations.c
    query = (
        select(g.id, g.run_id, g.cached, g.cached_from_id, g.cache_key, *(g[f] for f in CACHED_FIELDS))
        .where(g.cache_key.in_(keys), g.error.is_(None))
        .order_by(g.id)
    )
    measured: dict[str, dict] = {}
    copies: dict[str, dict] = {}
    for r in conn.execute(query).mappings():  # later rows win
        row = dict(r)
        if row["cached"] and row["cached_from_id"] is not None:
            row["origin_id"], row["origin_run_id"] = row["cached_from_id"], None
            copies[row["cache_key"]] = row
        else:
            row["origin_id"], row["origin_run_id"] = row["id"], row["run_id"]
            measured[row["cache_key"]] = row
    hits = {**copies, **measured}
    missing = {h["origin_id"] for h in hits.values() if h["origin_run_id"] is None}
    if missing:
        runs_of = dict(conn.execute(select(g.id, g.run_id).where(g.id.in_(sorted(missing)))).all())
        for h in hits.values():
            if h["origin_run_id"] is None:
                h["origin_run_id"] = runs_of.get(h["origin_id"])
    return hits


def done_cells(engine: Engine, run_id: int, keys: Iterable[str] | None = None) -> set[str]:
    """The cell keys a run already holds a generation for; with ``keys``, only those among them
    (so that a caller walking a large matrix in chunks holds one chunk's keys at a time)."""
    g = generations.c
    query = select(g.cell_key).where(g.run_id == run_id, g.role.is_(None))
    with reading(engine) as conn:
        if keys is None:
            return set(conn.execute(query).scalars())
        keys = sorted(set(keys))
        out: set[str] = set()
        for i in range(0, len(keys), 500):  # within every database's limit on bound parameters
            out.update(conn.execute(query.where(g.cell_key.in_(keys[i:i + 500]))).scalars())
        return out


def count_done_cells(engine: Engine, run_id: int) -> int:
    """How many cells a run already holds a generation for."""
    from sqlalchemy import func

    g = generations.c
    with reading(engine) as conn:
        return conn.execute(select(func.count()).select_from(generations).where(
            g.run_id == run_id, g.role.is_(None))).scalar_one()


#: what a check row stores; every row of one insert carries all of them, so that a first row
#: without a score or reason cannot drop those columns from the rows after it
CHECK_FIELDS = ("name", "spec", "passed", "reason", "score")


def add_checks(conn: Connection, generation_id: int, results: list[dict]) -> None:
    """Store check results (name, spec, passed, reason, score) of one generation; missing keys are NULL."""
    if results:
        conn.execute(insert(checks), [
            dict({k: r.get(k) for k in CHECK_FIELDS}, generation_id=generation_id) for r in results
        ])


def rubric_checks(engine: Engine, run_id: int) -> list[dict]:
    """The llm-rubric checks of a run's answers (their verdict, reason and score, or None where no
    judge was set), with what a judge needs: the answer's cell key, messages and response."""
    query = (
        select(checks.c.id.label("check_id"), checks.c.generation_id, checks.c.spec, checks.c.passed,
               checks.c.reason, checks.c.score, generations.c.cell_key, generations.c.messages,
               generations.c.response)
        .join(generations, generations.c.id == checks.c.generation_id)
        .where(generations.c.run_id == run_id, generations.c.role.is_(None), checks.c.name == "llm-rubric")
        .order_by(checks.c.id)
    )
    with reading(engine) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def set_run_judge(conn: Connection, run_id: int, judge: str) -> None:
    """Record ``judge`` as the run's judge (its stored spec's ``judge:``), so that a later resume asks it."""
    from hanprompt.store.schema import runs

    spec = conn.execute(select(runs.c.spec).where(runs.c.id == run_id)).scalar_one() or {}
    inner = dict(spec.get("spec") or {}, judge=judge)
    conn.execute(update(runs).where(runs.c.id == run_id).values(spec=dict(spec, spec=inner)))


def set_check_result(conn: Connection, check_id: int, result: dict) -> None:
    """Fill in a stored check's verdict (passed, reason, score)."""
    conn.execute(update(checks).where(checks.c.id == check_id).values(
        passed=result["passed"], reason=result["reason"], score=result["score"]))


def run_results(engine: Engine, run_id: int) -> list[dict]:
    """Every answer of a run as ``store.results.answers`` reads it (the one reader of a run's
    answers): the file's variant order, each with its checks, translations and cache origin."""
    from hanprompt.store.results import answers
    from hanprompt.store.schema import runs

    with reading(engine) as conn:
        spec = conn.execute(select(runs.c.spec).where(runs.c.id == run_id)).scalar()
        return answers(conn, run_id, spec)
