"""The auditor: the one interface every plugin (and the core) records audit events through.

Plugins reach it through the `AUDITOR` service reference and bind it to their id::

    audit = ctx.services.get(AUDITOR).for_plugin(ctx.plugin_id)

    with audit.operation("entity-mutate", request=request, action="delete", target=uid,
                         severity="medium") as op:
        with database.engine.begin() as connection:
            ...                                      # the change
            op.record(connection, meta={...})        # its event, in the same transaction, last

If the block raises, a `failed` event (with the error) is recorded in a transaction of its
own and the exception goes on; if the block ends without `op.record`, a `succeeded` event is
recorded on its own. Events that describe no database change (a denial, a sign-in attempt)
go through `audit.record(event)`.

The actor is always explicit: taken from the request the guard authenticated, or passed in
(`SYSTEM_ACTOR` for jobs, `cli_actor()` for commands) — never from ambient state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import Connection

from greenroom.audit.model import SYSTEM_ACTOR, Actor, AuditEvent, RequestInfo, Severity, Status, StoredEvent
from greenroom.audit.settings import AuditSettings
from greenroom.audit.signing import Signer
from greenroom.audit.store import AuditPage, AuditQuery, AuditStore
from greenroom.coalesce import Coalescer
from greenroom.config.model import Config
from greenroom.db.engine import Database
from greenroom.observability.context import request_id_var

if TYPE_CHECKING:
    from starlette.requests import Request

    from greenroom.audit.export import ExportFormat, ExportResult
    from greenroom.audit.worker import AuditWorker

log = logging.getLogger("greenroom.audit")
_SENSITIVE_QUERY = frozenset({"token", "code", "state", "access_token", "id_token", "refresh_token", "password",
                              "secret", "key", "samlresponse", "relaystate", "client_secret"})
_PRINCIPAL_TYPES: dict[str, Any] = {"user": "user", "service": "service", "local-admin": "local-admin",
                                    "system": "system", "none": "anonymous"}
MUTATING_ACTIONS = frozenset({"create", "update", "delete"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DECISION_STATE = "audit_decision_recorded"


def error_text(exc: BaseException) -> str:
    name = getattr(exc, "name", None) or type(exc).__name__
    message = getattr(exc, "message", None) or str(exc)
    return f"{name}: {message}"


def request_url(request: Request) -> str:
    """Path and query, with the values of credential-like parameters redacted.

    Read from the ASGI scope (as Starlette's `request.url.path` and `.query` would be, without
    building and re-parsing a whole URL for every audited request)."""
    scope = request.scope
    path: str = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    query = scope.get("query_string", b"").decode("utf-8", "replace")
    if not query:
        return path
    parts = []
    for item in query.split("&"):
        name, eq, _value = item.partition("=")
        parts.append(f"{name}=[REDACTED]" if eq and name.lower() in _SENSITIVE_QUERY else item)
    return f"{path}?{'&'.join(parts)}"


def _header(request: Request, name: bytes) -> str | None:
    """One request header, read from the ASGI scope (names there are lower case)."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Operation:
    """One audited change: records `succeeded` in the change's transaction or `failed` after it.

    `event` is the event as begun; `amend` changes the target and adds metadata, and the event
    as recorded is built once, when it is recorded (these run with every audited change)."""

    def __init__(self, auditor: PluginAuditor, event: AuditEvent) -> None:
        self._auditor = auditor
        self.event = event
        self.target = event.target
        self.meta: dict[str, Any] = dict(event.meta)
        self.recorded: StoredEvent | None = None
        self._done = False

    def record(
        self,
        connection: Connection,
        *,
        meta: Mapping[str, Any] | None = None,
        target: str | None = None,
        status: Status = "succeeded",
        error: str | None = None,
    ) -> StoredEvent | None:
        """Append the event in `connection`'s transaction (last, just before it commits)."""
        stored = self._auditor.service.record(self._final(meta, target, status, error), connection=connection)
        self.recorded = stored or self.recorded
        self._done = True
        return stored

    def amend(self, *, target: str | None = None, meta: Mapping[str, Any] | None = None) -> None:
        """Change the event before it is recorded (a target or facts known only once work began)."""
        if target:
            self.target = target
        if meta:
            self.meta.update(meta)

    def _final(
        self, meta: Mapping[str, Any] | None, target: str | None, status: Status, error: str | None
    ) -> AuditEvent:
        base = self.event
        return AuditEvent(event_id=base.event_id, status=status, severity=base.severity, plugin=base.plugin,
                          actor=base.actor, action=base.action, target=target or self.target,
                          request=base.request, meta={**self.meta, **meta} if meta else dict(self.meta), error=error)

    def __enter__(self) -> Operation:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            meta = {"afterCommit": True} if self._done else None
            try:
                self._auditor.record(self._final(meta, None, "failed", error_text(exc)))
            except Exception:  # the original error is what the caller must see
                log.exception("could not record a failed audit event", extra={"eventId": self.event.event_id})
            return
        if not self._done:
            self._auditor.record(self._final(None, None, "succeeded", None))


