"""What a policy is made of: roles, members, grants and conditional grants, each with its origin.

Names follow RHDH: a grant is `p, <role>, <permission or resource type>, <action>, <effect>`,
a membership `g, <user or group>, <role>`, a conditional grant a `RoleConditionalPolicyDecision`
(`roleEntityRef`, `pluginId`, `resourceType`, `permissionMapping`, `conditions`). Every item
remembers where it came from (a file and line, the database, or the app config), which is what
"explain" shows and what decides whether the REST API may change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal

Source = Literal["csv-file", "rest", "configuration", "conditional-file"]
ACTIONS = ("create", "read", "update", "delete", "use")
EFFECTS = ("allow", "deny")
ADMIN_ROLE = "role:default/rbac_admin"
ADMIN_ROLE_DESCRIPTION = (
    "The default permission policy for the admin role allows for the creation, deletion, updating, "
    "and reading of roles and permission policies."
)
ADMIN_ROLE_AUTHOR = "application configuration"
CSV_AUTHOR = "csv permission policy file"


@dataclass(frozen=True)
class Origin:
    """Where a policy item is defined."""

    source: Source
    file: str | None = None
    line: int | None = None
    detail: str | None = None  # a config key for `configuration`

    def __str__(self) -> str:
        if self.file is not None:
            return f"{self.file}:{self.line}" if self.line is not None else self.file
        if self.source == "rest":
            return "database (REST API)"
        return self.detail or self.source

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "where": str(self)}
        if self.file is not None:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        return out


DB_ORIGIN = Origin("rest")


@dataclass(frozen=True)
class Grant:
    role: str
    permission: str  # a permission name or a resource type
    action: str
    effect: str
    origin: Origin = DB_ORIGIN

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.role, self.permission, self.action, self.effect)

    def to_json(self, source: str) -> dict[str, Any]:
        """RHDH's `RoleBasedPolicy`."""
        return {"entityReference": self.role, "permission": self.permission, "policy": self.action,
                "effect": self.effect, "metadata": {"source": source}}


@dataclass(frozen=True)
class Membership:
    member: str  # user or group ref, lower case
    role: str
    origin: Origin = DB_ORIGIN


@dataclass(frozen=True)
class RoleMeta:
    name: str
    source: Source
    description: str | None = None
    owner: str | None = None
    author: str | None = None
    modified_by: str | None = None
    created_at: int | None = None
    last_modified: int | None = None

    def to_json(self) -> dict[str, Any]:
        """RHDH's `RoleMetadata`."""
        out: dict[str, Any] = {"source": self.source, "description": self.description}
        for key, value in (("owner", self.owner), ("author", self.author), ("modifiedBy", self.modified_by),
                           ("createdAt", _http_date(self.created_at)),
                           ("lastModified", _http_date(self.last_modified))):
            if value is not None:
                out[key] = value
        return out


def _http_date(stamp: int | None) -> str | None:
    """RHDH writes role timestamps with `Date.toUTCString()`."""
    return None if stamp is None else formatdate(stamp, usegmt=True)


@dataclass(frozen=True)
class ConditionalGrant:
    """A role's conditional grant of the permissions of `resource_type` with the mapped actions."""

    role: str
    plugin_id: str
    resource_type: str
    mapping: tuple[tuple[str, str], ...]  # (permission name, action)
    criteria: Any
    origin: Origin = DB_ORIGIN
    id: int | None = None

    @property
    def actions(self) -> list[str]:
        return list(dict.fromkeys(action for _name, action in self.mapping))

    @property
    def permission_names(self) -> list[str]:
        return [name for name, _action in self.mapping]

    def to_json(self) -> dict[str, Any]:
        """RHDH's `RoleConditionalPolicyDecision<PermissionAction>`."""
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        out.update({"result": "CONDITIONAL", "roleEntityRef": self.role, "pluginId": self.plugin_id,
                    "resourceType": self.resource_type, "permissionMapping": self.actions,
                    "conditions": self.criteria})
        return out


@dataclass
class PolicyFileState:
    """What the policy files hold (kept whole: a file that fails to load keeps its previous state)."""

    memberships: list[Membership] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    conditions: list[ConditionalGrant] = field(default_factory=list)


@dataclass
class DatabaseState:
    """What the REST API stored."""

    version: int = 0
    roles: dict[str, RoleMeta] = field(default_factory=dict)
    memberships: list[Membership] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    conditions: list[ConditionalGrant] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """A policy file problem; `error`s keep the file from loading, `warning`s do not."""

    file: str
    line: int | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message, "severity": self.severity}
