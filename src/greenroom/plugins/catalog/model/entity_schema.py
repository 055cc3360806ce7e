"""Backstage's kind-independent schemas: `EntityEnvelope`, and `Entity` with `EntityMeta` and `common`.

Hand-written equivalents of `packages/catalog-model/src/schema/{EntityEnvelope,Entity,EntityMeta}
.schema.json` and `shared/common.schema.json` (catalog-model 1.10.3). Each function raises
`Violation` at the first error in ajv's evaluation order (see `violation.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenroom.plugins.catalog.model.jsvalues import js_key_order
from greenroom.plugins.catalog.model.violation import (
    Violation,
    additional_property_violation,
    check_nonempty_string,
    check_string,
    enum_violation,
    is_array,
    is_object,
    pointer,
    required_violation,
    type_violation,
)

_ENVELOPE_REQUIRED = ("apiVersion", "kind", "metadata")
_ENTITY_PROPERTIES = frozenset({"apiVersion", "kind", "metadata", "spec", "relations", "status"})
_META_STRING_FIELDS = ("uid", "etag", "name", "namespace", "title")
_LINK_FIELDS = ("url", "title", "icon", "type")
_RELATION_PROPERTIES = frozenset({"type", "target", "targetRef"})
_REFERENCE_FIELDS = ("kind", "namespace", "name")
_REFERENCE_FIELD_SET = frozenset(_REFERENCE_FIELDS)
_STATUS_LEVELS = ("info", "warning", "error")
_RELATION_TYPE_PATTERN = "^\\w+$"
# JavaScript's \w without the `i` flag, even under `u`: ASCII word characters only.
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
# `.` in a JavaScript regular expression does not match these line terminators.
_LINE_TERMINATORS = ("\n", "\r", "\u2028", "\u2029")


def check_envelope(entity: Any) -> None:
    """`EntityEnvelope.schema.json`: just enough shape to give the entity a ref."""
    if not is_object(entity):
        type_violation("", "object")
    for prop in _ENVELOPE_REQUIRED:
        if prop not in entity:
            required_violation("", prop)
    check_nonempty_string(entity["apiVersion"], "/apiVersion")
    check_nonempty_string(entity["kind"], "/kind")
    metadata = entity["metadata"]
    if not is_object(metadata):
        type_violation("/metadata", "object")
    if "name" not in metadata:
        required_violation("/metadata", "name")
    check_nonempty_string(metadata["name"], "/metadata/name")
    if "namespace" in metadata:
        check_nonempty_string(metadata["namespace"], "/metadata/namespace")


def check_entity(entity: Mapping[str, Any]) -> None:
    """`Entity.schema.json` for an entity that already passed `check_envelope`."""
    _check_no_additional(entity, _ENTITY_PROPERTIES, "")
    check_metadata(entity["metadata"])
    if "spec" in entity and not is_object(entity["spec"]):
        type_violation("/spec", "object")
    if "relations" in entity:
        _check_relations(entity["relations"])
    if "status" in entity:
        _check_status(entity["status"])


def check_metadata(metadata: Mapping[str, Any]) -> None:
    """`EntityMeta.schema.json` (the envelope already made it an object with a name)."""
    for field in _META_STRING_FIELDS:
        value = metadata.get(field)
        if value is None and field not in metadata:
            continue
        if not isinstance(value, str) or not value:
            check_nonempty_string(value, f"/metadata/{field}")
    if "description" in metadata:
        check_string(metadata["description"], "/metadata/description")
    if "labels" in metadata:
        _check_string_map(metadata["labels"], "/metadata/labels")
    if "annotations" in metadata:
        _check_string_map(metadata["annotations"], "/metadata/annotations")
    if "tags" in metadata:
        tags = metadata["tags"]
        if not is_array(tags):
            type_violation("/metadata/tags", "array")
        for index, tag in enumerate(tags):
            if not isinstance(tag, str) or not tag:
                check_nonempty_string(tag, f"/metadata/tags/{index}")
    if "links" in metadata:
        links = metadata["links"]
        if not is_array(links):
            type_violation("/metadata/links", "array")
        for index, link in enumerate(links):
            if not _is_valid_link(link):
                _check_link(link, f"/metadata/links/{index}")


def _check_string_map(value: Any, path: str) -> None:
    """`{"type": "object", "patternProperties": {"^.+$": {"type": "string"}}}`."""
    if not is_object(value):
        type_violation(path, "object")
    if all(isinstance(item, str) for item in value.values()):
        return
    for key in js_key_order(value):
        # Keys the pattern does not match (empty, or holding a line terminator) are unconstrained.
        if not isinstance(value[key], str) and _matches_any_char_pattern(key):
            type_violation(path + pointer(key), "string")


def _matches_any_char_pattern(key: str) -> bool:
    """`/^.+$/u.test(key)`."""
    return bool(key) and not any(terminator in key for terminator in _LINE_TERMINATORS)


def _check_no_additional(value: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
    """`"additionalProperties": false`: ajv reports the first unknown key in JavaScript key order."""
    if allowed.issuperset(value):
        return
    for key in js_key_order(value):
        if key not in allowed:
            additional_property_violation(path, key)


def _is_valid_link(link: Any) -> bool:
    """The fast yes/no version of `_check_link`, which only runs to word the error."""
    if type(link) is not dict:
        return False
    for field in _LINK_FIELDS:
        value = link.get(field)
        if value is None:
            if field == "url" or field in link:
                return False
        elif type(value) is not str or not value:
            return False
    return True


def _check_link(link: Any, path: str) -> None:
    if not is_object(link):
        type_violation(path, "object")
    if "url" not in link:
        required_violation(path, "url")
    for field in _LINK_FIELDS:
        if field in link:
            check_nonempty_string(link[field], f"{path}/{field}")


def _check_relations(relations: Any) -> None:
    if not is_array(relations):
        type_violation("/relations", "array")
    for index, relation in enumerate(relations):
        path = f"/relations/{index}"
        if not is_object(relation):
            type_violation(path, "object")
        for prop in ("type", "targetRef"):
            if prop not in relation:
                required_violation(path, prop)
        _check_no_additional(relation, _RELATION_PROPERTIES, path)
        relation_type = relation["type"]
        check_nonempty_string(relation_type, f"{path}/type")
        if not all(char in _WORD_CHARS for char in relation_type):
            raise Violation(
                f"{path}/type",
                f'must match pattern "{_RELATION_TYPE_PATTERN}"',
                f"pattern: {_RELATION_TYPE_PATTERN}",
            )
        if "target" in relation:
            _check_reference(relation["target"], f"{path}/target")
        check_nonempty_string(relation["targetRef"], f"{path}/targetRef")


def _check_reference(reference: Any, path: str) -> None:
    if not is_object(reference):
        type_violation(path, "object")
    for prop in _REFERENCE_FIELDS:
        if prop not in reference:
            required_violation(path, prop)
    _check_no_additional(reference, _REFERENCE_FIELD_SET, path)
    for prop in _REFERENCE_FIELDS:
        check_nonempty_string(reference[prop], f"{path}/{prop}")


def _check_status(status: Any) -> None:
    if not is_object(status):
        type_violation("/status", "object")
    if "items" not in status:
        return
    items = status["items"]
    if not is_array(items):
        type_violation("/status/items", "array")
    for index, item in enumerate(items):
        path = f"/status/items/{index}"
        if not is_object(item):
            type_violation(path, "object")
        for prop in ("type", "level", "message"):
            if prop not in item:
                required_violation(path, prop)
        check_nonempty_string(item["type"], f"{path}/type")
        level = item["level"]
        check_string(level, f"{path}/level")
        if level not in _STATUS_LEVELS:
            enum_violation(f"{path}/level", _STATUS_LEVELS)
        check_string(item["message"], f"{path}/message")
        if "error" in item:
            _check_serialized_error(item["error"], f"{path}/error")


def _check_serialized_error(error: Any, path: str) -> None:
    if not is_object(error):
        type_violation(path, "object")
    for prop in ("name", "message"):
        if prop not in error:
            required_violation(path, prop)
    check_nonempty_string(error["name"], f"{path}/name")
    check_string(error["message"], f"{path}/message")
    for prop in ("code", "stack"):
        if prop in error:
            check_string(error[prop], f"{path}/{prop}")
