"""Policy: who may do what. Deny unless something grants.

Until role-based policy lands, the grants are the ones the foundation needs: the local
admin of zero-config mode and internal jobs may do everything; a service credential from
`backend.auth.externalAccess` may do what its `accessRestrictions` allow (everything when
it has none, as in Backstage); anyone else is denied.

INTERIM, until RBAC: users listed as RBAC admins in Red Hat Developer Hub's key

    permission:
      rbac:
        admin:
          users:
            - name: user:default/alice
            - name: group:default/platform-admins   # members of the group (ownership refs)

get full access; every other signed-in user gets nothing. When RBAC lands, these admins
keep their meaning (RHDH's admins) and everyone else gets what their roles grant.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from greenroom.errors import ConfigError
from greenroom.permissions.model import ALLOW, Decision, Permission, Result
from greenroom.permissions.principal import Principal


class PermissionPolicy(Protocol):
    def decide(self, principal: Principal, permission: Permission, *, plugin_id: str) -> Decision: ...


class FoundationPolicy:
    """Deny by default; full access for the local admin, system jobs, service tokens and
    (interim, until RBAC) the users and groups in `permission.rbac.admin.users`."""

    def __init__(self, admins: Iterable[str] = ()) -> None:
        self.admins = frozenset(ref.lower() for ref in admins)

    def decide(self, principal: Principal, permission: Permission, *, plugin_id: str) -> Decision:  # noqa: ARG002
        if principal.type in ("local-admin", "system"):
            return Decision(Result.ALLOW, reason=f"{principal.type} has full access")
        if principal.type == "service":
            return Decision(Result.ALLOW, reason=f"service credential {principal.subject}")
        if principal.type == "user" and self.admins:
            for ref in (principal.subject, *principal.ownership_refs):
                if ref.lower() in self.admins:
                    return Decision(Result.ALLOW, reason=f"{ref} is listed in permission.rbac.admin.users")
        return Decision(Result.DENY, reason="no policy grants this permission")


def rbac_admins(value: Any) -> list[str]:
    """Entity refs from `permission.rbac.admin.users` (entries `{name: user:default/alice}`)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError("expected a list of {name: <user or group ref>}", path="permission.rbac.admin.users")
    refs = []
    for i, entry in enumerate(value):
        name = entry.get("name") if isinstance(entry, dict) else None
        kind, colon, rest = (name or "").partition(":")
        if not colon or kind.lower() not in ("user", "group") or not rest:
            raise ConfigError(
                "each admin is {name: user:<namespace>/<name>} or {name: group:<namespace>/<name>}",
                path=f"permission.rbac.admin.users[{i}].name",
            )
        assert isinstance(name, str)
        refs.append(name if "/" in rest else f"{kind}:default/{rest}")
    return refs


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


__all__ = ["ALLOW", "FoundationPolicy", "PermissionPolicy", "PermissionService", "rbac_admins"]
