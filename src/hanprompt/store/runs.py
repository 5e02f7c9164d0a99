"""Runs and the generations they hold: writing them and reading them back."""
from __future__ import annotations

from typing import Iterable, Iterator

from sqlalchemy import Engine, delete, func, insert, or_, select, update

from hanprompt import settings
from hanprompt.errors import NotFoundError
from hanprompt.limits import valid_id
from hanprompt.store import leases
from hanprompt.store.db import now, reading, row_dict
from hanprompt.store.search import contains as text_contains
from hanprompt.store.schema import checks, generations, runs, translations
from hanprompt.store.storable import storable

GENERATION_FIELDS = [c.name for c in generations.columns]


def create_run(
    engine: Engine,
    *,
    name: str,
    kind: str,
    spec: dict | None = None,
    spec_hash: str | None = None,
    status: str = "running",
    holder: str | None = None,
) -> int:
    """Insert a run; with ``holder`` it starts out held by that lease holder (see store.leases)."""
    (name, spec), _ = storable((name, spec))
    with engine.begin() as conn:
        lease = {}
        if holder is not None:
            at = leases.db_now(conn)
            lease = {"holder": holder, "held_since": at, "heartbeat_at": at}
        return conn.execute(
            insert(runs).values(
                name=name, kind=kind, status=status, spec=spec, spec_hash=spec_hash, created_at=now(), **lease
            )
        ).inserted_primary_key[0]


def finish_run(engine: Engine, run_id: int, status: str = "done", error: str | None = None,
               holder: str | None = None) -> None:
    """Record how a run ended; with ``holder``, give up that holder's lease in the same transaction."""
    error, _ = storable(error)
    with engine.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(status=status, error=error, finished_at=now())
        )
        if holder is not None:
            leases.release(conn, run_id, holder)


def live_status(rows: list[dict], conn) -> list[dict]:
    """Run rows (as from row_dict) with the status to show: a ``running`` run whose lease lapsed
    has no live holder, so it shows as ``interrupted``. Changes and returns ``rows``."""
    running = [r for r in rows if r["status"] == "running"]
    if running:
        at, ttl = leases.db_now(conn), settings.lease_ttl()
        for r in running:
            if leases.lapsed(r.get("_holder", r.get("holder")), r.get("_heartbeat", r.get("heartbeat_at")), at, ttl):
                r["status"] = "interrupted"
    for r in rows:
        r.pop("_heartbeat", None)
        r.pop("_holder", None)
    return rows


def add_generation(conn, run_id: int, record: dict) -> int:
    """Insert one generation inside an open transaction; unknown keys are an error."""
    unknown = set(record) - set(GENERATION_FIELDS)
    if unknown:
        raise ValueError(f"unknown generation fields: {sorted(unknown)}")
    values, altered = storable(dict(record, run_id=run_id))
    if altered:
        values["text_altered"] = True
    values.setdefault("created_at", now())
    return conn.execute(insert(generations).values(**values)).inserted_primary_key[0]


def record_single(engine: Engine, *, name: str, kind: str, spec: dict, record: dict) -> tuple[int, int]:
    """Store a run holding one generation in one transaction: both or neither are written."""
    status = "failed" if record.get("error") else "done"
    (name, spec), _ = storable((name, spec))
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(runs).values(
                name=name, kind=kind, status=status, spec=spec, created_at=now(), finished_at=now(),
                error=storable(record.get("error"))[0],
            )
        ).inserted_primary_key[0]
        gen_id = add_generation(conn, run_id, record)
    return run_id, gen_id


def get_run(engine: Engine, run_id: int) -> dict:
    """One run with its live status; NotFoundError for an id that names none (checked before any query)."""
    with reading(engine) as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first() if valid_id(run_id) else None
        if row is None:
            raise NotFoundError(f"no run with id {run_id}; list them with `hanprompt runs`")
        return live_status([row_dict(row)], conn)[0]


