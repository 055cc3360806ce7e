"""rbac: roles, members, permission policies and conditions stored through the REST API

Revision ID: rbac_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rbac_0001"
down_revision = None
branch_labels = ("rbac",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rbac_roles",
        sa.Column("role_ref", sa.String(300), primary_key=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("owner", sa.String(300), nullable=True),
        sa.Column("author", sa.String(300), nullable=True),
        sa.Column("modified_by", sa.String(300), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_modified", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rbac_role_members",
        sa.Column("role_ref", sa.String(300), nullable=False),
        sa.Column("member_ref", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("role_ref", "member_ref", name="pk_rbac_role_members"),
    )
    op.create_table(
        "rbac_policies",
        sa.Column("role_ref", sa.String(300), nullable=False),
        sa.Column("permission", sa.String(300), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("effect", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("role_ref", "permission", "action", "effect", name="pk_rbac_policies"),
    )
    op.create_table(
        "rbac_conditions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("role_ref", sa.String(300), nullable=False),
        sa.Column("plugin_id", sa.String(100), nullable=False),
        sa.Column("resource_type", sa.String(100), nullable=False),
        sa.Column("permission_mapping", sa.Text, nullable=False),
        sa.Column("conditions", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rbac_conditions_role_ref", "rbac_conditions", ["role_ref"])
    state = op.create_table(
        "rbac_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("rbac_state")
    op.drop_index("ix_rbac_conditions_role_ref", table_name="rbac_conditions")
    op.drop_table("rbac_conditions")
    op.drop_table("rbac_policies")
    op.drop_table("rbac_role_members")
    op.drop_table("rbac_roles")
