"""relations_for: what BuiltinKindsEntityProcessor and ScaffolderEntitiesProcessor emit, per kind."""

from __future__ import annotations

from typing import Any

import pytest

from greenroom.plugins.catalog.model import (
    INVERSE_RELATION,
    RELATION_PAIRS,
    EntityValidationError,
    process_entity,
    relations_for,
    validate_entity,
)


def entity(kind: str, spec: dict[str, Any], *, namespace: str | None = None, name: str = "me") -> dict[str, Any]:
    api_version = "scaffolder.backstage.io/v1beta3" if kind == "Template" else "backstage.io/v1alpha1"
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def relations(kind: str, spec: dict[str, Any], **kwargs: Any) -> list[tuple[str, str, str]]:
    return relations_for(validate_entity(entity(kind, spec, **kwargs)))


def both_ways(source: str, forward: str, target: str) -> list[tuple[str, str, str]]:
    return [(source, forward, target), (target, INVERSE_RELATION[forward], source)]


def test_relation_pairs() -> None:
    assert dict(RELATION_PAIRS) == {
        "ownedBy": "ownerOf",
        "consumesApi": "apiConsumedBy",
        "providesApi": "apiProvidedBy",
        "dependsOn": "dependencyOf",
        "parentOf": "childOf",
        "memberOf": "hasMember",
        "partOf": "hasPart",
    }
    assert INVERSE_RELATION["hasPart"] == "partOf"
    assert INVERSE_RELATION["childOf"] == "parentOf"


def test_component_emits_every_field_in_processor_order() -> None:
    me = "component:default/me"
    spec = {
        "type": "service",
        "lifecycle": "production",
        "owner": "team-a",
        "system": "sys",
        "subcomponentOf": "parent",
        "providesApis": ["b-api", "a-api"],
        "consumesApis": ["c-api"],
        "dependsOn": ["resource:db"],
        "dependencyOf": ["component:front"],
    }
    assert relations("Component", spec) == [
        *both_ways(me, "ownedBy", "group:default/team-a"),
        *both_ways(me, "partOf", "component:default/parent"),
        # Arrays were sorted by validate_entity, as Backstage's pre-processing does.
        *both_ways(me, "providesApi", "api:default/a-api"),
        *both_ways(me, "providesApi", "api:default/b-api"),
        *both_ways(me, "consumesApi", "api:default/c-api"),
        *both_ways(me, "dependsOn", "resource:default/db"),
        *both_ways(me, "dependencyOf", "component:default/front"),
        *both_ways(me, "partOf", "system:default/sys"),
    ]


def test_api_resource_system_domain() -> None:
    api = {"type": "openapi", "lifecycle": "p", "owner": "user:jdoe", "system": "sys", "definition": "x"}
    assert relations("API", api) == [
        *both_ways("api:default/me", "ownedBy", "user:default/jdoe"),
        *both_ways("api:default/me", "partOf", "system:default/sys"),
    ]
    resource = {
        "type": "db",
        "owner": "o",
        "dependsOn": ["resource:r"],
        "dependencyOf": ["component:c"],
        "system": "s",
    }
    assert relations("Resource", resource) == [
        *both_ways("resource:default/me", "ownedBy", "group:default/o"),
        *both_ways("resource:default/me", "dependsOn", "resource:default/r"),
        *both_ways("resource:default/me", "dependencyOf", "component:default/c"),
        *both_ways("resource:default/me", "partOf", "system:default/s"),
    ]
    assert relations("System", {"owner": "o", "domain": "d"}) == [
        *both_ways("system:default/me", "ownedBy", "group:default/o"),
        *both_ways("system:default/me", "partOf", "domain:default/d"),
    ]
    assert relations("Domain", {"owner": "o", "subdomainOf": "top"}) == [
        *both_ways("domain:default/me", "ownedBy", "group:default/o"),
        *both_ways("domain:default/me", "partOf", "domain:default/top"),
    ]


def test_group_and_user() -> None:
    group = {"type": "team", "parent": "org", "children": ["b", "a"], "members": ["jdoe"]}
    assert relations("Group", group) == [
        *both_ways("group:default/me", "childOf", "group:default/org"),
        *both_ways("group:default/me", "parentOf", "group:default/a"),
        *both_ways("group:default/me", "parentOf", "group:default/b"),
        *both_ways("group:default/me", "hasMember", "user:default/jdoe"),
    ]
    assert relations("User", {"memberOf": ["team-b", "group:other/team-c"]}) == [
        # Sorted as strings before parsing: "group:other/team-c" < "team-b".
        *both_ways("user:default/me", "memberOf", "group:other/team-c"),
        *both_ways("user:default/me", "memberOf", "group:default/team-b"),
    ]


