"""Runs and their generations (the first schema, formerly migration 1).

Revision ID: m001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "m001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("spec", sa.JSON),
        sa.Column("spec_hash", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "generations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("backend", sa.String(20), nullable=False),
        sa.Column("device", sa.String(200)),
        sa.Column("placement", sa.JSON),
        sa.Column("dtype", sa.String(20)),
        sa.Column("params", sa.JSON),
        sa.Column("messages", sa.JSON),
        sa.Column("prompt", sa.Text),
        sa.Column("response", sa.Text),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("load_s", sa.Float),
        sa.Column("ttft_s", sa.Float),
        sa.Column("total_s", sa.Float),
        sa.Column("tokens_per_s", sa.Float),
        sa.Column("finish_reason", sa.String(20)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_generations_run_id", "generations", ["run_id"])


def downgrade() -> None:
    op.drop_table("generations")
    op.drop_table("runs")
