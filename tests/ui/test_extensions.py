"""A third-party plugin (a fake installed distribution, loaded through its real entry point and
the allow-list) adds a page, an entity tab and a navigation entry through `ctx.ui`; the UI shows
them only to viewers the plugin's own permission allows, and escapes what they render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kernel.conftest import PluginSite, hello_source
from tests.ui.conftest import FIXTURES, UiHandle, signed_in
from tests.ui.test_pages import HTML, assert_clean_html

HELLO = {"hello": "greenroom_hello:plugin"}
SOURCE = "from greenroom.kernel import Fragment\n" + hello_source(
    manifest="mounts=('/api/hello',), permissions=(HELLO_READ,)",
    setup="""
    router = ctx.router('/api/hello')

    @router.get('/ping', permission=HELLO_READ)
    def ping():
        return {'pong': True}

    ctx.ui.page('greetings', title='Greetings', permission=HELLO_READ,
                render=lambda view: Fragment('<p class="greeting">Hello {{ who }}</p>',
                                             {'who': view.query.get('name', view.principal.subject)}))
    ctx.ui.entity_tab('card', title='Card', permission=HELLO_READ, kinds=('Component',),
                      render=lambda view: Fragment('<p class="card-body">{{ text }}</p>',
                                                   {'text': view.entity['metadata'].get('description', '')}))
    ctx.ui.nav_link('Hello API', '/api/hello/ping', permission=HELLO_READ)

    def broken(view):
        raise RuntimeError('secret internal detail')

    ctx.ui.page('broken', title='Broken', permission=HELLO_READ, render=broken, nav=False)
    """,
)


@pytest.fixture
def portal(ui_portal: Any, plugin_site: PluginSite, tmp_path: Path) -> UiHandle:
    plugin_site.install(plugins=HELLO, source=SOURCE)
    policy = tmp_path / "rbac-policy.csv"
    policy.write_text((FIXTURES / "rbac-policy.csv").read_text() +
                      "p, role:default/members, hello.greeting.read, read, allow\n", encoding="utf-8")
    handle: UiHandle = ui_portal({"plugins": {"allow": ["hello"]},
                                  "permission": {"rbac": {"policies-csv-file": str(policy)}}})
    assert handle.portal.registry.plugin("hello") is not None
    return handle


def test_plugin_pages_tabs_and_links_for_viewers_allowed(portal: UiHandle) -> None:
    alice = signed_in(portal, "alice")  # a member: granted hello.greeting.read
    home = assert_clean_html(alice.get(f"{portal.url}/", headers=HTML))
    assert '<a href="/ext/hello/greetings">Greetings</a>' in home
    assert '<a href="/api/hello/ping">Hello API</a>' in home
    page = alice.get(f"{portal.url}/ext/hello/greetings", params={"name": "<script>alert(1)</script>"}, headers=HTML)
    text = assert_clean_html(page)
    assert '<p class="greeting">Hello &lt;script&gt;alert(1)&lt;/script&gt;</p>' in text
    assert "<h1>Greetings</h1>" in text
    entity = alice.get(f"{portal.url}/catalog/default/component/xss-component").text
    assert 'href="/catalog/default/component/xss-component/hello.card">Card</a>' in entity
    tab = alice.get(f"{portal.url}/catalog/default/component/xss-component/hello.card", headers=HTML)
    body = assert_clean_html(tab)
    assert '<p class="card-body">&lt;script&gt;alert(&#39;description&#39;)&lt;/script&gt;' in body
    group = alice.get(f"{portal.url}/catalog/default/group/team-a").text
    assert "hello.card" not in group  # the tab is for components only
    assert alice.get(f"{portal.url}/catalog/default/group/team-a/hello.card").status_code == 404
    assert alice.get(f"{portal.url}/ext/hello/nothing").status_code == 404
    assert "/ext/hello/broken" not in home  # nav=False


def test_a_failing_plugin_page_is_a_500_page_that_says_nothing_internal(portal: UiHandle) -> None:
    alice = signed_in(portal, "alice")
    failed = alice.get(f"{portal.url}/ext/hello/broken", headers=HTML)
    assert failed.status_code == 500
    text = assert_clean_html(failed)
    assert "Something went wrong" in text
    assert "request id" in text
    assert "secret internal detail" not in text
    assert "Traceback" not in text


def test_plugin_contributions_are_hidden_and_refused_without_its_permission(portal: UiHandle) -> None:
    carol = signed_in(portal, "carol")  # an admin, but no role grants hello.greeting.read
    home = carol.get(f"{portal.url}/").text
    assert "/ext/hello/greetings" not in home
    assert "/api/hello/ping" not in home
    for path in ("/ext/hello/greetings", "/catalog/default/component/xss-component/hello.card"):
        denied = carol.get(portal.url + path, headers=HTML)
        assert denied.status_code == 403, path
        assert '<code class="permission">hello.greeting.read</code>' in denied.text
        assert "card-body" not in denied.text
    assert "hello.card" not in carol.get(f"{portal.url}/catalog/default/component/xss-component").text
    plugins = carol.get(f"{portal.url}/admin/plugins").text
    assert "page Greetings, page Broken, entity tab Card, link Hello API" in plugins
