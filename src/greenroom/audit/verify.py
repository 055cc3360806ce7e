"""Verification: walk the chain and say where it was tampered with.

For each stored event, in sequence order, from the first retained one (sequence 1, or the
one after the latest `prune` checkpoint, whose hash it must chain from):

* its hash must match its content (else: **edited**, or its sequence number was changed);
* its `prevHash` must be the hash of the event before it (else: **reordered** when it is
  the hash of another event, which is named, or an event was **inserted** or **deleted**);
* sequence numbers must be consecutive (a gap: events were **deleted**);
* the chain head must name the last event (more events: **inserted** after the head; fewer:
  **deleted** from the end);
* signed checkpoints must match the event at their sequence number, and with the signing key
  every signature (head, checkpoints, prune anchors) must verify.

Without a signing key the chain proves that nothing was changed *unless* someone rewrote
every hash from the change onwards (and the head): the threat-model section of
docs/audit.md says what closes that gap (signing key, forwarding).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select

from greenroom.audit import tables
from greenroom.audit.model import GENESIS_HASH, StoredEvent
from greenroom.audit.signing import Signer
from greenroom.db.engine import Database
from greenroom.errors import GreenroomError

BATCH = 5000
MAX_LOOKUPS = 100


@dataclass(frozen=True)
class Problem:
    kind: str  # edited | reordered | link | deleted | inserted | head | checkpoint | signature
    message: str
    seq: int | None = None
    event: str | None = None  # the event's id

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "sequence": self.seq, "id": self.event, "message": self.message}

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "chain"
        if self.event:
            where += f" (event {self.event})"
        return f"{where}: {self.kind}: {self.message}"


@dataclass
class Report:
    checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_seq: int = 0
    anchor_seq: int = 0
    signed_checkpoints: int = 0
    signed: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "firstSequence": self.first_seq,
                "lastSequence": self.last_seq, "headSequence": self.head_seq, "prunedThrough": self.anchor_seq,
                "signedCheckpoints": self.signed_checkpoints, "signatureChecked": self.signed,
                "problems": [p.to_json() for p in self.problems]}


_COLUMNS = [tables.events.c[name] for name in StoredEvent.__slots__]


def _rows(database: Database) -> Iterator[StoredEvent]:
    e = tables.events.c
    after: int | None = None
    with database.engine.connect() as connection:
        while True:
            stmt = select(*_COLUMNS).order_by(e.seq).limit(BATCH)
            if after is not None:
                stmt = stmt.where(e.seq > after)
            rows = [StoredEvent.from_row(r) for r in connection.execute(stmt)]
            yield from rows
            if len(rows) < BATCH:
                return
            after = rows[-1].seq


def _signature(signer: Signer | None, kind: str, seq: int, chain_hash: str, mac: str | None,
               key_id: str | None, what: str, report: Report) -> None:
    if signer is None:
        return
    if mac is None:
        report.problems.append(Problem("signature", f"{what} is not signed, but a signing key is configured", seq))
    elif key_id is not None and key_id != signer.key_id:
        report.problems.append(Problem("signature", f"{what} was signed with another key (key id {key_id}, "
                                                    f"configured {signer.key_id})", seq))
    elif not signer.verify(kind, seq, chain_hash, mac):
        report.problems.append(Problem("signature", f"{what}: the signature does not verify (forged or altered)", seq))


def verify_chain(database: Database, *, signer: Signer | None = None) -> Report:
    with database.engine.connect() as connection:
        if not inspect(connection).has_table("audit_events"):
            raise GreenroomError("this database has no audit trail (run `greenroom db upgrade`)")
        head = connection.execute(select(tables.head).where(tables.head.c.id == 1)).first()
        checkpoints = list(connection.execute(select(tables.checkpoints).order_by(tables.checkpoints.c.seq)))
    report = Report(signed=signer is not None)
    anchors = [c for c in checkpoints if c.kind == "prune"]
    anchor = anchors[-1] if anchors else None
    for a in anchors:
        _signature(signer, "prune", int(a.seq), a.hash, a.mac, a.key_id, f"prune checkpoint at seq {a.seq}", report)
    expected_seq = int(anchor.seq) + 1 if anchor is not None else 1
    expected_prev = str(anchor.hash) if anchor is not None else GENESIS_HASH
    report.anchor_seq = int(anchor.seq) if anchor is not None else 0
    signed = {int(c.seq): c for c in checkpoints if c.kind == "signed" and int(c.seq) > report.anchor_seq}
    broken: list[tuple[StoredEvent, int | None]] = []
    last: StoredEvent | None = None
    for event in _rows(database):
        report.checked += 1
        if report.first_seq is None:
            report.first_seq = event.seq
        if event.seq < expected_seq:
            report.problems.append(Problem("inserted", "sequence number at or before the prune checkpoint "
                                           f"(seq {report.anchor_seq}): inserted", event.seq, event.id))
        elif event.seq > expected_seq:
            gap = f"event {expected_seq} is" if event.seq == expected_seq + 1 else \
                f"events {expected_seq}-{event.seq - 1} are"
            report.problems.append(Problem("deleted", f"{gap} missing (deleted)", expected_seq))
        if event.computed_hash() != event.hash:
            report.problems.append(Problem("edited", "the event's content does not match its hash: it was edited "
                                           "(or its sequence number was changed)", event.seq, event.id))
        if event.prev_hash != expected_prev:
            broken.append((event, last.seq if last is not None else None))
        checkpoint = signed.get(event.seq)
        if checkpoint is not None:
            report.signed_checkpoints += 1
            if checkpoint.hash != event.hash:
                report.problems.append(Problem("checkpoint", "a signed checkpoint names another hash for this "
                                               "event: the chain was rewritten", event.seq, event.id))
            _signature(signer, "signed", event.seq, checkpoint.hash, checkpoint.mac, checkpoint.key_id,
                       f"checkpoint at seq {event.seq}", report)
        expected_seq, expected_prev, last = event.seq + 1, event.hash, event
    _explain_links(database, broken, report)
    report.last_seq = last.seq if last is not None else None
    _check_head(head, last, report, signer)
    for seq in signed:
        if report.last_seq is None or seq > report.last_seq:
            report.problems.append(Problem("deleted", "a signed checkpoint names this event, which is missing", seq))
    report.problems.sort(key=lambda p: (p.seq if p.seq is not None else -1, p.kind))
    return report


def _explain_links(database: Database, broken: list[tuple[StoredEvent, int | None]], report: Report) -> None:
    """Say what a broken link means: which event it chains from, if any still does."""
    e = tables.events.c
    with database.engine.connect() as connection:
        for index, (event, before) in enumerate(broken):
            found = None
            if index < MAX_LOOKUPS:
                found = connection.execute(select(e.seq).where(e.hash == event.prev_hash)).scalar()
            if found is not None and found != before:
                report.problems.append(Problem(
                    "reordered", f"out of order: it chains from the event at seq {found}, not from seq {before}",
                    event.seq, event.id))
            else:
                report.problems.append(Problem(
                    "link", "its previous-hash does not match the event before it: an event was inserted or "
                    "deleted before it", event.seq, event.id))


def _check_head(head: Any, last: StoredEvent | None, report: Report, signer: Signer | None) -> None:
    if head is None:
        report.problems.append(Problem("head", "the chain head row is missing"))
        return
    report.head_seq = int(head.seq)
    last_seq = last.seq if last is not None else report.anchor_seq
    if report.head_seq > last_seq:
        gap = f"{last_seq + 1}" if report.head_seq == last_seq + 1 else f"{last_seq + 1}-{report.head_seq}"
        report.problems.append(Problem("deleted", f"events {gap} are missing from the end (the head names seq "
                                       f"{report.head_seq})", last_seq + 1))
    elif report.head_seq < last_seq:
        report.problems.append(Problem("inserted", f"events after the chain head (seq {report.head_seq}) were "
                                       "added outside the chain", report.head_seq + 1))
    elif last is not None and head.hash != last.hash:
        report.problems.append(Problem("head", "the chain head's hash does not match the last event", last.seq,
                                       last.id))
    if report.head_seq > 0:
        _signature(signer, "head", report.head_seq, head.hash, head.mac, head.key_id, "the chain head", report)
