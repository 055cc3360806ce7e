"""Who is calling: the identity every request and job carries explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PrincipalType = Literal["user", "service", "local-admin", "system", "none"]


@dataclass(frozen=True, slots=True)
class AccessRestriction:
    """A limit on a service credential, in Backstage's `accessRestrictions` shape."""

    plugin: str
    permissions: frozenset[str] | None = None

    def permits(self, plugin_id: str, permission: str | None) -> bool:
        if plugin_id != self.plugin:
            return False
        return self.permissions is None or permission is None or permission in self.permissions


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    `subject` is an entity ref for users (`user:default/alice`) and a name for services
    (`external:ci-bot`). `restrictions` caps what a service credential can reach: with
    restrictions, only the listed plugins/permissions are ever allowed, whatever a policy
    says (a service token is not a user).
    """

    type: PrincipalType
    subject: str
    ownership_refs: tuple[str, ...] = ()
    restrictions: tuple[AccessRestriction, ...] = ()
    credential: str = ""
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def is_authenticated(self) -> bool:
        return self.type != "none"

    def restricted_out(self, plugin_id: str, permission: str | None) -> bool:
        """True when this credential's restrictions exclude the plugin/permission."""
        if not self.restrictions:
            return False
        return not any(r.permits(plugin_id, permission) for r in self.restrictions)


ANONYMOUS = Principal(type="none", subject="anonymous")
SYSTEM = Principal(type="system", subject="greenroom:system")
