"""Export: the trail as JSON Lines or CSV, oldest first, with every field needed to verify it.

An export is itself an audit event (`audit-export`, with the filters, count and sequence
range) and marks the exported events (`exported_at`), which is what lets retention delete
them later. Both happen in one transaction after the last line was written.

CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab
or a carriage return) are prefixed with `'`; use JSON Lines to verify hashes outside
greenroom.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, BinaryIO, Literal

import orjson
from sqlalchemy import and_, update

from greenroom.audit import tables
from greenroom.audit.model import Actor, AuditEvent, RequestInfo, StoredEvent, iso_time
from greenroom.audit.store import AuditQuery

if TYPE_CHECKING:
    from starlette.responses import StreamingResponse

    from greenroom.audit.service import AuditService

ExportFormat = Literal["jsonl", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
CSV_COLUMNS = ("sequence", "id", "timestamp", "eventId", "action", "status", "severityLevel", "plugin", "actorId",
               "actorType", "ip", "hostname", "userAgent", "requestMethod", "requestUrl", "requestId", "target",
               "meta", "error", "prevHash", "hash")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportResult:
    count: int
    first_seq: int | None
    last_seq: int | None
    format: ExportFormat


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_row(event: StoredEvent) -> list[str]:
    values = (event.seq, event.id, iso_time(event.time_us), event.event_id, event.action, event.status,
              event.severity, event.plugin, event.actor_id, event.actor_type, event.ip, event.hostname,
              event.user_agent, event.request_method, event.request_url, event.request_id, event.target,
              event.meta, event.error, event.prev_hash, event.hash)
    return [_cell(v) for v in values]


def export_events(
    service: AuditService,
    query: AuditQuery,
    fmt: ExportFormat,
    out: BinaryIO,
    *,
    actor: Actor,
    request: RequestInfo | None = None,
    plugin: str = "core",
) -> ExportResult:
    if fmt not in FORMATS:
        from greenroom.errors import InputError

        raise InputError(f"unknown export format '{fmt}' (jsonl or csv)")
    count, first, last = 0, None, None
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    if fmt == "csv":
        writer.writerow(CSV_COLUMNS)
        out.write(text.getvalue().encode())
    for event in service.iterate(query):
        if fmt == "jsonl":
            out.write(orjson.dumps(event.to_json()) + b"\n")
        else:
            text.seek(0)
            text.truncate()
            writer.writerow(csv_row(event))
            out.write(text.getvalue().encode())
        count += 1
        first = event.seq if first is None else first
        last = event.seq
    out.flush()
    meta = {"format": fmt, "filters": query.to_json(), "count": count, "firstSequence": first, "lastSequence": last}
    with service.database.engine.begin() as connection:
        if last is not None and first is not None:
            e = tables.events.c
            conditions = [*query.conditions(), e.seq >= first, e.seq <= last, e.exported_at.is_(None)]
            connection.execute(update(tables.events).where(and_(*conditions)).values(exported_at=int(time.time())))
        service.record(AuditEvent(event_id="audit-export", severity="high", plugin=plugin, actor=actor,
                                  action="export", target="audit-log", request=request, meta=meta),
                       connection=connection)
    return ExportResult(count=count, first_seq=first, last_seq=last, format=fmt)


def download(spool: IO[bytes], fmt: str, headers: dict[str, str] | None = None) -> StreamingResponse:
    """A written export (rewound) as an HTTP download; the spool is closed once it is sent."""
    from starlette.responses import StreamingResponse

    def chunks() -> Iterator[bytes]:
        try:
            while block := spool.read(65536):
                yield block
        finally:
            spool.close()

    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(chunks(), media_type=media, headers={
        **(headers or {}), "content-disposition": f'attachment; filename="greenroom-audit.{fmt}"'})
