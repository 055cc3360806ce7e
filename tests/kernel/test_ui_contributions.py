"""The UI extension point (`ctx.ui`), optional services and the root mount, through real plugins
of a fake installed distribution."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from greenroom.app import Portal
from greenroom.kernel import PLUGINS, Permission, PluginManifest, UndeclaredAccessError
from greenroom.kernel.ui import UiContributions
from tests.kernel.conftest import PluginSite, hello_source, start_error

HELLO = {"hello": "greenroom_hello:plugin"}
READ = Permission("hello.greeting.read", "read", None, "read greetings")


def _contributions(**manifest: object) -> UiContributions:
    return UiContributions(PluginManifest(id="hello", version="1", permissions=(READ,), **manifest))  # type: ignore[arg-type]


def test_contributions_need_a_declared_permission() -> None:
    ui = _contributions()
    other = Permission("other.thing.read", "read")
    with pytest.raises(UndeclaredAccessError, match="does not declare"):
        ui.page("home", title="Hello", permission=other, render=lambda view: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(UndeclaredAccessError, match="does not declare"):
        ui.entity_tab("docs", title="Docs", permission=other, render=lambda view: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("ident", ["", "Home", "a/b", "x_y", "../x"])
def test_contribution_ids_are_plain_names(ident: str) -> None:
    with pytest.raises(UndeclaredAccessError, match="lowercase words"):
        _contributions().page(ident, title="x", permission=READ, render=lambda view: None)  # type: ignore[arg-type,return-value]


def test_nav_links_stay_under_the_plugins_mounts() -> None:
    ui = _contributions(mounts=("/api/hello",))
    assert ui.nav_link("Hello", "/api/hello/index.html", permission=READ).href == "/api/hello/index.html"
    for href in ("/catalog", "https://evil.example/", "/api/hellox", "javascript:alert(1)"):
        with pytest.raises(UndeclaredAccessError, match="not under one of its mounts"):
            ui.nav_link("Hello", href, permission=READ)


def test_a_page_or_tab_declared_twice_is_refused() -> None:
    ui = _contributions()
    ui.page("home", title="Hello", permission=READ, render=lambda view: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(UndeclaredAccessError, match="declared twice"):
        ui.page("home", title="Again", permission=READ, render=lambda view: None)  # type: ignore[arg-type,return-value]


UI_PLUGIN = hello_source(
    manifest="permissions=(HELLO_READ,), mounts=('/api/hello',), optional_services=(PLUGINS, MISSING)",
    setup="""
    ctx.ui.page('greetings', title='Greetings', permission=HELLO_READ,
                render=lambda view: Fragment('<p>{{ who }}</p>', {'who': view.principal.subject}))
    ctx.ui.entity_tab('card', title='Card', permission=HELLO_READ, kinds=('Component',),
                      render=lambda view: Fragment('<p>{{ name }}</p>', {'name': view.entity['metadata']['name']}))
    ctx.ui.nav_link('Hello API', '/api/hello/ping', permission=HELLO_READ)
    SEEN['directory'] = ctx.services.get_optional(PLUGINS)
    SEEN['missing'] = ctx.services.get_optional(MISSING)
    """,
)
PRELUDE = "from greenroom.kernel import PLUGINS, Fragment\nMISSING = ServiceRef('nobody.provides', object)\n"


def test_plugin_contributions_reach_the_plugin_directory(
    plugin_site: PluginSite, portal_with: Callable[..., Portal]
) -> None:
    plugin_site.install(plugins=HELLO, source=PRELUDE + UI_PLUGIN)
    portal = portal_with({"plugins": {"allow": ["hello"]}})
    directory = portal.registry.services.get(PLUGINS)
    assert [p.path for p in directory.ui_pages()] == ["/ext/hello/greetings"]
    assert [t.key for t in directory.entity_tabs()] == ["hello.card"]
    assert directory.entity_tabs()[0].applies_to("component")
    assert not directory.entity_tabs()[0].applies_to("API")
    assert [n.href for n in directory.nav_links()] == ["/api/hello/ping"]
    assert directory.owner_of(READ) == "hello"
    assert {m.id for m in directory.manifests()} == {"hello"}
    module = plugin_site.module("greenroom_hello")
    assert module.SEEN["directory"] is directory
    assert module.SEEN["missing"] is None  # optional and provided by nobody


def test_an_undeclared_optional_service_is_refused(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    source = hello_source(setup="ctx.services.get_optional(ServiceRef('nobody.provides', object))")
    plugin_site.install(plugins=HELLO, source=source)
    error = start_error(lambda: portal_with({"plugins": {"allow": ["hello"]}}))
    assert "without declaring it" in error.message


def test_ui_contributions_after_setup_are_refused(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    source = hello_source(manifest="permissions=(HELLO_READ,)", setup="SEEN['ctx'] = ctx")
    plugin_site.install(plugins=HELLO, source=source)
    portal_with({"plugins": {"allow": ["hello"]}})
    ctx = plugin_site.module("greenroom_hello").SEEN["ctx"]
    with pytest.raises(UndeclaredAccessError, match="after its setup returned"):
        ctx.ui.page("late", title="Late", permission=READ, render=lambda view: None)


def test_the_root_mount_serves_only_the_root_path(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    source = hello_source(
        manifest="mounts=('/',)",
        setup="""
        router = ctx.router('/')
        router.get('/elsewhere', public=True)(lambda: {})
        """,
    )
    plugin_site.install(plugins=HELLO, source=source)
    error = start_error(lambda: portal_with({"plugins": {"allow": ["hello"]}}))
    assert "serves '/' only" in error.message


def test_a_required_service_nobody_provides_stops_start_up(
    plugin_site: PluginSite, portal_with: Callable[..., Portal]
) -> None:
    source = hello_source(manifest="services=(ServiceRef('nobody.provides', object),)")
    plugin_site.install(plugins=HELLO, source=source)
    error = start_error(lambda: portal_with({"plugins": {"allow": ["hello"]}}))
    assert "nobody.provides" in error.message
