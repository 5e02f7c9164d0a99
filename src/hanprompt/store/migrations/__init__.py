"""Schema migrations: Alembic revisions in ``versions/``, applied when a database is opened.

Revisions only ever append: never edit one that has shipped. ``m001``-``m004`` rebuild what the
hand-written runner that came before Alembic built (its ``schema_migrations`` table records the
version, which maps to the revision of the same number); from there Alembic carries on. On SQLite,
constraint changes rebuild tables (batch mode); a copy of the file is kept beside it first.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from hanprompt.errors import StoreError, arg

log = logging.getLogger("hanprompt.store")
HERE = Path(__file__).parent
#: version numbers of the runner before Alembic -> the revision that builds the same schema
LEGACY = {1: "m001", 2: "m002", 3: "m003", 4: "m004"}
_PG_LOCK = 72417  # one process migrates a PostgreSQL database at a time


def _config(connection: Connection | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


@functools.lru_cache(maxsize=1)
def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


#: the newest revision, written out so that opening an up-to-date database needs no Alembic
#: (importing it and reading the revision files takes about 0.2 s); a test checks it is
#: Alembic's head
HEAD = "m007"


def head() -> str:
    """The newest revision this hanprompt knows."""
    return _script().get_current_head()


def _at_head(engine: Engine) -> bool:
    """Whether the database records exactly :data:`HEAD`: one query, Alembic not imported."""
    from sqlalchemy import exc

    try:
        with engine.connect() as conn:
            conn = conn.execution_options(hanprompt_readonly=True)
            revs = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
            conn.rollback()
    except exc.DBAPIError:  # no such table (a new or a pre-Alembic database): the full path decides
        return False
    return revs == [HEAD]


#: the SQLite schema at :data:`HEAD`, as Alembic's migrations leave it (``sqlite_master``'s
#: statements): a new SQLite file is built from it in one transaction, without importing Alembic
#: or running the revisions one by one; a test checks it against a file Alembic migrated
SQLITE_HEAD = HERE / "head.sqlite.sql"
_SNAPSHOT_HEADER = "-- hanprompt schema at revision {rev}, written by migrations.sqlite_schema() from a database Alembic migrated\n"


def sqlite_schema(conn: Connection) -> str:
    """The ``CREATE`` statements of a SQLite database, tables then indexes, each kind by name (Alembic's
    table rebuilds create indexes in no fixed order), each statement ending with ``;`` and a line
    break (SQLite's internal ``sqlite_*`` tables left out)."""
    rows = conn.exec_driver_sql(
        "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY type = 'index', type = 'trigger', type = 'view', name").fetchall()
    return "".join(f"{sql};\n" for _type, sql in rows)


def write_sqlite_head(path: Path = SQLITE_HEAD) -> str:
    """Migrate a new in-memory SQLite database with Alembic and write its schema to ``path``
    (run after adding a revision: ``python -c "from hanprompt.store import migrations;
    migrations.write_sqlite_head()"``)."""
    from sqlalchemy import create_engine

    from hanprompt.store.db import _sqlite_setup

    engine = create_engine("sqlite://")
    _sqlite_setup(engine)
    try:
        rev = _upgrade_with_alembic(engine, None)
        with engine.connect() as conn:
            text_ = _SNAPSHOT_HEADER.format(rev=rev) + sqlite_schema(conn)
    finally:
        engine.dispose()
    path.write_text(text_, encoding="utf-8")
    return text_


def _create_sqlite_head(engine: Engine) -> bool:
    """Build a SQLite database that holds no table at :data:`HEAD` from :data:`SQLITE_HEAD`, in one
    write transaction; False (nothing done) when it holds tables or the file is of another revision."""
    try:
        snapshot = SQLITE_HEAD.read_text(encoding="utf-8")
    except OSError:  # an installation without the file: Alembic builds the schema
        return False
    header, _, body = snapshot.partition("\n")
    if header + "\n" != _SNAPSHOT_HEADER.format(rev=HEAD):
        return False
    with engine.connect() as conn:
        with conn.begin():  # BEGIN IMMEDIATE: a second process waits here, then finds the tables
            tables = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").scalar()
            if tables:
                return False
            for statement in body.split(";\n"):  # alembic_version's table among them
                if statement.strip():
                    conn.exec_driver_sql(statement)
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:rev)"), {"rev": HEAD})
    return True


