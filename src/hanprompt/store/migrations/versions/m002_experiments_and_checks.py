"""Experiment cells on generations, and checks (formerly migration 2).

Revision ID: m002
Revises: m001
"""
import sqlalchemy as sa
from alembic import op

revision = "m002"
down_revision = "m001"
branch_labels = None
depends_on = None

_COLUMNS = [
    ("variant", sa.String(200)),
    ("style", sa.String(40)),
    ("vars", sa.JSON),
    ("repeat_index", sa.Integer),
    ("cell_key", sa.String(64)),
    ("cache_key", sa.String(64)),
    ("cached", sa.Boolean),
]


def upgrade() -> None:
    for name, type_ in _COLUMNS:  # plain ALTER TABLE ADD COLUMN on both databases: no rebuild
        op.add_column("generations", sa.Column(name, type_))
    op.create_index("ix_generations_cell_key", "generations", ["cell_key"])
    op.create_index("ix_generations_cache_key", "generations", ["cache_key"])
    op.create_table(
        "checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "generation_id", sa.Integer, sa.ForeignKey("generations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("spec", sa.JSON),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_checks_generation_id", "checks", ["generation_id"])


def downgrade() -> None:
    op.drop_table("checks")
    op.drop_index("ix_generations_cache_key", "generations")
    op.drop_index("ix_generations_cell_key", "generations")
    with op.batch_alter_table("generations") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
