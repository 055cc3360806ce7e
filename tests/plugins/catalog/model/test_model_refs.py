"""Entity refs: parsing, printing and lookup keys, with Backstage's rules and messages."""

from __future__ import annotations

import dataclasses

import pytest

from greenroom.errors import InputError
from greenroom.plugins.catalog.model import (
    EntityRef,
    EntityRefError,
    compound_ref_of,
    entity_ref_of,
    parse_entity_ref,
    ref_key,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("component:default/foo", EntityRef("component", "default", "foo")),
        ("Component:Default/Foo", EntityRef("Component", "Default", "Foo")),
        ("group:team-a", EntityRef("group", "default", "team-a")),
        ("ns/name", EntityRef("Group", "ns", "name")),
        ("name", EntityRef("Group", "default", "name")),
        # The name takes everything after the first ':' and '/'.
        ("a:b:c", EntityRef("a", "default", "b:c")),
        ("a:b/c/d", EntityRef("a", "b", "c/d")),
        # A '/' before the first ':' means there is no kind at all.
        ("ns/name:with-colon", EntityRef("Group", "ns", "name:with-colon")),
    ],
)
def test_parse_string_refs(text: str, expected: EntityRef) -> None:
    assert parse_entity_ref(text, default_kind="Group") == expected


def test_default_namespace_applies_only_when_missing() -> None:
    assert parse_entity_ref("user:jdoe", default_namespace="ns-a") == EntityRef("user", "ns-a", "jdoe")
    assert parse_entity_ref("user:other/jdoe", default_namespace="ns-a") == EntityRef("user", "other", "jdoe")


@pytest.mark.parametrize("fallback", [None, ""])
def test_falsy_default_namespace_falls_back_to_default(fallback: str | None) -> None:
    assert parse_entity_ref("user:jdoe", default_namespace=fallback).namespace == "default"


@pytest.mark.parametrize("text", ["component:", ":x", "component:/x", "a/", "/x", "k:ns/"])
def test_empty_parts_are_a_type_error(text: str) -> None:
    with pytest.raises(EntityRefError) as caught:
        parse_entity_ref(text, default_kind="Component")
    assert caught.value.message == f'Entity reference "{text}" was not on the form [<kind>:][<namespace>/]<name>'
    assert caught.value.js_name == "TypeError"


def test_missing_kind_without_default() -> None:
    with pytest.raises(EntityRefError) as caught:
        parse_entity_ref("other-service")
    assert caught.value.message == (
        'Entity reference "other-service" had missing or empty kind (e.g. did not start with "component:" or similar)'
    )
    assert caught.value.js_name == "Error"
    assert isinstance(caught.value, InputError)


def test_empty_ref() -> None:
    with pytest.raises(EntityRefError, match=r"^Entity reference must not be empty$"):
        parse_entity_ref("")


def test_object_refs() -> None:
    assert parse_entity_ref({"kind": "Component", "name": "x"}) == EntityRef("Component", "default", "x")
    assert parse_entity_ref({"name": "x"}, default_kind="API", default_namespace="ns") == EntityRef("API", "ns", "x")
    with pytest.raises(EntityRefError) as caught:
        parse_entity_ref({"kind": "Component", "namespace": "", "name": "x"})
    # An explicitly empty namespace is not replaced by the default (`??`, not `||`).
    assert caught.value.message == (
        'Entity reference {"kind":"Component","namespace":"","name":"x"} had missing or empty namespace'
    )
    with pytest.raises(EntityRefError) as caught:
        parse_entity_ref({"kind": "Component"})
    assert caught.value.message == 'Entity reference {"kind":"Component"} had missing or empty name'


def test_stringify_lowercases_every_part() -> None:
    ref = EntityRef("Component", "My-NS", "Svc_A")
    assert str(ref) == "component:my-ns/svc_a"
    assert ref.key == "component:my-ns/svc_a"
    assert ref_key("Component", "My-NS", "Svc_A") == "component:my-ns/svc_a"
    # The parts themselves keep their case.
    assert ref.name == "Svc_A"


def test_stringify_uses_unicode_lowercasing() -> None:
    assert str(EntityRef("Group", "ÄRGER", "Ωmega")) == "group:ärger/ωmega"


def test_entity_refs_are_frozen() -> None:
    ref = EntityRef("a", "b", "c")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.name = "d"  # type: ignore[misc]


def test_entity_ref_of() -> None:
    entity = {"kind": "Component", "metadata": {"name": "Foo"}}
    assert entity_ref_of(entity) == "component:default/foo"
    assert entity_ref_of({"kind": "API", "metadata": {"name": "x", "namespace": "NS"}}) == "api:ns/x"


def test_compound_ref_treats_empty_namespace_as_default() -> None:
    entity = {"kind": "Component", "metadata": {"name": "Foo", "namespace": ""}}
    assert compound_ref_of(entity) == EntityRef("Component", "default", "Foo")
    # stringifyEntityRef, by contrast, keeps an empty namespace (it uses `??`).
    assert entity_ref_of(entity) == "component:/foo"
