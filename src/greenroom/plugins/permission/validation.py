"""Checks shared by the policy files and the REST API, with RHDH's messages where it has them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenroom.errors import InputError
from greenroom.permissions.criteria import CriteriaLimits, validate_criteria
from greenroom.permissions.model import Permission
from greenroom.permissions.policy import PermissionService
from greenroom.plugins.permission.model import ACTIONS, EFFECTS, ConditionalGrant, Origin
from greenroom.plugins.permission.refs import ref_problem


def declared_resource_types(permissions: PermissionService) -> set[str]:
    return {p.resource_type for ps in permissions.permissions_by_plugin().values() for p in ps if p.resource_type}


def grant_problem(permission: object, action: object, effect: object) -> str | None:
    """RHDH's `validatePolicy` for the fields after the role."""
    if not isinstance(permission, str) or not permission:
        return "'permission' field must not be empty"
    if '"' in permission:
        return "'permission' contains double quotes (\") which are not supported by the RBAC policy persistence format."
    if not isinstance(action, str) or not action:
        return "'policy' field must not be empty"
    if action not in ACTIONS:
        return f"'policy' has invalid value: '{action}'. It should be one of: {', '.join(ACTIONS)}"
    if not isinstance(effect, str) or not effect:
        return "'effect' field must not be empty"
    if effect not in EFFECTS:
        return f"'effect' has invalid value: '{effect}'. It should be: 'allow' or 'deny'"
    return None


def grant_reach(permissions: PermissionService, permission: str, action: str) -> str | None:
    """Why a grant can never match any loaded plugin's permission (None when it can).

    RHDH cannot know every plugin, so it accepts anything; greenroom can, and says so.
    """
    known = permissions.permission(permission)
    if known is not None:
        if known.action != action:
            return (f"permission {permission} has action '{known.action}', so a grant with action '{action}' "
                    "never matches it")
        return None
    if permission in declared_resource_types(permissions):
        actions = sorted({p.action for ps in permissions.permissions_by_plugin().values() for p in ps
                          if p.resource_type == permission})
        if action not in actions:
            return (f"no permission of resource type {permission} has action '{action}' "
                    f"(its actions: {', '.join(actions)})")
        return None
    return f"'{permission}' is not a permission or resource type of any loaded plugin, so the grant never matches"


def _mapped_permissions(permissions: PermissionService, plugin_id: str, resource_type: str,
                        action: str) -> list[Permission]:
    return [p for p in permissions.permissions_by_plugin().get(plugin_id, [])
            if p.resource_type == resource_type and p.action == action]


def check_conditional_policy(
    body: Any, permissions: PermissionService, *, limits: CriteriaLimits, origin: Origin, id: int | None = None,
) -> ConditionalGrant:
    """A `RoleConditionalPolicyDecision` (file document or REST body) as a conditional grant;
    InputError with RHDH's message when it is not one."""
    if not isinstance(body, Mapping):
        raise InputError("a conditional policy must be an object")
    for key in ("roleEntityRef", "result", "pluginId", "resourceType"):
        if not body.get(key):
            raise InputError(f"'{key}' must be specified in the role condition")
    if body["result"] != "CONDITIONAL":
        raise InputError(f"'result' must be CONDITIONAL in the role condition, not {body['result']!r}")
    problem = ref_problem(body["roleEntityRef"], kinds=("role",))
    if problem:
        raise InputError(f"'roleEntityRef': {problem}")
    unknown = set(body) - {"id", "result", "roleEntityRef", "pluginId", "resourceType", "permissionMapping",
                           "conditions"}
    if unknown:
        raise InputError(f"unexpected key {sorted(unknown)[0]!r} in the role condition")
    mapping = body.get("permissionMapping")
    if not isinstance(mapping, list) or not mapping:
        raise InputError("'permissionMapping' must be non empty array in the role condition")
    if len(mapping) > len(ACTIONS):
        raise InputError(f"'permissionMapping' can have at most {len(ACTIONS)} items (one entry per distinct "
                         "permission action)")
    named = [isinstance(entry, Mapping) for entry in mapping]
    if any(named) and not all(named):
        raise InputError("'permissionMapping' must be either all action strings or all {name, action} objects, "
                         "not a mix")
    actions = [entry.get("action") if isinstance(entry, Mapping) else entry for entry in mapping]
    for action in actions:
        if action not in ACTIONS:
            raise InputError(f"'permissionMapping' array contains non action value: '{action}'")
    if len(set(actions)) != len(actions):
        duplicate = next(a for a in actions if actions.count(a) > 1)
        raise InputError(f"'permissionMapping' must not contain duplicate permission action '{duplicate}'")
    plugin_id, resource_type_name = body["pluginId"], body["resourceType"]
    if not permissions.permissions_by_plugin().get(plugin_id):
        raise InputError(f"Unable to get permission list for plugin {plugin_id}")
    resource_type = permissions.resource_type(resource_type_name)
    if resource_type is None or resource_type.plugin_id != plugin_id:
        raise InputError(f"plugin {plugin_id} has no permission rules for resource type '{resource_type_name}', "
                         "so no condition can be written for it")
    pairs: list[tuple[str, str]] = []
    for action in actions:
        found = _mapped_permissions(permissions, plugin_id, resource_type_name, str(action))
        if not found:
            raise InputError(f"Unable to find permission to get permission name for resource type "
                             f"'{resource_type_name}' and action \"{action}\"")
        pairs.extend((p.name, str(action)) for p in found)
    if "conditions" not in body or body["conditions"] in (None, {}):
        raise InputError("'conditions' must be specified in the role condition")
    validate_criteria(body["conditions"], resource_type, where="roleCondition.conditions", limits=limits)
    return ConditionalGrant(role=body["roleEntityRef"], plugin_id=plugin_id, resource_type=resource_type_name,
                            mapping=tuple(pairs), criteria=body["conditions"], origin=origin, id=id)