def list_runs(engine: Engine, limit: int | None = None, kind: str | None = None) -> list[dict]:
    def per_run(table):
        return select(table.c.run_id, func.count().label("n")).group_by(table.c.run_id).subquery()

    gens, trans = per_run(generations), per_run(translations)
    query = (
        select(
            runs.c.id, runs.c.name, runs.c.kind, runs.c.status, runs.c.created_at, runs.c.finished_at,
            runs.c.heartbeat_at.label("_heartbeat"), runs.c.holder.label("_holder"),
            func.coalesce(gens.c.n, 0).label("generations"),
            func.coalesce(trans.c.n, 0).label("translations"),
        )
        .outerjoin(gens, gens.c.run_id == runs.c.id)
        .outerjoin(trans, trans.c.run_id == runs.c.id)
        .order_by(runs.c.id.desc())
    )
    if kind:
        query = query.where(runs.c.kind == kind)
    if limit:
        query = query.limit(limit)
    with reading(engine) as conn:
        return live_status([row_dict(r) for r in conn.execute(query).mappings()], conn)


def _generation_query(search: str | None = None, model: str | None = None, run_id: int | None = None):
    query = select(generations).order_by(generations.c.id.desc())
    if search:  # literal, NFC on both sides (see store.search)
        query = query.where(or_(text_contains(generations.c.prompt, search),
                                text_contains(generations.c.response, search)))
    if model:
        query = query.where(text_contains(generations.c.model, model))
    if run_id is not None:
        query = query.where(generations.c.run_id == run_id)
    return query


def list_generations(
    engine: Engine,
    *,
    limit: int | None = 20,
    search: str | None = None,
    model: str | None = None,
    run_id: int | None = None,
) -> list[dict]:
    query = _generation_query(search, model, run_id)
    if limit:
        query = query.limit(limit)
    with reading(engine) as conn:
        return [row_dict(r) for r in conn.execute(query).mappings()]


def iter_generations(engine: Engine, *, batch: int = 1000, **filters) -> Iterator[dict]:
    """Every matching generation, newest first, fetched in batches (constant memory)."""
    with reading(engine) as conn:
        result = conn.execution_options(yield_per=batch).execute(_generation_query(**filters))
        for row in result.mappings():
            yield row_dict(row)


def get_generation(engine: Engine, gen_id: int) -> dict:
    """One generation with its checks; NotFoundError for an id that names none (checked before any query)."""
    with reading(engine) as conn:
        row = (conn.execute(select(generations).where(generations.c.id == gen_id)).mappings().first()
               if valid_id(gen_id) else None)
        if row is None:
            raise NotFoundError(f"no generation with id {gen_id}; list them with `hanprompt logs`")
        out = row_dict(row)
        out["checks"] = [
            row_dict(c)
            for c in conn.execute(
                select(checks.c.name, checks.c.spec, checks.c.passed, checks.c.reason, checks.c.score)
                .where(checks.c.generation_id == gen_id)
                .order_by(checks.c.id)
            ).mappings()
        ]
        from hanprompt.store.translations import by_generation

        out["translations"] = by_generation(conn, [gen_id]).get(gen_id, [])
    return out


def delete_generations(engine: Engine, ids: Iterable[int]) -> list[int]:
    """Delete generations by id, all or none: an unknown id deletes nothing."""
    ids = sorted(set(ids))
    with engine.begin() as conn:
        found = set(conn.execute(select(generations.c.id).where(generations.c.id.in_(ids))).scalars())
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError(
                f"no generation with id {', '.join(map(str, missing))}; nothing was deleted; "
                "list them with `hanprompt logs`"
            )
        run_ids = set(conn.execute(select(generations.c.run_id).where(generations.c.id.in_(ids))).scalars())
        conn.execute(delete(checks).where(checks.c.generation_id.in_(ids)))
        conn.execute(delete(generations).where(generations.c.id.in_(ids)))
        # An ask run is its one generation: once that is gone, so is the run.
        still_used = select(generations.c.run_id).where(generations.c.run_id.in_(run_ids))
        conn.execute(
            delete(runs).where(runs.c.id.in_(run_ids), runs.c.kind == "ask", runs.c.id.not_in(still_used))
        )
    return ids
