"""Policy: who may do what. Deny unless something grants.

Until role-based policy lands, the grants are the ones the foundation needs: the local
admin of zero-config mode and internal jobs may do everything; a service credential from
`backend.auth.externalAccess` may do what its `accessRestrictions` allow (everything when
it has none, as in Backstage); anyone else is denied.
"""

from __future__ import annotations

from typing import Protocol

from greenroom.permissions.model import ALLOW, Decision, Permission, Result
from greenroom.permissions.principal import Principal


class PermissionPolicy(Protocol):
    def decide(self, principal: Principal, permission: Permission, *, plugin_id: str) -> Decision: ...


class FoundationPolicy:
    """Deny by default; full access only for local admin, system jobs and service tokens."""

    def decide(self, principal: Principal, permission: Permission, *, plugin_id: str) -> Decision:
        if principal.type in ("local-admin", "system"):
            return Decision(Result.ALLOW, reason=f"{principal.type} has full access")
        if principal.type == "service":
            return Decision(Result.ALLOW, reason=f"service credential {principal.subject}")
        return Decision(Result.DENY, reason="no policy grants this permission")


class PermissionService:
    """What plugins call to authorize; applies credential caps before the policy."""

    def __init__(self, policy: PermissionPolicy) -> None:
        self._policy = policy

    def authorize(self, principal: Principal, permission: Permission, *, plugin_id: str) -> Decision:
        if not principal.is_authenticated:
            return Decision(Result.DENY, reason="not authenticated")
        if principal.restricted_out(plugin_id, permission.name):
            return Decision(
                Result.DENY,
                reason=f"credential {principal.subject} is restricted away from {plugin_id}/{permission.name}",
            )
        return self._policy.decide(principal, permission, plugin_id=plugin_id)


__all__ = ["ALLOW", "FoundationPolicy", "PermissionPolicy", "PermissionService"]
