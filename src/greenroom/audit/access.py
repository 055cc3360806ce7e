"""What the route guard records: denials, decisions on mutations, and reads at the configured level.

* Every denial: `permission-decision` with status `failed` (a caller without credentials is
  coalesced per address and permission, one event a minute with a count, so anonymous
  scanning cannot fill the database); a refused credential is `auth-credential-rejected`.
* Every allowed mutation (a permission whose action is create/update/delete, or a `use`
  permission on a non-GET request): the decision goes into the route's own event
  (`meta.permission`) when the route records one, otherwise into a `permission-decision`
  event with status `succeeded` once the handler is done.
* Reads (`audit.readEvents`): `none` records none; `sensitive` (the default) records reads
  of routes declared `sensitive=True`; `all` records every guarded read (`resource-read`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from greenroom.audit.model import AuditEvent
from greenroom.audit.service import DECISION_STATE, MUTATING_ACTIONS, SAFE_METHODS, AuditService, error_text

if TYPE_CHECKING:
    from starlette.requests import Request

    from greenroom.permissions.model import Permission

log = logging.getLogger("greenroom.audit")


class AccessAuditor:
    def __init__(self, service: AuditService) -> None:
        self.service = service

    @property
    def enabled(self) -> bool:
        return self.service.enabled

    def is_mutation(self, request: Request, permission: Permission) -> bool:
        if permission.mutates is not None:
            return permission.mutates
        return permission.action in MUTATING_ACTIONS or (
            permission.action == "use" and request.method not in SAFE_METHODS
        )

    def records_read(self, request: Request, permission: Permission, sensitive: bool) -> bool:
        level = self.service.read_events
        if level == "none" or self.is_mutation(request, permission):
            return False
        return level == "all" or sensitive

    def _event(self, request: Request, event_id: str, plugin_id: str, **fields: Any) -> AuditEvent:
        return AuditEvent(event_id=event_id, plugin=plugin_id, actor=self.service.actor(request),
                          request=self.service.request_info(request), **fields)

    def denied(self, request: Request, permission: Permission, plugin_id: str, exc: BaseException) -> None:
        """Record a refused request (called before the error goes back to the caller)."""
        if not self.service.enabled:
            return
        reason = getattr(exc, "reason", None)
        meta: dict[str, Any] = {"permission": {"name": permission.name, "result": "DENY"}}
        principal = getattr(request.state, "principal", None)
        authz = getattr(request.state, "authz", None)
        if reason is not None:  # a credential was presented and refused
            # Coalesced like anonymous denials: a refused credential (a bad header, an expired
            # token) costs the caller nothing, so it must not cost a stored event per request.
            folded = self.service.anonymous_denials.admit((self.service.actor(request).ip, reason, permission.name))
            if folded is None:
                return
            meta["reason"] = reason
            meta["coalesced"] = folded
            event = self._event(request, "auth-credential-rejected", plugin_id, status="failed", severity="medium",
                                action="authenticate", target=permission.name, meta=meta, error=error_text(exc))
        elif principal is None or not getattr(principal, "is_authenticated", False):
            actor = self.service.actor(request)
            folded = self.service.anonymous_denials.admit((actor.ip, permission.name))
            if folded is None:
                return
            meta["permission"]["reason"] = "not authenticated"
            meta["coalesced"] = folded
            event = self._event(request, "permission-decision", plugin_id, status="failed", severity="low",
                                action="authorize", target=permission.name, meta=meta, error=error_text(exc))
        else:
            if authz is not None:
                meta["permission"]["reason"] = authz.decision.reason
            event = self._event(request, "permission-decision", plugin_id, status="failed", severity="medium",
                                action="authorize", target=permission.name, meta=meta, error=error_text(exc))
        try:
            self.service.record(event)
        except Exception:  # the denial stands even if it cannot be recorded; say so loudly
            log.exception("could not record an audit event for a denied request",
                          extra={"permission": permission.name, "path": request.url.path})

    def mutation_done(self, request: Request, permission: Permission, plugin_id: str,
                      error: BaseException | None) -> None:
        """After an allowed mutation: record the decision unless the route's own event carried it."""
        if not self.service.enabled or getattr(request.state, DECISION_STATE, False):
            return
        authz = getattr(request.state, "authz", None)
        meta: dict[str, Any] = {"permission": {"name": permission.name, "result": "ALLOW",
                                               "reason": authz.decision.reason if authz is not None else ""}}
        if error is not None:
            meta["handlerError"] = error_text(error)
        event = self._event(request, "permission-decision", plugin_id, status="succeeded", severity="medium",
                            action="authorize", target=permission.name, meta=meta)
        try:
            self.service.record(event)
        except Exception:
            log.exception("could not record the permission decision of a mutation",
                          extra={"permission": permission.name, "path": request.url.path})

    def read_done(self, request: Request, permission: Permission, plugin_id: str,
                  error: BaseException | None) -> None:
        if not self.service.enabled:
            return
        event = self._event(request, "resource-read", plugin_id, status="failed" if error else "succeeded",
                            severity="low", action="read", target=request.url.path,
                            meta={"permission": {"name": permission.name}},
                            error=error_text(error) if error else None)
        try:
            self.service.record(event)
        except Exception:
            log.exception("could not record a read audit event", extra={"path": request.url.path})
