"""validate_entity: every rule, in Backstage's order, with Backstage's messages.

The expected texts were taken from running Backstage's own code (see test_compat_catalog_model.py,
which checks several hundred more entities the same way).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from greenroom.errors import InputError
from greenroom.plugins.catalog.model import KNOWN_KINDS, EntityValidationError, validate_entity

LEARN_MORE = (
    "To learn more about catalog file format, visit: "
    "https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/"
    "adr002-default-catalog-file-format.md"
)
NAME_RULE = "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"
REF = "component:default/svc"


def component(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "svc"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", **spec},
    }


def with_metadata(**fields: Any) -> dict[str, Any]:
    entity = component()
    entity["metadata"].update(fields)
    return entity


def error_of(entity: Any) -> EntityValidationError:
    with pytest.raises(EntityValidationError) as caught:
        validate_entity(entity)
    return caught.value


def envelope_error(detail: str) -> str:
    return f"Entity envelope failed validation before processing; caused by TypeError: {detail}"


def policy_error(detail: str, ref: str = REF) -> str:
    return f"Policy check failed for {ref}; caused by Error: {detail}"


def format_error(field: str, expectation: str, found: str) -> str:
    return policy_error(f'"{field}" is not valid; expected {expectation} but found "{found}". {LEARN_MORE}')


def kind_error(detail: str, ref: str = REF, processor: str = "BuiltinKindsEntityProcessor") -> str:
    summary = f"Processor {processor} threw an error while validating the entity {ref}"
    return f"{summary}; caused by TypeError: {detail}"


# --- the result


def test_valid_entity_gets_default_namespace_first_and_input_is_untouched() -> None:
    entity = component(providesApis=["b-api", "a-api"])
    before = copy.deepcopy(entity)
    result = validate_entity(entity)
    assert entity == before
    assert list(result) == ["metadata", "apiVersion", "kind", "spec"]
    assert list(result["metadata"]) == ["namespace", "name"]
    assert result["metadata"]["namespace"] == "default"
    assert result["spec"]["providesApis"] == ["a-api", "b-api"]


def test_explicit_namespace_keeps_key_order() -> None:
    entity = with_metadata(namespace="ns-a")
    result = validate_entity(entity)
    assert list(result) == ["apiVersion", "kind", "metadata", "spec"]
    assert result["metadata"] == {"name": "svc", "namespace": "ns-a"}


def test_preprocessing_sorts_string_arrays_in_utf16_order() -> None:
    result = validate_entity(component(dependsOn=["component:b", "component:a"], consumesApis=["\uffff", "\U0001f600"]))
    assert result["spec"]["dependsOn"] == ["component:a", "component:b"]
    # JavaScript compares UTF-16 code units: the surrogate pair of U+1F600 sorts before U+FFFF.
    assert result["spec"]["consumesApis"] == ["\U0001f600", "\uffff"]


def test_sorting_happens_before_kind_validation() -> None:
    error = error_of(component(providesApis=["zeta", ""]))
    assert error.message == kind_error("/spec/providesApis/0 must NOT have fewer than 1 characters - limit: 1")


def test_mixed_arrays_are_not_sorted() -> None:
    error = error_of(component(consumesApis=["b", 5]))
    assert error.message == kind_error("/spec/consumesApis/1 must be string - type: string")


def test_error_attributes() -> None:
    error = error_of(component(owner=""))
    assert isinstance(error, InputError)
    assert error.name == "InputError"
    assert error.status_code == 400
    assert error.stage == "kind"
    assert error.summary == f"Processor BuiltinKindsEntityProcessor threw an error while validating the entity {REF}"
    assert error.cause_name == "TypeError"
    assert error.cause_message == "/spec/owner must NOT have fewer than 1 characters - limit: 1"


# --- 1. envelope


@pytest.mark.parametrize(
    ("entity", "detail"),
    [
        (None, "<root> must be object - type: object"),
        ([], "<root> must be object - type: object"),
        ("text", "<root> must be object - type: object"),
        ({}, "<root> must have required property 'apiVersion' - missingProperty: apiVersion"),
        (
            {"apiVersion": "x", "metadata": {}},
            "<root> must have required property 'kind' - missingProperty: kind",
        ),
        (
            {"apiVersion": 1, "kind": "K", "metadata": {"name": "a"}},
            "/apiVersion must be string - type: string",
        ),
        (
            {"apiVersion": "", "kind": "K", "metadata": {"name": "a"}},
            "/apiVersion must NOT have fewer than 1 characters - limit: 1",
        ),
        ({"apiVersion": "v", "kind": 5, "metadata": {"name": "a"}}, "/kind must be string - type: string"),
        ({"apiVersion": "v", "kind": "K", "metadata": []}, "/metadata must be object - type: object"),
        (
            {"apiVersion": "v", "kind": "K", "metadata": {}},
            "/metadata must have required property 'name' - missingProperty: name",
        ),
        (
            {"apiVersion": "v", "kind": "K", "metadata": {"name": None}},
            "/metadata/name must be string - type: string",
        ),
        (
            {"apiVersion": "v", "kind": "K", "metadata": {"name": ""}},
            "/metadata/name must NOT have fewer than 1 characters - limit: 1",
        ),
        (
            {"apiVersion": "v", "kind": "K", "metadata": {"name": "a", "namespace": ""}},
            "/metadata/namespace must NOT have fewer than 1 characters - limit: 1",
        ),
    ],
)
def test_envelope(entity: Any, detail: str) -> None:
    error = error_of(entity)
    assert error.message == envelope_error(detail)
    assert error.stage == "envelope"


# --- 2. SchemaValidEntityPolicy


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"extra": 1}, "<root> must NOT have additional properties"),
        ({"spec": "nope"}, "/spec must be object"),
        ({"relations": [{"type": "ownedBy"}]}, "/relations/0 must have required property 'targetRef'"),
        (
            {"relations": [{"type": "owned-by", "targetRef": "x"}]},
            '/relations/0/type must match pattern "^\\w+$"',
        ),
        (
            {"relations": [{"type": "x", "targetRef": "y", "z": 1}]},
            "/relations/0 must NOT have additional properties",
        ),
        (
            {"relations": [{"type": "x", "targetRef": "y", "target": {"kind": "a", "name": "b"}}]},
            "/relations/0/target must have required property 'namespace'",
        ),
        (
            {"status": {"items": [{"type": "t", "level": "bad", "message": "m"}]}},
            "/status/items/0/level must be equal to one of the allowed values",
        ),
        (
            {"status": {"items": [{"type": "t", "level": 3, "message": "m"}]}},
            "/status/items/0/level must be string",
        ),
        (
            {"status": {"items": [{"type": "t", "level": "info", "message": "m", "error": {"name": ""}}]}},
            "/status/items/0/error must have required property 'message'",
        ),
    ],
)
def test_entity_schema_root(change: dict[str, Any], detail: str) -> None:
    error = error_of({**component(), **change})
    assert error.message == policy_error(f"Malformed envelope, {detail}")
    assert error.stage == "policy"


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"title": ""}, "/metadata/title must NOT have fewer than 1 characters"),
        ({"title": 5}, "/metadata/title must be string"),
        ({"description": 5}, "/metadata/description must be string"),
        ({"uid": ""}, "/metadata/uid must NOT have fewer than 1 characters"),
        ({"etag": 5}, "/metadata/etag must be string"),
        ({"labels": ["a"]}, "/metadata/labels must be object"),
        ({"labels": {"team": 5}}, "/metadata/labels/team must be string"),
        ({"annotations": {"example.com/a": None}}, "/metadata/annotations/example.com~1a must be string"),
        ({"annotations": None}, "/metadata/annotations must be object"),
        ({"tags": "java"}, "/metadata/tags must be array"),
        ({"tags": ["ok", ""]}, "/metadata/tags/1 must NOT have fewer than 1 characters"),
        ({"tags": [5]}, "/metadata/tags/0 must be string"),
        ({"links": {"url": "x"}}, "/metadata/links must be array"),
        ({"links": ["https://example.com"]}, "/metadata/links/0 must be object"),
        ({"links": [{"title": "x"}]}, "/metadata/links/0 must have required property 'url'"),
        ({"links": [{"url": None}]}, "/metadata/links/0/url must be string"),
        (
            {"links": [{"url": "https://x.example", "title": ""}]},
            "/metadata/links/0/title must NOT have fewer than 1 characters",
        ),
        ({"links": [{"url": "https://x.example", "icon": 5}]}, "/metadata/links/0/icon must be string"),
        (
            {"links": [{"url": "https://x.example", "type": ""}]},
            "/metadata/links/0/type must NOT have fewer than 1 characters",
        ),
    ],
)
def test_entity_schema_metadata(fields: dict[str, Any], detail: str) -> None:
    assert error_of(with_metadata(**fields)).message == policy_error(f"Malformed envelope, {detail}")


def test_metadata_allows_unknown_fields_and_empty_description() -> None:
    validate_entity(with_metadata(owner="x", description="", uid="abc", etag="def", title="   "))


def test_label_keys_the_pattern_does_not_match_are_left_to_the_field_format_policy() -> None:
    # `^.+$` does not match "" or keys holding a line terminator, so the schema ignores them.
    error = error_of(with_metadata(annotations={"a\nb": 1}))
    assert error.message == format_error("annotations.a\nb", "a valid prefix and/or suffix", "a\nb")


# --- 3. DefaultNamespace / NoForeignRootFields


@pytest.mark.parametrize(("first", "second"), [("status", "relations"), ("relations", "status")])
def test_foreign_root_fields(first: str, second: str) -> None:
    entity = {**component(), first: {} if first == "status" else [], second: {} if second == "status" else []}
    assert error_of(entity).message == policy_error(f"Unknown field {first}")


def test_schema_policy_runs_before_foreign_field_policy() -> None:
    assert error_of({**component(), "status": {}, "foo": 1}).message == policy_error(
        "Malformed envelope, <root> must NOT have additional properties"
    )


# --- 4. FieldFormatEntityPolicy


@pytest.mark.parametrize("name", ["a", "a" * 63, "MyService", "a_b-c.d", "1", "x.y_z"])
def test_valid_names(name: str) -> None:
    validate_entity(with_metadata(name=name))


@pytest.mark.parametrize(
    "name", ["a" * 64, "café", "service-", "_svc", "my service", "svc\n", "a..b-", "-a", "\uff53\uff56\uff43"]
)
def test_invalid_names(name: str) -> None:
    ref = f"component:default/{name.lower()}"
    assert error_of(with_metadata(name=name)).message == format_error("metadata.name", NAME_RULE, name).replace(
        REF, ref
    )


@pytest.mark.parametrize("namespace", ["ns", "a--b", "a1-b2", "0"])
def test_valid_namespaces(namespace: str) -> None:
    assert validate_entity(with_metadata(namespace=namespace))["metadata"]["namespace"] == namespace


@pytest.mark.parametrize("namespace", ["Default", "my_ns", "a" * 64, "-a", "a-", "a.b"])
def test_invalid_namespaces(namespace: str) -> None:
    expected = format_error(
        "metadata.namespace",
        "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total",
        namespace,
    ).replace(REF, f"component:{namespace.lower()}/svc")
    assert error_of(with_metadata(namespace=namespace)).message == expected


def test_invalid_api_version_format() -> None:
    entity = {**component(), "apiVersion": "backstage.io/v1/x"}
    assert error_of(entity).message == format_error("apiVersion", "a valid prefix and/or suffix", "backstage.io/v1/x")


def test_invalid_kind_format() -> None:
    entity = {**component(), "kind": "Com-ponent"}
    expected = format_error(
        "kind",
        "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total",
        "Com-ponent",
    ).replace(REF, "com-ponent:default/svc")
    assert error_of(entity).message == expected


@pytest.mark.parametrize(
    "labels",
    [{"team": ""}, {"backstage.io/team": "a"}, {"a.b-c.example/x_y": "A.b-c"}, {"x": "y" * 63}],
)
def test_valid_labels(labels: dict[str, str]) -> None:
    validate_entity(with_metadata(labels=labels))


@pytest.mark.parametrize(
    ("labels", "field", "expectation", "found"),
    [
        ({"-bad": "a"}, "labels.-bad", "a valid prefix and/or suffix", "-bad"),
        ({"a/b/c": "x"}, "labels.a/b/c", "a valid prefix and/or suffix", "a/b/c"),
        ({"Example.com/x": "y"}, "labels.Example.com/x", "a valid prefix and/or suffix", "Example.com/x"),
        ({"/name": "y"}, "labels./name", "a valid prefix and/or suffix", "/name"),
        ({"x" * 64: "v"}, "labels." + "x" * 64, "a valid prefix and/or suffix", "x" * 64),
        ({"team": "has space"}, "labels.team", NAME_RULE, "has space"),
        ({"team": "y" * 64}, "labels.team", NAME_RULE, "y" * 64),
        # Object.entries lists integer-like keys first, in numeric order.
        ({"b": "bad value", "10": "ok", "2": "also bad!"}, "labels.2", NAME_RULE, "also bad!"),
    ],
)
def test_invalid_labels(labels: dict[str, str], field: str, expectation: str, found: str) -> None:
    assert error_of(with_metadata(labels=labels)).message == format_error(field, expectation, found)


def test_annotations() -> None:
    validate_entity(with_metadata(annotations={"github.com/project-slug": "org/repo", "a": "", "b": "any value!"}))
    assert error_of(with_metadata(annotations={"a:b": "x"})).message == format_error(
        "annotations.a:b", "a valid prefix and/or suffix", "a:b"
    )
    assert error_of(with_metadata(annotations={"exämple.com/x": "y"})).message == format_error(
        "annotations.exämple.com/x", "a valid prefix and/or suffix", "exämple.com/x"
    )


@pytest.mark.parametrize("tag", ["java", "c++", "c#", "a:b", "a-b-c", "t" * 63, "0"])
def test_valid_tags(tag: str) -> None:
    validate_entity(with_metadata(tags=[tag]))


@pytest.mark.parametrize("tag", ["Java", "a--b", "-a", "snake_case", "naïve", "t" * 64, "a b"])
def test_invalid_tags(tag: str) -> None:
    expected = format_error(
        "tags.1",
        "a string that is sequences of [a-z0-9+#] separated by [-], at most 63 characters in total",
        tag,
    )
    assert error_of(with_metadata(tags=["ok", tag])).message == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "javascript:alert(1)",
        "mailto:team@example.com",
        "file:///etc/hosts",
        "http://[::1]:8080/",
    ],
)
def test_valid_link_urls(url: str) -> None:
    validate_entity(with_metadata(links=[{"url": url, "title": "t", "icon": "i", "type": "docs"}]))


@pytest.mark.parametrize(
    "url", ["not a url", "//example.com/x", "http://", "http://1.2.3.999", "https://example.com:99999"]
)
def test_invalid_link_urls(url: str) -> None:
    assert error_of(with_metadata(links=[{"url": url}])).message == format_error(
        "links.0.url", "a string that is a valid url", url
    )


@pytest.mark.parametrize(("field", "value"), [("title", "   "), ("icon", "\u3000"), ("title", "\ufeff")])
def test_link_title_and_icon_must_not_be_blank(field: str, value: str) -> None:
    entity = with_metadata(links=[{"url": "https://example.com", field: value}])
    assert error_of(entity).message == format_error(f"links.0.{field}", "a non empty string", value)


def test_link_title_blank_only_by_javascript_rules() -> None:
    # U+001C is whitespace to Python's str.strip but not to JavaScript's trim.
    validate_entity(with_metadata(links=[{"url": "https://example.com", "title": "\x1c"}]))


def test_field_order_name_before_tags() -> None:
    error = error_of(with_metadata(name="bad name", tags=["Bad"]))
    assert error.message.startswith(
        'Policy check failed for component:default/bad name; caused by Error: "metadata.name"'
    )


# --- 5. kinds


def test_known_kinds() -> None:
    assert (
        frozenset({"API", "Component", "Domain", "Group", "Location", "Resource", "System", "Template", "User"})
        == KNOWN_KINDS
    )


@pytest.mark.parametrize(
    ("kind", "api_version"),
    [
        ("AiResource", "backstage.io/v1alpha1"),
        ("component", "backstage.io/v1alpha1"),
        ("Component", "backstage.io/v2"),
        ("Component", "v1"),
        ("Component", "scaffolder.backstage.io/v1beta3"),
        ("Template", "backstage.io/v1alpha1"),
        ("Template", "scaffolder.backstage.io/v1beta2"),
    ],
)
def test_unrecognised_kinds(kind: str, api_version: str) -> None:
    entity = {**component(), "kind": kind, "apiVersion": api_version}
    error = error_of(entity)
    assert error.message == (
        f"No processor recognized the entity {kind.lower()}:default/svc as valid, "
        "possibly caused by a foreign kind or apiVersion"
    )
    assert error.cause_name is None


def test_v1beta1_is_accepted() -> None:
    validate_entity({**component(), "apiVersion": "backstage.io/v1beta1"})


def entity_of(kind: str, spec: dict[str, Any] | None) -> dict[str, Any]:
    entity: dict[str, Any] = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}}
    if spec is not None:
        entity["spec"] = spec
    return entity


VALID_SPECS: dict[str, dict[str, Any]] = {
    "API": {
        "type": "openapi",
        "lifecycle": "production",
        "owner": "o",
        "system": "s",
        "definition": "openapi: 3",
    },
    "Component": {
        "type": "service",
        "lifecycle": "production",
        "owner": "o",
        "system": "s",
        "subcomponentOf": "p",
        "providesApis": ["a"],
        "consumesApis": ["b"],
        "dependsOn": ["resource:c"],
    },
    "Resource": {"type": "database", "owner": "o", "dependsOn": ["resource:d"], "system": "s"},
    "Group": {
        "type": "team",
        "profile": {"displayName": "T", "email": "t@x", "picture": "p"},
        "parent": "org",
        "children": [],
        "members": ["u"],
    },
    "Location": {
        "type": "url",
        "target": "https://x/y.yaml",
        "targets": ["https://x/z.yaml"],
        "presence": "optional",
    },
    "User": {"profile": {"displayName": "U"}, "memberOf": ["g"]},
    "System": {"owner": "o", "domain": "d", "type": "product"},
    "Domain": {"owner": "o", "subdomainOf": "d", "type": "area"},
}


@pytest.mark.parametrize("kind", sorted(VALID_SPECS))
def test_valid_specs(kind: str) -> None:
    validate_entity(entity_of(kind, VALID_SPECS[kind]))


@pytest.mark.parametrize("kind", sorted(VALID_SPECS))
def test_spec_is_required(kind: str) -> None:
    assert error_of(entity_of(kind, None)).message == kind_error(
        "<root> must have required property 'spec' - missingProperty: spec", f"{kind.lower()}:default/x"
    )


@pytest.mark.parametrize(
    ("kind", "spec", "detail"),
    [
        (
            "API",
            {"type": "openapi", "lifecycle": "p", "owner": "o"},
            "/spec must have required property 'definition' - missingProperty: definition",
        ),
        (
            "API",
            {"type": "mcp-server", "lifecycle": "p", "owner": "o"},
            "/spec must have required property 'definition' - missingProperty: definition",
        ),
        (
            "API",
            {"type": "openapi", "lifecycle": "p", "owner": "o", "definition": {"$text": "./a.yaml"}},
            "/spec/definition must be string - type: string",
        ),
        ("Component", {}, "/spec must have required property 'type' - missingProperty: type"),
        (
            "Component",
            {"type": "s", "lifecycle": "p"},
            "/spec must have required property 'owner' - missingProperty: owner",
        ),
        (
            "Component",
            {"type": "s", "lifecycle": "p", "owner": 5},
            "/spec/owner must be string - type: string",
        ),
        (
            "Component",
            {"type": None, "lifecycle": "p", "owner": "o"},
            "/spec/type must be string - type: string",
        ),
        (
            "Component",
            {"type": "s", "lifecycle": "p", "owner": "o", "providesApis": "a"},
            "/spec/providesApis must be array - type: array",
        ),
        (
            "Component",
            {"type": "s", "lifecycle": "p", "owner": "o", "subcomponentOf": ""},
            "/spec/subcomponentOf must NOT have fewer than 1 characters - limit: 1",
        ),
        ("Resource", {"owner": "o"}, "/spec must have required property 'type' - missingProperty: type"),
        ("Resource", {"type": "db", "owner": "o", "system": 1}, "/spec/system must be string - type: string"),
        (
            "Group",
            {"type": "team"},
            "/spec must have required property 'children' - missingProperty: children",
        ),
        ("Group", {"type": "team", "children": "a"}, "/spec/children must be array - type: array"),
        (
            "Group",
            {"type": "team", "children": ["b", ""]},
            "/spec/children/0 must NOT have fewer than 1 characters - limit: 1",
        ),
        (
            "Group",
            {"type": "team", "children": [], "profile": {"email": ""}},
            "/spec/profile/email must NOT have fewer than 1 characters - limit: 1",
        ),
        ("Location", {"target": ""}, "/spec/target must NOT have fewer than 1 characters - limit: 1"),
        (
            "Location",
            {"presence": "maybe"},
            "/spec/presence must be equal to one of the allowed values - allowedValues: required,optional",
        ),
        ("Location", {"presence": 5}, "/spec/presence must be string - type: string"),
        ("Location", {"targets": [""]}, "/spec/targets/0 must NOT have fewer than 1 characters - limit: 1"),
        ("User", {}, "/spec must have required property 'memberOf' - missingProperty: memberOf"),
        ("User", {"memberOf": [], "profile": ["x"]}, "/spec/profile must be object - type: object"),
        ("System", {"domain": "d"}, "/spec must have required property 'owner' - missingProperty: owner"),
        ("Domain", {"owner": "o", "subdomainOf": 3}, "/spec/subdomainOf must be string - type: string"),
    ],
)
def test_invalid_specs(kind: str, spec: dict[str, Any], detail: str) -> None:
    assert error_of(entity_of(kind, spec)).message == kind_error(detail, f"{kind.lower()}:default/x")


def test_location_with_empty_spec_is_valid() -> None:
    validate_entity(entity_of("Location", {}))


def test_unknown_spec_fields_are_allowed() -> None:
    validate_entity(component(whatever={"a": 1}, dependencyOf="component:x"))
