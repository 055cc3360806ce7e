"""The RBAC plugin's tables: what the REST API stores (policy files stay files).

`rbac_state.version` is bumped in the same transaction as every change: other processes see a
new version and reload, and bumping it first is what serialises concurrent writers (a row lock
on PostgreSQL, the write lock on SQLite).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, PrimaryKeyConstraint, String, Table, Text

from greenroom.db.base import metadata

roles = Table(
    "rbac_roles",
    metadata,
    Column("role_ref", String(300), primary_key=True),
    Column("description", Text, nullable=True),
    Column("owner", String(300), nullable=True),
    Column("author", String(300), nullable=True),
    Column("modified_by", String(300), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_modified", BigInteger, nullable=False),
)

members = Table(
    "rbac_role_members",
    metadata,
    Column("role_ref", String(300), nullable=False),
    Column("member_ref", String(300), nullable=False),
    PrimaryKeyConstraint("role_ref", "member_ref", name="pk_rbac_role_members"),
)

policies = Table(
    "rbac_policies",
    metadata,
    Column("role_ref", String(300), nullable=False),
    Column("permission", String(300), nullable=False),
    Column("action", String(16), nullable=False),
    Column("effect", String(8), nullable=False),
    PrimaryKeyConstraint("role_ref", "permission", "action", "effect", name="pk_rbac_policies"),
)

conditions = Table(
    "rbac_conditions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("role_ref", String(300), nullable=False, index=True),
    Column("plugin_id", String(100), nullable=False),
    Column("resource_type", String(100), nullable=False),
    Column("permission_mapping", Text, nullable=False),  # JSON: [{"name": ..., "action": ...}]
    Column("conditions", Text, nullable=False),  # JSON criteria
    Column("created_at", BigInteger, nullable=False),
)

state = Table(
    "rbac_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)
