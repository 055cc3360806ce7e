"""`/api/audit`: read, export and verify the trail.

    GET /api/audit/events?actor=&eventId=&action=&target=&status=&severity=&plugin=&from=&to=&order=&limit=&cursor=
    POST /api/audit/events/export?format=jsonl|csv&from=...&to=...  (plus the same filters)
    GET /api/audit/verify

Every read of the trail is itself recorded (the routes are `sensitive`), and an export is
an `audit-export` event.
"""

from __future__ import annotations

import tempfile
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from greenroom.audit import AuditQuery, AuditService
from greenroom.audit.export import FORMATS, download
from greenroom.audit.model import SEVERITIES, STATUSES
from greenroom.audit.store import DEFAULT_PAGE, MAX_PAGE
from greenroom.audit.times import parse_time
from greenroom.errors import InputError
from greenroom.kernel import PluginRouter
from greenroom.plugins.audit.permissions import AUDIT_EXPORT, AUDIT_READ

JSON = "application/json; charset=utf-8"
FILTERS = {"actor": "actor", "eventId": "event_id", "action": "action", "target": "target", "status": "status",
           "outcome": "status", "severity": "severity", "severityLevel": "severity", "plugin": "plugin"}
TIMES = {"from": "since_us", "since": "since_us", "to": "until_us", "until": "until_us"}
PAGING = ("limit", "cursor", "order")
MAX_VALUE = 1000
EXPORT_MEMORY = 8 * 1024 * 1024


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def _single(request: Request, allowed: set[str]) -> dict[str, str]:
    """The query parameters, each given at most once, all known, none empty or huge."""
    out: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise InputError(f"Unknown query parameter '{name}' (allowed: {', '.join(sorted(allowed))})")
        if name in out:
            raise InputError(f"Query parameter '{name}' given more than once")
        if not value or len(value) > MAX_VALUE:
            raise InputError(f"Query parameter '{name}' must be 1 to {MAX_VALUE} characters")
        out[name] = value
    return out


def parse_query(params: dict[str, str]) -> AuditQuery:
    fields: dict[str, Any] = {}
    for name, field in FILTERS.items():
        if name in params:
            if field in fields:
                raise InputError(f"Query parameter '{name}' repeats another filter on the same field")
            fields[field] = params[name]
    if "status" in fields and fields["status"] not in STATUSES:
        raise InputError(f"Invalid status '{fields['status']}', expected one of: {', '.join(STATUSES)}")
    if "severity" in fields and fields["severity"] not in SEVERITIES:
        raise InputError(f"Invalid severity '{fields['severity']}', expected one of: {', '.join(SEVERITIES)}")
    for name, field in TIMES.items():
        if name in params:
            if field in fields:
                raise InputError(f"Query parameter '{name}' repeats another time bound")
            fields[field] = parse_time(params[name], name=name)
    if "since_us" in fields and "until_us" in fields and fields["until_us"] <= fields["since_us"]:
        raise InputError("'to' must be later than 'from'")
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InputError("Invalid order, expected asc or desc")
    return AuditQuery(order=order, **fields)  # type: ignore[arg-type]


def parse_limit(params: dict[str, str]) -> int:
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_PAGE
    try:
        limit = int(raw)
    except ValueError:
        raise InputError(f"Invalid limit '{raw}', expected a positive integer") from None
    if limit < 1:
        raise InputError("Invalid limit, must be greater than zero")
    return min(limit, MAX_PAGE)  # larger pages are capped, and the answer says the limit used


def register(router: PluginRouter, auditor: AuditService) -> None:
    allowed = set(FILTERS) | set(TIMES) | set(PAGING)

    @router.get("/events", permission=AUDIT_READ, sensitive=True)
    def list_events(request: Request) -> Response:
        params = _single(request, allowed)
        limit = parse_limit(params)
        cursor = params.get("cursor")
        if cursor is not None and set(params) - {"cursor", "limit"}:
            raise InputError("A cursor carries its filters: send only cursor (and limit) with it")
        query = AuditQuery() if cursor is not None else parse_query(params)
        page = auditor.query(query, limit=limit, cursor=cursor)
        info = {"nextCursor": page.next_cursor} if page.next_cursor else {}
        return _json({"items": [e.to_json() for e in page.items], "pageInfo": info, "limit": page.limit})

    # POST: an export marks the events it wrote as exported (what retention may then delete), so
    # it is a change, and a browser session must send its CSRF token with it. Not `sensitive`:
    # the export's own `audit-export` event records it (not a `resource-read` as well).
    @router.post("/events/export", permission=AUDIT_EXPORT)
    async def export_events(request: Request) -> Response:
        params = _single(request, (allowed - set(PAGING)) | {"format"})
        fmt = params.pop("format", "jsonl")
        if fmt not in FORMATS:
            raise InputError(f"Invalid format '{fmt}', expected jsonl or csv")
        if "from" not in params and "since" not in params:
            raise InputError("An export needs a start time: from=2026-01-01 (or a relative time such as 7d)")
        query = parse_query(params)
        spool = tempfile.SpooledTemporaryFile(max_size=EXPORT_MEMORY)  # noqa: SIM115 - closed by the response

        def write() -> None:
            auditor.export(query, fmt, spool, actor=auditor.actor(request),  # type: ignore[arg-type]
                           request=auditor.request_info(request), plugin="audit")
            spool.seek(0)

        try:
            await run_in_threadpool(write)
        except BaseException:
            spool.close()
            raise

        return download(spool, fmt)

    @router.get("/verify", permission=AUDIT_READ, sensitive=True)
    def verify(request: Request) -> Response:
        from greenroom.audit.verify import verify_chain

        _single(request, set())
        return _json(verify_chain(auditor.database, signer=auditor.signer).to_json())
