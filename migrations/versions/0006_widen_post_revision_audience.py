"""Store a post revision's audience as text of any length.

The comma-separated department ids of a post shown to many departments
exceeded 500 characters, which PostgreSQL rejects.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("post_revision", schema=None) as batch_op:
        batch_op.alter_column(
            "audience_ids",
            existing_type=sa.String(length=500),
            type_=sa.Text(),
            existing_nullable=False,
        )


def downgrade():
    with op.batch_alter_table("post_revision", schema=None) as batch_op:
        batch_op.alter_column(
            "audience_ids",
            existing_type=sa.Text(),
            type_=sa.String(length=500),
            existing_nullable=False,
        )
