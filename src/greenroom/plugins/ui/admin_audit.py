"""The audit trail viewer: filters, pages by cursor, and export, on the core `AUDITOR` service.

Reading needs `audit.read` and exporting `audit.export`, as `/api/audit/events` and
`/api/audit/events/export` do; the filters are parsed by the audit plugin's own parser (the
same names, checks and messages), each page view is recorded as a read of the trail, and an
export is recorded as an `audit-export` event by the auditor itself.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from greenroom.audit import AuditQuery, AuditService
from greenroom.audit.export import FORMATS, download
from greenroom.audit.model import SEVERITIES, STATUSES
from greenroom.errors import InputError
from greenroom.kernel import PluginRouter
from greenroom.plugins.audit.permissions import AUDIT_EXPORT, AUDIT_READ
from greenroom.plugins.audit.routes import parse_query
from greenroom.plugins.ui.web import NO_STORE, AdminPage, Ui, Viewer

PAGE_SIZE = 50
FILTERS = ("actor", "eventId", "action", "target", "status", "severity", "plugin", "from", "to")
EXPORT_MEMORY = 8 * 1024 * 1024
MAX_VALUE = 1000

PAGE = AdminPage("/admin/audit", "Audit trail", "Who did what, when, and with which outcome; export for "
                 "investigators", AUDIT_READ)


def _filters(values: Mapping[str, Any]) -> dict[str, str]:
    """The filled-in filters of the form (an HTML form also sends the empty ones)."""
    out = {}
    for name in FILTERS:
        raw = values.get(name, "")
        value = raw.strip() if isinstance(raw, str) else ""
        if len(value) > MAX_VALUE:
            raise InputError(f"The {name} filter is too long")
        if value:
            out[name] = value
    return out


def audit_page(ui: Ui, auditor: AuditService, request: Request, viewer: Viewer) -> Response:
    viewer.require(AUDIT_READ)
    filters = _filters(request.query_params)
    cursor = request.query_params.get("cursor") or None
    error = None
    events: list[dict[str, Any]] = []
    next_url = None
    try:
        query = AuditQuery() if cursor is not None else parse_query(filters)
        page = auditor.query(query, limit=PAGE_SIZE, cursor=cursor)
        events = [e.to_json() for e in page.items]
        if page.next_cursor:
            next_url = f"/admin/audit?{urlencode({**filters, 'cursor': page.next_cursor})}"
    except InputError as exc:
        error = exc.message
    viewer.record_read(AUDIT_READ)
    return ui.render(request, "admin_audit.html", viewer=viewer, section="admin", events=events, filters=filters,
                     error=error, next_url=next_url, statuses=STATUSES, severities=SEVERITIES,
                     can_export=viewer.may(AUDIT_EXPORT), first_page=cursor is None)


def register(routers: Mapping[str, PluginRouter], ui: Ui, auditor: AuditService) -> None:
    ui.extra_admin_pages.append(PAGE)
    admin = routers["/admin"]

    @admin.get("/audit", public=True, include_in_schema=False)
    async def audit(request: Request) -> Response:
        return await ui.run(request, lambda viewer: audit_page(ui, auditor, request, viewer))

    # A POST with the session's CSRF token: an export marks the events it wrote as exported
    # (what retention may then delete), which a link on another site must not be able to do.
    @admin.post("/audit/export", public=True, include_in_schema=False)
    async def export(request: Request) -> Response:
        spool = tempfile.SpooledTemporaryFile(max_size=EXPORT_MEMORY)  # noqa: SIM115 - closed by the response
        chosen: list[str] = []

        def write(viewer: Viewer, form: FormData) -> Response:
            viewer.require(AUDIT_EXPORT)
            fmt = form.get("format", "jsonl")
            if not isinstance(fmt, str) or fmt not in FORMATS:
                raise InputError(f"Invalid format '{fmt}', expected jsonl or csv")
            filters = _filters(form)
            if "from" not in filters:
                raise InputError("An export needs a start time (From): 2026-01-01, or a relative time such as 7d")
            auditor.export(parse_query(filters), fmt, spool, actor=auditor.actor(request),  # type: ignore[arg-type]
                           request=auditor.request_info(request), plugin="audit")
            spool.seek(0)
            chosen.append(fmt)
            return Response(status_code=204)

        response = await ui.run_form(request, write)
        if response.status_code != 204:  # an error page or the sign-in redirect
            spool.close()
            return response

        return download(spool, chosen[0], NO_STORE)
