"""Flatten a stitched entity into search rows exactly as Backstage's `buildEntitySearch` does.

Every leaf becomes a `(key, value)` row with the dotted path as key. Arrays give one row per
item under the same key; an array of strings also gives `<path>.<item> = true` rows (once per
path, case-insensitively), so `metadata.tags.java` can be filtered on. `attachments`,
`relations`, `status`, `metadata.name/namespace/uid/etag` are not traversed; name, namespace
and uid are appended explicitly and each relation adds `relations.<type> = <targetRef>`.
Keys are lowercased; keys over 200 characters are dropped; a value over 200 characters (or a
null) is stored as null, so the key still exists for `filter=key` and facets skip it. Rows
are de-duplicated on (key, value), keeping the first original value, which is stored only
when it differs from the lowercased value (facets read `COALESCE(original_value, value)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenroom.errors import InputError
from greenroom.plugins.catalog.model.jsvalues import js_string

MAX_KEY_LENGTH = 200
MAX_VALUE_LENGTH = 200
SKIPPED_PATHS = frozenset(
    {"attachments", "relations", "status", "metadata.name", "metadata.namespace", "metadata.uid", "metadata.etag"}
)

SearchRow = tuple[int, str, str | None, str | None]  # entity_pk, key, value, original_value (when it differs)


def _visit(path: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if path in SKIPPED_PATHS:
        return
    if value is None or isinstance(value, str | int | float | bool):
        out.append((path, value))
    elif isinstance(value, list):
        seen: set[str] = set()
        for item in value:
            _visit(path, item, out)
            if isinstance(item, str):
                lowered = item.lower()
                if lowered not in seen:
                    seen.add(lowered)
                    out.append((f"{path}.{item}", True))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _visit(f"{path}.{key}" if path else key, item, out)


def flatten(entity: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The raw (path, value) pairs, before lowercasing and limits."""
    pairs: list[tuple[str, Any]] = []
    _visit("", entity, pairs)
    metadata = entity.get("metadata") or {}
    pairs.append(("metadata.name", metadata.get("name")))
    pairs.append(("metadata.namespace", metadata.get("namespace")))
    pairs.append(("metadata.uid", metadata.get("uid")))
    if not metadata.get("namespace"):
        pairs.append(("metadata.namespace", "default"))
    for relation in entity.get("relations") or ():
        pairs.append((f"relations.{relation['type']}", relation["targetRef"]))
    return pairs


def check_key_casing(entity: Mapping[str, Any]) -> None:
    """Refuse entities with keys that differ only in case (Backstage fails them at stitch time).

    Only key paths can collide (values never add to a path), so this walks containers only.
    `<path>.<item>` rows of string arrays and the relation rows cannot collide with keys of a
    valid entity, so they are left out.
    """
    # name, namespace and uid are always added as keys, whatever the entity holds
    seen: dict[str, str] = {k: k for k in ("metadata.name", "metadata.namespace", "metadata.uid")}

    def leaf(path: str) -> None:
        first = seen.setdefault(path.lower(), path)
        if first != path:
            raise InputError(f"Entity has duplicate keys that vary only in casing, '{first}'")

    def walk(path: str, value: Any) -> None:
        if type(value) is dict:
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                if child in SKIPPED_PATHS:
                    continue
                if type(item) is dict or type(item) is list:
                    walk(child, item)
                else:
                    leaf(child)
        elif type(value) is list:
            for item in value:
                if type(item) is dict or type(item) is list:
                    walk(path, item)
                else:
                    leaf(path)

    walk("", entity)


def search_rows_reference(entity_pk: int, entity: Mapping[str, Any]) -> list[SearchRow]:
    """The rows, computed the obvious way from `flatten` (the specification `search_rows` meets)."""
    rows: list[SearchRow] = []
    seen: set[tuple[str, str | None]] = set()
    for raw_key, raw_value in flatten(entity):
        key = raw_key.lower()
        if len(key) > MAX_KEY_LENGTH:
            continue
        original: str | None
        if raw_value is None:
            value = original = None
        else:
            original = raw_value if type(raw_value) is str else js_string(raw_value)
            value = original.lower()
            if len(value) > MAX_VALUE_LENGTH:
                value = original = None
        marker = (key, value)
        if marker in seen:
            continue
        seen.add(marker)
        rows.append((entity_pk, key, value, None if original == value else original))
    return rows


class _Rows:
    """Accumulates one entity's rows; the hot loop of ingestion, so written for speed."""

    __slots__ = ("out", "pk", "seen")

    def __init__(self, pk: int) -> None:
        self.pk = pk
        self.out: list[SearchRow] = []
        self.seen: set[tuple[str, str | None]] = set()

    def add(self, key: str, raw: Any) -> None:
        if len(key) > MAX_KEY_LENGTH:
            return
        if raw is None:
            value = original = None
        else:
            original = raw if type(raw) is str else js_string(raw)
            value = original.lower()
            if len(value) > MAX_VALUE_LENGTH:
                value = original = None
        marker = (key, value)
        if marker in self.seen:
            return
        self.seen.add(marker)
        self.out.append((self.pk, key, value, None if original == value else original))

    def visit(self, path: str, key: str, value: Any) -> None:
        """`path` as written (for `<path>.<item>` rows), `key` its lowercased form."""
        if type(value) is dict:
            for child, item in value.items():
                child_path = f"{path}.{child}" if path else child
                if child_path in SKIPPED_PATHS:
                    continue
                child_key = child_path.lower()
                kind = type(item)
                if kind is str or item is None or kind is bool or kind is int or kind is float:
                    self.add(child_key, item)
                else:
                    self.visit(child_path, child_key, item)
        elif type(value) is list:
            strings: set[str] = set()
            for item in value:
                kind = type(item)
                if kind is str:
                    self.add(key, item)
                    lowered = item.lower()
                    if lowered not in strings:
                        strings.add(lowered)
                        self.add(f"{path}.{item}".lower(), True)
                elif item is None or kind is bool or kind is int or kind is float:
                    self.add(key, item)
                else:
                    self.visit(path, key, item)
        elif isinstance(value, Mapping | list):
            self.visit(path, key, dict(value) if isinstance(value, Mapping) else list(value))
        else:
            self.add(key, value)


def search_rows(entity_pk: int, entity: Mapping[str, Any]) -> list[SearchRow]:
    """The search rows of a stitched entity; equal to `search_rows_reference`, faster."""
    rows = _Rows(entity_pk)
    rows.visit("", "", entity)
    metadata = entity.get("metadata") or {}
    rows.add("metadata.name", metadata.get("name"))
    rows.add("metadata.namespace", metadata.get("namespace"))
    rows.add("metadata.uid", metadata.get("uid"))
    if not metadata.get("namespace"):
        rows.add("metadata.namespace", "default")
    for relation in entity.get("relations") or ():
        rows.add(f"relations.{relation['type']}".lower(), relation["targetRef"])
    return rows.out