class AuditService:
    """The core auditor (service ref `core.auditor`)."""

    def __init__(
        self,
        database: Database,
        settings: AuditSettings | None = None,
        *,
        client_address: Callable[[Request], str | None] | None = None,
    ) -> None:
        self.settings = settings or AuditSettings()
        self.database = database
        self.enabled = self.settings.enabled
        self.read_events = self.settings.readEvents
        self.signer = Signer(self.settings.signing.key) if self.settings.signing.key else None
        self.store = AuditStore(database, signer=self.signer)
        self._client_address = client_address
        self.anonymous_denials = Coalescer(60.0)
        self._worker: AuditWorker | None = None

    def for_plugin(self, plugin_id: str) -> PluginAuditor:
        return PluginAuditor(self, plugin_id)

    def use_client_address(self, client_address: Callable[[Request], str | None]) -> None:
        """How to find a request's client address (identity's, which knows the trusted proxies)."""
        self._client_address = client_address

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, *, config: Config, plugins: Sequence[Any]) -> None:
        """Server start: record config/plugin changes, start forwarding, checkpoints and retention."""
        if not self.enabled:
            log.warning("the audit trail is switched off (audit.enabled: false): nothing is recorded")
            return
        from greenroom.audit.startup import record_start
        from greenroom.audit.worker import AuditWorker

        if self.settings.retention.dangerouslyDeleteUnexported:
            log.warning("audit.retention.dangerouslyDeleteUnexported is on: retention deletes audit events that "
                        "were never exported or forwarded")
        record_start(self, config, plugins)
        if self._worker is None:
            self._worker = AuditWorker(self)
            self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    # -- recording --------------------------------------------------------------------------
    def record(self, event: AuditEvent, *, connection: Connection | None = None) -> StoredEvent | None:
        """Append one event: in `connection`'s transaction, or in a transaction of its own."""
        if not self.enabled:
            return None
        if connection is not None:
            return self.store.append(connection, [event])[0]
        return self.store.append_now([event])[0]

    def actor(self, request: Request, *, ip: str | None = None) -> Actor:
        """Who made `request`: the principal the guard or authenticator put on it."""
        principal = getattr(request.state, "principal", None)
        subject = getattr(principal, "subject", None)
        kind = _PRINCIPAL_TYPES.get(getattr(principal, "type", "none"), "anonymous")
        if ip is None:
            ip = self._client_address(request) if self._client_address else (
                request.client.host if request.client else None)
        agent = _header(request, b"user-agent")
        host = _header(request, b"host")
        return Actor(actor_id=None if kind == "anonymous" else subject, type=kind, ip=ip,
                     hostname=host[:255] if host else None, user_agent=agent[:300] if agent else None)

    @staticmethod
    def request_info(request: Request) -> RequestInfo:
        return RequestInfo(url=request_url(request), method=request.method, request_id=request_id_var.get())

    # -- reading ------------------------------------------------------------------------------
    def query(self, query: AuditQuery, *, limit: int = 100, cursor: str | None = None) -> AuditPage:
        """A page of events (newest first unless `query.order == "asc"`); `cursor` continues one."""
        after: int | None = None
        if cursor is not None:
            from greenroom.audit.store import decode_cursor

            query, after = decode_cursor(cursor)
        return self.store.query(query, limit=limit, after_seq=after)

    def export(
        self, query: AuditQuery, fmt: ExportFormat, out: BinaryIO, *, actor: Actor,
        request: RequestInfo | None = None, plugin: str = "core",
    ) -> ExportResult:
        """Write matching events to `out` (oldest first), mark them exported, record an `audit-export`."""
        from greenroom.audit.export import export_events

        return export_events(self, query, fmt, out, actor=actor, request=request, plugin=plugin)

    def iterate(self, query: AuditQuery) -> Iterator[StoredEvent]:
        return self.store.iterate(query)


class PluginAuditor:
    """The auditor bound to one plugin id (Backstage's auditor is plugin-scoped the same way)."""

    def __init__(self, service: AuditService, plugin_id: str) -> None:
        self.service = service
        self.plugin_id = plugin_id

    @property
    def enabled(self) -> bool:
        return self.service.enabled

    def event(
        self,
        event_id: str,
        *,
        request: Request | None = None,
        actor: Actor | None = None,
        status: Status = "succeeded",
        severity: Severity = "low",
        action: str | None = None,
        target: str | None = None,
        meta: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> AuditEvent:
        """Build an event; with `request`, actor and request fields come from it."""
        if actor is None:
            actor = self.service.actor(request) if request is not None else SYSTEM_ACTOR
        return AuditEvent(
            event_id=event_id, status=status, severity=severity, plugin=self.plugin_id, actor=actor,
            action=action, target=target, request=self.service.request_info(request) if request is not None else None,
            meta=dict(meta or {}), error=error,
        )

    def record(self, event: AuditEvent, *, connection: Connection | None = None) -> StoredEvent | None:
        return self.service.record(event, connection=connection)

    def log(
        self,
        event_id: str,
        *,
        connection: Connection | None = None,
        **fields: Any,
    ) -> StoredEvent | None:
        """Build and record in one call (Backstage's `auditor.log`)."""
        if not self.service.enabled:
            return None
        return self.record(self.event(event_id, **fields), connection=connection)

    def operation(
        self,
        event_id: str,
        *,
        request: Request | None = None,
        actor: Actor | None = None,
        severity: Severity = "medium",
        action: str | None = None,
        target: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Operation:
        """An audited change (see the module docs). With a guarded `request`, the guard's permission
        decision goes into this event's `meta.permission` instead of an event of its own."""
        merged = dict(meta or {})
        if request is not None:
            decision = decision_meta(request)
            if decision is not None:
                merged["permission"] = decision
                setattr(request.state, DECISION_STATE, True)
        event = self.event(event_id, request=request, actor=actor, severity=severity, action=action, target=target,
                           meta=merged)
        return Operation(self, event)


def decision_meta(request: Request) -> dict[str, Any] | None:
    """The guard's decision on this request, as event metadata (None when there is none)."""
    authz = getattr(request.state, "authz", None)
    if authz is None:
        return None
    decision = authz.decision
    return {"name": authz.permission.name, "result": str(decision.result), "reason": decision.reason}
