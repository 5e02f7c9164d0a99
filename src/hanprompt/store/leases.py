"""Run leases: one process at a time works on a run.

A run's row holds its lease: ``holder`` (host, pid and a random tag), ``held_since`` and
``heartbeat_at``. The holder renews the heartbeat from a background thread every quarter of the
lease's lifetime (``settings.lease_ttl()``); a lease whose heartbeat is older than that has
expired, and may be taken over. Taking a lease is one conditional UPDATE, so two processes (on
one host or several sharing a PostgreSQL database) never both get it. Times come from the
database's clock on PostgreSQL, so hosts with skewed clocks agree.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import threading
from pathlib import Path

from sqlalchemy import Connection, Engine, and_, exc, func, or_, select, update

from hanprompt.errors import NotFoundError, RunBusy, StoreError
from hanprompt.store.schema import runs


def _machine() -> str:
    """This kernel boot and PID namespace (Linux), so that a pid is only ever judged where it lives."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
        return f"{boot}-{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return ""


def new_holder() -> str:
    """An id for one lease holder: ``host:pid:machine:tag``."""
    return f"{socket.gethostname()}:{os.getpid()}:{_machine()}:{secrets.token_hex(4)}"


def dead_here(holder: str | None) -> bool:
    """Whether ``holder`` was a process of this machine that no longer exists (a kill -9, a crash).

    Its lease then needs no waiting for; a holder elsewhere is only ever judged by its heartbeat.
    """
    parts = (holder or "").split(":")
    if len(parts) != 4 or not parts[2] or parts[2] != _machine() or parts[0] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):  # alive but not ours to signal, or not a pid
        return False
    return False


def db_now(conn: Connection) -> dt.datetime:
    """Now, by the database's clock on PostgreSQL (shared by every host), by ours on SQLite (one host)."""
    if conn.dialect.name == "postgresql":
        return conn.execute(select(func.now())).scalar_one()
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    if isinstance(value, str):  # as row_dict hands it out
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:  # SQLite returns naive datetimes; we store UTC
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def expired(heartbeat_at: dt.datetime | str | None, now: dt.datetime, ttl: float) -> bool:
    """Whether a lease with this last heartbeat has lapsed (no heartbeat at all: it has)."""
    heartbeat_at = _aware(heartbeat_at)
    return heartbeat_at is None or heartbeat_at < now - dt.timedelta(seconds=ttl)


def lapsed(holder: str | None, heartbeat_at, now: dt.datetime, ttl: float) -> bool:
    """Whether a lease has no live holder: its heartbeat expired, or its process died on this machine."""
    return expired(heartbeat_at, now, ttl) or dead_here(holder)


def describe(holder: str | None) -> str:
    host, _, rest = (holder or "?").partition(":")
    pid = rest.partition(":")[0]
    return f"process {pid} on {host}" if pid else host


def acquire(engine: Engine, run_id: int, holder: str, ttl: float, *, reopen: bool = False) -> None:
    """Take run ``run_id``'s lease for ``holder``, or raise RunBusy naming who holds it since when.

    A lapsed lease is taken over. With ``reopen`` the same statement marks the run ``running``
    again and clears its end (a resume).
    """
    with engine.begin() as conn:
        now = db_now(conn)
        values = {"holder": holder, "held_since": now, "heartbeat_at": now}
        if reopen:
            values.update(status="running", finished_at=None, error=None)
        taken = conn.execute(
            update(runs)
            .where(runs.c.id == run_id, or_(
                runs.c.holder.is_(None), runs.c.holder == holder,
                runs.c.heartbeat_at.is_(None), runs.c.heartbeat_at < now - dt.timedelta(seconds=ttl),
            ))
            .values(**values)
        ).rowcount
        if taken == 1:
            return
        row = conn.execute(
            select(runs.c.holder, runs.c.held_since, runs.c.heartbeat_at).where(runs.c.id == run_id)
        ).first()
        if row is not None and dead_here(row.holder):  # take it over from exactly that dead holder
            if conn.execute(update(runs).where(runs.c.id == run_id, runs.c.holder == row.holder)
                            .values(**values)).rowcount == 1:
                return
    if row is None:
        raise NotFoundError(f"no run with id {run_id}; list them with `hanprompt runs`")
    since = _aware(row.held_since)
    ago = (now - _aware(row.heartbeat_at)).total_seconds()
    raise RunBusy(
        f"run {run_id} is held by {describe(row.holder)} since {since:%Y-%m-%d %H:%M:%S} UTC "
        f"(last heartbeat {max(ago, 0):.0f} s ago); wait for it to end, or stop it, then resume again"
    )


def release(conn: Connection, run_id: int, holder: str) -> None:
    """Give the lease up (inside the transaction that ends the run)."""
    conn.execute(
        update(runs).where(runs.c.id == run_id, runs.c.holder == holder)
        .values(holder=None, held_since=None, heartbeat_at=None)
    )


class Lease:
    """A held lease with its heartbeat thread: ``with Lease(engine, run_id, holder, ttl): ...``.

    ``check()`` raises StoreError once the lease was lost (taken over after our heartbeats
    stopped reaching the database), so the holder stops writing.
    """

    def __init__(self, engine: Engine, run_id: int, holder: str, ttl: float):
        self.engine, self.run_id, self.holder, self.ttl = engine, run_id, holder, ttl
        self._stop = threading.Event()
        self._lost: str | None = None
        self._thread = threading.Thread(target=self._beat, name=f"hanprompt-lease-{run_id}", daemon=True)

    def __enter__(self) -> "Lease":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            try:
                with self.engine.begin() as conn:
                    kept = conn.execute(
                        update(runs).where(and_(runs.c.id == self.run_id, runs.c.holder == self.holder))
                        .values(heartbeat_at=db_now(conn))
                    ).rowcount
            except exc.DBAPIError:  # database busy or briefly unreachable: the TTL covers missed beats
                continue
            if kept != 1:
                self._lost = f"run {self.run_id} was taken over by another process after this one stopped " \
                             "renewing its lease; this process stopped writing to it"
                return

    def check(self) -> None:
        if self._lost:
            raise StoreError(self._lost)
