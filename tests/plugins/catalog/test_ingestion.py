"""Ingestion semantics: failure units, orphans, conflicts, rules, placeholders, cycles, re-ingest."""

from __future__ import annotations

from tests.plugins.catalog.conftest import ALL_KINDS

COMPONENT = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: {lifecycle}
  owner: team-a
"""


def component(name: str, lifecycle: str = "production") -> str:
    return COMPONENT.format(name=name, lifecycle=lifecycle)


def location(*targets: str) -> str:
    return ("apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets:\n"
            + "".join(f"    - {t}\n" for t in targets))


def status(cat):
    return cat.get("/x-greenroom/location-status").json()["items"]


def test_invalid_entity_fails_alone_and_siblings_are_stored(catalog):
    bad = component("bad").replace("  lifecycle: production\n", "")
    cat = catalog({"all.yaml": component("good") + "---" + bad})
    assert cat.entity("component:default/good") is not None
    assert cat.entity("component:default/bad") is None
    errors = status(cat)[0]["errors"]
    assert len(errors) == 1
    assert errors[0]["entityRef"] == "component:default/bad"
    assert "must have required property 'lifecycle'" in errors[0]["message"]
    assert errors[0]["line"] == 11  # the first line of the failing document


def test_broken_yaml_fails_the_whole_file_and_keeps_earlier_entities(catalog):
    cat = catalog({"all.yaml": component("one") + "---" + component("two")})
    before = cat.entity("component:default/one")
    cat.write("all.yaml", component("one") + "---\nname: [unclosed\n")
    cat.ingest()
    assert cat.entity("component:default/one") == before
    assert cat.entity("component:default/two") is not None  # not orphaned: the read failed
    errors = status(cat)[0]["errors"]
    assert errors[0]["message"].startswith("YAML error at file:")
    location_entity = cat.get("/entities", params={"filter": "kind=location"}).json()[0]
    assert location_entity["status"]["items"][0]["type"] == "backstage.io/catalog-processing"


def test_first_run_with_broken_yaml_stores_nothing_but_reports_it(catalog):
    cat = catalog({"all.yaml": component("one") + "---\nkey: [unclosed\n"})
    assert cat.get("/entities").json() == []
    item = status(cat)[0]
    assert item["entityCount"] == 0
    assert item["errors"]
    assert "YAML error" in item["errors"][0]["message"]


def test_entity_that_becomes_invalid_keeps_last_good_version_with_status(catalog):
    cat = catalog({"all.yaml": component("svc")})
    cat.write("all.yaml", component("svc").replace("  owner: team-a\n", ""))
    cat.ingest()
    entity = cat.entity("component:default/svc")
    assert entity["spec"]["owner"] == "team-a"
    item = entity["status"]["items"][0]
    assert item["level"] == "error"
    assert item["error"]["name"] == "InputError"
    assert item["error"]["cause"]["message"] == "/spec must have required property 'owner' - missingProperty: owner"
    cat.write("all.yaml", component("svc"))
    cat.ingest()
    assert "status" not in cat.entity("component:default/svc")


def test_removed_entity_is_orphaned_and_comes_back(catalog):
    cat = catalog({"all.yaml": component("a") + "---" + component("b")})
    cat.write("all.yaml", component("a"))
    cat.ingest()
    orphan = cat.entity("component:default/b")
    assert orphan["metadata"]["annotations"]["backstage.io/orphan"] == "true"
    orphans = cat.get("/entities", params={"filter": "metadata.annotations.backstage.io/orphan=true"}).json()
    assert [e["metadata"]["name"] for e in orphans] == ["b"]
    cat.write("all.yaml", component("a") + "---" + component("b"))
    cat.ingest()
    assert "backstage.io/orphan" not in cat.entity("component:default/b")["metadata"]["annotations"]


def test_orphan_strategy_delete(catalog):
    cat = catalog({"all.yaml": component("a") + "---" + component("b")}, extra={"catalog": {"orphanStrategy": "delete"}})
    cat.write("all.yaml", component("a"))
    cat.ingest()
    assert cat.entity("component:default/b") is None


def test_same_ref_in_one_file_last_wins_and_across_files_first_wins(catalog):
    cat = catalog({
        "all.yaml": location("./one.yaml", "./two.yaml"),
        "one.yaml": component("dup", "experimental") + "---" + component("dup", "production"),
        "two.yaml": component("dup", "deprecated"),
    })
    entity = cat.entity("component:default/dup")
    assert entity["spec"]["lifecycle"] == "production"
    assert entity["metadata"]["annotations"]["backstage.io/managed-by-location"].endswith("one.yaml")
    warnings = status(cat)[0]["warnings"]
    assert any(w["name"] == "ConflictError" and "dup" in w["message"] for w in warnings)


def test_conflict_between_two_config_locations(catalog, tmp_path):
    first = tmp_path / "first" / "a.yaml"
    second = tmp_path / "second" / "b.yaml"
    for path in (first, second):
        path.parent.mkdir(parents=True)
        path.write_text(component("shared"), encoding="utf-8")
    cat = catalog(None, extra={"catalog": {"locations": [{"type": "file", "target": str(first)},
                                                         {"type": "file", "target": str(second)}]}})
    entity = cat.entity("component:default/shared")
    assert entity["metadata"]["annotations"]["backstage.io/managed-by-location"] == f"file:{first}"
    second_status = next(s for s in status(cat) if s["location"]["target"] == str(second))
    assert second_status["warnings"][0]["name"] == "ConflictError"


def test_default_rules_refuse_groups_users_and_templates(catalog):
    group = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: admins\nspec:\n  type: team\n  children: []\n"
    cat = catalog({"all.yaml": component("ok") + "---\n" + group}, rules=None)
    # Backstage: a kind the rules refuse fails the whole read of the location.
    assert cat.entity("group:default/admins") is None
    assert cat.entity("component:default/ok") is None
    error = status(cat)[0]["errors"][0]
    assert error["name"] == "NotAllowedError"
    assert "is not of an allowed kind for that location" in error["message"]


def test_per_location_rules_allow_kinds_from_that_location_only(catalog, tmp_path):
    users = tmp_path / "org" / "users.yaml"
    users.parent.mkdir(parents=True)
    users.write_text("apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: bob\nspec:\n  memberOf: []\n",
                     encoding="utf-8")
    other = tmp_path / "other" / "users.yaml"
    other.parent.mkdir(parents=True)
    other.write_text(users.read_text().replace("bob", "mallory"), encoding="utf-8")
    cat = catalog(None, rules=[{"allow": ["Component", "API", "Location"]}], extra={"catalog": {"locations": [
        {"type": "file", "target": str(users), "rules": [{"allow": ["User"]}]},
        {"type": "file", "target": str(other)},
    ]}})
    assert cat.entity("user:default/bob") is not None
    assert cat.entity("user:default/mallory") is None


def test_unknown_kind_is_rejected_with_backstage_message(catalog):
    widget = "apiVersion: backstage.io/v1alpha1\nkind: Widget\nmetadata:\n  name: w\nspec: {}\n"
    cat = catalog({"all.yaml": widget}, rules=[{"allow": ["Widget", "Location"]}])
    assert cat.get("/entities", params={"filter": "kind=widget"}).json() == []
    message = status(cat)[0]["errors"][0]["message"]
    assert message == ("No processor recognized the entity widget:default/w as valid, possibly caused by a "
                       "foreign kind or apiVersion")


def test_location_cycle_is_reported_and_does_not_hang(catalog):
    a = location("./b.yaml").replace("name: root", "name: loc-a")
    b = location("./all.yaml").replace("name: root", "name: loc-b")
    cat = catalog({"all.yaml": a + "---" + component("svc"), "b.yaml": b})
    assert cat.entity("component:default/svc") is not None
    errors = status(cat)[0]["errors"]
    assert any("Location cycle detected" in e["message"] for e in errors)


def test_globs_and_nested_locations(catalog):
    cat = catalog({
        "all.yaml": location("./plugins/**/catalog-info.yaml"),
        "plugins/a/catalog-info.yaml": component("plugin-a"),
        "plugins/b/deep/catalog-info.yaml": component("plugin-b"),
    })
    assert cat.entity("component:default/plugin-a") is not None
    b = cat.entity("component:default/plugin-b")
    assert b["metadata"]["annotations"]["backstage.io/managed-by-location"].endswith("plugins/b/deep/catalog-info.yaml")


def test_missing_target_fails_its_read(catalog):
    cat = catalog({"all.yaml": location("./missing.yaml")})
    errors = status(cat)[0]["errors"]
    assert errors[0]["name"] == "NotFoundError"
    assert errors[0]["message"].endswith("missing.yaml does not exist")


def test_text_placeholder_inside_the_tree(catalog):
    api = ("apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: pets\nspec:\n  type: openapi\n"
           "  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./openapi.yaml\n")
    cat = catalog({"all.yaml": api, "openapi.yaml": "openapi: 3.0.0\n"})
    assert cat.entity("api:default/pets")["spec"]["definition"] == "openapi: 3.0.0\n"


def test_json_and_yaml_placeholders(catalog):
    component_with = component("p").replace("spec:\n", "spec:\n  extra:\n    $json: ./data.json\n  more:\n    $yaml: ./data.yaml\n")
    cat = catalog({"all.yaml": component_with, "data.json": '{"a": [1, 2]}', "data.yaml": "b: yes\n"})
    spec = cat.entity("component:default/p")["spec"]
    assert spec["extra"] == {"a": [1, 2]}
    assert spec["more"] == {"b": "yes"}


def test_unknown_placeholder_is_left_alone_and_validation_reports_it(catalog):
    api = ("apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: pets\nspec:\n  type: openapi\n"
           "  lifecycle: production\n  owner: team-a\n  definition:\n    $openapi: ./openapi.yaml\n")
    cat = catalog({"all.yaml": api})
    assert cat.entity("api:default/pets") is None
    assert "/spec/definition must be string" in status(cat)[0]["errors"][0]["message"]


def test_reingesting_unchanged_location_is_skipped(catalog):
    cat = catalog({"all.yaml": location("./c.yaml"), "c.yaml": component("c")})
    etag = cat.entity("component:default/c")["metadata"]["etag"]
    stats = cat.service.ingest_all()
    assert all(s.skipped for s in stats.values())
    cat.write("c.yaml", component("c", "deprecated"))
    stats = cat.service.ingest_all()
    assert not any(s.skipped for s in stats.values())
    entity = cat.entity("component:default/c")
    assert entity["spec"]["lifecycle"] == "deprecated"
    assert entity["metadata"]["etag"] != etag


def test_relations_of_others_update_when_an_owner_changes(catalog):
    group = ("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {n}\nspec:\n  type: team\n"
             "  children: []\n")
    cat = catalog({"all.yaml": component("svc") + "---\n" + group.format(n="team-a") + "---\n" + group.format(n="team-b")})
    team_a = cat.entity("group:default/team-a")
    assert {"type": "ownerOf", "targetRef": "component:default/svc"} in team_a["relations"]
    cat.write("all.yaml", component("svc").replace("owner: team-a", "owner: team-b") + "---\n"
              + group.format(n="team-a") + "---\n" + group.format(n="team-b"))
    cat.ingest()
    assert cat.entity("group:default/team-a")["relations"] == []
    assert cat.entity("group:default/team-a")["metadata"]["etag"] != team_a["metadata"]["etag"]
    assert {"type": "ownerOf", "targetRef": "component:default/svc"} in cat.entity("group:default/team-b")["relations"]


def test_search_rows_match_backstage_for_tricky_values(catalog):
    entity = component("odd").replace("spec:\n", "spec:\n  flag: true\n  count: 3\n  nothing: null\n"
                                                 "  nested: [{name: one}, {name: two}]\n  empty: []\n")
    cat = catalog({"all.yaml": entity})
    def found(f):
        return [e["metadata"]["name"] for e in cat.get("/entities", params={"filter": f}).json()]
    assert found("spec.flag=true") == ["odd"]
    assert found("spec.count=3") == ["odd"]
    assert found("spec.nothing") == ["odd"]
    assert found("spec.nested.name=two") == ["odd"]
    assert found("spec.empty") == []
    assert found("metadata.etag") == []


def test_case_colliding_keys_fail_the_entity(catalog):
    entity = component("cased").replace("spec:\n", "spec:\n  foo: 1\n  Foo: 2\n")
    cat = catalog({"all.yaml": entity + "---" + component("fine")})
    assert cat.entity("component:default/cased") is None
    assert cat.entity("component:default/fine") is not None
    assert "duplicate keys that vary only in casing" in status(cat)[0]["errors"][0]["message"]


def test_all_kinds_and_generated_location_entity(catalog):
    cat = catalog({"all.yaml": component("x")}, rules=[{"allow": ALL_KINDS}])
    locations = cat.get("/entities", params={"filter": "kind=location"}).json()
    assert len(locations) == 1
    generated = locations[0]
    assert generated["metadata"]["name"].startswith("generated-")
    assert generated["spec"] == {"type": "file", "target": str(cat.root / "all.yaml")}
    assert generated["relations"] == []
