"""Identity: the portal's signing keys, user tokens, sessions, sign-in attempts, brute-force
protection and audit events. Identity providers live in the auth plugin
(`greenroom.plugins.auth`), which reaches this through the `IDENTITY` service ref.
"""

from greenroom.identity.audit import AuditEvent, Auditor, AuditSink, LogAuditSink, MemoryAuditSink
from greenroom.identity.config import IdentitySettings, check_production_sign_in, load_settings
from greenroom.identity.service import IDENTITY, CredentialError, IdentityService, SignInResult

MIGRATIONS = "greenroom.identity:migrations/versions"

__all__ = [
    "IDENTITY",
    "MIGRATIONS",
    "AuditEvent",
    "AuditSink",
    "Auditor",
    "CredentialError",
    "IdentityService",
    "IdentitySettings",
    "LogAuditSink",
    "MemoryAuditSink",
    "SignInResult",
    "check_production_sign_in",
    "load_settings",
]
