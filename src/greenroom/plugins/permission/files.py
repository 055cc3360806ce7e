"""RHDH's policy files: `permission.rbac.policies-csv-file` and `permission.rbac.conditionalPoliciesFile`.

The CSV file (Casbin's format, as RHDH writes it; `p` lines are grants of a permission or of a
resource type's permissions with an action, `g` lines role members)::

    p, role:default/team-a, catalog-entity, read, allow
    p, role:default/team-a, catalog.entity.create, create, deny
    g, user:default/alice, role:default/team-a                 # a member: user or group, role
    g, group:default/platform, role:default/team-a

The conditional policies file: YAML documents (or one document holding a list of them), each
RHDH's `RoleConditionalPolicyDecision`.

Unlike RHDH, which skips a bad line and loads the rest, a file with any invalid line does not
load at all: every problem is reported with its file and line, and the policy that was in force
stays in force (at start-up, the portal refuses to start). A partly loaded policy could grant
or deny what nobody wrote. Lines that are valid but can never match a loaded plugin's permission
are loaded and reported as warnings.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from greenroom.errors import InputError
from greenroom.permissions.criteria import CriteriaLimits
from greenroom.permissions.policy import PermissionService
from greenroom.plugins.permission.model import ConditionalGrant, Grant, Membership, Origin, PolicyFileState, Problem
from greenroom.plugins.permission.refs import MEMBER_KINDS, ref_problem
from greenroom.plugins.permission.validation import check_conditional_policy, grant_problem, grant_reach
from greenroom.yamlsafe import YamlError, load_all

log = logging.getLogger("greenroom.plugins.permission")
MAX_CSV_BYTES = 10 * 1024 * 1024
DEFAULT_CONDITIONAL_MAX_BYTES = 1024 * 1024  # RHDH's defaults
DEFAULT_CONDITIONAL_MAX_DOCUMENTS = 256


def parse_policy_csv(
    text: str, *, source: str, permissions: PermissionService
) -> tuple[PolicyFileState, list[Problem]]:
    """The grants and memberships of a policy CSV, and every problem found (file and line)."""
    state = PolicyFileState()
    problems: list[Problem] = []
    seen_grants: dict[tuple[str, str, str], tuple[str, int]] = {}
    seen_members: dict[tuple[str, str], int] = {}

    def problem(line: int, message: str, severity: str = "error") -> None:
        problems.append(Problem(source, line, message, severity))  # type: ignore[arg-type]

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            fields = [f.strip() for f in next(csv.reader([line], skipinitialspace=True, strict=True))]
        except csv.Error as exc:
            problem(number, f"not a CSV line: {exc}")
            continue
        kind = fields[0]
        if kind == "p":
            if len(fields) != 5:
                problem(number, f"a permission policy line has 5 fields (p, <role>, <permission>, <action>, "
                                f"<effect>), this one has {len(fields)}")
                continue
            _, role, permission, action, effect = fields
            message = ref_problem(role, kinds=("role",))
            if message:
                problem(number, f"Failed to validate policy from file {source}. Cause: {message}")
                continue
            message = grant_problem(permission, action, effect)
            if message:
                problem(number, f"Failed to validate policy from file {source}. Cause: {message}")
                continue
            key = (role, permission, action)
            if key in seen_grants:
                earlier_effect, earlier_line = seen_grants[key]
                if earlier_effect != effect:
                    problem(number, f"Duplicate policy: {role}, {permission}, {action} with different effect found "
                                    f"in the file {source} (line {earlier_line} says {earlier_effect})")
                else:
                    problem(number, f"Duplicate policy: {role}, {permission}, {action}, {effect} (also line "
                                    f"{earlier_line}); loaded once", "warning")
                continue
            seen_grants[key] = (effect, number)
            reach = grant_reach(permissions, permission, action)
            if reach:
                problem(number, reach, "warning")
            state.grants.append(Grant(role, permission, action, effect, Origin("csv-file", source, number)))
        elif kind == "g":
            if len(fields) != 3:
                problem(number, f"a role membership line has 3 fields (g, <user or group>, <role>), "
                                f"this one has {len(fields)}")
                continue
            _, member, role = fields
            member = member.lower()
            message = _membership_problem(member, role)
            if message:
                problem(number, message)
                continue
            if (member, role) in seen_members:
                problem(number, f"Duplicate role: {member}, {role} (also line {seen_members[(member, role)]}); "
                                "loaded once", "warning")
                continue
            seen_members[(member, role)] = number
            state.memberships.append(Membership(member, role, Origin("csv-file", source, number)))
        else:
            problem(number, f"unknown line type '{kind}': a line is 'p, ...' (a permission policy) or 'g, ...' "
                            "(a role member)")
    return state, problems


def _membership_problem(member: str, role: str) -> str | None:
    pair = f"{member},{role}"
    for ref in (member, role):
        message = ref_problem(ref)
        if message:
            return f"Failed to validate group policy {pair}. Cause: {message}"
    if member.startswith("role:"):
        return f"Group policy is invalid: {pair}. rbac-backend plugin doesn't support role inheritance."
    if not role.startswith("role:"):
        if member.startswith("group:") and role.startswith("group:"):
            return (f"Group policy is invalid: {pair}. Group inheritance information could be provided only with "
                    "help of Catalog API.")
        if member.startswith("user:") and role.startswith("group:"):
            return (f"Group policy is invalid: {pair}. User membership information could be provided only with "
                    "help of Catalog API.")
        return f"Group policy is invalid: {pair}. The second field must be a role (role:<namespace>/<name>)."
    if member.split(":", 1)[0] not in MEMBER_KINDS:
        return f"Group policy is invalid: {pair}. Role members are users and groups."
    return None


def parse_conditional_yaml(
    data: bytes,
    *,
    source: str,
    permissions: PermissionService,
    limits: CriteriaLimits,
    max_bytes: int = DEFAULT_CONDITIONAL_MAX_BYTES,
    max_documents: int = DEFAULT_CONDITIONAL_MAX_DOCUMENTS,
) -> tuple[list[ConditionalGrant], list[Problem]]:
    """The conditional grants of an RHDH conditional-policies file, and every problem found."""
    if len(data) > max_bytes:
        return [], [Problem(source, None, f"conditional policies file exceeds maximum size of {max_bytes} bytes")]
    try:
        documents = load_all(data, source=source, max_bytes=max_bytes)
    except YamlError as exc:
        return [], [Problem(source, exc.line, exc.reason)]
    items: list[tuple[object, int]] = []
    for document in documents:
        if document.value is None:
            continue
        if isinstance(document.value, list):
            items.extend((item, document.line) for item in document.value)
        else:
            items.append((document.value, document.line))
    if len(items) > max_documents:
        message = f"conditional policies file exceeds maximum of {max_documents} YAML documents"
        return [], [Problem(source, None, message)]
    grants: list[ConditionalGrant] = []
    problems: list[Problem] = []
    claimed: dict[tuple[str, str], int] = {}
    for body, line in items:
        try:
            grant = check_conditional_policy(body, permissions, limits=limits,
                                             origin=Origin("conditional-file", source, line))
        except InputError as exc:
            problems.append(Problem(source, line, exc.message))
            continue
        clash = [(grant.role, name) for name in grant.permission_names if (grant.role, name) in claimed]
        if clash:
            role, name = clash[0]
            problems.append(Problem(source, line, f"a condition for role {role} and permission {name} is already "
                                                  f"defined at line {claimed[clash[0]]}"))
            continue
        for name in grant.permission_names:
            claimed[(grant.role, name)] = line
        grants.append(grant)
    return grants, problems


T = TypeVar("T")


@dataclass
class WatchedFile(Generic[T]):
    """A policy file, reloaded when its modification time or size changes.

    `state` is the last version that loaded without errors; `problems` those of the last attempt.
    """

    path: Path
    parse: Callable[[bytes, str], tuple[T, list[Problem]]]
    empty: T
    state: T | None = None
    problems: list[Problem] = field(default_factory=list)
    loaded_at: float | None = None
    _stamp: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return str(self.path)

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def changed(self) -> bool:
        return self._current_stamp() != self._stamp

    def load(self, now: float) -> bool:
        """Read the file now; True when a new state was taken (no errors)."""
        stamp = self._current_stamp()
        self._stamp = stamp
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            self.problems = [Problem(self.name, None, f"cannot read the file: {exc.strerror or exc}")]
            return False
        if len(data) > MAX_CSV_BYTES:
            self.problems = [Problem(self.name, None, f"file exceeds maximum size of {MAX_CSV_BYTES} bytes")]
            return False
        state, problems = self.parse(data, self.name)
        self.problems = problems
        if any(p.severity == "error" for p in problems):
            return False
        self.state = state
        self.loaded_at = now
        return True

    @property
    def current(self) -> T:
        return self.state if self.state is not None else self.empty

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
