"""Plugins assembled by `create_portal`, found through real entry points of a fake installed
distribution, on SQLite and PostgreSQL (`make_portal`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from greenroom.app import Portal
from greenroom.config import REDACTED
from greenroom.errors import ConfigError
from greenroom.kernel import UndeclaredAccessError
from tests.conftest import auth_headers
from tests.kernel.conftest import PluginSite, builtin_ids, hello_source, refusal_reason, start_error

HELLO = {"hello": "greenroom_hello:plugin"}
GREETING_PLUGIN = hello_source(
    manifest="mounts=('/api/hello',), permissions=(HELLO_READ,)",
    setup="""
    router = ctx.router('/api/hello')

    @router.get('/greeting', permission=HELLO_READ)
    def greeting(request: Request):
        return {'hello': request.state.principal.subject}

    @router.get('/ping', public=True)
    def ping():
        return {'pong': True}
    """,
)


def client(portal: Portal, **kwargs: Any) -> TestClient:
    return TestClient(portal.app, raise_server_exceptions=False, **kwargs)


# -- allow-list and pins ------------------------------------------------------------------------


def test_third_party_plugin_is_not_loaded_unless_allowed(
    plugin_site: PluginSite, portal_with: Callable[..., Portal]
) -> None:
    plugin_site.install(plugins=HELLO, source=GREETING_PLUGIN)
    portal = portal_with()
    assert portal.registry.plugin("hello") is None
    assert refusal_reason(portal, "hello") == "not listed in plugins.allow"
    assert "greenroom_hello" not in sys.modules
    http = client(portal, headers=auth_headers())
    assert http.get("/api/hello/ping").status_code == 404
    assert http.get("/api/hello/greeting").status_code == 404


def test_allowed_plugin_loads_with_its_routes_guarded(
    plugin_site: PluginSite, portal_with: Callable[..., Portal]
) -> None:
    plugin_site.install(plugins=HELLO, source=GREETING_PLUGIN)
    portal = portal_with({"plugins": {"allow": ["hello"]}})
    assert portal.registry.plugin("hello") is not None
    assert "hello.greeting.read" in {p.name for p in portal.registry.permissions}
    assert portal.registry.routes.lookup("GET", "/api/hello/greeting").permission == "hello.greeting.read"
    anonymous = client(portal)
    assert anonymous.get("/api/hello/greeting").status_code == 401
    assert anonymous.get("/api/hello/ping").json() == {"pong": True}
    assert client(portal, headers=auth_headers()).get("/api/hello/greeting").json() == {"hello": "external:tests"}


def test_matching_pin_loads(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    installed = plugin_site.install(plugins=HELLO, source=GREETING_PLUGIN)
    portal = portal_with({"plugins": {"allow": [{"id": "hello", "sha256": installed.pin()}]}})
    assert portal.registry.plugin("hello") is not None


def test_mismatching_pin_is_refused(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    plugin_site.install(plugins=HELLO, source=GREETING_PLUGIN)
    portal = portal_with({"plugins": {"allow": [{"id": "hello", "sha256": "ab" * 32}]}})
    assert portal.registry.plugin("hello") is None
    assert refusal_reason(portal, "hello").startswith("sha256 pin mismatch: expected abab")
    assert "greenroom_hello" not in sys.modules


def test_tampered_plugin_is_refused(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    installed = plugin_site.install(plugins=HELLO, source=GREETING_PLUGIN)
    pin = installed.pin()
    installed.module_file("greenroom_hello").write_text(
        installed.module_file("greenroom_hello").read_text().replace("permission=HELLO_READ", "public=True")
    )
    portal = portal_with({"plugins": {"allow": [{"id": "hello", "sha256": pin}]}})
    assert portal.registry.plugin("hello") is None
    assert "greenroom_hello/__init__.py" in refusal_reason(portal, "hello")
    assert client(portal).get("/api/hello/greeting").status_code == 404


def test_built_ins_load_by_default(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    portal = portal_with(builtins=True)
    assert {p.id for p in portal.registry.plugins} == set(builtin_ids())
    assert portal.registry.plugin("catalog") is not None
    assert client(portal, headers=auth_headers()).get("/api/catalog/entities").status_code == 200


def test_built_ins_can_be_disabled(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    off = portal_with()
    assert off.registry.plugins == []
    assert refusal_reason(off, "catalog") == "disabled in plugins.disabled"
    assert client(off, headers=auth_headers()).get("/api/catalog/entities").status_code == 404


def test_impostor_built_in_is_not_loaded(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    plugin_site.install("greenroom_evil", plugins={"evil": "greenroom_evil:plugin"},
                        source=hello_source(plugin_id="evil"), metadata_name="greenroom")
    portal = portal_with()
    assert portal.registry.plugin("evil") is None
    assert refusal_reason(portal, "evil") == "not listed in plugins.allow"


# -- undeclared access ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "setup", "message"),
    [
        ("", "ctx.config.get('backend.database')", "plugin hello reads config key 'backend.database'"),
        ("", "ctx.config.get_str('hello.apiToken')", "plugin hello reads secret 'hello.apiToken' without declaring"),
        ("", "ctx.config.secret('hello.apiToken')", "asks for secret 'hello.apiToken' it did not declare"),
        ("", "ctx.services.get(URL_READER)", "plugin hello uses service core.urlReader without declaring it"),
        ("", "ctx.services.get(PERMISSIONS)", "plugin hello uses service core.permissions without declaring it"),
        ("mounts=('/api/hello',)", "ctx.router('/api/catalog')", "plugin hello mounts '/api/catalog' without"),
        ("", "ctx.provide(ServiceRef('hello.svc', object), 1)", "plugin hello provides hello.svc without declaring"),
        (
            "mounts=('/api/hello',), permissions=(HELLO_READ,)",
            "ctx.router('/api/hello').get("
            "'/x', permission=Permission('catalog.entity.read', 'read', 'catalog-entity'))",
            "uses permission catalog.entity.read that the manifest does not declare",
        ),
        (
            "mounts=('/api/hello',), permissions=(HELLO_READ,)",
            "ctx.router('/api/hello').get('/x')",
            "must declare exactly one of permission=... or public=True",
        ),
    ],
)
def test_undeclared_access_stops_start_up(
    plugin_site: PluginSite, portal_with: Callable[..., Portal], manifest: str, setup: str, message: str
) -> None:
    plugin_site.install(plugins=HELLO, source=hello_source(manifest=manifest, setup=setup))
    error = start_error(lambda: portal_with({"plugins": {"allow": ["hello"]}, "hello": {"apiToken": "tok-123456789"}}))
    assert isinstance(error, UndeclaredAccessError)
    assert message in str(error)


def test_undeclared_secrets_in_the_plugin_subtree_read_as_redacted(
    plugin_site: PluginSite, portal_with: Callable[..., Portal]
) -> None:
    plugin_site.install(
        plugins=HELLO,
        source=hello_source(
            manifest="secrets=('hello.webhookSecret',)",
            setup="""
            SEEN['subtree'] = ctx.config.get('hello')
            SEEN['declared'] = ctx.config.secret('hello.webhookSecret')
            """,
        ),
    )
    portal_with(
        {
            "plugins": {"allow": ["hello"]},
            "hello": {"greeting": "hi", "apiToken": "undeclared-token-123", "webhookSecret": "declared-secret-456",
                      "nested": {"password": "nested-password-789"}},
        }
    )
    seen = plugin_site.module("greenroom_hello").SEEN
    assert seen["subtree"] == {
        "greeting": "hi",
        "apiToken": REDACTED,
        "webhookSecret": "declared-secret-456",
        "nested": {"password": REDACTED},
    }
    assert seen["declared"] == "declared-secret-456"


def test_plugin_config_schema_errors_name_the_key_and_line(
    plugin_site: PluginSite, portal_with: Callable[..., Portal]
) -> None:
    plugin_site.install(
        plugins=HELLO,
        source="from pydantic import BaseModel\n\nclass HelloConfig(BaseModel):\n    retries: int = 1\n\n"
        + hello_source(manifest="config_schema=HelloConfig"),
    )
    error = start_error(lambda: portal_with({"plugins": {"allow": ["hello"]}, "hello": {"retries": "many"}}))
    assert isinstance(error, ConfigError)
    assert "hello.retries: Input should be a valid integer" in str(error)
    assert "app-config-0.yaml:" in str(error)


# -- after start-up --------------------------------------------------------------------------------


def test_nothing_can_be_registered_after_start_up(
    plugin_site: PluginSite, portal_with: Callable[..., Portal]
) -> None:
    """Late registration: routes or services appearing after start escape every start-up check."""
    plugin_site.install(
        plugins=HELLO,
        source=hello_source(
            manifest="mounts=('/api/hello',), permissions=(HELLO_READ,), provides=(GREETER,)",
            setup="""
            SEEN['ctx'] = ctx
            SEEN['router'] = ctx.router('/api/hello')
            """,
        ).replace("HELLO_READ = ", "GREETER = ServiceRef('hello.greeter', object)\nHELLO_READ = ", 1),
    )
    portal = portal_with({"plugins": {"allow": ["hello"]}})
    seen = plugin_site.module("greenroom_hello").SEEN
    greeter = seen["ctx"].manifest.provides[0]
    with pytest.raises(UndeclaredAccessError, match="after its setup returned"):
        seen["ctx"].provide(greeter, object())
    with pytest.raises(UndeclaredAccessError, match="registered after start-up"):
        portal.registry.services.register(greeter, object(), provider="hello")
    with pytest.raises(UndeclaredAccessError, match="declared after the plugin's setup returned"):
        seen["router"].get("/late", public=True)
    with pytest.raises(UndeclaredAccessError, match="after its setup returned"):
        seen["ctx"].router("/api/hello")
    assert portal.registry.frozen
    assert client(portal).get("/api/hello/late").status_code == 404


def test_a_plugin_route_cannot_shadow_a_core_route(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    """Route hijacking: a public plugin route at the path of a guarded core route."""
    plugin_site.install(
        plugins=HELLO,
        source=hello_source(
            manifest="mounts=('/metrics',)",
            setup="""
            @ctx.router('/metrics').get('', public=True)
            def fake_metrics():
                return {'hijacked': True}
            """,
        ),
    )
    error = start_error(lambda: portal_with({"plugins": {"allow": ["hello"]}}))
    # refused when the manifest is built: the core's paths are reserved
    assert "mount '/metrics' overlaps the core's /metrics" in str(error)


def test_two_plugins_cannot_share_a_mount(plugin_site: PluginSite, portal_with: Callable[..., Portal]) -> None:
    plugin_site.install(plugins=HELLO, source=hello_source(manifest="mounts=('/api/catalog',)"))
    error = start_error(lambda: portal_with({"plugins": {"allow": ["hello"]}}, builtins=True))
    assert "mounts '/api/catalog', which overlaps '/api/catalog' of catalog" in str(error)


def test_authentication_comes_before_request_validation(
    plugin_site: PluginSite, portal_with: Callable[..., Portal]
) -> None:
    """An anonymous caller learns nothing from validation errors and triggers no dependency."""
    plugin_site.install(
        plugins=HELLO,
        source=hello_source(
            manifest="mounts=('/api/hello',), permissions=(HELLO_READ,)",
            setup="""
            from fastapi import Depends
            from pydantic import BaseModel

            class Item(BaseModel):
                name: str
                count: int

            def side_effect():
                SEEN['dependency ran'] = True

            router = ctx.router('/api/hello')

            @router.post('/items', permission=HELLO_READ, dependencies=[Depends(side_effect)])
            def create(request: Request, item: Item, mode: str):
                return {'name': item.name, 'mode': mode}
            """,
        ),
    )
    portal = portal_with({"plugins": {"allow": ["hello"]}})
    anonymous = client(portal)
    for body in (None, {"wrong": "shape"}, {"name": "x", "count": 1}):
        response = anonymous.post("/api/hello/items", json=body)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["name"] == "AuthenticationError"
    assert "dependency ran" not in plugin_site.module("greenroom_hello").SEEN
    authorised = client(portal, headers=auth_headers())
    created = authorised.post("/api/hello/items?mode=m", json={"name": "x", "count": 1})
    assert created.json() == {"name": "x", "mode": "m"}
    assert authorised.post("/api/hello/items?mode=m", json={"wrong": 1}).status_code in (400, 422)
