"""`greenroom policy test FILE`: a table of expected decisions, checked against the policy (for CI).

YAML (a list, or `{cases: [...]}`)::

    - user: user:default/alice
      permission: catalog.entity.delete
      resource: component:default/payments     # optional
      expect: ALLOW                             # ALLOW, DENY or CONDITIONAL
      ownershipRefs: [user:default/alice, group:default/team-a]   # optional; default: from the catalog

CSV, with a header row (`resource` may be empty; extra columns such as `note` are ignored)::

    user,permission,resource,expect
    user:default/alice,catalog.entity.read,,CONDITIONAL
    user:default/alice,catalog.entity.delete,component:default/payments,ALLOW

With a resource, a CONDITIONAL decision is applied to it, so the expectation is ALLOW or DENY.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenroom.errors import InputError
from greenroom.plugins.permission.explain import explain, resolve_permission
from greenroom.plugins.permission.service import RbacService
from greenroom.yamlsafe import YamlError, load_all

RESULTS = ("ALLOW", "DENY", "CONDITIONAL")
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    line: int
    user: str
    permission: str
    resource: str | None
    expect: str
    ownership_refs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Outcome:
    case: Case
    actual: str
    reason: str

    @property
    def passed(self) -> bool:
        return self.actual == self.case.expect


def _case(raw: Any, line: int, source: str) -> Case:
    where = f"{source}:{line}"
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a case is an object with user, permission, expect (and resource)")
    unknown = set(raw) - {"user", "permission", "resource", "expect", "ownershipRefs", "note"}
    if unknown:
        raise InputError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    user, permission, expect = raw.get("user"), raw.get("permission"), raw.get("expect")
    if not isinstance(user, str) or not user.lower().startswith("user:"):
        raise InputError(f"{where}: user must be a user entity ref (user:<namespace>/<name>)")
    if not isinstance(permission, str) or not permission:
        raise InputError(f"{where}: permission must be a permission name")
    if not isinstance(expect, str) or expect.upper() not in RESULTS:
        raise InputError(f"{where}: expect must be one of {', '.join(RESULTS)}")
    resource = raw.get("resource") or None
    if resource is not None and not isinstance(resource, str):
        raise InputError(f"{where}: resource must be an entity ref")
    if resource is not None and expect.upper() == "CONDITIONAL":
        raise InputError(f"{where}: with a resource the decision is ALLOW or DENY, not CONDITIONAL")
    refs = raw.get("ownershipRefs")
    if refs is not None and (not isinstance(refs, list) or not all(isinstance(r, str) for r in refs)):
        raise InputError(f"{where}: ownershipRefs must be a list of entity refs")
    return Case(line, user, permission, resource, expect.upper(), tuple(refs) if refs is not None else None)


def load_cases(path: Path) -> list[Case]:
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise InputError(f"{path}: larger than {MAX_BYTES} bytes")
    source = str(path)
    if path.suffix.lower() == ".csv":
        text = data.decode("utf-8")
        reader = csv.DictReader(io.StringIO(text))
        missing = {"user", "permission", "expect"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{source}:1: the header row needs columns user, permission, expect (and resource); "
                             f"missing: {', '.join(sorted(missing))}")
        cases = []
        for row in reader:
            line = reader.line_num
            cleaned = {k: (v or "").strip() for k, v in row.items()
                       if k in ("user", "permission", "resource", "expect")}
            cases.append(_case(cleaned, line, source))
        return cases
    try:
        documents = load_all(data, source=source, max_bytes=MAX_BYTES)
    except YamlError as exc:
        raise InputError(str(exc)) from None
    if len(documents) != 1:
        raise InputError(f"{source}: expected one YAML document with a list of cases")
    value = documents[0].value
    if isinstance(value, dict) and set(value) == {"cases"}:
        value = value["cases"]
    if not isinstance(value, list) or not value:
        raise InputError(f"{source}:{documents[0].line}: expected a non-empty list of cases (or {{cases: [...]}})")
    lines = _item_lines(data, len(value)) or [documents[0].line] * len(value)
    return [_case(item, lines[index], f"{source} case {index + 1}") for index, item in enumerate(value)]


def _item_lines(data: bytes, count: int) -> list[int] | None:
    """The line each case starts on (the text already passed yamlsafe's limits)."""
    import yaml

    node = yaml.compose(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if isinstance(node, yaml.MappingNode) and len(node.value) == 1:
        node = node.value[0][1]
    if not isinstance(node, yaml.SequenceNode) or len(node.value) != count:
        return None
    return [item.start_mark.line + 1 for item in node.value]


def run_cases(rbac: RbacService, cases: Sequence[Case]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        permission = resolve_permission(rbac.permissions, case.permission)
        answer = explain(rbac, user_ref=case.user, permission=permission, resource_ref=case.resource,
                         ownership_refs=case.ownership_refs)
        outcomes.append(Outcome(case, answer["result"], answer["reason"]))
    return outcomes
