"""The catalog's permission rules, with Backstage's names and parameters, as SQL.

A conditional decision carries criteria in Backstage's shape:

    {"anyOf": [{"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
                "params": {"claims": ["group:default/team-a"]}},
               {"not": {"rule": "IS_ENTITY_KIND", "params": {"kinds": ["User"]}}}]}

Each rule becomes a predicate over the entity search rows (the same form filters use), so a
decision is a `WHERE` clause of the very query that lists, counts, pages or facets entities:
hidden entities never reach a count, a cursor or a facet value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement

from greenroom.errors import InputError
from greenroom.plugins.catalog.permissions import RESOURCE_TYPE_ENTITY
from greenroom.plugins.catalog.store.filters import Predicate, compile_predicate


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    params: tuple[str, ...]
    to_predicate: Callable[[Mapping[str, Any]], Predicate]


def _strings(params: Mapping[str, Any], key: str, rule: str) -> list[str]:
    value = params.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{rule}: parameter '{key}' must be a list of strings")
    return value


def _string(params: Mapping[str, Any], key: str, rule: str, *, optional: bool = False) -> str | None:
    value = params.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise InputError(f"{rule}: parameter '{key}' must be a non-empty string")
    return value


def _exists_or_equals(key: str, value: str | None) -> Predicate:
    return {key: {"$exists": True}} if value is None else {key: value}


def _owner(params: Mapping[str, Any]) -> Predicate:
    return {"relations.ownedBy": {"$in": _strings(params, "claims", "IS_ENTITY_OWNER")}}


def _kind(params: Mapping[str, Any]) -> Predicate:
    return {"kind": {"$in": _strings(params, "kinds", "IS_ENTITY_KIND")}}


def _annotation(params: Mapping[str, Any]) -> Predicate:
    name = _string(params, "annotation", "HAS_ANNOTATION")
    return _exists_or_equals(f"metadata.annotations.{name}", _string(params, "value", "HAS_ANNOTATION", optional=True))


def _label(params: Mapping[str, Any]) -> Predicate:
    name = _string(params, "label", "HAS_LABEL")
    return _exists_or_equals(f"metadata.labels.{name}", _string(params, "value", "HAS_LABEL", optional=True))


def _metadata(params: Mapping[str, Any]) -> Predicate:
    key = _string(params, "key", "HAS_METADATA")
    return _exists_or_equals(f"metadata.{key}", _string(params, "value", "HAS_METADATA", optional=True))


def _spec(params: Mapping[str, Any]) -> Predicate:
    key = _string(params, "key", "HAS_SPEC")
    return _exists_or_equals(f"spec.{key}", _string(params, "value", "HAS_SPEC", optional=True))


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("IS_ENTITY_OWNER", "Allow entities owned by a specified claim", ("claims",), _owner),
        Rule("IS_ENTITY_KIND", "Allow entities matching a specified kind", ("kinds",), _kind),
        Rule("HAS_ANNOTATION", "Allow entities with the specified annotation", ("annotation", "value"), _annotation),
        Rule("HAS_LABEL", "Allow entities with the specified label", ("label", "value"), _label),
        Rule("HAS_METADATA", "Allow entities with the specified metadata subfield", ("key", "value"), _metadata),
        Rule("HAS_SPEC", "Allow entities with the specified spec subfield", ("key", "value"), _spec),
    )
}


def criteria_to_predicate(criteria: Any) -> Predicate:
    """Backstage permission criteria (allOf / anyOf / not / rule) as a catalog predicate."""
    if not isinstance(criteria, Mapping):
        raise InputError("permission criteria must be an object")
    if "allOf" in criteria:
        return {"$all": [criteria_to_predicate(c) for c in criteria["allOf"]]}
    if "anyOf" in criteria:
        return {"$any": [criteria_to_predicate(c) for c in criteria["anyOf"]]}
    if "not" in criteria:
        return {"$not": criteria_to_predicate(criteria["not"])}
    name = criteria.get("rule")
    rule = RULES.get(name) if isinstance(name, str) else None
    if rule is None:
        raise InputError(f"unknown catalog permission rule {name!r}")
    resource_type = criteria.get("resourceType", RESOURCE_TYPE_ENTITY)
    if resource_type != RESOURCE_TYPE_ENTITY:
        raise InputError(f"rule {name} applies to {RESOURCE_TYPE_ENTITY}, not {resource_type}")
    params = criteria.get("params") or {}
    if not isinstance(params, Mapping):
        raise InputError(f"{name}: params must be an object")
    return rule.to_predicate(params)


def criteria_to_sql(criteria: Any) -> ColumnElement[bool]:
    """The condition on `catalog_entities.pk` that a conditional decision imposes."""
    conditions = criteria.get("conditions", criteria) if isinstance(criteria, Mapping) else criteria
    return compile_predicate(criteria_to_predicate(conditions))
