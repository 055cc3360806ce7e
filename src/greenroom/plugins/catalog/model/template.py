"""The `spec` of a `scaffolder.backstage.io/v1beta3` Template (`Template.v1beta3.schema.json`).

Hand-written from `@backstage/plugin-scaffolder-common` 2.4.0; every check raises `Violation` at the
first error in ajv's order. Two orderings are easy to get wrong and are deliberate here:
`spec.output` checks its free-form string entries (`additionalProperties`) before `links`/`text`
(`properties`), and `spec.parameters` is a `oneOf` whose first error is always the object branch's,
so an invalid array of forms is reported as "must be object".
"""

from __future__ import annotations

from typing import Any

from greenroom.plugins.catalog.model.jsvalues import js_key_order
from greenroom.plugins.catalog.model.violation import (
    Violation,
    check_nonempty_string,
    check_object,
    check_string,
    check_string_or_boolean,
    is_array,
    is_object,
    pointer,
    required_violation,
    type_violation,
)

_TEMPLATE_REQUIRED = ("type", "steps")
_OUTPUT_PROPERTIES = frozenset({"links", "text"})
_BUTTON_LABELS = ("backButtonText", "createButtonText", "reviewButtonText")
_PERMISSIONS = "backstage:permissions"


def check_template_spec(spec: Any) -> None:
    if not is_object(spec):
        type_violation("/spec", "object")
    for prop in _TEMPLATE_REQUIRED:
        if prop not in spec:
            required_violation("/spec", prop)
    for prop in ("type", "owner", "lifecycle"):
        if prop in spec:
            check_nonempty_string(spec[prop], f"/spec/{prop}")
    if "parameters" in spec:
        _check_parameters(spec["parameters"])
    if "secrets" in spec:
        secrets = spec["secrets"]
        check_object(secrets, "/spec/secrets")
        if "schema" in secrets:
            check_object(secrets["schema"], "/spec/secrets/schema")
    if "presentation" in spec:
        _check_presentation(spec["presentation"])
    if "EXPERIMENTAL_recovery" in spec:
        recovery = spec["EXPERIMENTAL_recovery"]
        check_object(recovery, "/spec/EXPERIMENTAL_recovery")
        if "EXPERIMENTAL_strategy" in recovery:
            check_string(recovery["EXPERIMENTAL_strategy"], "/spec/EXPERIMENTAL_recovery/EXPERIMENTAL_strategy")
    for prop in ("formDecorators", "EXPERIMENTAL_formDecorators"):
        if prop in spec:
            _check_form_decorators(spec[prop], f"/spec/{prop}")
    _check_steps(spec["steps"])
    if "output" in spec:
        _check_output(spec["output"])


def _check_permissions(value: Any, path: str) -> None:
    check_object(value, path)
    if "tags" in value:
        tags = value["tags"]
        if not is_array(tags):
            type_violation(f"{path}/tags", "array")
        for index, tag in enumerate(tags):
            check_string(tag, f"{path}/tags/{index}")


def _check_parameters(parameters: Any) -> None:
    path = "/spec/parameters"
    if is_object(parameters):
        if _PERMISSIONS in parameters:
            _check_permissions(parameters[_PERMISSIONS], f"{path}/{_PERMISSIONS}")
        return
    if is_array(parameters):
        try:
            for index, form in enumerate(parameters):
                form_path = f"{path}/{index}"
                check_object(form, form_path)
                if "when" in form:
                    check_string_or_boolean(form["when"], f"{form_path}/when")
                if _PERMISSIONS in form:
                    _check_permissions(form[_PERMISSIONS], f"{form_path}/{_PERMISSIONS}")
        except Violation:
            # Both oneOf branches failed; ajv lists the object branch's errors first.
            type_violation(path, "object")
        return
    type_violation(path, "object")


def _check_presentation(presentation: Any) -> None:
    check_object(presentation, "/spec/presentation")
    if "buttonLabels" in presentation:
        labels = presentation["buttonLabels"]
        check_object(labels, "/spec/presentation/buttonLabels")
        for prop in _BUTTON_LABELS:
            if prop in labels:
                check_string(labels[prop], f"/spec/presentation/buttonLabels/{prop}")


def _check_form_decorators(decorators: Any, path: str) -> None:
    if not is_array(decorators):
        type_violation(path, "array")
    for index, decorator in enumerate(decorators):
        item_path = f"{path}/{index}"
        check_object(decorator, item_path)
        if "id" in decorator:
            check_string(decorator["id"], f"{item_path}/id")
        if "input" in decorator:
            check_object(decorator["input"], f"{item_path}/input")


def _check_steps(steps: Any) -> None:
    if not is_array(steps):
        type_violation("/spec/steps", "array")
    for index, step in enumerate(steps):
        path = f"/spec/steps/{index}"
        check_object(step, path)
        if "action" not in step:
            required_violation(path, "action")
        for prop in ("id", "name", "action"):
            if prop in step:
                check_string(step[prop], f"{path}/{prop}")
        if "input" in step:
            check_object(step["input"], f"{path}/input")
        if "if" in step:
            check_string_or_boolean(step["if"], f"{path}/if")
        if _PERMISSIONS in step:
            _check_permissions(step[_PERMISSIONS], f"{path}/{_PERMISSIONS}")


def _check_output(output: Any) -> None:
    path = "/spec/output"
    check_object(output, path)
    for key in js_key_order(output):
        if key not in _OUTPUT_PROPERTIES:
            check_string(output[key], path + pointer(key))
    if "links" in output:
        _check_output_items(output["links"], f"{path}/links", _LINK_FIELDS)
    if "text" in output:
        _check_output_items(output["text"], f"{path}/text", _TEXT_FIELDS)


# (property, whether it must be a non-empty string rather than any string), in schema order; every
# item may also have an `if` (string or boolean) first.
_LINK_FIELDS = (("url", True), ("entityRef", True), ("title", True), ("icon", True))
_TEXT_FIELDS = (("title", True), ("icon", True), ("content", False))


def _check_output_items(items: Any, path: str, fields: tuple[tuple[str, bool], ...]) -> None:
    if not is_array(items):
        type_violation(path, "array")
    for index, item in enumerate(items):
        item_path = f"{path}/{index}"
        check_object(item, item_path)
        if "if" in item:
            check_string_or_boolean(item["if"], f"{item_path}/if")
        for prop, nonempty in fields:
            if prop in item:
                if nonempty:
                    check_nonempty_string(item[prop], f"{item_path}/{prop}")
                else:
                    check_string(item[prop], f"{item_path}/{prop}")
