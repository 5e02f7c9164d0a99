"""Runs and the generations they hold: writing them and reading them back."""
from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from hanprompt import settings
from hanprompt.errors import NotFoundError, StoreError, Terminated, one_line
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


#: a run's end states (``running`` before; a ``running`` run with a lapsed lease shows ``interrupted``)
DONE, INTERRUPTED, FAILED = "done", "interrupted", "failed"


def end_state(error: BaseException | None) -> tuple[str, str | None]:
    """How work ended, as the run's stored ``(status, error)``; the one definition of end states.

    ========================  ===============  =========================================
    the work                  status           error
    ========================  ===============  =========================================
    returned                  ``done``         none
    Ctrl-C                    ``interrupted``  ``interrupted (Ctrl-C)``
    SIGTERM (``Terminated``)  ``interrupted``  ``interrupted (SIGTERM)``
    raised anything else      ``failed``       its one line (``errors.one_line``, typed)
    ========================  ===============  =========================================
    """
    if error is None:
        return DONE, None
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED, "interrupted (SIGTERM)" if isinstance(error, Terminated) else "interrupted (Ctrl-C)"
    return FAILED, one_line(error, typed=True)


@contextlib.contextmanager
def best_effort():
    """Recording the end of a failed run must not hide why it failed: a second, store error
    (the database is what failed, say) gives way to the first, which the caller re-raises."""
    try:
        yield
    except (SQLAlchemyError, StoreError):
        pass


class RunLife:
    """The one lifecycle of a run: start, lease, finish or fail (experiments, bench, translation, words).

    ``start()`` creates a run held by this process (``name``, ``kind``, ``spec``, ``spec_hash``)
    or, given ``run_id``, takes that run's lease (RunBusy while another live process holds it;
    ``reopen`` marks it ``running`` again, a resume). ``with life:`` starts it if need be, renews
    the lease from a background thread (see store.leases) and, on leaving, records the end that
    ``end_state`` gives and gives the lease up in the same transaction. After an exception that
    recording is best effort (``best_effort``): the first error is the one that propagates.
    ``check()`` raises StoreError once the lease was lost; call it before each write.
    ``finish(conn)`` ends the run inside the caller's transaction, so that what the run stores
    and its ``done`` are written together; ``discard()`` deletes a run this life created and that
    kept nothing. With ``owns=False`` the run is only held (a translation of a finished
    experiment): its status is left as it is and only the lease is given back.
    """

    def __init__(self, engine: Engine, run_id: int | None = None, *, name: str | None = None,
                 kind: str | None = None, spec: dict | None = None, spec_hash: str | None = None,
                 reopen: bool = False, owns: bool = True):
        self.engine, self.run_id, self.reopen, self.owns = engine, run_id, reopen, owns
        self._new = None if run_id is not None else dict(name=name, kind=kind, spec=spec, spec_hash=spec_hash)
        self.holder, self.ttl = leases.new_holder(), settings.lease_ttl()
        self.lease: leases.Lease | None = None
        self.ended = False

    def start(self) -> int:
        """Create the run, or take the given run's lease; returns the run's id. Idempotent."""
        if self.lease is None:
            if self._new is not None:
                self.run_id = create_run(self.engine, holder=self.holder, **self._new)
            else:
                leases.acquire(self.engine, self.run_id, self.holder, self.ttl, reopen=self.reopen)
            self.lease = leases.Lease(self.engine, self.run_id, self.holder, self.ttl)
        return self.run_id

    def __enter__(self) -> "RunLife":
        self.start()
        self.lease.__enter__()
        return self

    def __exit__(self, kind, error, tb) -> bool:
        self.lease.__exit__(kind, error, tb)
        if not self.ended:
            if error is None:
                self._end(None)
            else:
                with best_effort():
                    self._end(error)
        return False

    def check(self) -> None:
        self.lease.check()

    def _end(self, error: BaseException | None) -> None:
        with self.engine.begin() as conn:
            if self.owns:
                self.finish(conn, *end_state(error))
            else:
                leases.release(conn, self.run_id, self.holder)
                self.ended = True

    def finish(self, conn, status: str = DONE, error: str | None = None) -> None:
        """End the run inside ``conn``'s transaction; StoreError (the transaction then rolls back)
        when another process took the run over."""
        error, _ = storable(error)
        ended = conn.execute(
            update(runs).where(runs.c.id == self.run_id, runs.c.holder == self.holder)
            .values(status=status, error=error, finished_at=now(), holder=None, held_since=None, heartbeat_at=None)
        ).rowcount
        self.ended = True
        if ended != 1:
            raise StoreError(f"run {self.run_id} was taken over by another process; this process did not end it")

    def discard(self) -> None:
        """Delete the run this life created (it kept nothing worth listing)."""
        if self._new is None:
            raise ValueError("discard() deletes only a run this life created")
        with self.engine.begin() as conn:
            conn.execute(delete(runs).where(runs.c.id == self.run_id, runs.c.holder == self.holder))
        self.ended = True


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
    """Runs newest first with their live status, ``generations`` (answers: judge verdicts are
    checks, not answers, as every other view counts them) and ``translations``."""
    def per_run(table, *where):
        return select(table.c.run_id, func.count().label("n")).where(*where).group_by(table.c.run_id).subquery()

    gens, trans = per_run(generations, generations.c.role.is_(None)), per_run(translations)
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
