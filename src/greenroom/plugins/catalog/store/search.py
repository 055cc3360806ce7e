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


_SCALARS = (str, int, float, bool)


def _scalar_row(pk: int, key: str, raw: Any) -> tuple[tuple[str, str | None], SearchRow]:
    if raw is None:
        return (key, None), (pk, key, None, None)
    original = raw if type(raw) is str else js_string(raw)
    value = original.lower()
    if len(value) > MAX_VALUE_LENGTH:
        return (key, None), (pk, key, None, None)
    return (key, value), (pk, key, value, None if original == value else original)


def _rows_into(
    pk: int, path: str, key: str, value: Any, out: list[SearchRow], seen: set[tuple[str, str | None]]
) -> None:
    """Append the rows of `value` found at `path` (`key` is its lowercased form).

    The hot loop of ingestion: strings, the common leaf, are handled inline.
    """
    if type(value) is dict:
        for child, item in value.items():
            child_path = f"{path}.{child}" if path else child
            if child_path in SKIPPED_PATHS:
                continue
            child_key = child_path.lower()
            kind = type(item)
            if kind is str:
                if len(child_key) > MAX_KEY_LENGTH:
                    continue
                lowered = item.lower()
                if len(lowered) > MAX_VALUE_LENGTH:
                    marker: tuple[str, str | None] = (child_key, None)
                    row: SearchRow = (pk, child_key, None, None)
                else:
                    marker = (child_key, lowered)
                    row = (pk, child_key, lowered, None if lowered == item else item)
                if marker not in seen:
                    seen.add(marker)
                    out.append(row)
            elif kind is dict or kind is list:
                _rows_into(pk, child_path, child_key, item, out, seen)
            elif item is None or kind in _SCALARS:
                if len(child_key) <= MAX_KEY_LENGTH:
                    marker, row = _scalar_row(pk, child_key, item)
                    if marker not in seen:
                        seen.add(marker)
                        out.append(row)
            else:
                _rows_into(pk, child_path, child_key, item, out, seen)
    elif type(value) is list:
        strings: set[str] = set()
        for item in value:
            kind = type(item)
            if kind is dict or kind is list:
                _rows_into(pk, path, key, item, out, seen)
                continue
            if item is not None and kind not in _SCALARS:
                _rows_into(pk, path, key, item, out, seen)
                continue
            if len(key) <= MAX_KEY_LENGTH:
                marker, row = _scalar_row(pk, key, item)
                if marker not in seen:
                    seen.add(marker)
                    out.append(row)
            if kind is str:
                lowered = item.lower()
                if lowered not in strings:
                    strings.add(lowered)
                    item_key = f"{path}.{item}".lower()
                    if len(item_key) <= MAX_KEY_LENGTH and (item_key, "true") not in seen:
                        seen.add((item_key, "true"))
                        out.append((pk, item_key, "true", None))
    elif isinstance(value, Mapping):
        _rows_into(pk, path, key, dict(value), out, seen)
    elif isinstance(value, list | tuple):
        _rows_into(pk, path, key, list(value), out, seen)
    elif len(key) <= MAX_KEY_LENGTH:
        marker, row = _scalar_row(pk, key, value)
        if marker not in seen:
            seen.add(marker)
            out.append(row)


def search_rows(entity_pk: int, entity: Mapping[str, Any]) -> list[SearchRow]:
    """The search rows of a stitched entity; equal to `search_rows_reference`, faster."""
    out: list[SearchRow] = []
    seen: set[tuple[str, str | None]] = set()
    _rows_into(entity_pk, "", "", entity, out, seen)
    metadata = entity.get("metadata") or {}
    extra: list[tuple[str, Any]] = [
        ("metadata.name", metadata.get("name")),
        ("metadata.namespace", metadata.get("namespace")),
        ("metadata.uid", metadata.get("uid")),
    ]
    if not metadata.get("namespace"):
        extra.append(("metadata.namespace", "default"))
    extra.extend((f"relations.{r['type']}".lower(), r["targetRef"]) for r in entity.get("relations") or ())
    for key, raw in extra:
        if len(key) <= MAX_KEY_LENGTH:
            marker, row = _scalar_row(entity_pk, key, raw)
            if marker not in seen:
                seen.add(marker)
                out.append(row)
    return out
