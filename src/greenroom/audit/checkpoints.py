"""Signed checkpoints: HMAC over (sequence number, hash) of the chain head, every
`audit.signing.checkpointInterval` seconds when `audit.signing.key` is set.

A checkpoint pins the chain up to its sequence number: rewriting any event at or before it
changes that event's hash, which no longer matches the checkpoint, and a new checkpoint
cannot be forged without the key.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from greenroom.audit import tables

if TYPE_CHECKING:
    from greenroom.audit.service import AuditService


def write_checkpoint(service: AuditService) -> int | None:
    """Sign the current head unless it is already signed; returns the checkpointed sequence number."""
    signer = service.signer
    if signer is None:
        return None
    h, c = tables.head, tables.checkpoints
    with service.database.engine.begin() as connection:
        # Lock the head so the position signed is one that committed.
        connection.execute(update(h).where(h.c.id == 1).values(seq=h.c.seq))
        head = connection.execute(select(h.c.seq, h.c.hash).where(h.c.id == 1)).one()
        seq = int(head.seq)
        last = connection.execute(select(func.max(c.c.seq)).where(c.c.kind == "signed")).scalar()
        if seq == 0 or (last is not None and int(last) >= seq):
            return None
        connection.execute(c.insert().values(kind="signed", seq=seq, hash=head.hash, created_at=int(time.time()),
                                             mac=signer.sign("signed", seq, head.hash), key_id=signer.key_id))
    return seq
