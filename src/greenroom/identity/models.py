"""Identity tables: public signing keys, sessions, sign-in attempts, replay and brute-force state.

Times are integer Unix seconds: every comparison is a plain integer one on SQLite and
PostgreSQL alike, and nothing depends on a driver's time zone handling.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from greenroom.db.base import metadata

signing_keys = Table(
    "identity_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

sessions = Table(
    "identity_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("user_ref", String(600), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("ownership_refs", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("client_ip", String(64), nullable=True),
    Column("user_agent", String(300), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("revoked_reason", String(200), nullable=True),
)
Index("ix_identity_sessions_user_ref", sessions.c.user_ref)

revoked_tokens = Table(
    "identity_revoked_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

attempts = Table(
    "identity_attempts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
)

replay = Table(
    "identity_replay",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

counters = Table(
    "identity_counters",
    metadata,
    Column("key", String(300), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("key", "window_start", name="pk_identity_counters"),
)

locks = Table(
    "identity_locks",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("locked_until", BigInteger, nullable=False),
)
