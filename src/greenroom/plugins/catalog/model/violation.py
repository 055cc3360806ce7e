"""The first JSON-schema violation, worded the way Backstage's ajv setup words it.

Backstage validates with ajv 8 (`allErrors: true` for the envelope and kind schemas, the default for
`SchemaValidEntityPolicy`) and reports only the first error. ajv evaluates keywords in a fixed order
(per schema object: untyped keywords such as `enum`/`oneOf`, then the keywords of the data's type
group — for objects `required`, `additionalProperties`, `properties`, `patternProperties` — with the
type error of a single-typed schema reported in that group), so the first error is well defined.
The hand-written checkers in this package walk entities in that same order and raise `Violation` at
the first failure; nothing is allocated for the message until then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn


class Violation(Exception):
    """`path` is ajv's `instancePath` (JSON pointer, "" for the root); `params` is pre-rendered."""

    def __init__(self, path: str, message: str, params: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.params = params

    def with_params(self) -> str:
        """The text of Backstage's `throwAjvError`: `<path> <message> - <key>: <value>, ...`."""
        return f"{self.path or '<root>'} {self.message} - {self.params}"

    def without_params(self) -> str:
        """The text `SchemaValidEntityPolicy` uses: `<path> <message>`."""
        return f"{self.path or '<root>'} {self.message}"


def pointer(key: str) -> str:
    """One JSON-pointer segment, escaped as ajv escapes dynamic property names."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def type_violation(path: str, type_name: str) -> NoReturn:
    raise Violation(path, f"must be {type_name}", f"type: {type_name}")


def required_violation(path: str, prop: str) -> NoReturn:
    raise Violation(path, f"must have required property '{prop}'", f"missingProperty: {prop}")


def min_length_violation(path: str) -> NoReturn:
    raise Violation(path, "must NOT have fewer than 1 characters", "limit: 1")


def additional_property_violation(path: str, prop: str) -> NoReturn:
    raise Violation(path, "must NOT have additional properties", f"additionalProperty: {prop}")


def enum_violation(path: str, allowed: Sequence[str]) -> NoReturn:
    raise Violation(path, "must be equal to one of the allowed values", f"allowedValues: {','.join(allowed)}")


def is_object(value: Any) -> bool:
    """JSON-schema "object": a mapping (arrays and null are not objects)."""
    return type(value) is dict or isinstance(value, Mapping)


def is_array(value: Any) -> bool:
    return type(value) is list or (isinstance(value, Sequence) and not isinstance(value, str | bytes))


def check_string(value: Any, path: str) -> None:
    """`{"type": "string"}`."""
    if not isinstance(value, str):
        type_violation(path, "string")


def check_nonempty_string(value: Any, path: str) -> None:
    """`{"type": "string", "minLength": 1}`; ajv counts code points, as `len` does."""
    if not isinstance(value, str):
        type_violation(path, "string")
    if not value:
        min_length_violation(path)


def check_object(value: Any, path: str) -> None:
    """`{"type": "object"}` with no further keywords."""
    if not is_object(value):
        type_violation(path, "object")


def check_string_or_boolean(value: Any, path: str) -> None:
    """`{"type": ["string", "boolean"]}`."""
    if not isinstance(value, str | bool):
        type_violation(path, "string,boolean")


def check_nonempty_string_array(value: Any, path: str) -> None:
    """`{"type": "array", "items": {"type": "string", "minLength": 1}}`."""
    if type(value) is not list and not is_array(value):
        type_violation(path, "array")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            check_nonempty_string(item, f"{path}/{index}")
