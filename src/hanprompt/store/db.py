"""Opening the database: engine, SQLite pragmas, transactions, and migrating it on first open."""
from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url

from hanprompt.errors import StoreError, arg, one_line
from hanprompt.outputs import private_file
from hanprompt.store import migrations, search

_FIX = f"pass {arg('db', 'sqlite:///PATH')} or {arg('db', 'postgresql+psycopg://USER@HOST:PORT/DB')}"
_engines: dict[str, Engine] = {}


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def row_dict(mapping) -> dict:
    """A result row as a plain dict, datetimes as ISO 8601 strings in UTC."""
    out = {}
    for key, value in dict(mapping).items():
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:  # SQLite hands back naive datetimes; we only store UTC
                value = value.replace(tzinfo=dt.timezone.utc)
            value = value.isoformat()
        out[key] = value
    return out


def _hide_password(url: str) -> str:
    """``url`` with the password of ``scheme://user:password@host`` written as ***."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _normalise_url(url: str):
    try:
        parsed = make_url(url)
        port = parsed.port  # a port that is no number fails here, in SQLAlchemy's parser
    except (exc.ArgumentError, ValueError) as e:
        raise StoreError(f"invalid database URL {_hide_password(url)!r}: {one_line(e)}; {_FIX}") from e
    if port is not None and not 0 < port < 65536:
        raise StoreError(f"invalid database URL {_hide_password(url)!r}: port {port} is not from 1 to 65535; "
                         f"{_FIX}")
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _enable_wal(cur, attempts: int = 100) -> None:
    """Switch a SQLite file to WAL once; the switch itself ignores busy_timeout, so retry it."""
    import sqlite3

    for attempt in range(attempts):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() in ("wal", "memory"):
                return
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:  # another process is creating or switching the file
            if "locked" not in str(e) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transaction control away from pysqlite so that BEGIN is ours (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        _enable_wal(cur)
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()
        # NFC inside queries, for literal text search (store.search).
        dbapi_conn.create_function(search.SQLITE_FUNCTION, 1, search.sqlite_nfc, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE takes the write lock up front, so two writers wait for each other (up to
        # busy_timeout) instead of failing when a read transaction tries to upgrade.
        if conn.get_execution_options().get("hanprompt_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def close_all() -> None:
    """Close the pooled connections of every engine this process opened, and forget them (a later
    ``open_engine`` opens anew): for a process that opens many logs, such as a test session."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def open_engine(url: str) -> Engine:
    """An engine for ``url`` with the schema migrated to the latest version.

    Raises StoreError with the fix when the URL is invalid or the database unreachable.
    """
    if url in _engines:
        return _engines[url]
    parsed = _normalise_url(url)
    shown = parsed.render_as_string(hide_password=True)
    uri = parsed.query.get("uri") in ("true", "1")  # sqlite:///file:PATH?mode=ro&uri=true
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") and not uri:
        folder = Path(parsed.database).expanduser().resolve().parent
        if not folder.is_dir():
            raise StoreError(
                f"cannot open database {shown}: folder {folder} does not exist; create it or {_FIX}"
            )
        if not parsed.database.startswith("file:"):  # created 0600; SQLite gives -wal and -shm its mode
            try:
                private_file(Path(parsed.database).expanduser())
            except OSError as e:
                raise StoreError(f"cannot create database {shown}: {e.strerror}; {_FIX}") from e
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as e:
        raise StoreError(f"invalid database URL {shown}: {e}; {_FIX}") from e
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    try:
        migrate(engine)
    except StoreError:
        engine.dispose()
        raise
    except exc.OperationalError as e:
        engine.dispose()
        first = one_line(e.orig if e.orig else e)
        raise StoreError(f"cannot reach database {shown}: {first}; {_FIX}") from e
    except exc.DBAPIError as e:
        engine.dispose()
        first = one_line(e.orig if e.orig else e)
        raise StoreError(f"cannot use database {shown}: {first}; {_FIX}") from e
    _engines[url] = engine
    return engine


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def ensure_writable(engine: Engine) -> None:
    """Raise StoreError unless this process can write to the database.

    Checked with a write that is rolled back, so a read-only file, a read-only PostgreSQL
    transaction mode or a missing privilege all show up before any work is done.
    """
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                tx.rollback()
    except exc.DBAPIError as e:
        first = one_line(e.orig if e.orig else e)
        raise StoreError(
            f"cannot write to database {_shown(engine)}: {first}; make it writable, or {_FIX}"
        ) from e


def current_revision(conn: Connection) -> str | None:
    """The schema revision the database is at; None for an empty database."""
    return migrations.current(conn)


def migrate(engine: Engine, target: str | None = None) -> str:
    """Bring the schema to ``target`` (default: the newest revision); return the revision reached.

    Raises StoreError when the database is newer than this hanprompt.
    """
    return migrations.upgrade(engine, target)


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that never blocks writers for long."""
    with engine.connect() as conn:
        conn = conn.execution_options(hanprompt_readonly=True)
        yield conn
