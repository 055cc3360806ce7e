"""The auth plugin's permissions: administering other people's sessions."""

from __future__ import annotations

from greenroom.permissions.model import Permission

SESSION_READ = Permission("auth.session.read", "read", description="list any user's sessions")
SESSION_DELETE = Permission("auth.session.delete", "delete", description="revoke any user's sessions")

ALL = (SESSION_READ, SESSION_DELETE)
