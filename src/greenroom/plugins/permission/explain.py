""""May alice delete component:default/payments, and why?" — a decision with the chain behind it.

The answer names the role(s) that matched, how the user holds each (the membership path, user
to group to parent group, and the policy line or database row that makes the group a member),
the grants that matched with their file and line, and for a conditional grant its conditions.
With a resource, the conditions are applied to that resource with the owning plugin's own
query, one rule at a time, so the answer says which rule matched and which did not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from greenroom.errors import InputError
from greenroom.permissions.criteria import evaluate, replace_aliases
from greenroom.permissions.model import Permission, Result
from greenroom.permissions.policy import PermissionService
from greenroom.plugins.permission.engine import Evaluation
from greenroom.plugins.permission.service import RbacService


def resolve_permission(permissions: PermissionService, name: str) -> Permission:
    found = permissions.permission(name)
    if found is None:
        known = sorted(p.name for ps in permissions.permissions_by_plugin().values() for p in ps)
        raise InputError(f"unknown permission '{name}' (known: {', '.join(known)})")
    return found


def permission_json(permission: Permission) -> dict[str, Any]:
    return permission.to_json()


def explain(
    rbac: RbacService,
    *,
    user_ref: str,
    permission: Permission,
    resource_ref: str | None = None,
    ownership_refs: Sequence[str] | None = None,
) -> dict[str, Any]:
    refs = list(ownership_refs) if ownership_refs is not None else rbac.default_ownership(user_ref)
    evaluation = rbac.evaluate(user_ref, permission, refs)
    out = _evaluation_json(rbac, evaluation, refs)
    if resource_ref is not None:
        out.update(_against_resource(rbac, evaluation, resource_ref, refs))
    return out


def _evaluation_json(rbac: RbacService, evaluation: Evaluation, refs: list[str]) -> dict[str, Any]:
    snapshot = rbac.snapshot
    roles: dict[str, dict[str, Any]] = {}
    for via in evaluation.roles:
        entry = roles.setdefault(via.role, {"role": via.role, "source": snapshot.roles[via.role].source
                                            if via.role in snapshot.roles else "?", "via": []})
        entry["via"].append({"member": via.member, "path": list(via.path), "membership": via.origin.to_json()})
    return {
        "result": evaluation.result.value,
        "decision": evaluation.result.value,
        "reason": evaluation.reason,
        "user": evaluation.subject,
        "ownershipRefs": refs,
        "permission": evaluation.permission.to_json(),
        "superUser": evaluation.super_user,
        "builtin": evaluation.builtin,
        "roles": list(roles.values()),
        "grants": {
            "allow": [_grant(g) for g in evaluation.allows],
            "deny": [_grant(g) for g in evaluation.denies],
        },
        "conditionalGrants": [
            {"role": c.role, "id": c.id, "pluginId": c.plugin_id, "resourceType": c.resource_type,
             "permissionMapping": c.actions, "origin": c.origin.to_json(), "conditions": c.criteria}
            for c in evaluation.conditions
        ],
        "conditions": evaluation.criteria,
    }


def _grant(grant: Any) -> dict[str, Any]:
    return {"role": grant.role, "permission": grant.permission, "policy": grant.action, "effect": grant.effect,
            "origin": grant.origin.to_json()}


def _against_resource(rbac: RbacService, evaluation: Evaluation, resource_ref: str, refs: list[str]) -> dict[str, Any]:
    resource: dict[str, Any] = {"ref": resource_ref}
    if evaluation.result is not Result.CONDITIONAL:
        resource["note"] = f"the decision is {evaluation.result.value} whatever the resource"
        return {"resource": resource}
    resource_type = rbac.permissions.resource_type(evaluation.permission.resource_type or "")
    if resource_type is None:
        resource["note"] = "no plugin applies conditions for this resource type"
        return {"resource": resource}
    exists = resource_type.apply(resource_ref, {"anyOf": []}) is not None
    resource["exists"] = exists
    if not exists:
        resource["note"] = "no such resource"
        return {"resource": resource, "result": Result.DENY.value,
                "reason": f"{resource_ref} does not exist (or is not a {resource_type.name})"}
    traces = []
    matched_any: str | None = None
    for conditional in evaluation.conditions:
        criteria = replace_aliases(conditional.criteria, evaluation.subject, refs)
        matched, trace = evaluate(criteria, lambda leaf: bool(resource_type.apply(resource_ref, leaf)))
        traces.append({"role": conditional.role, "origin": conditional.origin.to_json(), "matched": matched,
                       "trace": trace})
        if matched and matched_any is None:
            matched_any = f"the condition of {conditional.role} ({conditional.origin}) matches {resource_ref}"
    resource["conditions"] = traces
    if matched_any is not None:
        return {"resource": resource, "result": Result.ALLOW.value, "reason": matched_any}
    return {"resource": resource, "result": Result.DENY.value,
            "reason": f"no condition of {', '.join(str(t['role']) for t in traces)} matches {resource_ref}"}
