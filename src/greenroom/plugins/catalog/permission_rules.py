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

import orjson
from sqlalchemy import ColumnElement

from greenroom.errors import InputError
from greenroom.permissions.resources import PermissionRule, ResourceType
from greenroom.plugins.catalog.permissions import RESOURCE_TYPE_ENTITY
from greenroom.plugins.catalog.store.filters import Predicate, compile_predicate
from greenroom.plugins.catalog.store.queries import CatalogQueries


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    params: tuple[str, ...]
    to_predicate: Callable[[Mapping[str, Any]], Predicate]
    params_schema: Mapping[str, Any]


def _schema(required: str, **properties: tuple[str, str]) -> dict[str, Any]:
    """Backstage's paramsSchema: a draft-07 object schema (what its zod schemas serialize to)."""
    props: dict[str, Any] = {}
    for name, (kind, description) in properties.items():
        props[name] = ({"type": "array", "items": {"type": "string"}, "description": description}
                       if kind == "array" else {"type": "string", "description": description})
    return {"type": "object", "properties": props, "required": [required], "additionalProperties": False,
            "$schema": "http://json-schema.org/draft-07/schema#"}


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
        Rule("IS_ENTITY_OWNER", "Allow entities owned by a specified claim", ("claims",), _owner,
             _schema("claims", claims=("array", "List of claims to match at least one on within ownedBy"))),
        Rule("IS_ENTITY_KIND", "Allow entities matching a specified kind", ("kinds",), _kind,
             _schema("kinds", kinds=("array", "List of kinds to match at least one of"))),
        Rule("HAS_ANNOTATION", "Allow entities with the specified annotation", ("annotation", "value"), _annotation,
             _schema("annotation", annotation=("string", "Name of the annotation to match on"),
                     value=("string", "Value of the annotation to match on"))),
        Rule("HAS_LABEL", "Allow entities with the specified label", ("label",), _label,
             _schema("label", label=("string", "Name of the label to match on"))),
        Rule("HAS_METADATA", "Allow entities with the specified metadata subfield", ("key", "value"), _metadata,
             _schema("key", key=("string", "Property within the entities metadata to match on"),
                     value=("string", "Value of the given property to match on"))),
        Rule("HAS_SPEC", "Allow entities with the specified spec subfield", ("key", "value"), _spec,
             _schema("key", key=("string", "Property within the entities spec to match on"),
                     value=("string", "Value of the given property to match on"))),
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


_COMPILED: dict[bytes, ColumnElement[bool]] = {}
_COMPILED_MAX = 2000


def criteria_to_sql(criteria: Any) -> ColumnElement[bool]:
    """The condition on `catalog_entities.pk` that a conditional decision imposes.

    Remembered per distinct criteria (a user's decision, hence its criteria, repeats on every
    request): building the expression costs more than the indexed query it restricts, and the
    store compiles a remembered expression to SQL only once.
    """
    conditions = criteria.get("conditions", criteria) if isinstance(criteria, Mapping) else criteria
    try:
        key = orjson.dumps(conditions, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return compile_predicate(criteria_to_predicate(conditions))
    found = _COMPILED.get(key)
    if found is None:
        found = compile_predicate(criteria_to_predicate(conditions))
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = found
    return found


def _entity_key(ref: str) -> str:
    """`kind:namespace/name` (namespace defaulting to `default`), lower case: how entities are keyed."""
    kind, colon, rest = ref.partition(":")
    if not colon or not kind or not rest:
        raise InputError(f"Invalid entity ref '{ref}', expected <kind>:[<namespace>/]<name>")
    namespace, slash, name = rest.partition("/")
    if not slash:
        namespace, name = "default", rest
    if not namespace or not name:
        raise InputError(f"Invalid entity ref '{ref}', expected <kind>:[<namespace>/]<name>")
    return f"{kind}:{namespace}/{name}".lower()


def entity_resource_type(queries: CatalogQueries) -> ResourceType:
    """`catalog-entity` for the permission service: the rules above, and conditions applied to
    one entity with the same SQL a filtered list uses (so "explain" and `authorize` with a
    resourceRef can never disagree with what lists show)."""

    def apply(ref: str, criteria: Any) -> bool | None:
        key = _entity_key(ref)
        if queries.by_ref(key, criteria_to_sql(criteria)) is not None:
            return True
        return None if queries.uid_of(key) is None else False  # one query when the answer is yes

    def checker(rule: Rule) -> Callable[[Mapping[str, Any]], None]:
        def check(params: Mapping[str, Any]) -> None:
            rule.to_predicate(params)

        return check

    return ResourceType(
        name=RESOURCE_TYPE_ENTITY,
        plugin_id="catalog",
        rules=tuple(
            PermissionRule(rule.name, rule.description, RESOURCE_TYPE_ENTITY, rule.params_schema, checker(rule))
            for rule in RULES.values()
        ),
        apply=apply,
    )
