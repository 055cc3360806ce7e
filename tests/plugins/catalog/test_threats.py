"""Bad input and the catalog threats of shared/docs/threats.md: each gets a clear error, none
crashes the server, none loses entities that were already there."""

from __future__ import annotations

import os
import socket

import pytest

from tests.plugins.catalog.test_ingestion import component, location
from tests.plugins.catalog.web import WebRepo

BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]",
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]",
        "apiVersion: backstage.io/v1alpha1",
        "kind: Component",
        "metadata: {name: bomb}",
        "spec: {type: service, lifecycle: x, owner: y, payload: *g}",
    ]
)


def status(cat):
    return cat.get("/x-greenroom/location-status").json()["items"]


@pytest.fixture
def repo(tmp_path):
    web = WebRepo(tmp_path / "web")
    yield web
    web.close()


def test_yaml_bomb_in_catalog_file_is_refused(catalog):
    cat = catalog({"all.yaml": location("./bomb.yaml", "./ok.yaml"), "bomb.yaml": BOMB, "ok.yaml": component("ok")})
    errors = status(cat)[0]["errors"]
    assert any("billion laughs" in e["message"] for e in errors)
    assert cat.entity("component:default/bomb") is None


def test_deeply_nested_yaml_is_refused(catalog):
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    cat = catalog({"all.yaml": deep})
    assert "YAML error" in status(cat)[0]["errors"][0]["message"]


def test_huge_catalog_file_is_refused_without_reading_it_all(catalog, tmp_path):
    cat = catalog({"all.yaml": component("before")}, extra={"catalog": {"limits": {"maxFileBytes": 10 * 1024 * 1024}}})
    big = cat.root / "all.yaml"
    with big.open("a", encoding="utf-8") as f:
        f.write("#" * (11 * 1024 * 1024))
    cat.ingest()
    assert "more than the limit" in status(cat)[0]["errors"][0]["message"]
    assert cat.entity("component:default/before") is not None  # nothing lost


