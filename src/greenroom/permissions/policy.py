"""Policy: who may do what. Deny unless something grants.

The foundation policy holds when no policy plugin is loaded (the RBAC plugin, `permission`,
replaces it through PERMISSION_POLICY): the local admin of zero-config mode and internal
jobs may do everything; a service credential from `backend.auth.externalAccess` may do what
its `accessRestrictions` allow (everything when it has none, as in Backstage); anyone else
is denied, except users listed as RBAC admins in Red Hat Developer Hub's key

    permission:
      rbac:
        admin:
          users:
            - name: user:default/alice
            - name: group:default/platform-admins   # members of the group (ownership refs)

who get full access; every other signed-in user gets nothing. With the RBAC plugin these
admins keep RHDH's meaning (they manage policy) and everyone gets what their roles grant.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from greenroom.errors import ConfigError, GreenroomError
from greenroom.permissions.model import ALLOW, Decision, Permission, Result
from greenroom.permissions.principal import Principal
from greenroom.permissions.resources import ResourceType


class PolicyWiringError(GreenroomError):
    """Start-up wiring of the permission service that is not allowed (a programming error)."""

    name = "NotAllowedError"


class PermissionPolicy(Protocol):
    def decide(self, principal: Principal, permission: Permission, *, plugin_id: str) -> Decision: ...


class FoundationPolicy:
    """Deny by default; full access for the local admin, system jobs, service tokens and
    (without the RBAC plugin) the users and groups in `permission.rbac.admin.users`."""

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
    """What plugins call to authorize; applies credential caps before the policy.

    It also knows every permission the running plugins declare (by name, with the plugin that
    owns it) and every resource type registered with its rules, which is what a policy needs
    to check its grants and conditions against. The policy starts as the foundation policy and
    is replaced once, at start-up, by a plugin providing `PERMISSION_POLICY` (the RBAC plugin);
    after that the service is frozen.
    """

    def __init__(self, policy: PermissionPolicy) -> None:
        self._policy = policy
        self._permissions: dict[str, tuple[str, Permission]] = {}
        self._resource_types: dict[str, ResourceType] = {}
        self._policy_source = "foundation"
        self._frozen = False

    # -- start-up -------------------------------------------------------------------------
    def _require_open(self, what: str) -> None:
        if self._frozen:
            raise PolicyWiringError(f"{what} after start-up")

    def declare(self, plugin_id: str, permissions: Iterable[Permission]) -> None:
        """The permissions a plugin's manifest declares (the kernel calls this before setup)."""
        self._require_open(f"permissions of {plugin_id} declared")
        for permission in permissions:
            self._permissions[permission.name] = (plugin_id, permission)

    def register_resource_type(self, resource_type: ResourceType) -> None:
        """A plugin registers the resource type its permissions carry, with its rules."""
        self._require_open(f"resource type {resource_type.name} registered")
        if resource_type.name in self._resource_types:
            raise PolicyWiringError(f"resource type {resource_type.name} is registered twice")
        owners = {plugin for plugin, p in self._permissions.values() if p.resource_type == resource_type.name}
        if owners != {resource_type.plugin_id}:
            raise PolicyWiringError(
                f"plugin {resource_type.plugin_id} registers resource type {resource_type.name}, "
                f"whose permissions are declared by {', '.join(sorted(owners)) or 'no plugin'}"
            )
        self._resource_types[resource_type.name] = resource_type

    def use_policy(self, policy: PermissionPolicy, *, source: str) -> None:
        """Replace the foundation policy (once, at start-up)."""
        self._require_open(f"permission policy of {source} installed")
        if self._policy_source != "foundation":
            raise PolicyWiringError(f"a permission policy is already installed by {self._policy_source}")
        self._policy = policy
        self._policy_source = source

    def freeze(self) -> None:
        self._frozen = True

    # -- what is known ------------------------------------------------------------------
    @property
    def policy(self) -> PermissionPolicy:
        return self._policy

    @property
    def policy_source(self) -> str:
        return self._policy_source

    def permission(self, name: str) -> Permission | None:
        found = self._permissions.get(name)
        return found[1] if found else None

    def plugin_of(self, name: str) -> str | None:
        found = self._permissions.get(name)
        return found[0] if found else None

    def permissions_by_plugin(self) -> dict[str, list[Permission]]:
        out: dict[str, list[Permission]] = {}
        for plugin_id, permission in self._permissions.values():
            out.setdefault(plugin_id, []).append(permission)
        return out

    def resource_type(self, name: str) -> ResourceType | None:
        return self._resource_types.get(name)

    def resource_types(self) -> list[ResourceType]:
        return list(self._resource_types.values())

    # -- deciding -------------------------------------------------------------------------
    def authorize(self, principal: Principal, permission: Permission, *, plugin_id: str) -> Decision:
        if not principal.is_authenticated:
            return Decision(Result.DENY, reason="not authenticated")
        if principal.restricted_out(plugin_id, permission.name):
            return Decision(
                Result.DENY,
                reason=f"credential {principal.subject} is restricted away from {plugin_id}/{permission.name}",
            )
        return self._policy.decide(principal, permission, plugin_id=plugin_id)


__all__ = ["ALLOW", "FoundationPolicy", "PermissionPolicy", "PermissionService", "PolicyWiringError", "rbac_admins"]
