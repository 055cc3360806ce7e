"""Validate one entity the way Backstage's catalog backend does, and normalise it the same way.

The stages and their messages follow `DefaultCatalogProcessingOrchestrator.processSingleEntity`
(`@backstage/plugin-catalog-backend` 4.0.5) with the default `CatalogBuilder` policies:

1. `EntityEnvelope` schema: "Entity envelope failed validation before processing; caused by
   TypeError: <ajv error with params>".
2. Pre-processing: `BuiltinKindsEntityProcessor` sorts the string arrays of `spec.providesApis`,
   `consumesApis`, `dependsOn`, `dependencyOf`, `memberOf`, `children` and `members` (any kind).
3. Policies, in order: `SchemaValidEntityPolicy` (the `Entity` schema), `DefaultNamespaceEntityPolicy`,
   `NoForeignRootFieldsEntityPolicy`, `FieldFormatEntityPolicy`: "Policy check failed for <ref>;
   caused by Error: <policy message>".
4. Kind validation by the processor that recognises the kind and apiVersion: "Processor <name> threw
   an error while validating the entity <ref>; caused by TypeError: <ajv error with params>", or
   "No processor recognized the entity <ref> as valid, possibly caused by a foreign kind or
   apiVersion" when none does.

Placeholder substitution (`$text`, `$json`, `$yaml`), location annotations and reading `Location`
targets need the outside world and belong to the ingestion pipeline, which runs before/after this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenroom.errors import InputError
from greenroom.plugins.catalog.model.entity_schema import check_entity, check_envelope
from greenroom.plugins.catalog.model.field_format import FieldFormatError, check_field_formats
from greenroom.plugins.catalog.model.jsvalues import js_key_order, js_sort_key
from greenroom.plugins.catalog.model.kinds import KNOWN_KINDS, check_kind, kind_validator
from greenroom.plugins.catalog.model.refs import DEFAULT_NAMESPACE, entity_ref_of
from greenroom.plugins.catalog.model.violation import Violation

__all__ = ["KNOWN_KINDS", "EntityValidationError", "validate_entity"]

_SORTED_SPEC_FIELDS = (
    "providesApis",
    "consumesApis",
    "dependsOn",
    "dependencyOf",
    "memberOf",
    "children",
    "members",
)
_KNOWN_ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec"})


class EntityValidationError(InputError):
    """An entity Backstage would refuse, with Backstage's (`InputError`) message.

    `message` is the full text Backstage reports (`<what failed>; caused by <Name>: <detail>`);
    `cause_name`/`cause_message` are the wrapped JavaScript error, for serialising it the way
    Backstage's `serializeError` does. `stage` says which step refused: "envelope", "policy",
    "kind" or "relations".
    """

    def __init__(
        self,
        summary: str,
        *,
        stage: str,
        cause_name: str | None = None,
        cause_message: str | None = None,
    ) -> None:
        message = summary if cause_name is None else f"{summary}; caused by {cause_name}: {cause_message}"
        super().__init__(message)
        self.summary = summary
        self.stage = stage
        self.cause_name = cause_name
        self.cause_message = cause_message


def validate_entity(entity: Mapping[str, Any]) -> dict[str, Any]:
    """Return the entity as Backstage would store it, or raise `EntityValidationError`.

    The input is not modified. The result is a new top-level dict; nested containers are new only
    where they changed (`metadata` when its namespace is defaulted, `spec` when an array is sorted)
    and shared with the input otherwise, so copying stays cheap at 100k entities.
    """
    try:
        check_envelope(entity)
    except Violation as violation:
        raise EntityValidationError(
            "Entity envelope failed validation before processing",
            stage="envelope",
            cause_name="TypeError",
            cause_message=violation.with_params(),
        ) from None
    entity_ref = entity_ref_of(entity)
    result = _with_sorted_spec_arrays(entity)

    try:
        check_entity(result)
    except Violation as violation:
        raise _policy_error(entity_ref, f"Malformed envelope, {violation.without_params()}") from None
    metadata = result["metadata"]
    if not metadata.get("namespace"):
        # DefaultNamespaceEntityPolicy merges the entity into {metadata: {namespace}}, which puts
        # `metadata` first and `namespace` first within it; keep that order for identical output.
        reordered: dict[str, Any] = {"metadata": None}
        reordered.update(result)
        reordered["metadata"] = {"namespace": DEFAULT_NAMESPACE, **metadata}
        result = reordered
    if not _KNOWN_ROOT_FIELDS.issuperset(result):
        unknown = next(key for key in js_key_order(result) if key not in _KNOWN_ROOT_FIELDS)
        raise _policy_error(entity_ref, f"Unknown field {unknown}")
    try:
        check_field_formats(result)
    except FieldFormatError as error:
        raise _policy_error(entity_ref, error.message) from None

    validator = kind_validator(result["kind"], result["apiVersion"])
    if validator is None:
        raise EntityValidationError(
            f"No processor recognized the entity {entity_ref} as valid, "
            "possibly caused by a foreign kind or apiVersion",
            stage="kind",
        )
    try:
        check_kind(result, validator)
    except Violation as violation:
        raise EntityValidationError(
            f"Processor {validator.processor} threw an error while validating the entity {entity_ref}",
            stage="kind",
            cause_name="TypeError",
            cause_message=violation.with_params(),
        ) from None
    return result


def _policy_error(entity_ref: str, message: str) -> EntityValidationError:
    return EntityValidationError(
        f"Policy check failed for {entity_ref}", stage="policy", cause_name="Error", cause_message=message
    )


def _with_sorted_spec_arrays(entity: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy with BuiltinKindsEntityProcessor's pre-processing sort applied.

    Only arrays made entirely of strings are sorted, in JavaScript's default (UTF-16) order; the
    sort runs before validation, so error paths like `/spec/dependsOn/0` refer to sorted indices.
    """
    result = dict(entity)
    spec = result.get("spec")
    if type(spec) is not dict:
        return result
    new_spec: dict[str, Any] | None = None
    for field in _SORTED_SPEC_FIELDS:
        values = spec.get(field)
        if not values or type(values) is not list or len(values) < 2:
            continue
        if not all(isinstance(value, str) for value in values):
            continue
        # Code point order equals UTF-16 order unless a string leaves the Basic Multilingual Plane.
        ascii_only = all(value.isascii() for value in values)
        ordered = sorted(values) if ascii_only else sorted(values, key=js_sort_key)
        if ordered != values:
            if new_spec is None:
                new_spec = dict(spec)
            new_spec[field] = ordered
    if new_spec is not None:
        result["spec"] = new_spec
    return result
