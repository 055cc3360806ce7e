"""Conditional decisions become SQL: lists, counts, cursors, facets and by-refs see only what
the conditions allow (threat: hidden entities leaking through counts, facets, by-refs)."""

from __future__ import annotations

import pytest

from greenroom.errors import InputError
from greenroom.plugins.catalog.permission_rules import criteria_to_predicate, criteria_to_sql
from greenroom.plugins.catalog.store.queries import QueryRequest, decode_cursor
from tests.plugins.catalog.sample import FILES

OWNED_BY_ROOT = {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
                 "params": {"claims": ["group:default/org-root"]}}
TEAM_A_COMPONENTS = {"allOf": [
    {"rule": "IS_ENTITY_OWNER", "params": {"claims": ["group:default/team-a"]}},
    {"rule": "IS_ENTITY_KIND", "params": {"kinds": ["Component"]}},
]}


@pytest.fixture
def cat(catalog):
    return catalog(FILES)


def names(items):
    import orjson

    return sorted(orjson.loads(i)["metadata"]["name"] for i in items)


def test_owner_condition_limits_lists_counts_and_pages(cat):
    restrict = criteria_to_sql(TEAM_A_COMPONENTS)
    queries = cat.service.queries
    assert names(queries.list_all(None, [], restrict)) == ["checkout", "pay-service"]
    page = queries.query(QueryRequest(limit=1), restrict)
    assert page.total_items == 2
    assert len(page.items) == 1
    rest = queries.query(QueryRequest(limit=1, cursor=decode_cursor(page.next_cursor)), restrict)
    assert len(rest.items) == 1
    assert rest.next_cursor is None
    assert names(page.items + rest.items) == ["checkout", "pay-service"]


def test_facets_do_not_count_hidden_entities(cat):
    restrict = criteria_to_sql(OWNED_BY_ROOT)
    facets = cat.service.queries.facets(["kind", "metadata.name"], None, restrict)
    assert facets == {"kind": [{"value": "Component", "count": 1}],
                      "metadata.name": [{"value": "ledger", "count": 1}]}


def test_by_refs_and_by_name_hide_what_is_not_allowed(cat):
    restrict = criteria_to_sql(OWNED_BY_ROOT)
    queries = cat.service.queries
    found = queries.by_refs(["component:default/ledger", "component:default/checkout"], None, restrict)
    assert found[0] is not None
    assert found[1] is None
    assert queries.by_ref("component:default/checkout", restrict) is None


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"rule": "HAS_LABEL", "params": {"label": "tier"}}, ["pay-service"]),
        ({"rule": "HAS_ANNOTATION", "params": {"annotation": "github.com/project-slug", "value": "acme/pay"}},
         ["pay-service"]),
        ({"rule": "HAS_SPEC", "params": {"key": "lifecycle", "value": "experimental"}}, ["checkout"]),
        ({"rule": "HAS_METADATA", "params": {"key": "description"}}, ["Team-A", "pay-service"]),
        ({"not": {"rule": "IS_ENTITY_KIND", "params": {"kinds": ["Component", "Location", "Group", "User",
                                                                  "API", "Resource", "System"]}}},
         ["payments"]),
        ({"anyOf": [OWNED_BY_ROOT, {"rule": "IS_ENTITY_KIND", "params": {"kinds": ["domain"]}}]},
         ["ledger", "payments"]),
    ],
)
def test_each_rule(cat, criteria, expected):
    assert names(cat.service.queries.list_all(None, [], criteria_to_sql(criteria))) == expected


@pytest.mark.parametrize("criteria", [
    {"rule": "IS_EVERYTHING", "params": {}},
    {"rule": "IS_ENTITY_OWNER", "params": {"claims": "group:default/x"}},
    {"rule": "HAS_LABEL", "params": {}},
    {"rule": "IS_ENTITY_KIND", "resourceType": "scaffolder-template", "params": {"kinds": ["x"]}},
    "IS_ENTITY_OWNER",
])
def test_malformed_criteria_are_refused(criteria):
    with pytest.raises(InputError):
        criteria_to_predicate(criteria)
