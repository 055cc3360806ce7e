"""Identity's audit events (sign-in, refresh, logout, revocation, lockout, service tokens)
stored in the trail instead of only logged.

Identity builds `greenroom.identity.audit.AuditEvent`s; this sink turns each into a stored
event. `auth-service-token` (a service credential used on a request) arrives once per
credential and address every five minutes with a count of the uses folded into it (the
identity auditor folds them): the mutation events of those requests carry the service as
their actor anyway.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from greenroom.audit.model import Actor, AuditEvent, RequestInfo
from greenroom.audit.service import AuditService

if TYPE_CHECKING:
    from greenroom.identity.audit import AuditEvent as IdentityEvent

log = logging.getLogger("greenroom.audit")


def _actor_type(actor_id: str | None) -> Any:
    if actor_id is None:
        return "anonymous"
    if actor_id.startswith("external:"):
        return "service"
    if actor_id == "user:default/local-admin":
        return "local-admin"
    if actor_id == "cli" or actor_id.startswith("cli:"):
        return "cli"
    return "user"


class StoredAuditSink:
    def __init__(self, service: AuditService) -> None:
        self.service = service

    @property
    def enabled(self) -> bool:
        return self.service.enabled

    def emit(self, event: IdentityEvent) -> None:
        meta = dict(event.meta)  # (service-token uses arrive already folded: identity.audit.Auditor)
        request = None
        if event.request_url is not None:
            from greenroom.observability.context import request_id_var

            request = RequestInfo(url=event.request_url, method=event.request_method or "",
                                  request_id=request_id_var.get())
        actor_id = event.actor.actor_id
        if actor_id == "cli":
            from greenroom.audit.model import cli_actor

            actor = cli_actor()
        else:
            actor = Actor(actor_id=actor_id, type=_actor_type(actor_id), ip=event.actor.ip,
                          hostname=event.actor.hostname, user_agent=event.actor.user_agent)
        target = meta.get("userEntityRef") or meta.get("sessionId") or actor_id
        stored = AuditEvent(event_id=event.event_id, status=event.status, severity=event.severity_level,
                            plugin=event.plugin, actor=actor, action=event.event_id.removeprefix("auth-"),
                            target=str(target) if target is not None else None, request=request, meta=meta,
                            error=event.error)
        try:
            self.service.record(stored)
        except Exception:
            log.exception("could not store an identity audit event", extra={"eventId": event.event_id})