def test_location_emits_nothing() -> None:
    assert relations("Location", {"type": "url", "target": "https://example.com/a.yaml"}) == []


def test_template_owner_only() -> None:
    spec = {"type": "service", "owner": "user:jdoe", "steps": [], "dependsOn": ["component:x"]}
    assert relations("Template", spec) == both_ways("template:default/me", "ownedBy", "user:default/jdoe")
    assert relations("Template", {"type": "service", "steps": []}) == []


def test_refs_default_to_the_entitys_own_namespace() -> None:
    spec = {"type": "s", "lifecycle": "p", "owner": "team-a", "system": "other/sys", "providesApis": ["x"]}
    assert relations("Component", spec, namespace="ns-a") == [
        *both_ways("component:ns-a/me", "ownedBy", "group:ns-a/team-a"),
        *both_ways("component:ns-a/me", "providesApi", "api:ns-a/x"),
        *both_ways("component:ns-a/me", "partOf", "system:other/sys"),
    ]


def test_refs_are_lowercased_everywhere() -> None:
    spec = {"type": "s", "lifecycle": "p", "owner": "Group:ÄRGER/Ωmega"}
    assert relations("Component", spec, name="MySvc") == both_ways(
        "component:default/mysvc", "ownedBy", "group:ärger/ωmega"
    )


def test_duplicates_are_kept_as_emitted() -> None:
    spec = {"type": "s", "lifecycle": "p", "owner": "o", "providesApis": ["a", "a"]}
    assert relations("Component", spec)[2:] == [
        *both_ways("component:default/me", "providesApi", "api:default/a"),
        *both_ways("component:default/me", "providesApi", "api:default/a"),
    ]


def test_unschematized_dependency_of_accepts_a_string_or_an_object_ref() -> None:
    base = {"type": "s", "lifecycle": "p", "owner": "o"}
    assert relations("Component", {**base, "dependencyOf": "component:x"})[2:] == both_ways(
        "component:default/me", "dependencyOf", "component:default/x"
    )
    assert relations("Component", {**base, "dependencyOf": {"kind": "Component", "name": "Y"}})[2:] == both_ways(
        "component:default/me", "dependencyOf", "component:default/y"
    )
    # Empty values are skipped, as `if (!targets) return` skips them.
    assert relations("Component", {**base, "dependencyOf": ""}) == relations("Component", base)
    assert relations("Component", {**base, "dependencyOf": []}) == relations("Component", base)


def postprocess_error(entity_: dict[str, Any]) -> EntityValidationError:
    with pytest.raises(EntityValidationError) as caught:
        process_entity(entity_)
    assert caught.value.stage == "relations"
    return caught.value


@pytest.mark.parametrize(
    ("spec_change", "cause"),
    [
        (
            {"dependsOn": ["other-service"]},
            'Error: Entity reference "other-service" had missing or empty kind '
            '(e.g. did not start with "component:" or similar)',
        ),
        (
            {"dependsOn": ["component:"]},
            'TypeError: Entity reference "component:" was not on the form [<kind>:][<namespace>/]<name>',
        ),
        (
            {"owner": "group:default/"},
            'TypeError: Entity reference "group:default/" was not on the form [<kind>:][<namespace>/]<name>',
        ),
        (
            {"dependencyOf": {}},
            'Error: Entity reference {} had missing or empty kind (e.g. did not start with "component:" or similar)',
        ),
        (
            {"dependencyOf": ["component:b", 5]},
            'Error: Entity reference 5 had missing or empty kind (e.g. did not start with "component:" or similar)',
        ),
        ({"dependencyOf": [None]}, "Error: Entity reference must not be empty"),
    ],
)
def test_bad_refs_fail_the_entity(spec_change: dict[str, Any], cause: str) -> None:
    spec = {"type": "s", "lifecycle": "p", "owner": "o", **spec_change}
    error = postprocess_error(entity("Component", spec))
    assert error.message == (
        f"Processor BuiltinKindsEntityProcessor threw an error while postprocessing; caused by {cause}"
    )


def test_bad_template_owner_names_the_scaffolder_processor() -> None:
    error = postprocess_error(entity("Template", {"type": "service", "owner": "group:", "steps": []}))
    assert error.message == (
        "Processor ScaffolderEntitiesProcessor threw an error while postprocessing; caused by TypeError: "
        'Entity reference "group:" was not on the form [<kind>:][<namespace>/]<name>'
    )
    assert error.cause_name == "TypeError"


def test_process_entity_returns_both() -> None:
    completed, emitted = process_entity(entity("User", {"memberOf": ["g"]}))
    assert completed["metadata"]["namespace"] == "default"
    assert emitted == both_ways("user:default/me", "memberOf", "group:default/g")
