"""Benchmark results: one row per configuration of a run of kind ``bench``."""
from __future__ import annotations

from sqlalchemy import Engine, insert, select

from hanprompt.store.db import now, reading, row_dict
from hanprompt.store.schema import bench_results

STATUSES = ("ok", "skipped", "oom", "failed")


def add_result(engine: Engine, run_id: int, *, model: str, backend: str, config: dict, status: str,
               reason: str | None, metrics: dict | None) -> int:
    """Store one configuration's result in its own transaction; return its id."""
    if status not in STATUSES:
        raise ValueError(f"unknown bench status {status!r}")
    with engine.begin() as conn:
        return conn.execute(
            insert(bench_results).values(
                run_id=run_id, model=model, backend=backend, config=config, status=status, reason=reason,
                metrics=metrics, created_at=now(),
            )
        ).inserted_primary_key[0]


def run_results(engine: Engine, run_id: int) -> list[dict]:
    """A bench run's rows in the order they were measured."""
    with reading(engine) as conn:
        query = select(bench_results).where(bench_results.c.run_id == run_id).order_by(bench_results.c.id)
        return [row_dict(r) for r in conn.execute(query).mappings()]