def test_request_body_of_50_mb_is_refused_and_server_keeps_serving(catalog, live_server):
    cat = catalog({"all.yaml": component("keep")})
    server = live_server(cat.portal.app)
    with server.client() as client:
        response = client.post("/api/catalog/locations", content=b"x" * (50 * 1024 * 1024),
                               headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json()["error"]["name"] == "PayloadTooLargeError"
        # A chunked body (no Content-Length) is cut off too.
        def chunks():
            for _ in range(50):
                yield b"x" * (1024 * 1024)
        chunked = client.post("/api/catalog/entities/by-refs", content=chunks(),
                              headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        assert client.get("/api/catalog/entities/by-name/component/default/keep").status_code == 200


def test_ssrf_url_location_to_cloud_metadata_refused_before_connect(catalog, repo):
    cat = catalog(None, extra=repo.reading_config())
    for target in ("http://169.254.169.254/latest/meta-data/catalog-info.yaml",
                   "http://[fd00:ec2::254]/catalog-info.yaml"):
        response = cat.post("/locations", params={"dryRun": "true"}, json={"type": "url", "target": target})
        assert response.status_code == 400
        assert "not allowed" in response.json()["error"]["message"].lower()


def test_ssrf_url_location_to_host_outside_allow_list_gets_no_request(catalog, repo):
    # The listener is real, but not allow-listed: it must receive nothing.
    cat = catalog(None)
    url = repo.write("x/catalog-info.yaml", component("x"))
    response = cat.post("/locations", params={"dryRun": "true"}, json={"type": "url", "target": url})
    assert response.status_code == 400
    assert repo.requests == []


def test_ssrf_private_address_refused_even_when_host_is_allowed_by_name(catalog):
    # localhost:<port> allowed by the list, but it resolves to loopback and the entry does not opt in.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        cat = catalog(None, extra={"backend": {"reading": {"allow": [{"host": f"localhost:{port}"}]}}})
        response = cat.post("/locations", params={"dryRun": "true"},
                            json={"type": "url", "target": f"http://localhost:{port}/c.yaml"})
        assert response.status_code == 400
        with pytest.raises(TimeoutError):
            listener.accept()


def test_location_type_bypass_file_through_api_refused(catalog):
    cat = catalog(None)
    response = cat.post("/locations", json={"type": "file", "target": "/etc/passwd"})
    assert response.status_code == 400


def test_text_placeholder_path_traversal_refused(catalog, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret", encoding="utf-8")
    api = ("apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {n}\nspec:\n  type: openapi\n"
           "  lifecycle: production\n  owner: team-a\n  definition:\n    $text: {t}\n")
    cat = catalog({"all.yaml": component("kept")})
    cat.write("all.yaml", component("kept") + "---\n" + api.format(n="up", t="../secret.txt") + "---\n"
              + api.format(n="etc", t="../../../../../../etc/passwd") + "---\n" + api.format(n="abs", t="/etc/passwd"))
    os.symlink(secret, cat.root / "link.txt")
    cat.write("more.yaml", "")
    cat.write("all.yaml", cat.root.joinpath("all.yaml").read_text() + "---\n" + api.format(n="link", t="./link.txt"))
    cat.ingest()
    for name in ("up", "etc", "abs", "link"):
        assert cat.entity(f"api:default/{name}") is None, name
    body = str(cat.get("/entities").json())
    assert "top secret" not in body
    assert "root:x:" not in body
    messages = " ".join(e["message"] for e in status(cat)[0]["errors"])
    assert "outside the location's directory" in messages or "absolute path" in messages
    assert "top secret" not in messages
    assert cat.entity("component:default/kept") is not None


def test_location_target_escaping_the_tree_refused(catalog, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text(component("outside"), encoding="utf-8")
    cat = catalog({"all.yaml": location("../outside.yaml")})
    assert cat.entity("component:default/outside") is None
    assert "outside the location's directory" in status(cat)[0]["errors"][0]["message"]


def test_text_placeholder_to_another_host_refused_in_url_tree(catalog, repo):
    cat = catalog(None, extra=repo.reading_config())
    api = ("apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: far\nspec:\n  type: openapi\n"
           "  lifecycle: production\n  owner: team-a\n  definition:\n    $text: http://169.254.169.254/x\n")
    url = repo.write("p/catalog-info.yaml", api)
    response = cat.post("/locations", json={"type": "url", "target": url})
    assert response.status_code == 201
    assert cat.entity("api:default/far") is None


def test_privilege_escalation_by_joining_a_group_refused_by_default_rules(catalog, repo):
    cat = catalog(None, rules=None, extra=repo.reading_config())
    user = "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: mallory\nspec:\n  memberOf: [admins]\n"
    url = repo.write("evil/catalog-info.yaml", user)
    cat.post("/locations", json={"type": "url", "target": url})
    assert cat.entity("user:default/mallory") is None


def test_javascript_view_url_is_neutralised(catalog):
    entity = component("xss").replace("metadata:\n", "metadata:\n  annotations:\n"
                                      "    backstage.io/view-url: \" JaVa\\tScRiPt:alert(1)\"\n"
                                      "  description: <script>alert(1)</script>\n")
    cat = catalog({"all.yaml": entity})
    stored = cat.entity("component:default/xss")
    assert stored["metadata"]["annotations"]["backstage.io/view-url"] == \
        "https://backstage.io/annotation-rejected-for-security-reasons"
    assert stored["metadata"]["description"] == "<script>alert(1)</script>"  # data, escaped by any UI


def test_thousands_of_entities_in_one_location(catalog):
    docs = "---".join(component(f"c-{i:05d}") for i in range(3000))
    cat = catalog({"all.yaml": docs})
    assert cat.get("/entities/by-query", params={"filter": "kind=component", "limit": 1}).json()["totalItems"] == 3000


def test_very_long_names_and_values(catalog):
    long_name = component("n" * 64)
    long_value = component("fine").replace("metadata:\n", "metadata:\n  description: " + "d" * 100_000 + "\n")
    cat = catalog({"all.yaml": long_name + "---" + long_value})
    assert cat.entity("component:default/fine")["metadata"]["description"] == "d" * 100_000
    assert "metadata.name" in status(cat)[0]["errors"][0]["message"]
    # A value over 200 characters is not searchable, as in Backstage, but its key exists.
    assert cat.get("/entities", params={"filter": "metadata.description"}).json()[0]["metadata"]["name"] == "fine"
