"""The UI shows exactly what the API lets the same viewer read, on SQLite and PostgreSQL.

alice (team-a) has a conditional `catalog.entity.read` from the RBAC policy files: entities her
groups own, plus every User and Group. The pages must agree with `/api/catalog` called with the
same session: counts, facet values and their counts, search results, relation targets; and a
hidden entity is a 404 that says nothing about it.
"""

from __future__ import annotations

import re
from typing import Any

from tests.ui.conftest import UiHandle, signed_in
from tests.ui.test_pages import HTML, assert_clean_html


def _count(text: str) -> int:
    match = re.search(r'<p class="count" role="status">(\d+) entit', text)
    assert match, text[-2000:]
    return int(match.group(1))


def _options(text: str, param: str) -> dict[str, int]:
    select = re.search(rf'<select id="f-{param}" name="{param}">(.*?)</select>', text, re.S)
    assert select
    return {value: int(count) for value, count in
            re.findall(r'<option value="([^"]+)"[^>]*>[^<]*\((\d+)\)</option>', select.group(1))}


def _api_total(browser: Any, portal: UiHandle, query: str = "") -> int:
    body = browser.get(f"{portal.url}/api/catalog/entities/by-query?limit=1{query}").json()
    total: int = body["totalItems"]
    return total


def _api_facet(browser: Any, portal: UiHandle, facet: str, query: str = "") -> dict[str, int]:
    body = browser.get(f"{portal.url}/api/catalog/entity-facets?facet={facet}{query}").json()
    return {item["value"]: item["count"] for item in body["facets"][facet]}


def test_counts_and_facets_match_the_api_for_a_conditional_reader(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    alice = signed_in(portal, "alice")
    carol = signed_in(portal, "carol")
    for browser in (alice, carol):
        page = browser.get(f"{portal.url}/catalog", headers=HTML)
        text = assert_clean_html(page)
        assert _count(text) == _api_total(browser, portal)
        assert _options(text, "kind") == _api_facet(browser, portal, "kind")
        assert _options(text, "owner") == _api_facet(browser, portal, "relations.ownedBy")
        components = browser.get(f"{portal.url}/catalog?kind=component").text
        assert _count(components) == _api_total(browser, portal, "&filter=kind=component")
        assert _options(components, "tag") == _api_facet(browser, portal, "metadata.tags", "&filter=kind=component")
    # bob holds the same role as alice: a menu cached for her must not be what he sees.
    bob = signed_in(portal, "bob")
    bob_page = bob.get(f"{portal.url}/catalog").text
    assert _options(bob_page, "owner") == _api_facet(bob, portal, "relations.ownedBy")
    assert "group:default/team-b" in _options(bob_page, "owner")
    assert "group:default/team-a" not in _options(bob_page, "owner")
    alice_all = alice.get(f"{portal.url}/catalog").text
    assert _count(alice_all) < _count(carol.get(f"{portal.url}/catalog").text)
    assert _options(alice_all, "kind")["Component"] == 2  # pay-service and xss-component, not team-b's two
    assert "group:default/team-b" not in _options(alice_all, "owner")
    assert "internal" not in _options(alice.get(f"{portal.url}/catalog?kind=component").text, "tag")


def test_hidden_entities_never_show_on_pages(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    alice = signed_in(portal, "alice")
    hidden = alice.get(f"{portal.url}/catalog/default/component/secret-service", headers=HTML)
    assert hidden.status_code == 404
    text = assert_clean_html(hidden)
    assert "Only team B" not in text
    assert "internal" not in text
    assert "experimental" not in text
    # The same answer as for an entity that does not exist at all.
    missing = alice.get(f"{portal.url}/catalog/default/component/no-such-thing", headers=HTML)
    assert missing.status_code == 404
    assert alice.get(f"{portal.url}/api/catalog/entities/by-name/component/default/secret-service").status_code == 404
    for path in ("/catalog?q=secret", "/catalog?tag=internal", "/catalog?owner=group:default/team-b", "/"):
        page = alice.get(portal.url + path).text
        assert "secret-service" not in page, path
        assert "Only team B" not in page, path
        if path != "/":
            assert _count(page) == 0, path
    # pay-service's relation to web-shop (team-b's) is in pay-service itself, as in the API, but
    # web-shop's own data is not: no link, no title, a dashed node without a link in the graph.
    page = alice.get(f"{portal.url}/catalog/default/component/pay-service").text
    assert "Web shop" not in page
    assert "The storefront" not in page
    assert 'href="/catalog/default/component/web-shop"' not in page
    assert '<span class="muted" title="You cannot open this entity">component:web-shop</span>' in page
    assert 'class="node hidden-node"' in page
    assert 'href="/catalog/default/group/team-a"' in page  # what she may read stays a link
    carol = signed_in(portal, "carol")
    assert 'href="/catalog/default/component/web-shop"' in carol.get(
        f"{portal.url}/catalog/default/component/pay-service").text


def test_home_lists_what_the_viewer_owns(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    alice = signed_in(portal, "alice")
    home = assert_clean_html(alice.get(f"{portal.url}/", headers=HTML))
    assert "Owned by you (5)" in home  # pay-service, pay-api, pay-db, payments, xss-component
    for name in ("Payment service", "pay-api", "pay-db", "payments"):
        assert name in home
    assert "Web shop" not in home
    owned = alice.get(f"{portal.url}/catalog?owned=1").text
    assert _count(owned) == 5
    bob = signed_in(portal, "bob")
    bob_home = bob.get(f"{portal.url}/").text
    assert "Owned by you (2)" in bob_home
    assert "secret-service" in bob_home


def test_group_and_user_pages_list_members_and_owned_entities(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    alice = signed_in(portal, "alice")
    team = assert_clean_html(alice.get(f"{portal.url}/catalog/default/group/team-a", headers=HTML))
    assert "Members (1)" in team
    assert 'href="/catalog/default/user/alice"' in team
    assert "Owned entities (5)" in team
    assert 'href="/catalog/default/group/org"' in team  # parent group
    other = alice.get(f"{portal.url}/catalog/default/group/team-b").text
    assert "Owned entities (0)" in other
    assert "Owns nothing you can see." in other
    user = assert_clean_html(alice.get(f"{portal.url}/catalog/default/user/alice", headers=HTML))
    assert "Member of" in user
    assert 'href="/catalog/default/group/team-a"' in user
    assert 'href="mailto:alice@example.com"' in user
