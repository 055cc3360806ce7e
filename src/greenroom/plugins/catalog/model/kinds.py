"""The kinds the catalog accepts and their `spec` schemas.

Backstage's catalog backend (4.0.5) accepts an entity when a processor's `validateEntityKind`
recognises it: `BuiltinKindsEntityProcessor` checks API, Component, Resource, Group, Location, User,
System and Domain (`backstage.io/v1alpha1` or `v1beta1`, schemas in
`catalog-model/src/schema/kinds/*.v1alpha1.schema.json`), and the scaffolder module's
`ScaffolderEntitiesProcessor` checks Template (`scaffolder.backstage.io/v1beta3`, schema in
`plugin-scaffolder-common`). Each kind schema is `allOf: [Entity, {required: [spec], properties:
{apiVersion: {enum}, kind: {enum}, spec: {...}}}]`; an entity whose kind or apiVersion is not in an
enum is "not recognised" rather than invalid. Kinds are matched case-sensitively.

Catalog-model 1.10.3 also defines `AiResource` and an `mcp-server` API variant, but only for the
new model-layer processor, which a default backend does not run: there an `AiResource` is unknown
and an `mcp-server` API still needs `spec.definition`. This module follows the default backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from greenroom.plugins.catalog.model.template import check_template_spec
from greenroom.plugins.catalog.model.violation import (
    check_nonempty_string,
    check_nonempty_string_array,
    enum_violation,
    is_object,
    required_violation,
    type_violation,
)

BUILTIN_PROCESSOR = "BuiltinKindsEntityProcessor"
SCAFFOLDER_PROCESSOR = "ScaffolderEntitiesProcessor"

_STRING = "string"
_STRING_ARRAY = "string[]"
_PROFILE = "profile"
_PRESENCE = "presence"

_PRESENCE_VALUES = ("required", "optional")
_PROFILE_FIELDS = ("displayName", "email", "picture")

SpecSchema = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]

# (required properties, (property, shape) in schema order) for each kind's `spec`.
_SPEC_SCHEMAS: Final[dict[str, SpecSchema]] = {
    "API": (
        ("type", "lifecycle", "owner", "definition"),
        (
            ("type", _STRING),
            ("lifecycle", _STRING),
            ("owner", _STRING),
            ("system", _STRING),
            ("definition", _STRING),
        ),
    ),
    "Component": (
        ("type", "lifecycle", "owner"),
        (
            ("type", _STRING),
            ("lifecycle", _STRING),
            ("owner", _STRING),
            ("system", _STRING),
            ("subcomponentOf", _STRING),
            ("providesApis", _STRING_ARRAY),
            ("consumesApis", _STRING_ARRAY),
            ("dependsOn", _STRING_ARRAY),
        ),
    ),
    "Resource": (
        ("type", "owner"),
        (("type", _STRING), ("owner", _STRING), ("dependsOn", _STRING_ARRAY), ("system", _STRING)),
    ),
    "Group": (
        ("type", "children"),
        (
            ("type", _STRING),
            ("profile", _PROFILE),
            ("parent", _STRING),
            ("children", _STRING_ARRAY),
            ("members", _STRING_ARRAY),
        ),
    ),
    "Location": (
        (),
        (("type", _STRING), ("target", _STRING), ("targets", _STRING_ARRAY), ("presence", _PRESENCE)),
    ),
    "User": (
        ("memberOf",),
        (("profile", _PROFILE), ("memberOf", _STRING_ARRAY)),
    ),
    "System": (
        ("owner",),
        (("owner", _STRING), ("domain", _STRING), ("type", _STRING)),
    ),
    "Domain": (
        ("owner",),
        (("owner", _STRING), ("subdomainOf", _STRING), ("type", _STRING)),
    ),
}

_BACKSTAGE_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
TEMPLATE_API_VERSION = "scaffolder.backstage.io/v1beta3"

KNOWN_KINDS: Final[frozenset[str]] = frozenset({*_SPEC_SCHEMAS, "Template"})
"""Every kind some processor of a default Backstage catalog (with the scaffolder module) accepts."""

KNOWN_API_VERSIONS: Final[Mapping[str, tuple[str, ...]]] = {
    **dict.fromkeys(_SPEC_SCHEMAS, _BACKSTAGE_VERSIONS),
    "Template": (TEMPLATE_API_VERSION,),
}


def _check_builtin_spec(schema: SpecSchema) -> Callable[[Any], None]:
    required, properties = schema

    def check(spec: Any) -> None:
        if not is_object(spec):
            type_violation("/spec", "object")
        for prop in required:
            if prop not in spec:
                required_violation("/spec", prop)
        for prop, shape in properties:
            value = spec.get(prop)
            if value is None and prop not in spec:
                continue
            if shape == _STRING:
                if not isinstance(value, str) or not value:
                    check_nonempty_string(value, f"/spec/{prop}")
            elif shape == _STRING_ARRAY:
                check_nonempty_string_array(value, f"/spec/{prop}")
            elif shape == _PROFILE:
                _check_profile(value)
            else:
                _check_presence(value)

    return check


def _check_profile(profile: Any) -> None:
    if not is_object(profile):
        type_violation("/spec/profile", "object")
    for field in _PROFILE_FIELDS:
        if field in profile:
            check_nonempty_string(profile[field], f"/spec/profile/{field}")


def _check_presence(presence: Any) -> None:
    # No string keywords besides the type, so ajv checks the type before the (untyped) enum.
    if not isinstance(presence, str):
        type_violation("/spec/presence", "string")
    if presence not in _PRESENCE_VALUES:
        enum_violation("/spec/presence", _PRESENCE_VALUES)


class KindValidator:
    """The spec check for one recognised (kind, apiVersion) and the processor that runs it."""

    __slots__ = ("check_spec", "processor")

    def __init__(self, processor: str, check_spec: Callable[[Any], None]) -> None:
        self.processor = processor
        self.check_spec = check_spec


_VALIDATORS: Final[dict[tuple[str, str], KindValidator]] = {
    **{
        (kind, version): KindValidator(BUILTIN_PROCESSOR, _check_builtin_spec(schema))
        for kind, schema in _SPEC_SCHEMAS.items()
        for version in _BACKSTAGE_VERSIONS
    },
    ("Template", TEMPLATE_API_VERSION): KindValidator(SCAFFOLDER_PROCESSOR, check_template_spec),
}


def kind_validator(kind: str, api_version: str) -> KindValidator | None:
    """The validator that recognises this kind and apiVersion, or None when no processor does."""
    return _VALIDATORS.get((kind, api_version))


def check_kind(entity: Mapping[str, Any], validator: KindValidator) -> None:
    """The kind schema's own branch; the `Entity` branch of its `allOf` has already passed."""
    if "spec" not in entity:
        required_violation("", "spec")
    validator.check_spec(entity["spec"])
