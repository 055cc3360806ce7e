"""Audit tables: the event chain, its head, checkpoints, forwarding cursors and state.

Times are integer microseconds (events) or seconds (bookkeeping) since the Unix epoch, so
nothing depends on a driver's time zone handling and hashes see the same integers
everywhere.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from greenroom.db.base import metadata

events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    # A random UUID: not indexed (an index on it would dirty a random page with every append).
    Column("id", String(36), nullable=False),
    Column("time_us", BigInteger, nullable=False),
    Column("event_id", String(100), nullable=False),
    Column("action", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("plugin", String(64), nullable=False),
    Column("actor_id", String(600), nullable=True),
    Column("actor_type", String(32), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("hostname", String(255), nullable=True),
    Column("user_agent", String(300), nullable=True),
    Column("request_url", Text, nullable=True),
    Column("request_method", String(16), nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("target", String(1000), nullable=True),
    Column("meta", Text, nullable=False),
    Column("error", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Not part of the hash: set when an export has written the event out.
    Column("exported_at", BigInteger, nullable=True),
)
Index("ix_audit_events_time_us", events.c.time_us)
Index("ix_audit_events_actor_id", events.c.actor_id, events.c.seq)
Index("ix_audit_events_event_id", events.c.event_id, events.c.seq)  # PostgreSQL only (audit_0002)
Index("ix_audit_events_target", events.c.target, events.c.seq)

# One row (id = 1): the last sequence number and hash. Appenders lock it, which serialises
# the chain across threads and processes; `mac` signs (seq, hash) when a signing key is set.
head = Table(
    "audit_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("mac", String(64), nullable=True),
    Column("key_id", String(16), nullable=True),
)

# kind 'signed': a periodic HMAC over (seq, hash); kind 'prune': where retention cut the chain
# (verification starts after it, from its hash).
checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("mac", String(64), nullable=True),
    Column("key_id", String(16), nullable=True),
)
Index("ix_audit_checkpoints_kind_seq", checkpoints.c.kind, checkpoints.c.seq)

# The trail is its own outbox: each forwarding sink remembers the last sequence number it
# delivered, and a process holds a short lease while it sends.
sink_cursors = Table(
    "audit_sink_cursors",
    metadata,
    Column("sink", String(64), primary_key=True),
    Column("delivered_seq", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("leased_by", String(64), nullable=True),
    Column("leased_until", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

state = Table(
    "audit_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
