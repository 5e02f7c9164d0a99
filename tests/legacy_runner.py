"""The hand-written migration runner that hanprompt shipped before Alembic, frozen as it was.

Tests build databases at each of its versions (1-4) with it, to check that Alembic carries them over.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)


def _add_columns(conn: Connection, table: str, columns: list[Column]) -> None:
    for col in columns:
        type_sql = col.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {col.name} {type_sql}")


def m001_runs_and_generations(conn: Connection) -> None:
    md = MetaData()
    Table(
        "runs",
        md,
        Column("id", Integer, primary_key=True),
        Column("name", String(200), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("status", String(20), nullable=False),
        Column("spec", JSON),
        Column("spec_hash", String(64)),
        Column("error", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("finished_at", DateTime(timezone=True)),
    )
    Table(
        "generations",
        md,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("model", String(500), nullable=False),
        Column("backend", String(20), nullable=False),
        Column("device", String(200)),
        Column("placement", JSON),
        Column("dtype", String(20)),
        Column("params", JSON),
        Column("messages", JSON),
        Column("prompt", Text),
        Column("response", Text),
        Column("input_tokens", Integer),
        Column("output_tokens", Integer),
        Column("load_s", Float),
        Column("ttft_s", Float),
        Column("total_s", Float),
        Column("tokens_per_s", Float),
        Column("finish_reason", String(20)),
        Column("error", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    md.create_all(conn)


def m002_experiments_and_checks(conn: Connection) -> None:
    _add_columns(
        conn,
        "generations",
        [
            Column("variant", String(200)),
            Column("style", String(40)),
            Column("vars", JSON),
            Column("repeat_index", Integer),
            Column("cell_key", String(64)),
            Column("cache_key", String(64)),
            Column("cached", Boolean),
        ],
    )
    md = MetaData()
    generations = Table(
        "generations",
        md,
        Column("id", Integer, primary_key=True),
        Column("cell_key", String(64)),
        Column("cache_key", String(64)),
    )
    Index("ix_generations_cell_key", generations.c.cell_key).create(conn)
    Index("ix_generations_cache_key", generations.c.cache_key).create(conn)
    Table(
        "checks",
        md,
        Column("id", Integer, primary_key=True),
        Column(
            "generation_id",
            Integer,
            ForeignKey("generations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("name", String(40), nullable=False),
        Column("spec", JSON),
        Column("passed", Boolean, nullable=False),
        Column("reason", Text),
    ).create(conn)


def m003_translations(conn: Connection) -> None:
    md = MetaData()
    Table("runs", md, Column("id", Integer, primary_key=True))
    Table("generations", md, Column("id", Integer, primary_key=True))
    Table(
        "translations",
        md,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        Column(
            "generation_id", Integer, ForeignKey("generations.id", ondelete="CASCADE"), index=True
        ),
        Column("translator", String(500), nullable=False),
        Column("source_lang", String(20), nullable=False),
        Column("target_lang", String(20), nullable=False),
        Column("source", Text, nullable=False),
        Column("translation", Text, nullable=False),
        Column("seconds", Float),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ).create(conn)
    Table(
        "translation_scores",
        md,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("translator", String(500), nullable=False),
        Column("segments", Integer, nullable=False),
        Column("chrf", Float),
        Column("bleu", Float),
        Column("chrf_signature", String(200)),
        Column("bleu_signature", String(200)),
        Column("hangul_share", Float),
        Column("segments_per_s", Float),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ).create(conn)


def m004_analyses(conn: Connection) -> None:
    md = MetaData()
    Table("runs", md, Column("id", Integer, primary_key=True))
    Table(
        "analyses",
        md,
        Column("id", Integer, primary_key=True),
        Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), index=True),
        Column("source_run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), index=True),
        Column("params_hash", String(64), nullable=False, index=True),
        Column("params", JSON, nullable=False),
        Column("documents", Integer, nullable=False),
        Column("total_tokens", Integer, nullable=False),
        Column("result", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ).create(conn)


#: (version, function) in order. Append only.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, m001_runs_and_generations),
    (2, m002_experiments_and_checks),
    (3, m003_translations),
    (4, m004_analyses),
]


_version_md = MetaData()
schema_migrations = Table(
    "schema_migrations",
    _version_md,
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def build(engine, target: int) -> None:
    """What the old ``migrate(engine, target)`` did to an empty database."""
    import datetime as dt

    from sqlalchemy import insert

    with engine.begin() as conn:
        _version_md.create_all(conn)
        for number, func in MIGRATIONS:
            if number <= target:
                func(conn)
                conn.execute(insert(schema_migrations).values(
                    version=number, name=func.__name__, applied_at=dt.datetime.now(dt.timezone.utc)))
