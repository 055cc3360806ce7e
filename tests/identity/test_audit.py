"""Audit events carry Backstage's auditor field names, through one interface."""

from __future__ import annotations

import io
import json
import logging

from starlette.requests import Request

from greenroom.identity.audit import Auditor, LogAuditSink, MemoryAuditSink
from greenroom.observability.logging import JsonFormatter


def test_events_are_structured_log_lines_with_backstage_field_names():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("greenroom.audit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    memory = MemoryAuditSink()
    try:
        request = Request({"type": "http", "method": "GET", "path": "/api/auth/oidc/handler/frame",
                           "headers": [(b"user-agent", b"browser/1")], "client": ("203.0.113.5", 1),
                           "query_string": b""})
        Auditor([LogAuditSink(), memory]).emit(
            "auth-sign-in", "failed", request=request, severity="medium",
            meta={"provider": "oidc", "reason": "nonce-mismatch"}, error="the nonce does not match")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["isAuditEvent"] is True
    assert line["eventId"] == "auth-sign-in"
    assert line["severityLevel"] == "medium"
    assert line["status"] == "failed"
    assert line["plugin"] == "auth"
    assert line["actor"] == {"actorId": None, "ip": "203.0.113.5", "hostname": None, "userAgent": "browser/1"}
    assert line["request"] == {"url": "/api/auth/oidc/handler/frame", "method": "GET"}
    assert line["meta"] == {"provider": "oidc", "reason": "nonce-mismatch"}
    assert line["error"] == "the nonce does not match"
    assert memory.events[0].to_json() == {k: v for k, v in line.items() if k in memory.events[0].to_json()}
