"""Translations and their scores (formerly migration 3).

Revision ID: m003
Revises: m002
"""
import sqlalchemy as sa
from alembic import op

revision = "m003"
down_revision = "m002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "translations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("generation_id", sa.Integer, sa.ForeignKey("generations.id", ondelete="CASCADE")),
        sa.Column("translator", sa.String(500), nullable=False),
        sa.Column("source_lang", sa.String(20), nullable=False),
        sa.Column("target_lang", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("translation", sa.Text, nullable=False),
        sa.Column("seconds", sa.Float),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_translations_run_id", "translations", ["run_id"])
    op.create_index("ix_translations_generation_id", "translations", ["generation_id"])
    op.create_table(
        "translation_scores",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("translator", sa.String(500), nullable=False),
        sa.Column("segments", sa.Integer, nullable=False),
        sa.Column("chrf", sa.Float),
        sa.Column("bleu", sa.Float),
        sa.Column("chrf_signature", sa.String(200)),
        sa.Column("bleu_signature", sa.String(200)),
        sa.Column("hangul_share", sa.Float),
        sa.Column("segments_per_s", sa.Float),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_translation_scores_run_id", "translation_scores", ["run_id"])


def downgrade() -> None:
    op.drop_table("translation_scores")
    op.drop_table("translations")
