"""The audit trail: one interface for every plugin, a hash-chained store, verification,
export, forwarding (syslog, webhook) and retention. See docs/audit.md."""

from greenroom.audit.model import SYSTEM_ACTOR, Actor, AuditEvent, RequestInfo, StoredEvent, cli_actor
from greenroom.audit.service import AuditService, Operation, PluginAuditor
from greenroom.audit.store import AuditPage, AuditQuery

MIGRATIONS = "greenroom.audit:migrations/versions"

__all__ = [
    "MIGRATIONS",
    "SYSTEM_ACTOR",
    "Actor",
    "AuditEvent",
    "AuditPage",
    "AuditQuery",
    "AuditService",
    "Operation",
    "PluginAuditor",
    "RequestInfo",
    "StoredEvent",
    "cli_actor",
]