def known(revision: str) -> bool:
    return revision in {s.revision for s in _script().walk_revisions()}


def current(conn: Connection) -> str | None:
    """The revision the database is at (None when it holds no hanprompt schema yet).

    Raises StoreError when the database is newer than this hanprompt or unrecognisable.
    """
    insp = inspect(conn)
    if insp.has_table("alembic_version"):
        revs = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        if len(revs) > 1:
            raise StoreError(f"database records several schema revisions ({', '.join(revs)}); "
                             f"restore it from a backup or start a new one with {arg('db')}")
        rev = revs[0] if revs else None
    elif insp.has_table("schema_migrations"):
        version = conn.execute(text("SELECT max(version) FROM schema_migrations")).scalar()
        rev = None if version is None else LEGACY.get(version, str(version))
    elif insp.has_table("runs"):
        raise StoreError("database holds hanprompt tables but no record of their schema revision; "
                         f"point {arg('db')} at a new database")
    else:
        rev = None
    if rev is not None and not known(rev):
        raise StoreError(f"database is at revision {rev}, this hanprompt knows up to {head()}: upgrade hanprompt")
    return rev


def _backup_sqlite(engine: Engine, at: str) -> None:
    """Copy the SQLite file beside itself (through SQLite's backup API, so the WAL is included)."""
    database = engine.url.database
    if not database or database == ":memory:":
        return
    path = Path(database).expanduser()
    target = path.with_name(f"{path.name}.{at}.bak")
    if target.exists():
        target = path.with_name(f"{path.name}.{at}.{dt.datetime.now():%Y%m%dT%H%M%S%f}.bak")
    src, dst = sqlite3.connect(path), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    shutil.copymode(path, target)
    log.warning("upgrading the database schema from %s to %s; a copy of it before the upgrade is at %s",
                at, head(), target)


def upgrade(engine: Engine, target: str | None = None) -> str:
    """Bring the database to ``target`` (default: the newest revision); return the revision reached.

    Nothing is written when the database is already there, and nothing at all when it is newer
    than this hanprompt (StoreError). One process migrates at a time; others wait, then find
    nothing to do.
    """
    if target in (None, HEAD) and _at_head(engine):  # most opens: nothing to do
        return HEAD
    if target in (None, HEAD) and engine.dialect.name == "sqlite" and _create_sqlite_head(engine):
        return HEAD  # a new SQLite file: built from the schema at HEAD, no Alembic
    return _upgrade_with_alembic(engine, target)


def _upgrade_with_alembic(engine: Engine, target: str | None) -> str:
    from alembic import command

    want = target or head()
    from sqlalchemy.exc import ProgrammingError

    with engine.connect() as conn:
        try:  # a peek without the lock: another process may be migrating (dropping a table) meanwhile
            at = current(conn.execution_options(hanprompt_readonly=True))
        except ProgrammingError:
            at = None  # decided again below, under the lock
        conn.rollback()
    if at == want:
        return at
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if sqlite:
            # A table rebuild drops the old table: with foreign keys on, that would cascade.
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
                at = current(conn)
                if at != want:
                    if sqlite and at is not None:  # under the write lock: only the migrating process copies
                        _backup_sqlite(engine, at)
                    cfg = _config(conn)
                    if at is not None and not inspect(conn).has_table("alembic_version"):
                        command.stamp(cfg, at)  # a database of the runner before Alembic
                    command.upgrade(cfg, want)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise StoreError(f"the upgrade to {want} left {len(broken)} rows pointing at "
                                             "missing rows; nothing was changed; report this")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys = ON")
    return want
