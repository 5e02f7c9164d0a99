"""A check may be stored without a verdict: checks.passed NULL means "not judged".

An llm-rubric check of a run without a judge is neither a pass nor a failure; ``--resume`` with
a judge fills the verdict in later.

Revision ID: m006
Revises: m005
"""
import sqlalchemy as sa
from alembic import op

revision = "m006"
down_revision = "m005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        batch.alter_column("passed", existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM checks WHERE passed IS NULL")  # unjudged checks have no place in m005
    with op.batch_alter_table("checks") as batch:
        batch.alter_column("passed", existing_type=sa.Boolean(), nullable=False)
