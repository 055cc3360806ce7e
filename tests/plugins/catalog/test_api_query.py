"""GET/POST /entities/by-query: filters, ordering, full text, cursors and totals like Backstage."""

from __future__ import annotations

import base64
import json

import pytest

from tests.plugins.catalog.sample import ENTITY_COUNT, FILES


@pytest.fixture
def cat(catalog):
    return catalog(FILES)


def names(body):
    return [e["metadata"]["name"] for e in body["items"]]


def decode(cursor):
    return json.loads(base64.b64decode(cursor))


def test_default_order_is_uid_and_default_limit_is_200(cat):
    body = cat.get("/entities/by-query").json()
    assert body["totalItems"] == ENTITY_COUNT
    uids = [e["metadata"]["uid"] for e in body["items"]]
    assert uids == sorted(uids)
    assert body["pageInfo"] == {}


def test_walk_forward_and_back_with_cursors(cat):
    first = cat.get("/entities/by-query", params={"limit": 2, "filter": "kind=component",
                                                   "orderField": "metadata.name,asc", "fields": "metadata.name"}).json()
    assert names(first) == ["checkout", "ledger"]
    assert first["totalItems"] == 3
    assert "prevCursor" not in first["pageInfo"]
    cursor = decode(first["pageInfo"]["nextCursor"])
    assert cursor["query"] == {"kind": "component"}
    assert cursor["orderFields"] == [{"field": "metadata.name", "order": "asc"}]
    assert cursor["isPrevious"] is False
    assert cursor["orderFieldValues"][0] == "ledger"
    assert cursor["totalItems"] == 3
    # The cursor wins over other parameters; the limit is not stored in it.
    second = cat.get("/entities/by-query", params={"cursor": first["pageInfo"]["nextCursor"], "limit": 2,
                                                    "filter": "kind=api", "fields": "metadata.name"}).json()
    assert names(second) == ["pay-service"]
    assert second["totalItems"] == 3
    assert "nextCursor" not in second["pageInfo"]
    back = cat.get("/entities/by-query", params={"cursor": second["pageInfo"]["prevCursor"], "limit": 2,
                                                  "fields": "metadata.name"}).json()
    assert names(back) == ["checkout", "ledger"]
    assert "prevCursor" not in back["pageInfo"]
    assert "nextCursor" in back["pageInfo"]


def test_descending_order_and_exclusion_of_entities_without_the_field(cat):
    body = cat.get("/entities/by-query", params={"orderField": "spec.parent,desc"}).json()
    assert names(body) == ["Team-A"]
    assert body["totalItems"] == 1
    desc = cat.get("/entities/by-query", params={"filter": "kind=component",
                                                  "orderField": "METADATA.NAME,desc"}).json()
    assert names(desc) == ["pay-service", "ledger", "checkout"]


def test_full_text_searches_only_the_sort_field_without_fields(cat):
    none = cat.get("/entities/by-query", params={"fullTextFilterTerm": "pay"}).json()
    assert none["totalItems"] == 0
    by_name = cat.get("/entities/by-query", params={"fullTextFilterTerm": " PAY ",
                                                     "fullTextFilterFields": "metadata.name"}).json()
    assert sorted(names(by_name)) == ["pay-api", "pay-db", "pay-service", "pay-system", "payments"]
    sorted_search = cat.get("/entities/by-query", params={"fullTextFilterTerm": "pay",
                                                           "orderField": "metadata.name,asc"}).json()
    assert names(sorted_search) == ["pay-api", "pay-db", "pay-service", "pay-system", "payments"]


def test_total_items_exclude_and_limit_zero(cat):
    excluded = cat.get("/entities/by-query", params={"totalItems": "exclude", "limit": 1}).json()
    assert excluded["totalItems"] == 0
    assert len(excluded["items"]) == 1
    zero = cat.get("/entities/by-query", params={"limit": 0}).json()
    assert zero == {"items": [], "totalItems": ENTITY_COUNT, "pageInfo": {}}


def test_offset_skips_rows_on_the_first_page(cat):
    body = cat.get("/entities/by-query", params={"filter": "kind=component", "orderField": "metadata.name,asc",
                                                  "offset": 1, "limit": 1}).json()
    assert names(body) == ["ledger"]
    assert "prevCursor" not in body["pageInfo"]


