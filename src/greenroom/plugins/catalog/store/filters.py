"""Catalog filters: Backstage's query-string syntax and predicate form, compiled to SQL.

Query string: every `filter` parameter is a set of `key=value` statements joined by `,`
(ANDed); several parameters are ORed; a bare `key` tests existence; repeating a key in one
set ORs its values. It converts to the predicate form Backstage puts in cursors:

    {"kind": "component"}                      one value
    {"kind": {"$in": ["component", "api"]}}    several values
    {"spec.owner": {"$exists": true}}          bare key
    {"$all": [...]}, {"$any": [...]}, {"$not": ...}

Every condition becomes `entity pk IN (SELECT entity_pk FROM catalog_search WHERE key = ...
AND value ...)`, an indexed lookup, and matching is case-insensitive for keys and values.
The same compiler serves permission conditions, so a conditional decision is a WHERE clause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true

from greenroom.errors import InputError
from greenroom.plugins.catalog.model.jsvalues import js_string
from greenroom.plugins.catalog.store import tables

Predicate = Any
_OPERATORS = ("$exists", "$in", "$hasPrefix", "$contains")


def parse_filter_params(values: Sequence[str]) -> Predicate | None:
    """Query-string `filter` params to a predicate (None when there is no filter)."""
    sets: list[Predicate] = []
    for raw in values:
        statements: dict[str, list[str] | None] = {}
        for raw_statement in raw.split(","):
            statement = raw_statement.strip()
            if not statement:
                continue
            key, sep, value = statement.partition("=")
            key, value = key.strip(), value.strip()
            if not key:
                raise InputError(
                    f"Invalid filter, '{statement}' is not a valid statement "
                    "(expected a string on the form a=b or a= or a)"
                )
            if not sep:
                statements.setdefault(key, None)
                continue
            current = statements.get(key)
            statements[key] = [*(current or []), value]
        if not statements:
            continue
        parts: list[Predicate] = []
        for key, vals in statements.items():
            if vals is None:
                parts.append({key: {"$exists": True}})
            elif len(vals) == 1:
                parts.append({key: vals[0]})
            else:
                parts.append({key: {"$in": vals}})
        sets.append(parts[0] if len(parts) == 1 else {"$all": parts})
    if not sets:
        return None
    return sets[0] if len(sets) == 1 else {"$any": sets}


def _is_primitive(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _text(value: Any) -> str:
    return (value if isinstance(value, str) else js_string(value)).lower()


def _ids(key: str, condition: ColumnElement[bool] | None = None) -> Any:
    s = tables.search
    where = s.c.key == key.lower()
    if condition is not None:
        where = and_(where, condition)
    return select(s.c.entity_pk).where(where)


def _field_condition(field: str, value: Any) -> ColumnElement[bool]:
    s = tables.search
    entity_pk = tables.entities.c.pk
    if _is_primitive(value):
        return entity_pk.in_(_ids(field, s.c.value == _text(value)))
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in _OPERATORS:
        raise InputError(
            f'Invalid filter predicate value for field "{field}": expected a primitive value, '
            f"$exists, $in, $hasPrefix, or $contains operator, but got {_json(value)}"
        )
    (op, arg), = value.items()
    if op == "$exists":
        if not isinstance(arg, bool):
            raise InputError(f'Invalid filter predicate value for field "{field}": $exists must be a boolean')
        condition = entity_pk.in_(_ids(field))
        return condition if arg else not_(condition)
    if op == "$in":
        if not isinstance(arg, list) or not all(_is_primitive(v) for v in arg):
            raise InputError(f'Invalid filter predicate value for field "{field}": $in must be a list of primitives')
        if not arg:
            return false()
        return entity_pk.in_(_ids(field, s.c.value.in_([_text(v) for v in arg])))
    if op == "$hasPrefix":
        if not isinstance(arg, str):
            raise InputError(f'Invalid filter predicate value for field "{field}": $hasPrefix must be a string')
        escaped = arg.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return entity_pk.in_(_ids(field, s.c.value.like(f"{escaped}%", escape="\\")))
    # $contains
    if _is_primitive(arg):
        return entity_pk.in_(_ids(field, s.c.value == _text(arg)))
    if field.lower() != "relations" or not isinstance(arg, Mapping):
        raise InputError(f'Object form of $contains is not supported for field "{field}"')
    unknown = set(arg) - {"type", "targetRef"}
    if unknown:
        raise InputError(
            f'Unsupported key "{sorted(unknown)[0]}" in $contains for "relations". '
            'Only "type" and "targetRef" are supported'
        )
    rel_type = arg.get("type")
    if not isinstance(rel_type, str):
        raise InputError('$contains on "relations" needs a "type"')
    key = f"relations.{rel_type}"
    target = arg.get("targetRef")
    if target is None:
        return entity_pk.in_(_ids(key))
    if isinstance(target, Mapping) and isinstance(target.get("$in"), list):
        return entity_pk.in_(_ids(key, s.c.value.in_([_text(v) for v in target["$in"]])))
    return entity_pk.in_(_ids(key, s.c.value == _text(target)))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def compile_predicate(predicate: Predicate) -> ColumnElement[bool]:
    """A predicate as a condition on `catalog_entities.pk`."""
    if _is_primitive(predicate) or predicate is None:
        raise InputError("Invalid filter predicate: top-level primitive values are not supported")
    if isinstance(predicate, list):
        raise InputError("Invalid filter predicate: expected an object")
    if not isinstance(predicate, Mapping):
        raise InputError("Invalid filter predicate: expected an object")
    if "$all" in predicate or "$any" in predicate or "$not" in predicate:
        if len(predicate) != 1:
            raise InputError("Invalid filter predicate: $all, $any and $not stand alone in their object")
        (op, arg), = predicate.items()
        if op == "$not":
            return not_(compile_predicate(arg))
        if not isinstance(arg, list):
            raise InputError(f"Invalid filter predicate: {op} takes a list")
        parts = [compile_predicate(p) for p in arg]
        if op == "$all":
            return and_(true(), *parts) if parts else true()
        return or_(false(), *parts) if parts else false()
    conditions = []
    for field, value in predicate.items():
        if not isinstance(field, str) or field.startswith("$"):
            raise InputError(f"Invalid filter predicate: unknown operator {field}")
        conditions.append(_field_condition(field, value))
    return and_(true(), *conditions) if conditions else true()


_LOCATION_KEYS = ("id", "type", "target", "entityRef")


def location_matches(location: Mapping[str, str], predicate: Predicate | None) -> bool:
    """POST /locations/by-query: a predicate over id, type, target and entityRef.

    Keys and values compare case-insensitively, as Backstage does (it uppercases both);
    `$contains` never matches a location.
    """
    if predicate is None:
        return True
    if not isinstance(predicate, Mapping):
        raise InputError("Invalid filter predicate: expected an object")
    if "$all" in predicate:
        return all(location_matches(location, p) for p in predicate["$all"])
    if "$any" in predicate:
        return any(location_matches(location, p) for p in predicate["$any"])
    if "$not" in predicate:
        return not location_matches(location, predicate["$not"])
    fields = {k.lower(): v for k, v in location.items()}
    for key, expected in predicate.items():
        if key.lower() not in {k.lower() for k in _LOCATION_KEYS}:
            raise InputError(
                f"Invalid filter predicate, expected key to be 'id', 'type', 'target', or 'entityRef', got '{key}'"
            )
        actual = fields[key.lower()].upper()
        if _is_primitive(expected):
            if actual != _text(expected).upper():
                return False
        elif isinstance(expected, Mapping) and "$in" in expected:
            if actual not in {_text(v).upper() for v in expected["$in"]}:
                return False
        elif isinstance(expected, Mapping) and "$exists" in expected:
            if not expected["$exists"]:
                return False
        elif isinstance(expected, Mapping) and "$hasPrefix" in expected:
            if not actual.startswith(str(expected["$hasPrefix"]).upper()):
                return False
        else:
            return False
    return True
