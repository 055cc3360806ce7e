"""identity: public signing keys, sessions, revoked tokens, sign-in attempts, replay cache, rate counters, locks

Revision ID: identity_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = None
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "identity_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_ref", sa.String(600), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("ownership_refs", sa.Text, nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_seen_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_reason", sa.String(200), nullable=True),
    )
    op.create_index("ix_identity_sessions_user_ref", "identity_sessions", ["user_ref"])
    op.create_table(
        "identity_revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "identity_attempts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "identity_replay",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "identity_counters",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name="pk_identity_counters"),
    )
    op.create_table(
        "identity_locks",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("locked_until", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("identity_locks", "identity_counters", "identity_replay", "identity_attempts",
                  "identity_revoked_tokens"):
        op.drop_table(table)
    op.drop_index("ix_identity_sessions_user_ref", table_name="identity_sessions")
    op.drop_table("identity_sessions")
    op.drop_table("identity_signing_keys")
