"""The entity routes of /api/catalog, checked against Backstage's semantics (docs/catalog.md)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.plugins.catalog.sample import ENTITY_COUNT, FILES


@pytest.fixture
def cat(catalog):
    return catalog(FILES)


def refs(items):
    return [f"{e['kind'].lower()}:{e['metadata'].get('namespace', 'default')}/{e['metadata']['name'].lower()}"
            for e in items]


def test_by_name_is_case_insensitive_and_returns_stitched_entity(cat):
    response = cat.get("/entities/by-name/Component/DEFAULT/PAY-SERVICE")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    entity = response.json()
    assert entity["metadata"]["name"] == "pay-service"
    assert len(entity["metadata"]["uid"]) == 36
    assert len(entity["metadata"]["etag"]) == 40
    annotations = entity["metadata"]["annotations"]
    assert annotations["backstage.io/managed-by-location"] == f"file:{cat.root / 'components.yaml'}"
    assert annotations["backstage.io/managed-by-origin-location"] == f"file:{cat.root / 'all.yaml'}"
    assert entity["relations"] == sorted(entity["relations"], key=lambda r: (r["type"], r["targetRef"]))
    assert {"type": "ownedBy", "targetRef": "group:default/team-a"} in entity["relations"]
    assert {"type": "dependsOn", "targetRef": "resource:default/pay-db"} in entity["relations"]


def test_by_name_missing_gives_backstage_error_body(cat):
    response = cat.get("/entities/by-name/component/default/nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"name": "NotFoundError",
                  "message": "No entity named 'nope' found, with kind 'component' in namespace 'default'"},
        "request": {"method": "GET", "url": "/entities/by-name/component/default/nope"},
        "response": {"statusCode": 404},
    }


def test_relations_are_stitched_in_both_directions(cat):
    team = cat.entity("group:default/team-a")
    relations = {(r["type"], r["targetRef"]) for r in team["relations"]}
    assert ("ownerOf", "component:default/pay-service") in relations
    assert ("ownerOf", "component:default/checkout") in relations
    assert ("hasMember", "user:default/alice") in relations
    assert ("childOf", "group:default/org-root") in relations
    api = cat.entity("api:default/pay-api")
    api_relations = {(r["type"], r["targetRef"]) for r in api["relations"]}
    assert ("apiProvidedBy", "component:default/pay-service") in api_relations
    assert ("apiConsumedBy", "component:default/checkout") in api_relations
    assert ("partOf", "system:default/pay-system") in api_relations
    system = cat.entity("system:default/pay-system")
    assert ("partOf", "domain:default/payments") in {(r["type"], r["targetRef"]) for r in system["relations"]}


def test_by_uid_and_missing_uid(cat):
    entity = cat.entity("component:default/checkout")
    uid = entity["metadata"]["uid"]
    assert cat.get(f"/entities/by-uid/{uid}").json() == entity
    missing = cat.get("/entities/by-uid/does-not-exist")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No entity with uid does-not-exist"


def test_delete_by_uid_removes_entity_and_its_relations_then_refresh_brings_it_back(cat):
    entity = cat.entity("component:default/checkout")
    response = cat.delete(f"/entities/by-uid/{entity['metadata']['uid']}")
    assert response.status_code == 204
    assert cat.entity("component:default/checkout") is None
    api = cat.entity("api:default/pay-api")
    assert ("apiConsumedBy", "component:default/checkout") not in {(r["type"], r["targetRef"]) for r in api["relations"]}
    assert cat.delete("/entities/by-uid/unknown").status_code == 204
    cat.ingest(force=False)
    again = cat.entity("component:default/checkout")
    assert again is not None
    assert again["metadata"]["uid"] != entity["metadata"]["uid"]


def test_unpaginated_list_is_sorted_by_uid_and_filters(cat):
    items = cat.get("/entities").json()
    assert len(items) == ENTITY_COUNT
    uids = [e["metadata"]["uid"] for e in items]
    assert uids == sorted(uids)
    components = cat.get("/entities", params={"filter": "kind=component"}).json()
    assert sorted(refs(components)) == ["component:default/checkout", "component:default/ledger",
                                        "component:default/pay-service"]


def test_filter_sets_or_and_statements_and_case_insensitively(cat):
    params = [("filter", "KIND=component,spec.lifecycle=PRODUCTION"), ("filter", "kind=api")]
    assert sorted(refs(cat.get("/entities", params=params).json())) == [
        "api:default/pay-api", "component:default/ledger", "component:default/pay-service"]
    both = cat.get("/entities", params={"filter": "kind=component,kind=api"}).json()
    assert len(both) == 4


def test_filter_existence_tags_and_relations(cat):
    tagged = refs(cat.get("/entities", params={"filter": "metadata.tags.java"}).json())
    assert tagged == ["component:default/pay-service"]
    by_tag = refs(cat.get("/entities", params={"filter": "metadata.tags=python"}).json())
    assert by_tag == ["component:default/checkout"]
    owned = refs(cat.get("/entities", params={"filter": "relations.ownedBy=GROUP:DEFAULT/ORG-ROOT"}).json())
    assert owned == ["component:default/ledger"]
    annotated = refs(cat.get("/entities", params={"filter": "metadata.annotations.github.com/project-slug"}).json())
    assert annotated == ["component:default/pay-service"]


def test_invalid_filter_statement(cat):
    response = cat.get("/entities", params={"filter": "=x"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Invalid filter, '=x' is not a valid statement (expected a string on the form a=b or a= or a)")


def test_fields_projection_joins_dotted_annotation_keys(cat):
    items = cat.get("/entities", params={"filter": "kind=component", "fields":
                                         "kind,metadata.annotations.github.com/project-slug"}).json()
    assert {"kind": "Component", "metadata": {"annotations": {"github.com/project-slug": "acme/pay"}}} in items
    assert {"kind": "Component"} in items
    assert all("spec" not in e for e in items)
    bad = cat.get("/entities", params={"fields": "spec.x[0]"})
    assert bad.status_code == 400


def test_paginated_list_orders_by_ref_and_sets_link_header(cat):
    response = cat.get("/entities", params={"filter": "kind=group", "fields": "metadata.name", "limit": "1"})
    assert response.status_code == 200
    assert response.json() == [{"metadata": {"name": "org-root"}}]
    link = response.headers["link"]
    assert link.startswith("</entities?")
    assert link.endswith('>; rel="next"')
    after = [p.split("=", 1)[1] for p in link[1:].split(">")[0].split("?", 1)[1].split("&") if p.startswith("after=")]
    assert after
    second = cat.get("/entities", params={"filter": "kind=group", "fields": "metadata.name",
                                          "after": base64.b64encode(json.dumps({"limit": 1, "offset": 1}).encode()).decode()})
    assert second.json() == [{"metadata": {"name": "Team-A"}}]
    assert "link" not in second.headers


def test_order_drops_entities_without_the_field(cat):
    items = cat.get("/entities", params={"filter": "kind=group", "order": "desc:spec.parent"}).json()
    assert refs(items) == ["group:default/team-a"]
    bad = cat.get("/entities", params={"order": "sideways:metadata.name"})
    assert bad.status_code == 400


def test_pagination_parameter_errors(cat):
    assert cat.get("/entities", params={"limit": "0"}).json()["error"]["message"] == \
        "Invalid limit, must be greater than zero"
    assert cat.get("/entities", params={"limit": "abc"}).status_code == 400
    assert cat.get("/entities", params={"after": "!!!"}).json()["error"]["message"] == \
        "Malformed after cursor, could not be parsed"
    assert cat.get("/entities", params={"foo": "1"}).json()["error"]["message"] == "Unknown query parameter 'foo'"
    assert cat.get("/entities?filter=").json()["error"]["message"] == \
        "Empty value found for query parameter 'filter'"


def test_by_refs_keeps_order_and_nulls(cat):
    body = {"entityRefs": ["component:default/checkout", "component:default/nope", "Component:Default/Pay-Service",
                           "checkout"]}
    items = cat.post("/entities/by-refs", json=body).json()["items"]
    assert items[0]["metadata"]["name"] == "checkout"
    assert items[1] is None
    assert items[2]["metadata"]["name"] == "pay-service"
    assert items[3] is None  # no defaults are filled in, like Backstage


def test_by_refs_with_filter_fields_and_query(cat):
    body = {"entityRefs": ["component:default/checkout", "group:default/team-a"], "fields": ["metadata.name"]}
    response = cat.post("/entities/by-refs", params={"filter": "kind=group"}, json=body)
    assert response.json() == {"items": [None, {"metadata": {"name": "Team-A"}}]}
    query = {"entityRefs": ["component:default/checkout", "component:default/ledger"],
             "query": {"spec.lifecycle": "production"}}
    items = cat.post("/entities/by-refs", json=query).json()["items"]
    assert items[0] is None
    assert items[1]["metadata"]["name"] == "ledger"
    assert cat.post("/entities/by-refs", json={}).status_code == 400
    assert cat.post("/entities/by-refs", json={"entityRefs": []}).json() == {"items": []}


def test_by_refs_requires_json_content_type(cat):
    response = cat.post("/entities/by-refs", content=b'{"entityRefs": []}', headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "unsupported media type text/plain"


def test_facets_count_values_with_original_case(cat):
    response = cat.get("/entity-facets", params=[("facet", "kind"), ("facet", "metadata.name"),
                                                  ("filter", "kind=group")])
    facets = response.json()["facets"]
    assert facets["kind"] == [{"value": "Group", "count": 2}]
    assert facets["metadata.name"] == [{"value": "Team-A", "count": 1}, {"value": "org-root", "count": 1}]
    lifecycle = cat.get("/entity-facets", params={"facet": "spec.lifecycle"}).json()["facets"]["spec.lifecycle"]
    assert lifecycle == [{"value": "experimental", "count": 1}, {"value": "production", "count": 3}]
    assert cat.get("/entity-facets").status_code == 400


def test_post_facets_with_predicate(cat):
    response = cat.post("/entity-facets", json={"facets": ["spec.type"], "query": {"kind": "component"}})
    assert response.json() == {"facets": {"spec.type": [{"value": "library", "count": 1},
                                                        {"value": "service", "count": 1},
                                                        {"value": "website", "count": 1}]}}
    assert cat.post("/entity-facets", json={"facets": []}).json()["error"]["message"] == \
        "Missing or empty facets parameter"


def test_ancestry_walks_up_to_the_generated_location(cat):
    response = cat.get("/entities/by-name/component/default/checkout/ancestry")
    body = response.json()
    assert body["rootEntityRef"] == "component:default/checkout"
    chain = [item["entity"]["metadata"]["name"] for item in body["items"]]
    assert chain[0] == "checkout"
    assert chain[1] == "example"
    assert chain[2].startswith("generated-")
    assert body["items"][0]["parentEntityRefs"] == ["location:default/example"]
    assert body["items"][-1]["parentEntityRefs"] == []
    missing = cat.get("/entities/by-name/component/default/nope/ancestry")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No such entity component:default/nope"


def test_validate_entity_valid_invalid_and_location_errors(cat):
    entity = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "x"},
              "spec": {"type": "service", "owner": "a"}}
    response = cat.post("/validate-entity", json={"entity": entity, "location": "url:https://example.com/x.yaml"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["name"] == "InputError"
    assert error["message"] == ("Processor BuiltinKindsEntityProcessor threw an error while validating the entity "
                                "component:default/x; caused by TypeError: /spec must have required property "
                                "'lifecycle' - missingProperty: lifecycle")
    entity["spec"]["lifecycle"] = "production"
    ok = cat.post("/validate-entity", json={"entity": entity, "location": "url:https://example.com/x.yaml"})
    assert ok.status_code == 200
    assert ok.content == b""
    file_location = cat.post("/validate-entity", json={"entity": entity, "location": "file:/etc/passwd"})
    assert file_location.json()["errors"][0]["message"].startswith("Invalid location ref file:/etc/passwd")
    unknown_kind = dict(entity, kind="Widget")
    message = cat.post("/validate-entity", json={"entity": unknown_kind, "location": "url:https://x/y"}).json()
    assert "No processor recognized the entity widget:default/x" in message["errors"][0]["message"]


def test_refresh_known_and_unknown(cat):
    assert cat.post("/refresh", json={"entityRef": "component:default/checkout"}).status_code == 200
    missing = cat.post("/refresh", json={"entityRef": "component:default/nope"})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Entity component:default/nope not found"
    extra = cat.post("/refresh", json={"entityRef": "component:default/checkout", "x": 1})
    assert extra.json()["error"]["message"] == "request/body must NOT have additional properties"


def test_every_catalog_route_needs_a_token(cat):
    anonymous = cat.client.__class__(cat.portal.app)
    for method, path in [("get", "/api/catalog/entities"), ("get", "/api/catalog/entities/by-query"),
                         ("get", "/api/catalog/entity-facets?facet=kind"), ("get", "/api/catalog/locations"),
                         ("post", "/api/catalog/entities/by-refs")]:
        response = getattr(anonymous, method)(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["name"] == "AuthenticationError"
    forged = anonymous.get("/api/catalog/entities", headers={"Authorization": "Bearer test-static-token-0123456789abcdeX"})
    assert forged.status_code == 401


def test_openapi_document_describes_every_catalog_route(cat):
    doc = cat.client.get("/api/openapi.json").json()
    paths = doc["paths"]
    for path in ["/api/catalog/entities", "/api/catalog/entities/by-query", "/api/catalog/entities/by-refs",
                 "/api/catalog/entity-facets", "/api/catalog/locations", "/api/catalog/locations/{location_id}",
                 "/api/catalog/entities/by-name/{kind}/{namespace}/{name}/ancestry"]:
        assert path in paths, path
        for operation in paths[path].values():
            assert operation["x-greenroom-permission"].startswith("catalog.")
    by_query = {p["name"] for p in paths["/api/catalog/entities/by-query"]["get"]["parameters"]}
    assert {"filter", "fields", "orderField", "fullTextFilterTerm", "cursor", "limit", "totalItems"} <= by_query
    assert paths["/api/catalog/entities/by-refs"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "required"] == ["entityRefs"]
