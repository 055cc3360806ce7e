"""The audit plugin's permissions."""

from __future__ import annotations

from greenroom.kernel import Permission

AUDIT_READ = Permission("audit.read", "read", None, "read the audit trail and its verification report")
AUDIT_EXPORT = Permission("audit.export", "read", None,
                          "export the audit trail (marks the events exported, which lets retention delete them)")

ALL = (AUDIT_READ, AUDIT_EXPORT)
