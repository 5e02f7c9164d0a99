"""Integrity and the columns later features need.

- one result per (run, cell) and one translation per (generation, translator, languages), as
  unique constraints; duplicates already stored are moved to ``archived_rows`` first (the
  lowest id of each group stays);
- a lease on runs (holder, held_since, heartbeat_at) so one process at a time works on a run;
- generations: role, judged_generation_id, cached_from_id, text_altered, usage_source, cost,
  timings; checks: score; the bench_results table;
- the table of the hand-written runner that came before Alembic (schema_migrations) goes.

Revision ID: m005
Revises: m004
"""
import datetime as dt
import logging

import sqlalchemy as sa
from alembic import op

revision = "m005"
down_revision = "m004"
branch_labels = None
depends_on = None

log = logging.getLogger("hanprompt.store")

# The tables whose rows may be archived, as they stand at m004 (frozen: schema.py moves on).
_md = sa.MetaData()
_generations = sa.Table(
    "generations", _md,
    *(sa.Column(n, t) for n, t in [
        ("id", sa.Integer), ("run_id", sa.Integer), ("model", sa.String), ("backend", sa.String),
        ("device", sa.String), ("placement", sa.JSON), ("dtype", sa.String), ("params", sa.JSON),
        ("messages", sa.JSON), ("prompt", sa.Text), ("response", sa.Text), ("input_tokens", sa.Integer),
        ("output_tokens", sa.Integer), ("load_s", sa.Float), ("ttft_s", sa.Float), ("total_s", sa.Float),
        ("tokens_per_s", sa.Float), ("finish_reason", sa.String), ("error", sa.Text),
        ("created_at", sa.DateTime(timezone=True)), ("variant", sa.String), ("style", sa.String),
        ("vars", sa.JSON), ("repeat_index", sa.Integer), ("cell_key", sa.String), ("cache_key", sa.String),
        ("cached", sa.Boolean),
    ]),
)
_checks = sa.Table(
    "checks", _md,
    *(sa.Column(n, t) for n, t in [
        ("id", sa.Integer), ("generation_id", sa.Integer), ("name", sa.String), ("spec", sa.JSON),
        ("passed", sa.Boolean), ("reason", sa.Text),
    ]),
)
_translations = sa.Table(
    "translations", _md,
    *(sa.Column(n, t) for n, t in [
        ("id", sa.Integer), ("run_id", sa.Integer), ("generation_id", sa.Integer), ("translator", sa.String),
        ("source_lang", sa.String), ("target_lang", sa.String), ("source", sa.Text),
        ("translation", sa.Text), ("seconds", sa.Float), ("created_at", sa.DateTime(timezone=True)),
    ]),
)
_archived = sa.Table(
    "archived_rows", _md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("table_name", sa.String(40), nullable=False),
    sa.Column("row_id", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("row", sa.JSON, nullable=False),
    sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
)


def _plain(value):
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    return value


def _move(conn, table: sa.Table, where, reason: str, run_of=None) -> int:
    """Copy the rows matching ``where`` into archived_rows as JSON, then delete them."""
    rows = [dict(r) for r in conn.execute(sa.select(table).where(where).order_by(table.c.id)).mappings()]
    if not rows:
        return 0
    now = dt.datetime.now(dt.timezone.utc)
    conn.execute(sa.insert(_archived), [
        {"table_name": table.name, "row_id": r["id"], "run_id": r.get("run_id", run_of(r) if run_of else None),
         "reason": reason, "row": {k: _plain(v) for k, v in r.items()}, "archived_at": now}
        for r in rows
    ])
    conn.execute(sa.delete(table).where(table.c.id.in_([r["id"] for r in rows])))
    return len(rows)


def _archive_duplicates(conn) -> None:
    g, t = _generations, _translations
    keep_gen = (
        sa.select(sa.func.min(g.c.id)).where(g.c.cell_key.is_not(None)).group_by(g.c.run_id, g.c.cell_key)
    )
    dup_gens = list(conn.execute(
        sa.select(g.c.id, g.c.run_id).where(g.c.cell_key.is_not(None), g.c.id.not_in(keep_gen))
    ))
    moved = {"generations": 0, "checks": 0, "translations": 0}
    if dup_gens:
        ids = [r.id for r in dup_gens]
        run_of_gen = {r.id: r.run_id for r in dup_gens}
        reason = "a second result for the same (run, cell)"
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            moved["checks"] += _move(conn, _checks, _checks.c.generation_id.in_(part), reason,
                                     run_of=lambda r: run_of_gen[r["generation_id"]])
            moved["translations"] += _move(conn, t, t.c.generation_id.in_(part), reason)
            moved["generations"] += _move(conn, g, g.c.id.in_(part), reason)
    keep_tr = (
        sa.select(sa.func.min(t.c.id)).where(t.c.generation_id.is_not(None))
        .group_by(t.c.generation_id, t.c.translator, t.c.source_lang, t.c.target_lang)
    )
    dup_tr = list(conn.execute(sa.select(t.c.id).where(t.c.generation_id.is_not(None), t.c.id.not_in(keep_tr))).scalars())
    for i in range(0, len(dup_tr), 500):
        moved["translations"] += _move(
            conn, t, t.c.id.in_(dup_tr[i:i + 500]), "a second translation of the same generation, translator and languages"
        )
    if any(moved.values()):
        log.warning(
            "moved %d duplicate generations (with %d checks) and %d duplicate translations to the table "
            "archived_rows; the first of each stays", moved["generations"], moved["checks"], moved["translations"],
        )


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "archived_rows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("row", sa.JSON, nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_archived_rows_run_id", "archived_rows", ["run_id"])
    _archive_duplicates(conn)

    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("holder", sa.String(200)))
        batch.add_column(sa.Column("held_since", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("role", sa.String(20)))
        batch.add_column(sa.Column(
            "judged_generation_id", sa.Integer,
            sa.ForeignKey("generations.id", ondelete="CASCADE", name="fk_generations_judged_generation_id"),
        ))
        batch.add_column(sa.Column("cached_from_id", sa.Integer))
        batch.add_column(sa.Column("text_altered", sa.Boolean))
        batch.add_column(sa.Column("usage_source", sa.String(20)))
        batch.add_column(sa.Column("cost", sa.Float))
        batch.add_column(sa.Column("timings", sa.JSON))
        batch.create_unique_constraint("uq_generations_run_id_cell_key", ["run_id", "cell_key"])
        batch.create_index("ix_generations_judged_generation_id", ["judged_generation_id"])
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("score", sa.Float))
    with op.batch_alter_table("translations") as batch:
        batch.create_unique_constraint(
            "uq_translations_generation_id_translator_langs",
            ["generation_id", "translator", "source_lang", "target_lang"],
        )
    op.create_table(
        "bench_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("backend", sa.String(20), nullable=False),
        sa.Column("config", sa.JSON),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("metrics", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_bench_results_run_id", "bench_results", ["run_id"])
    if sa.inspect(conn).has_table("schema_migrations"):
        op.drop_table("schema_migrations")


def downgrade() -> None:
    op.drop_table("bench_results")
    with op.batch_alter_table("translations") as batch:
        batch.drop_constraint("uq_translations_generation_id_translator_langs", type_="unique")
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("score")
    with op.batch_alter_table("generations") as batch:
        batch.drop_index("ix_generations_judged_generation_id")
        batch.drop_constraint("fk_generations_judged_generation_id", type_="foreignkey")
        batch.drop_constraint("uq_generations_run_id_cell_key", type_="unique")
        for name in ("timings", "cost", "usage_source", "text_altered", "cached_from_id",
                     "judged_generation_id", "role"):
            batch.drop_column(name)
    with op.batch_alter_table("runs") as batch:
        for name in ("heartbeat_at", "held_since", "holder"):
            batch.drop_column(name)
    op.drop_table("archived_rows")  # archived duplicates are not put back
