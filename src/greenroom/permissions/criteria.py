"""Permission criteria trees: validation, the `$currentUser`/`$ownerRefs` aliases, evaluation.

The shape is Backstage's (a leaf `{"rule", "resourceType", "params"}`, combined with
`allOf`/`anyOf`/`not`), with the structural rules of Red Hat Developer Hub's RBAC plugin:
one criterion per level (no `allOf` next to `anyOf` or next to a `rule`), non-empty lists,
and bounded depth, node count and list length, so a policy file cannot make every request
walk a huge tree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from greenroom.errors import InputError
from greenroom.permissions.resources import Criteria, ResourceType

ALIAS_CURRENT_USER = "$currentUser"
ALIAS_OWNER_REFS = "$ownerRefs"
ALIASES = (ALIAS_CURRENT_USER, ALIAS_OWNER_REFS)
_COMBINATORS = ("allOf", "anyOf", "not")


@dataclass(frozen=True)
class CriteriaLimits:
    """RHDH's `permission.rbac.validation.conditionalPolicies` limits and defaults."""

    max_depth: int = 12
    max_nodes: int = 256
    max_items: int = 64


def _substituted(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params with aliases replaced by values of the right type, for checking them."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, list):
            out[key] = [("user:default/alias" if item in ALIASES else item) for item in value]
        elif value in ALIASES:
            out[key] = "user:default/alias"
        else:
            out[key] = value
    return out


def validate_criteria(
    criteria: Criteria,
    resource_type: ResourceType,
    *,
    where: str = "conditions",
    limits: CriteriaLimits | None = None,
) -> None:
    """Raises InputError (naming the path inside the tree) unless `criteria` is a valid tree of
    `resource_type`'s rules with parameters those rules accept."""
    limits = limits or CriteriaLimits()
    state = {"nodes": 0}

    def visit(node: Any, path: str, depth: int) -> None:
        if depth > limits.max_depth:
            raise InputError(f"Conditional criteria depth exceeds maximum of {limits.max_depth}")
        state["nodes"] += 1
        if state["nodes"] > limits.max_nodes:
            raise InputError(f"Conditional criteria exceeds maximum of {limits.max_nodes} nodes")
        if not isinstance(node, Mapping):
            raise InputError(f"{path} must be an object (a rule, allOf, anyOf or not)")
        found = [c for c in _COMBINATORS if c in node]
        if len(found) > 1:
            raise InputError(
                "RBAC plugin does not support parallel conditions, consider reworking request to include nested "
                f"condition criteria. Conditional criteria causing the error {','.join(found)}."
            )
        if found and "rule" in node:
            raise InputError(
                "RBAC plugin does not support parallel conditions alongside rules, consider reworking request to "
                f"include nested condition criteria. Conditional criteria causing the error {found[0]}, "
                f"'rule: {node['rule']}'."
            )
        if found == ["not"]:
            visit(node["not"], f"{path}.not", depth + 1)
            return
        if found:
            key = found[0]
            items = node[key]
            if not isinstance(items, list) or not items:
                raise InputError(f"{path}.{key} criteria must be non empty array")
            if len(items) > limits.max_items:
                raise InputError(f"{path}.{key} criteria supports at most {limits.max_items} items")
            for index, item in enumerate(items):
                visit(item, f"{path}.{key}[{index}]", depth + 1)
            return
        _check_leaf(node, path, resource_type)

    visit(criteria, where, 1)


def _check_leaf(node: Mapping[str, Any], path: str, resource_type: ResourceType) -> None:
    if "resourceType" not in node:
        raise InputError(f"'resourceType' must be specified in the {path}.condition")
    if "rule" not in node:
        raise InputError(f"'rule' must be specified in the {path}.condition")
    unknown = set(node) - {"rule", "resourceType", "params"}
    if unknown:
        raise InputError(f"{path}: unexpected key {sorted(unknown)[0]!r} (a condition has rule, resourceType, params)")
    if node["resourceType"] != resource_type.name:
        raise InputError(f"{path}: resourceType {node['resourceType']!r} does not match {resource_type.name!r}")
    name = node["rule"]
    rule = resource_type.rule(name) if isinstance(name, str) else None
    if rule is None:
        known = ", ".join(r.name for r in resource_type.rules)
        raise InputError(f"{path}: unknown rule {name!r} for resource type {resource_type.name} (known: {known})")
    params = node.get("params")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InputError(f"{path}: params of {rule.name} must be an object")
    allowed = set((rule.params_schema.get("properties") or {}).keys())
    extra = set(params) - allowed
    if extra:
        raise InputError(f"{path}: {rule.name} has no parameter {sorted(extra)[0]!r} "
                         f"(it takes {', '.join(sorted(allowed))})")
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.startswith("$") and item not in ALIASES:
                raise InputError(f"{path}: unknown alias {item!r} in {rule.name}.{key} (known: {', '.join(ALIASES)})")
    try:
        rule.check_params(_substituted(params))
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}") from None


def replace_aliases(criteria: Criteria, user_ref: str, ownership_refs: Sequence[str]) -> Criteria:
    """A copy with `$currentUser` replaced by the user's ref and `$ownerRefs` by their ownership
    refs (RHDH: inside a list the alias expands in place; a lone `$ownerRefs` string stays)."""
    if isinstance(criteria, Mapping):
        if "not" in criteria:
            return {"not": replace_aliases(criteria["not"], user_ref, ownership_refs)}
        for key in ("allOf", "anyOf"):
            if key in criteria:
                return {key: [replace_aliases(c, user_ref, ownership_refs) for c in criteria[key]]}
        params = criteria.get("params")
        if not isinstance(params, Mapping):
            return dict(criteria)
        replaced: dict[str, Any] = {}
        for key, value in params.items():
            if isinstance(value, list):
                items: list[Any] = []
                for item in value:
                    if item == ALIAS_CURRENT_USER:
                        items.append(user_ref)
                    elif item == ALIAS_OWNER_REFS:
                        items.extend(ownership_refs)
                    else:
                        items.append(item)
                replaced[key] = items
            elif value == ALIAS_CURRENT_USER:
                replaced[key] = user_ref
            else:
                replaced[key] = value
        return {**criteria, "params": replaced}
    return criteria


def evaluate(criteria: Criteria, leaf: Callable[[Mapping[str, Any]], bool]) -> tuple[bool, dict[str, Any]]:
    """The result of a criteria tree, each leaf decided by `leaf`, and a trace of every node
    (`{"rule": ..., "params": ..., "matched": bool}` leaves inside `allOf`/`anyOf`/`not`)."""
    if "not" in criteria:
        inner, trace = evaluate(criteria["not"], leaf)
        return not inner, {"not": trace, "matched": not inner}
    for key, combine in (("allOf", all), ("anyOf", any)):
        if key in criteria:
            parts = [evaluate(c, leaf) for c in criteria[key]]
            result = combine(p[0] for p in parts)
            return result, {key: [p[1] for p in parts], "matched": result}
    matched = leaf(criteria)
    return matched, {"rule": criteria.get("rule"), "resourceType": criteria.get("resourceType"),
                     "params": criteria.get("params") or {}, "matched": matched}
