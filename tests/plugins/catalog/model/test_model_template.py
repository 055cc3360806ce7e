"""Template (scaffolder.backstage.io/v1beta3) validation, as ScaffolderEntitiesProcessor does it."""

from __future__ import annotations

from typing import Any

import pytest

from greenroom.plugins.catalog.model import EntityValidationError, validate_entity


def template(**spec: Any) -> dict[str, Any]:
    full: dict[str, Any] = {"type": "service", "owner": "team-a", "steps": [{"action": "fetch:plain"}]}
    full.update(spec)
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "tpl"},
        "spec": {key: value for key, value in full.items() if value is not None},
    }


def kind_error(detail: str) -> str:
    return (
        "Processor ScaffolderEntitiesProcessor threw an error while validating the entity "
        f"template:default/tpl; caused by TypeError: {detail}"
    )


def test_full_template_is_valid() -> None:
    validate_entity(
        template(
            lifecycle="experimental",
            parameters={
                "required": ["name"],
                "properties": {"name": {"type": "string"}},
                "backstage:permissions": {"tags": ["one"]},
            },
            secrets={"schema": {"type": "object"}},
            presentation={"buttonLabels": {"backButtonText": "Back", "createButtonText": "Go"}},
            EXPERIMENTAL_recovery={"EXPERIMENTAL_strategy": "startOver"},
            formDecorators=[{"id": "d", "input": {}}],
            EXPERIMENTAL_formDecorators=[{"id": "old"}],
            steps=[
                {
                    "id": "fetch",
                    "name": "Fetch",
                    "action": "fetch:template",
                    "input": {"url": "./skeleton"},
                    "if": "${{ parameters.enabled }}",
                    "backstage:permissions": {"tags": ["two"]},
                },
                {"action": "catalog:register", "if": False},
            ],
            output={
                "links": [{"title": "Repo", "url": "${{ steps.publish.output.remoteUrl }}", "if": True}],
                "text": [{"title": "Note", "content": "**done**", "icon": "info"}],
                "catalogInfoUrl": "${{ steps.register.output.catalogInfoUrl }}",
            },
        )
    )


def test_parameters_may_be_a_list_of_forms() -> None:
    validate_entity(template(parameters=[{"title": "a", "when": True}, {"title": "b", "when": "${{ x }}"}]))


def test_owner_is_optional() -> None:
    validate_entity(template(owner=None))


@pytest.mark.parametrize(
    ("spec", "detail"),
    [
        ({"steps": None}, "/spec must have required property 'steps' - missingProperty: steps"),
        ({"type": None, "steps": None}, "/spec must have required property 'type' - missingProperty: type"),
        ({"type": ""}, "/spec/type must NOT have fewer than 1 characters - limit: 1"),
        ({"owner": 5}, "/spec/owner must be string - type: string"),
        ({"lifecycle": ""}, "/spec/lifecycle must NOT have fewer than 1 characters - limit: 1"),
        # oneOf: the object branch's error comes first, even for a list whose form is wrong.
        ({"parameters": [{"when": 5}]}, "/spec/parameters must be object - type: object"),
        ({"parameters": "x"}, "/spec/parameters must be object - type: object"),
        (
            {"parameters": {"backstage:permissions": {"tags": "x"}}},
            "/spec/parameters/backstage:permissions/tags must be array - type: array",
        ),
        ({"secrets": {"schema": []}}, "/spec/secrets/schema must be object - type: object"),
        (
            {"presentation": {"buttonLabels": {"backButtonText": 1}}},
            "/spec/presentation/buttonLabels/backButtonText must be string - type: string",
        ),
        (
            {"EXPERIMENTAL_recovery": {"EXPERIMENTAL_strategy": 1}},
            "/spec/EXPERIMENTAL_recovery/EXPERIMENTAL_strategy must be string - type: string",
        ),
        ({"formDecorators": [{"id": 1}]}, "/spec/formDecorators/0/id must be string - type: string"),
        (
            {"EXPERIMENTAL_formDecorators": {}},
            "/spec/EXPERIMENTAL_formDecorators must be array - type: array",
        ),
        ({"steps": {"action": "x"}}, "/spec/steps must be array - type: array"),
        (
            {"steps": [{"id": "a"}]},
            "/spec/steps/0 must have required property 'action' - missingProperty: action",
        ),
        ({"steps": [{"action": 5}]}, "/spec/steps/0/action must be string - type: string"),
        (
            {"steps": [{"action": "x", "if": 5}]},
            "/spec/steps/0/if must be string,boolean - type: string,boolean",
        ),
        ({"steps": [{"action": "x", "input": "y"}]}, "/spec/steps/0/input must be object - type: object"),
        (
            {"steps": [{"action": "x", "backstage:permissions": {"tags": [1]}}]},
            "/spec/steps/0/backstage:permissions/tags/0 must be string - type: string",
        ),
        # Free-form output entries (additionalProperties) are checked before links and text.
        ({"output": {"links": "x", "foo": 5}}, "/spec/output/foo must be string - type: string"),
        ({"output": {"links": "x"}}, "/spec/output/links must be array - type: array"),
        (
            {"output": {"links": [{"url": ""}]}},
            "/spec/output/links/0/url must NOT have fewer than 1 characters - limit: 1",
        ),
        (
            {"output": {"links": [{"if": 1}]}},
            "/spec/output/links/0/if must be string,boolean - type: string,boolean",
        ),
        (
            {"output": {"text": [{"title": "t", "content": 5}]}},
            "/spec/output/text/0/content must be string - type: string",
        ),
        ({"output": []}, "/spec/output must be object - type: object"),
    ],
)
def test_invalid_templates(spec: dict[str, Any], detail: str) -> None:
    with pytest.raises(EntityValidationError) as caught:
        validate_entity(template(**spec))
    assert caught.value.message == kind_error(detail)


def test_template_without_spec() -> None:
    entity = template()
    del entity["spec"]
    with pytest.raises(EntityValidationError) as caught:
        validate_entity(entity)
    assert caught.value.message == kind_error("<root> must have required property 'spec' - missingProperty: spec")


def test_template_policies_still_apply() -> None:
    entity = template()
    entity["metadata"]["tags"] = ["Recommended"]
    with pytest.raises(EntityValidationError) as caught:
        validate_entity(entity)
    assert caught.value.stage == "policy"
    assert '"tags.0" is not valid' in caught.value.message
