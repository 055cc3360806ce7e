"""Resource types and their permission rules: what conditional decisions are written in.

A plugin whose permissions carry a resource type (`catalog-entity`) registers that type with
the permission service, with Backstage's rule metadata (`name`, `description`,
`paramsSchema`) and two functions: one that checks a rule's parameters (so a policy with a
misspelt parameter is refused when it is loaded, not when it is applied), and one that
applies a criteria tree to a single resource (Backstage's `apply-conditions`, used by
`/api/permission/authorize` with a `resourceRef` and by "explain"). Lists and queries never
go through `apply`: the owning plugin turns the criteria into its own query (for the catalog,
SQL), so a decision costs the same whatever the number of resources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Criteria = Any
"""A permission criteria tree in Backstage's shape: `{"rule", "resourceType", "params"}` leaves
combined with `{"allOf": [...]}`, `{"anyOf": [...]}` and `{"not": ...}`."""


@dataclass(frozen=True)
class PermissionRule:
    name: str
    description: str
    resource_type: str
    params_schema: Mapping[str, Any]
    check_params: Callable[[Mapping[str, Any]], None]
    """Raises `InputError` naming the problem when `params` do not fit the rule."""

    def to_json(self) -> dict[str, Any]:
        """Backstage's serialized rule (`/.well-known/backstage/permissions/metadata`)."""
        return {
            "name": self.name,
            "description": self.description,
            "resourceType": self.resource_type,
            "paramsSchema": dict(self.params_schema),
        }


@dataclass(frozen=True)
class ResourceType:
    name: str
    plugin_id: str
    rules: tuple[PermissionRule, ...]
    apply: Callable[[str, Criteria], bool | None]
    """Whether the resource named by the ref satisfies the criteria; None when it does not exist."""
    _by_name: dict[str, PermissionRule] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({rule.name: rule for rule in self.rules})

    def rule(self, name: str) -> PermissionRule | None:
        return self._by_name.get(name)
