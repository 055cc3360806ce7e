"""One interface for identity audit events, named after Backstage's auditor service.

Backstage's auditor writes events with `eventId`, `severityLevel` (low/medium/high/critical),
`actor` (`actorId`, `ip`, `hostname`, `userAgent`), `request` (`url`, `method`), `meta`,
`status` (initiated/succeeded/failed), `plugin` and `error`. greenroom's identity code emits
events with exactly those fields through an `AuditSink`; until the audit-trail issue lands the
sink writes one structured log line per event (logger `greenroom.audit`, `isAuditEvent: true`),
and that issue swaps in a sink that stores them.

Events emitted by identity: `auth-sign-in`, `auth-refresh`, `auth-logout`,
`auth-session-revoke`, `auth-lockout`, `auth-service-token`, `auth-local-login`,
`auth-token-issue` (on-behalf-of tokens).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from starlette.requests import Request

from greenroom.coalesce import Coalescer

Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["initiated", "succeeded", "failed"]
log = logging.getLogger("greenroom.audit")


SERVICE_TOKEN_INTERVAL = 300.0


@dataclass(frozen=True)
class Actor:
    actor_id: str | None = None
    ip: str | None = None
    hostname: str | None = None
    user_agent: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"actorId": self.actor_id, "ip": self.ip, "hostname": self.hostname, "userAgent": self.user_agent}


@dataclass(frozen=True)
class AuditEvent:
    event_id: str
    status: Status
    severity_level: Severity = "low"
    actor: Actor = field(default_factory=Actor)
    request_url: str | None = None
    request_method: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    plugin: str = "auth"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "isAuditEvent": True,
            "eventId": self.event_id,
            "severityLevel": self.severity_level,
            "status": self.status,
            "plugin": self.plugin,
            "actor": self.actor.to_json(),
            "meta": self.meta,
        }
        if self.request_url is not None:
            out["request"] = {"url": self.request_url, "method": self.request_method}
        if self.error is not None:
            out["error"] = self.error
        return out


class AuditSink(Protocol):
    @property
    def enabled(self) -> bool:
        """False when the sink would drop every event (then none is built: per-request events
        such as a service-token use cost nothing when nobody records them)."""
        ...

    def emit(self, event: AuditEvent) -> None: ...


class LogAuditSink:
    """Structured log lines: the sink of an identity service built without the stored trail
    (greenroom.audit.identity_sink.StoredAuditSink is the one the portal uses)."""

    @property
    def enabled(self) -> bool:
        return log.isEnabledFor(logging.INFO)

    def emit(self, event: AuditEvent) -> None:
        if log.isEnabledFor(logging.INFO):
            log.info(f"audit {event.event_id} {event.status}", extra=event.to_json())


class MemoryAuditSink:
    """Keeps events in a list (tests and the benchmark)."""

    enabled = True

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        self.events.append(event)


class Auditor:
    """What identity code calls: builds the event from the request and hands it to the sinks."""

    def __init__(self, sinks: list[AuditSink] | None = None) -> None:
        self.sinks: list[AuditSink] = sinks if sinks is not None else [LogAuditSink()]
        # A service credential is used on every request a script makes: one event per credential
        # and address every five minutes, with the count of the uses folded into it (the
        # mutations of those requests carry the service as their actor anyway). Folded here,
        # before any event is built, so the uses in between cost one dictionary lookup.
        self.service_tokens = Coalescer(SERVICE_TOKEN_INTERVAL)

    def emit(
        self,
        event_id: str,
        status: Status,
        *,
        request: Request | None = None,
        actor_id: str | None = None,
        ip: str | None = None,
        severity: Severity = "low",
        meta: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        if not any(sink.enabled for sink in self.sinks):
            return
        if event_id == "auth-service-token":
            folded = self.service_tokens.admit((actor_id, ip))
            if folded is None:
                return
            meta = {**(meta or {}), "coalesced": folded}
        url = method = user_agent = None
        if request is not None:
            url, method = request.url.path, request.method
            user_agent = (request.headers.get("user-agent") or "")[:300] or None
            if ip is None and request.client is not None:
                ip = request.client.host
        event = AuditEvent(
            event_id=event_id,
            status=status,
            severity_level=severity,
            actor=Actor(actor_id=actor_id, ip=ip, user_agent=user_agent),
            request_url=url,
            request_method=method,
            meta=meta or {},
            error=error,
        )
        for sink in self.sinks:
            sink.emit(event)
