"""Retention: `audit.retention.days` deletes old events — never ones nobody has a copy of.

An event older than the retention period is deleted only when it was exported
(`greenroom audit-log export`) or delivered to every configured forwarding sink. Deletion
takes the oldest events first and stops at the first one that may not go, so the trail
stays one unbroken chain: a `prune` checkpoint records the sequence number and hash of the
last deleted event, and verification starts from there. Events kept back are reported in
the log (a warning naming how many and from which sequence number) on every run, and by
`greenroom audit-log prune`.

`audit.retention.dangerouslyDeleteUnexported: true` deletes old events whether or not they
were exported; it is logged at start-up and at every prune, recorded in the trail, and
flagged by `greenroom audit`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update

from greenroom.audit import tables
from greenroom.audit.model import SYSTEM_ACTOR, Actor, AuditEvent

if TYPE_CHECKING:
    from greenroom.audit.service import AuditService

log = logging.getLogger("greenroom.audit")
SCAN_BATCH = 5000


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    through_seq: int | None
    kept_unexported: int
    first_kept_seq: int | None
    unexported_deleted: int = 0


def _forwarded_floor(service: AuditService) -> int | None:
    """The sequence number every configured sink has received (None: no sink configured)."""
    names = [n for n, s in (("syslog", service.settings.forwarding.syslog),
                            ("webhook", service.settings.forwarding.webhook)) if s is not None]
    if not names:
        return None
    c = tables.sink_cursors
    with service.database.engine.connect() as connection:
        rows = {r.sink: int(r.delivered_seq) for r in connection.execute(
            select(c.c.sink, c.c.delivered_seq).where(c.c.sink.in_(names)))}
    return min(rows.get(n, 0) for n in names)


def prune(service: AuditService, *, now: float | None = None, days: int | None = None,
          actor: Actor = SYSTEM_ACTOR) -> PruneResult:
    """Delete what retention allows; record an `audit-prune` event when anything went."""
    settings = service.settings.retention
    days = days if days is not None else settings.days
    if days is None:
        return PruneResult(0, None, 0, None)
    dangerous = settings.dangerouslyDeleteUnexported
    cutoff_us = int(((now if now is not None else time.time()) - days * 86400) * 1_000_000)
    floor = _forwarded_floor(service)
    e = tables.events.c
    through: tuple[int, str] | None = None
    deleted = unexported_deleted = 0
    blocked_at: int | None = None
    after = 0
    with service.database.engine.connect() as connection:
        while blocked_at is None:
            rows = list(connection.execute(
                select(e.seq, e.hash, e.time_us, e.exported_at).where(e.seq > after).order_by(e.seq).limit(SCAN_BATCH)
            ))
            if not rows:
                break
            for row in rows:
                if row.time_us >= cutoff_us:
                    blocked_at = -1  # reached the retained period: nothing newer may go
                    break
                copied = row.exported_at is not None or (floor is not None and row.seq <= floor)
                if not copied and not dangerous:
                    blocked_at = int(row.seq)
                    break
                unexported_deleted += 0 if copied else 1
                through = (int(row.seq), str(row.hash))
                deleted += 1
            after = int(rows[-1].seq)
        kept = 0
        if blocked_at is not None and blocked_at > 0:
            kept = int(connection.execute(
                select(func.count()).select_from(tables.events).where(e.time_us < cutoff_us, e.seq >= blocked_at)
            ).scalar() or 0)
    if kept:
        log.warning(
            "audit retention kept events older than the retention period because they were never exported or "
            "forwarded; run `greenroom audit-log export` (or configure forwarding) and they will be pruned",
            extra={"keptEvents": kept, "fromSequence": blocked_at, "retentionDays": days},
        )
    if through is None:
        return PruneResult(0, None, kept, blocked_at if blocked_at and blocked_at > 0 else None)
    seq, chain_hash = through
    signer = service.signer
    h, c = tables.head, tables.checkpoints
    with service.database.engine.begin() as connection:
        connection.execute(update(h).where(h.c.id == 1).values(seq=h.c.seq))  # one pruner at a time
        connection.execute(delete(tables.events).where(e.seq <= seq))
        connection.execute(c.insert().values(
            kind="prune", seq=seq, hash=chain_hash, created_at=int(time.time()),
            mac=signer.sign("prune", seq, chain_hash) if signer else None,
            key_id=signer.key_id if signer else None,
        ))
        meta = {"throughSequence": seq, "deleted": deleted, "retentionDays": days, "keptUnexported": kept}
        if unexported_deleted:
            meta["unexportedDeleted"] = unexported_deleted
        service.store.append(connection, [AuditEvent(
            event_id="audit-prune", severity="high" if unexported_deleted else "medium", action="delete",
            target="audit-log", actor=actor, meta=meta,
        )])
    if unexported_deleted:
        log.warning("audit retention deleted events that were never exported or forwarded "
                    "(audit.retention.dangerouslyDeleteUnexported is on)",
                    extra={"deleted": unexported_deleted, "throughSequence": seq})
    return PruneResult(deleted, seq, kept, blocked_at if blocked_at and blocked_at > 0 else None, unexported_deleted)
