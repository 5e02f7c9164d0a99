"""A translation may be stored flagged: translations.flag says why it is not taken for a translation
(too little of the target script, the source or the instruction repeated); translation_scores.flagged
counts a translator's flagged segments beside its scores.

Translations stored before stay unflagged (NULL); scores stored before have no count (NULL).

Revision ID: m007
Revises: m006
"""
import sqlalchemy as sa
from alembic import op

revision = "m007"
down_revision = "m006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("translations") as batch:
        batch.add_column(sa.Column("flag", sa.Text(), nullable=True))
    with op.batch_alter_table("translation_scores") as batch:
        batch.add_column(sa.Column("flagged", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("translation_scores") as batch:
        batch.drop_column("flagged")
    with op.batch_alter_table("translations") as batch:
        batch.drop_column("flag")
