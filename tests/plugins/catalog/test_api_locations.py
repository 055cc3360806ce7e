"""The locations routes: register (and dry-run) url locations, list, get, delete, by-entity."""

from __future__ import annotations

import pytest

from tests.plugins.catalog.test_ingestion import component, location
from tests.plugins.catalog.web import WebRepo


@pytest.fixture
def repo(tmp_path):
    web = WebRepo(tmp_path / "web")
    yield web
    web.close()


@pytest.fixture
def cat(catalog, repo):
    return catalog(None, extra=repo.reading_config())


def test_register_url_location_ingests_its_tree(cat, repo):
    url = repo.write("repo/catalog-info.yaml", location("./more.yaml").replace("name: root", "name: repo-loc")
                     + "---" + component("registered"))
    repo.write("repo/more.yaml", component("nested"))
    response = cat.post("/locations", json={"type": "url", "target": url})
    assert response.status_code == 201
    body = response.json()
    assert body["entities"] == []
    location_id = body["location"]["id"]
    assert body["location"]["type"] == "url"
    assert body["location"]["target"] == url
    assert body["location"]["entityRef"].startswith("location:default/generated-")
    registered = cat.entity("component:default/registered")
    annotations = registered["metadata"]["annotations"]
    assert annotations["backstage.io/managed-by-location"] == f"url:{url}"
    assert annotations["backstage.io/managed-by-origin-location"] == f"url:{url}"
    assert annotations["backstage.io/view-url"] == url
    nested = cat.entity("component:default/nested")
    assert nested["metadata"]["annotations"]["backstage.io/managed-by-location"] == f"url:{repo.base}/repo/more.yaml"
    assert cat.get("/locations").json() == [{"data": body["location"]}]
    assert cat.get(f"/locations/{location_id}").json() == body["location"]
    assert cat.get("/locations/by-entity/component/default/nested").json() == body["location"]
    again = cat.post("/locations", json={"type": "url", "target": url})
    assert again.status_code == 409
    assert again.json()["error"]["message"] == f"Location url:{url} already exists"
    assert cat.delete(f"/locations/{location_id}").status_code == 204
    assert cat.entity("component:default/registered") is None
    assert cat.entity("component:default/nested") is None
    assert cat.delete(f"/locations/{location_id}").json()["error"]["message"] == \
        f"Found no location with ID {location_id}"


def test_dry_run_reads_without_storing(cat, repo):
    url = repo.write("dry/catalog-info.yaml", component("dry"))
    response = cat.post("/locations", params={"dryRun": "true"}, json={"type": "url", "target": url})
    assert response.status_code == 201
    body = response.json()
    assert body["exists"] is False
    assert body["location"]["id"] == f"url:{url}"
    assert {e["metadata"]["name"] for e in body["entities"]} >= {"dry"}
    assert cat.entity("component:default/dry") is None
    assert cat.get("/locations").json() == []


def test_dry_run_with_errors_is_400(cat, repo):
    url = repo.write("broken/catalog-info.yaml", "kind: [unclosed\n")
    response = cat.post("/locations", params={"dryRun": "true"}, json={"type": "url", "target": url})
    assert response.status_code == 400
    assert "YAML error" in response.json()["error"]["message"]


def test_file_locations_cannot_be_registered_through_the_api(cat, repo):
    response = cat.post("/locations", json={"type": "file", "target": "/etc/passwd"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == 'Registered locations must be of an allowed type ["url"]'
    assert repo.requests == []


def test_location_body_is_strict(cat):
    assert cat.post("/locations", json={"type": "url"}).status_code == 400
    extra = cat.post("/locations", json={"type": "url", "target": "https://x/y.yaml", "x": 1})
    assert extra.status_code == 400
    assert extra.json()["error"]["message"].startswith("Malformed request")


def test_location_by_entity_for_config_location_is_404(catalog):
    cat = catalog({"all.yaml": component("c")})
    response = cat.get("/locations/by-entity/component/default/c")
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Found no location with type file and target")
    assert cat.get("/locations/by-entity/component/default/zzz").json()["error"]["message"] == \
        "found no entity for ref component:default/zzz"


def test_readonly_mode_refuses_changes(catalog, repo):
    cat = catalog(None, extra={**repo.reading_config(), "catalog": {"readonly": True}})
    url = repo.write("ro/catalog-info.yaml", component("ro"))
    response = cat.post("/locations", json={"type": "url", "target": url})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This operation not allowed in readonly mode"
    dry = cat.post("/locations", params={"dryRun": "true"}, json={"type": "url", "target": url})
    assert dry.status_code == 201


def test_analyze_location_suggests_a_component(cat):
    response = cat.post("/analyze-location",
                        json={"location": {"type": "url", "target": "https://github.com/acme/my-repo"}})
    body = response.json()
    assert body["existingEntityFiles"] == []
    entity = body["generateEntities"][0]["entity"]
    assert entity["metadata"] == {"name": "my-repo", "annotations": {"github.com/project-slug": "acme/my-repo"}}
    bad = cat.post("/analyze-location", json={"location": {"type": "url", "target": "not a url"}})
    assert bad.json()["error"]["message"] == "The given location.target is not a URL"


def test_refresh_rereads_a_registered_location(cat, repo):
    url = repo.write("r/catalog-info.yaml", component("r", "experimental"))
    cat.post("/locations", json={"type": "url", "target": url})
    repo.write("r/catalog-info.yaml", component("r", "production"))
    assert cat.post("/refresh", json={"entityRef": "component:default/r"}).status_code == 200
    assert cat.entity("component:default/r")["spec"]["lifecycle"] == "production"


def test_put_location_moves_the_tree(cat, repo):
    first = repo.write("one/catalog-info.yaml", component("one"))
    second = repo.write("two/catalog-info.yaml", component("two"))
    created = cat.post("/locations", json={"type": "url", "target": first}).json()["location"]
    response = cat.client.put(f"/api/catalog/locations/{created['id']}", json={"type": "url", "target": second})
    assert response.status_code == 200
    assert response.json()["target"] == second
    assert cat.entity("component:default/one") is None
    assert cat.entity("component:default/two") is not None
    missing = cat.client.put("/api/catalog/locations/nope", json={"type": "url", "target": second})
    assert missing.status_code == 404


def test_locations_by_query_pages_and_filters(cat, repo):
    urls = [repo.write(f"q{i}/catalog-info.yaml", component(f"q{i}")) for i in range(3)]
    for url in urls:
        cat.post("/locations", json={"type": "url", "target": url})
    page = cat.post("/locations/by-query", json={"limit": 2}).json()
    assert page["totalItems"] == 3
    assert len(page["items"]) == 2
    assert list(page["items"][0]) == ["id", "target", "type", "entityRef"]
    rest = cat.post("/locations/by-query", json={"cursor": page["pageInfo"]["nextCursor"]}).json()
    assert len(rest["items"]) == 1
    assert rest["pageInfo"] == {}
    ids = [i["id"] for i in page["items"] + rest["items"]]
    assert ids == sorted(ids)
    one = cat.post("/locations/by-query", json={"query": {"TARGET": urls[1].upper()}}).json()
    assert [i["target"] for i in one["items"]] == [urls[1]]
    assert cat.post("/locations/by-query", json={"query": {"owner": "x"}}).status_code == 400
    assert cat.post("/locations/by-query", json={"limit": 0}).json()["error"]["message"] == \
        "Limit must be a positive integer >= 1"
    assert cat.post("/locations/by-query", json={"cursor": "???"}).json()["error"]["message"] == \
        "Malformed cursor, unknown encoding"