def test_post_by_query_predicates(cat):
    body = {"query": {"$all": [{"kind": "component"}, {"$not": {"spec.lifecycle": "experimental"}}]},
            "orderBy": [{"field": "metadata.name", "order": "asc"}], "fields": ["metadata.name"]}
    assert names(cat.post("/entities/by-query", json=body).json()) == ["ledger", "pay-service"]
    any_of = {"query": {"$any": [{"kind": "api"}, {"kind": "resource"}]}, "limit": 10}
    assert cat.post("/entities/by-query", json=any_of).json()["totalItems"] == 2
    prefix = {"query": {"metadata.name": {"$hasPrefix": "pay-s"}}}
    assert sorted(names(cat.post("/entities/by-query", json=prefix).json())) == ["pay-service", "pay-system"]
    exists = {"query": {"spec.system": {"$exists": False}, "kind": "component"}}
    assert sorted(names(cat.post("/entities/by-query", json=exists).json())) == ["checkout", "ledger"]
    contains = {"query": {"relations": {"$contains": {"type": "ownedBy", "targetRef": "group:default/org-root"}}}}
    assert names(cat.post("/entities/by-query", json=contains).json()) == ["ledger"]
    in_list = {"query": {"spec.type": {"$in": ["website", "library"]}}}
    assert sorted(names(cat.post("/entities/by-query", json=in_list).json())) == ["checkout", "ledger"]


def test_post_cursor_from_get_and_back(cat):
    first = cat.get("/entities/by-query", params={"limit": 1, "filter": "kind=component",
                                                   "orderField": "metadata.name,asc"}).json()
    second = cat.post("/entities/by-query", json={"cursor": first["pageInfo"]["nextCursor"], "limit": 1}).json()
    assert names(second) == ["ledger"]
    assert cat.post("/entities/by-query", json={"cursor": ""}).json()["error"]["message"] == "Cursor cannot be empty"


def test_invalid_predicates_and_cursors_are_400(cat):
    bad = [{"query": {"kind": {"$regex": "x"}}}, {"query": {"relations": {"$contains": {"type": "a", "x": 1}}}},
           {"query": "kind=component"}, {"orderBy": [{"field": "kind", "order": "sideways"}]}]
    for body in bad:
        response = cat.post("/entities/by-query", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["name"] == "InputError"
    for cursor in ["not-base64!", base64.b64encode(b"[1]").decode(), base64.b64encode(b'{"a":1}').decode()]:
        response = cat.get("/entities/by-query", params={"cursor": cursor})
        assert response.status_code == 400, cursor
        assert response.json()["error"]["message"].startswith("Malformed cursor")


def test_walking_all_pages_visits_every_entity_once(cat):
    seen = []
    params = {"limit": 3, "fields": "metadata.uid"}
    body = cat.get("/entities/by-query", params=params).json()
    while True:
        seen.extend(e["metadata"]["uid"] for e in body["items"])
        cursor = body["pageInfo"].get("nextCursor")
        if not cursor:
            break
        body = cat.get("/entities/by-query", params={"cursor": cursor, "limit": 3, "fields": "metadata.uid"}).json()
    assert len(seen) == ENTITY_COUNT == len(set(seen))


@pytest.mark.parametrize("matching", [40, 330])  # read in one pass, and too many for one pass (300)
def test_full_text_pages_and_totals_whether_few_or_many_match(catalog, matching):
    docs = [
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {prefix}-{i:03d}\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
        for prefix, count in (("match", matching), ("other", 25)) for i in range(count)
    ]
    cat = catalog({"all.yaml": "---\n".join(docs)})
    params = {"fullTextFilterTerm": "MATCH", "fullTextFilterFields": "metadata.name",
              "orderField": "metadata.name,desc", "limit": 15, "fields": "metadata.name"}
    first = cat.get("/entities/by-query", params=params).json()
    assert first["totalItems"] == matching
    expected = [f"match-{i:03d}" for i in reversed(range(matching))]
    assert names(first) == expected[:15]
    seen, body = names(first), first
    while "nextCursor" in body["pageInfo"]:
        body = cat.get("/entities/by-query", params={"cursor": body["pageInfo"]["nextCursor"]}).json()
        assert body["totalItems"] == matching
        seen += names(body)
    assert seen == expected
    offset = cat.get("/entities/by-query", params={**params, "offset": 10, "limit": 5}).json()
    assert names(offset) == expected[10:15]
    assert offset["totalItems"] == matching
