"""`FieldFormatEntityPolicy` with the default validators of `makeValidator()` (catalog-model 1.10.3).

The formats are Kubernetes-like: names are `[a-zA-Z0-9]` runs separated by `-_.` (at most 63
characters), namespaces are DNS labels, label and annotation keys are `[<dns subdomain>/]<name>`,
tags are lowercase `[a-z0-9:+#]` runs separated by single dashes, link URLs must parse as WHATWG
URLs. Messages are Backstage's, including its quirks: the tag message does not mention `:` although
`:` is allowed, and a label's key and value are both reported as `labels.<key>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from greenroom.plugins.catalog.model.jsvalues import js_key_order, js_string, js_trim
from greenroom.plugins.catalog.model.urls import is_valid_url

_LEARN_MORE = (
    "To learn more about catalog file format, visit: "
    "https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/"
    "adr002-default-catalog-file-format.md"
)

# `fullmatch` because JavaScript's `$` (without the `m` flag) does not match before a final "\n".
_OBJECT_NAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_LABEL = re.compile(r"[a-z0-9]+(?:-+[a-z0-9]+)*")
_TAG = re.compile(r"[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*")
_KIND = re.compile(r"[a-zA-Z][a-z0-9A-Z]*")
_API_VERSION_SUFFIX = re.compile(r"[a-z0-9A-Z]+")


_MEMO_LIMIT = 50_000


def _memoized(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """Remember the verdict for strings: kinds, namespaces, keys and tags repeat across a catalog.

    The memo is a plain dict emptied when full, which is cheaper per call than `lru_cache`.
    """
    memo: dict[str, bool] = {}

    def memoized(value: Any) -> bool:
        if type(value) is not str:
            return check(value)
        verdict = memo.get(value)
        if verdict is None:
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            verdict = memo[value] = check(value)
        return verdict

    memoized.__name__ = check.__name__
    memoized.__doc__ = check.__doc__
    return memoized


class FieldFormatError(Exception):
    """Carries the message `FieldFormatEntityPolicy` throws (a plain JavaScript `Error`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_valid_object_name(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _OBJECT_NAME.fullmatch(value) is not None


def is_valid_dns_label(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def is_valid_dns_subdomain(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 253
        and all(is_valid_dns_label(label) for label in value.split("."))
    )


def is_valid_entity_name(value: Any) -> bool:
    return is_valid_object_name(value)


@_memoized
def is_valid_namespace(value: Any) -> bool:
    return is_valid_dns_label(value)


@_memoized
def is_valid_kind(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _KIND.fullmatch(value) is not None


@_memoized
def is_valid_api_version(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    prefix, slash, suffix = value.partition("/")
    if not slash:
        return len(value) <= 63 and _API_VERSION_SUFFIX.fullmatch(value) is not None
    if "/" in suffix:
        return False
    return is_valid_dns_subdomain(prefix) and len(suffix) <= 63 and _API_VERSION_SUFFIX.fullmatch(suffix) is not None


def _is_valid_prefixed_name(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    prefix, slash, suffix = value.partition("/")
    if not slash:
        return is_valid_object_name(value)
    if "/" in suffix:
        return False
    return is_valid_dns_subdomain(prefix) and is_valid_object_name(suffix)


@_memoized
def is_valid_label_key(value: Any) -> bool:
    return _is_valid_prefixed_name(value)


@_memoized
def is_valid_label_value(value: Any) -> bool:
    return value == "" or is_valid_object_name(value)


@_memoized
def is_valid_annotation_key(value: Any) -> bool:
    return _is_valid_prefixed_name(value)


def is_valid_annotation_value(value: Any) -> bool:
    return isinstance(value, str)


@_memoized
def is_valid_tag(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and _TAG.fullmatch(value) is not None


def is_non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and js_trim(value) != ""


_NAME_EXPECTATION = (
    "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"
)
_PREFIX_EXPECTATION = "a valid prefix and/or suffix"
_EXPECTATIONS: dict[Callable[[Any], bool], str] = {
    is_valid_api_version: _PREFIX_EXPECTATION,
    is_valid_kind: "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total",
    is_valid_entity_name: _NAME_EXPECTATION,
    is_valid_namespace: ("a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total"),
    is_valid_label_key: _PREFIX_EXPECTATION,
    is_valid_label_value: _NAME_EXPECTATION,
    is_valid_annotation_key: _PREFIX_EXPECTATION,
    is_valid_annotation_value: "a string",
    is_valid_tag: "a string that is sequences of [a-z0-9+#] separated by [-], at most 63 characters in total",
    is_valid_url: "a string that is a valid url",
    is_non_empty_string: "a non empty string",
}


def _require(field: str, value: Any, validator: Callable[[Any], bool]) -> None:
    if value is None:
        raise FieldFormatError(f"{field} must have a value")
    if not validator(value):
        expectation = _EXPECTATIONS[validator]
        raise FieldFormatError(
            f'"{field}" is not valid; expected {expectation} but found "{js_string(value)}". {_LEARN_MORE}'
        )


def check_field_formats(entity: Mapping[str, Any]) -> None:
    """Raise `FieldFormatError` for the first field Backstage's policy would refuse, in its order."""
    # Each check is tried directly first; `_require` only runs to word the failure.
    api_version = entity.get("apiVersion")
    if not is_valid_api_version(api_version):
        _require("apiVersion", api_version, is_valid_api_version)
    kind = entity.get("kind")
    if not is_valid_kind(kind):
        _require("kind", kind, is_valid_kind)
    metadata = entity["metadata"]
    name = metadata.get("name")
    if not is_valid_entity_name(name):
        _require("metadata.name", name, is_valid_entity_name)
    if "namespace" in metadata and not is_valid_namespace(metadata["namespace"]):
        _require("metadata.namespace", metadata["namespace"], is_valid_namespace)
    labels = metadata.get("labels")
    if labels:
        _check_pairs("labels", labels, is_valid_label_key, is_valid_label_value)
    annotations = metadata.get("annotations")
    if annotations:
        _check_pairs("annotations", annotations, is_valid_annotation_key, is_valid_annotation_value)
    tags = metadata.get("tags")
    if tags:
        for index, tag in enumerate(tags):
            if not is_valid_tag(tag):
                _require(f"tags.{index}", tag, is_valid_tag)
    links = metadata.get("links")
    if links:
        for index, link in enumerate(links):
            if not _is_valid_link(link):
                _check_link(index, link)


def _check_pairs(
    prefix: str,
    pairs: Mapping[str, Any],
    key_validator: Callable[[Any], bool],
    value_validator: Callable[[Any], bool],
) -> None:
    for key, value in pairs.items():
        if not key_validator(key) or not value_validator(value):
            break
    else:
        return
    # Something fails; report the first failure in the order JavaScript enumerates the entries.
    for key in js_key_order(pairs):
        _require(f"{prefix}.{key}", key, key_validator)
        _require(f"{prefix}.{key}", pairs[key], value_validator)


def _is_valid_link(link: Any) -> bool:
    if not isinstance(link, Mapping) or not is_valid_url(link.get("url")):
        return False
    title = link.get("title", "x")
    icon = link.get("icon", "x")
    return is_non_empty_string(title) and is_non_empty_string(icon)


def _check_link(index: int, link: Any) -> None:
    fields = link if isinstance(link, Mapping) else {}
    _require(f"links.{index}.url", fields.get("url"), is_valid_url)
    if "title" in fields:
        _require(f"links.{index}.title", fields["title"], is_non_empty_string)
    if "icon" in fields:
        _require(f"links.{index}.icon", fields["icon"], is_non_empty_string)
