"""Load the GB/T 4754-2017 sections (门类) and divisions (大类).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:20:00
"""

import sqlalchemy as sa
from alembic import op

from kb.taxonomy.gbt4754 import DIVISIONS, SECTIONS

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

industry = sa.table(
    "industry",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("level", sa.String),
    sa.column("section_code", sa.String),
)


def upgrade():
    op.bulk_insert(
        industry,
        [
            {"code": code, "name": name, "level": "section", "section_code": None}
            for code, name in SECTIONS
        ],
    )
    op.bulk_insert(
        industry,
        [
            {"code": code, "name": name, "level": "division", "section_code": section}
            for code, name, section in DIVISIONS
        ],
    )


def downgrade():
    op.execute(industry.delete().where(industry.c.level == "division"))
    op.execute(industry.delete().where(industry.c.level == "section"))
