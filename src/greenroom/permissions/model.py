"""Permissions as named values, with Backstage's names and shapes.

A permission is `<plugin>.<resource>.<action>` (Backstage writes `catalog.entity.read`);
resource permissions also name the resource type their conditions apply to
(`catalog-entity`), which is what RHDH policy files grant by (`catalog-entity, read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

Action = Literal["create", "read", "update", "delete", "use"]


@dataclass(frozen=True, slots=True)
class Permission:
    name: str
    action: Action = "use"
    resource_type: str | None = None
    description: str = ""
    # Whether using it changes something (the audit trail records every decision on a change).
    # None: create/update/delete do, and a "use" permission does on a non-GET request; a
    # "use" permission asked through POST only to read (authorize, validate) says False.
    mutates: bool | None = None

    @property
    def is_resource(self) -> bool:
        return self.resource_type is not None

    def to_json(self) -> dict[str, Any]:
        """Backstage's wire form of a permission."""
        out: dict[str, Any] = {"type": "resource" if self.is_resource else "basic", "name": self.name}
        out["attributes"] = {} if self.action == "use" else {"action": self.action}
        if self.resource_type:
            out["resourceType"] = self.resource_type
        return out


class Result(StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    CONDITIONAL = "CONDITIONAL"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may this principal do this?".

    `conditions` is set for CONDITIONAL: a criteria tree in Backstage's shape
    (`{"rule": ..., "resourceType": ..., "params": {...}}` with `allOf`/`anyOf`/`not`),
    which the owning plugin applies to its data, in SQL where it can; `plugin_id` and
    `resource_type` say whose rules they are (Backstage's `pluginId`/`resourceType`).
    `reason` says why, for logs, audit and "explain".
    """

    result: Result
    reason: str = ""
    conditions: Any = None
    plugin_id: str | None = None
    resource_type: str | None = None

    @property
    def allowed(self) -> bool:
        return self.result is Result.ALLOW

    @property
    def denied(self) -> bool:
        return self.result is Result.DENY

    def to_json(self) -> dict[str, Any]:
        """Backstage's wire form of a policy decision (without the request id)."""
        if self.result is not Result.CONDITIONAL:
            return {"result": self.result.value}
        return {"result": self.result.value, "pluginId": self.plugin_id, "resourceType": self.resource_type,
                "conditions": self.conditions}


ALLOW = Decision(Result.ALLOW)
DENY = Decision(Result.DENY)
