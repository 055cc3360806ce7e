"""Deciding: the merged policy (files, database, app config) and how one request is evaluated.

For a signed-in user and a permission:

1. A super-user (`permission.rbac.admin.superUsers`, by user ref or by one of the user's
   ownership refs, so direct group membership as in RHDH) is allowed everything.
2. The user's roles: roles naming the user, and roles naming any group the user is in,
   directly or through parent groups.
3. The grants of those roles that match the permission: by its name, or by its resource type,
   with the permission's action (`use` for a basic permission without one).
4. Any matching `deny` wins (RHDH instead prefers grants by name over grants by resource type,
   and lets conditions override a deny).
5. Conditional grants of those roles for the permission make the decision CONDITIONAL, their
   conditions combined with `anyOf` (one per role, as RHDH does); with
   `permission.rbac.policyDecisionPrecedence: basic` an `allow` wins over conditions instead.
6. Otherwise an `allow` allows; nothing matching denies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenroom.permissions.criteria import replace_aliases
from greenroom.permissions.model import Decision, Permission, Result
from greenroom.plugins.permission.model import (
    ADMIN_ROLE,
    ConditionalGrant,
    Grant,
    Membership,
    Origin,
    RoleMeta,
)

AUTHORIZE_PERMISSION = "permission.authorize"


@dataclass(frozen=True)
class RoleVia:
    """How a user holds a role: the role names `member`, reached by `path` (user first)."""

    role: str
    member: str
    path: tuple[str, ...]
    origin: Origin

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "member": self.member, "path": list(self.path), "origin": self.origin.to_json()}


@dataclass
class Evaluation:
    """Everything that decided one (user, permission): what "explain" shows."""

    subject: str
    permission: Permission
    result: Result
    reason: str
    super_user: str | None = None
    builtin: str | None = None
    roles: list[RoleVia] = field(default_factory=list)
    allows: list[Grant] = field(default_factory=list)
    denies: list[Grant] = field(default_factory=list)
    conditions: list[ConditionalGrant] = field(default_factory=list)
    criteria: Any = None
    plugin_id: str | None = None

    def decision(self) -> Decision:
        return Decision(self.result, reason=self.reason, conditions=self.criteria,
                        plugin_id=self.plugin_id if self.result is Result.CONDITIONAL else None,
                        resource_type=self.permission.resource_type if self.result is Result.CONDITIONAL else None)


def _grant_text(grant: Grant) -> str:
    return f"{grant.role}: {grant.permission}, {grant.action}, {grant.effect} ({grant.origin})"


@dataclass
class Snapshot:
    """The whole policy at one moment, indexed for evaluation."""

    roles: dict[str, RoleMeta]
    memberships: list[Membership]
    grants: list[Grant]
    conditions: list[ConditionalGrant]
    super_users: Sequence[tuple[str, Origin]] = ()
    precedence: str = "conditional"
    _by_member: dict[str, list[Membership]] = field(default_factory=dict, init=False, repr=False)
    _grants: dict[tuple[str, str, str], list[Grant]] = field(default_factory=dict, init=False, repr=False)
    _conditions: dict[tuple[str, str], list[ConditionalGrant]] = field(default_factory=dict, init=False, repr=False)
    _super: dict[str, Origin] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        by_member: dict[str, list[Membership]] = defaultdict(list)
        for membership in self.memberships:
            by_member[membership.member].append(membership)
        self._by_member = dict(by_member)
        grants: dict[tuple[str, str, str], list[Grant]] = defaultdict(list)
        for grant in self.grants:
            grants[(grant.role, grant.permission, grant.action)].append(grant)
        self._grants = dict(grants)
        conditions: dict[tuple[str, str], list[ConditionalGrant]] = defaultdict(list)
        for conditional in self.conditions:
            for name in conditional.permission_names:
                conditions[(conditional.role, name)].append(conditional)
        self._conditions = dict(conditions)
        self._super = {ref.lower(): origin for ref, origin in self.super_users}

    def members_of(self, role: str) -> list[Membership]:
        return [m for m in self.memberships if m.role == role]

    def grants_of(self, role: str) -> list[Grant]:
        return [g for g in self.grants if g.role == role]

    def conditions_of(self, role: str) -> list[ConditionalGrant]:
        return [c for c in self.conditions if c.role == role]

    def super_user_entry(self, subject: str, ownership_refs: Iterable[str]) -> str | None:
        for ref in (subject, *ownership_refs):
            if ref.lower() in self._super:
                return ref.lower()
        return None

    def roles_for(self, subject: str, groups: Mapping[str, tuple[str, ...]]) -> list[RoleVia]:
        """The roles of a user, each with how the user holds it (its shortest path first)."""
        found: list[RoleVia] = []
        for membership in self._by_member.get(subject, ()):
            found.append(RoleVia(membership.role, subject, (subject,), membership.origin))
        for group, path in sorted(groups.items(), key=lambda item: (len(item[1]), item[0])):
            for membership in self._by_member.get(group, ()):
                found.append(RoleVia(membership.role, group, path, membership.origin))
        return found

    def evaluate(
        self,
        subject: str,
        ownership_refs: Sequence[str],
        permission: Permission,
        groups: Callable[[], Mapping[str, tuple[str, ...]]],
        plugin_of: Callable[[str], str | None],
    ) -> Evaluation:
        subject = subject.lower()
        entry = self.super_user_entry(subject, ownership_refs)
        if entry is not None:
            return Evaluation(subject, permission, Result.ALLOW, f"{entry} is a super-user "
                              f"({self._super[entry]})", super_user=entry)
        if permission.name == AUTHORIZE_PERMISSION:
            return Evaluation(subject, permission, Result.ALLOW,
                              "built-in: every signed-in principal may ask about its own permissions",
                              builtin="authorize")
        roles = self.roles_for(subject, groups())
        evaluation = Evaluation(subject, permission, Result.DENY, "", roles=roles)
        role_names = list(dict.fromkeys(via.role for via in roles))
        targets = [permission.name]
        if permission.resource_type:
            targets.append(permission.resource_type)
        if permission.name == "policy.entity.create":
            targets.append("policy-entity")  # RHDH still honours its older grant by resource type
        for role in role_names:
            for target in targets:
                for grant in self._grants.get((role, target, permission.action), ()):
                    (evaluation.denies if grant.effect == "deny" else evaluation.allows).append(grant)
            if permission.resource_type:
                evaluation.conditions.extend(self._conditions.get((role, permission.name), ()))
        if evaluation.denies:
            evaluation.reason = f"denied by {_grant_text(evaluation.denies[0])}"
            return evaluation
        if evaluation.conditions and (self.precedence != "basic" or not evaluation.allows):
            evaluation.result = Result.CONDITIONAL
            evaluation.criteria = {"anyOf": [replace_aliases(c.criteria, subject, list(ownership_refs))
                                             for c in evaluation.conditions]}
            evaluation.plugin_id = evaluation.conditions[0].plugin_id or plugin_of(permission.name)
            evaluation.reason = "conditional: " + "; ".join(
                f"{c.role} ({c.origin})" for c in evaluation.conditions)
            return evaluation
        if evaluation.allows:
            evaluation.result = Result.ALLOW
            evaluation.reason = f"allowed by {_grant_text(evaluation.allows[0])}"
            return evaluation
        if not roles:
            evaluation.reason = f"{subject} has no role"
        else:
            evaluation.reason = (f"no role of {subject} ({', '.join(role_names)}) grants {permission.name} "
                                 f"({permission.action})")
        return evaluation


ADMIN_GRANTS = (
    ("policy-entity", "read"),
    ("policy.entity.create", "create"),
    ("policy-entity", "delete"),
    ("policy-entity", "update"),
    ("catalog-entity", "read"),  # RHDH: "needed for the RBAC frontend plugin"
)


def admin_role(admins: Sequence[tuple[str, str]]) -> tuple[RoleMeta, list[Membership], list[Grant]]:
    """RHDH's `role:default/rbac_admin`: the configured admins, and the grants to manage policy."""
    meta = RoleMeta(ADMIN_ROLE, "configuration",
                    description="The default permission policy for the admin role allows for the creation, "
                                "deletion, updating, and reading of roles and permission policies.",
                    author="application configuration", modified_by="application configuration")
    members = [Membership(ref.lower(), ADMIN_ROLE, Origin("configuration", detail=key)) for ref, key in admins]
    origin = Origin("configuration", detail="built-in grants of role:default/rbac_admin")
    grants = [Grant(ADMIN_ROLE, permission, action, "allow", origin) for permission, action in ADMIN_GRANTS]
    return meta, members, grants
