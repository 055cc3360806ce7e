"""A plugin's context gives it only what its manifest declares: config, secrets, services, routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from greenroom.config import REDACTED, Config, load_config
from greenroom.kernel import PluginManifest, ServiceRef, UndeclaredAccessError
from greenroom.kernel.context import PluginContext, ScopedConfig
from greenroom.kernel.routing import Guard, RouteTable
from greenroom.kernel.services import ServiceRegistry
from greenroom.permissions.model import Permission
from greenroom.permissions.policy import FoundationPolicy, PermissionService
from greenroom.permissions.principal import ANONYMOUS

READ = Permission("hello.greeting.read", "read")
OTHER_READ = Permission("catalog.entity.read", "read", "catalog-entity")
GREETER: ServiceRef[str] = ServiceRef("hello.greeter", str)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "app-config.yaml"
    path.write_text(
        """
hello:
  greeting: hi
  retries: 3
  enabled: true
  list: [a, {password: list-password-123}]
  apiToken: hello-api-token-123
  signingKey: 12345678
  fromEnv: ${HELLO_URL}
  nested: {clientSecret: nested-secret-456, name: n}
hello-world:
  other: plugin
backend:
  reading: {allow: [{host: github.com}]}
  database: {connection: {password: db-password-789}}
integrations:
  github: [{host: github.com, token: ghp_integration_token}]
""",
        encoding="utf-8",
    )
    return load_config([path], env={"HELLO_URL": "https://hello.example.com"})


def scoped(config: Config, **manifest: Any) -> ScopedConfig:
    return ScopedConfig(config, PluginManifest(id="hello", version="1", **manifest))


# -- config ------------------------------------------------------------------------------


def test_own_subtree_and_declared_keys_are_readable(config: Config) -> None:
    view = scoped(config, config_keys=("backend.reading",))
    assert view.get("hello.greeting") == "hi"
    assert view.get_int("hello.retries") == 3
    assert view.get_bool("hello.enabled") is True
    assert view.get_str("hello.greeting") == "hi"
    assert view.get("hello.missing", "dflt") == "dflt"
    assert view.has("hello.greeting")
    assert view.get_mapping("backend.reading") == {"allow": [{"host": "github.com"}]}
    assert view.get_list("backend.reading.allow") == [{"host": "github.com"}]
    assert view.where("hello.greeting").endswith("app-config.yaml:3)")


@pytest.mark.parametrize(
    "path",
    [
        "backend.database.connection.password",
        "backend",
        "backend.readingX",
        "hello-world.other",
        "hellox",
        "",
        "integrations.github[0].token",
    ],
)
@pytest.mark.parametrize("getter", ["get", "has", "get_str", "get_bool", "get_int", "get_list", "get_mapping"])
def test_undeclared_config_keys_are_refused(config: Config, path: str, getter: str) -> None:
    view = scoped(config, config_keys=("backend.reading",))
    with pytest.raises(UndeclaredAccessError, match=re.escape(f"plugin hello reads config key '{path}' without")):
        getattr(view, getter)(path)


def test_secrets_in_the_own_subtree_read_as_redacted_unless_declared(config: Config) -> None:
    whole = scoped(config).get("hello")
    assert whole["apiToken"] == REDACTED
    assert whole["nested"] == {"clientSecret": REDACTED, "name": "n"}
    assert whole["list"] == ["a", {"password": REDACTED}]
    assert whole["signingKey"] == REDACTED
    assert whole["greeting"] == "hi"
    assert scoped(config).get_list("hello.list") == ["a", {"password": REDACTED}]
    assert scoped(config).get_mapping("hello.nested")["clientSecret"] == REDACTED
    assert scoped(config).get("hello.apiToken") == REDACTED


def test_values_from_the_environment_are_the_plugins_to_read(config: Config) -> None:
    """`${VAR}` values are redacted in shown config and logs, but a client id or base URL from
    the environment is ordinary config to the plugin that owns it."""
    assert config.is_secret("hello.fromEnv")
    assert not config.is_credential("hello.fromEnv")
    assert scoped(config).get("hello.fromEnv") == "https://hello.example.com"
    assert scoped(config).get_str("hello.fromEnv") == "https://hello.example.com"
    assert config.redacted()["hello"]["fromEnv"] == REDACTED


def test_credentials_from_the_environment_must_still_be_declared(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("hello:\n  clientId: ${CLIENT_ID}\n  clientSecret: ${CLIENT_SECRET}\n", encoding="utf-8")
    config = load_config([path], env={"CLIENT_ID": "public-client-id", "CLIENT_SECRET": "client-secret-123"})
    assert scoped(config).get("hello") == {"clientId": "public-client-id", "clientSecret": REDACTED}
    with pytest.raises(UndeclaredAccessError, match=re.escape("reads secret 'hello.clientSecret'")):
        scoped(config).get_str("hello.clientSecret")
    assert scoped(config, secrets=("hello.clientSecret",)).get_str("hello.clientSecret") == "client-secret-123"


@pytest.mark.parametrize("getter", ["get_str", "get_int", "get_bool", "secret"])
@pytest.mark.parametrize("path", ["hello.apiToken", "hello.signingKey", "hello.nested.clientSecret"])
def test_reading_an_undeclared_secret_directly_is_refused(config: Config, getter: str, path: str) -> None:
    view = scoped(config, secrets=("hello.other",))
    with pytest.raises(UndeclaredAccessError, match=re.escape(f"secret '{path}'")):
        getattr(view, getter)(path)


def test_declared_secrets_are_handed_out(config: Config) -> None:
    view = scoped(config, secrets=("hello.apiToken", "hello.nested"))
    assert view.secret("hello.apiToken") == "hello-api-token-123"
    assert view.get_str("hello.apiToken") == "hello-api-token-123"
    assert view.get("hello.nested.clientSecret") == "nested-secret-456"
    assert view.get("hello")["apiToken"] == "hello-api-token-123"
    assert view.get("hello")["list"][1]["password"] == REDACTED  # still not declared
    assert view.secret("hello.nested.missing") is None


def test_declaring_a_secret_outside_the_config_window_is_not_enough(config: Config) -> None:
    view = scoped(config, secrets=("backend.database.connection.password",))
    with pytest.raises(
        UndeclaredAccessError, match=re.escape("reads config key 'backend.database.connection.password'")
    ):
        view.secret("backend.database.connection.password")
    both = scoped(
        config, secrets=("backend.database.connection.password",), config_keys=("backend.database.connection",)
    )
    assert both.secret("backend.database.connection.password") == "db-password-789"


def test_secrets_in_declared_keys_stay_redacted(config: Config) -> None:
    view = scoped(config, config_keys=("integrations",))
    assert view.get("integrations") == {"github": [{"host": "github.com", "token": REDACTED}]}


def test_get_returns_copies(config: Config) -> None:
    view = scoped(config)
    view.get("hello")["greeting"] = "changed"
    assert view.get("hello.greeting") == "hi"


# -- routers, services, lifecycle -----------------------------------------------------------


@pytest.fixture
def make_context(config: Config) -> Callable[..., PluginContext]:
    registry = ServiceRegistry()
    routes = RouteTable()
    guard = Guard(lambda request: ANONYMOUS, PermissionService(FoundationPolicy()))

    def build(**manifest: Any) -> PluginContext:
        return PluginContext(
            manifest=PluginManifest(id=manifest.pop("id", "hello"), version="1", **manifest),
            config=config,
            database=None,  # type: ignore[arg-type] - these tests never touch it
            services=registry,
            routes=routes,
            guard=guard,
            production=False,
        )

    return build


def test_router_only_for_declared_mounts(make_context: Callable[..., PluginContext]) -> None:
    ctx = make_context(mounts=("/api/hello",))
    assert ctx.router("/api/hello").mount == "/api/hello"
    with pytest.raises(UndeclaredAccessError, match="plugin hello mounts '/api/catalog' without declaring it"):
        ctx.router("/api/catalog")


def test_routes_must_declare_exactly_one_of_permission_or_public(make_context: Callable[..., PluginContext]) -> None:
    router = make_context(mounts=("/api/hello",), permissions=(READ,)).router("/api/hello")
    with pytest.raises(
        UndeclaredAccessError, match=re.escape("must declare exactly one of permission=... or public=True")
    ):
        router.get("/x")
    with pytest.raises(UndeclaredAccessError, match="must declare exactly one of"):
        router.get("/y", permission=READ, public=True)


def test_routes_may_only_use_the_manifest_permissions(make_context: Callable[..., PluginContext]) -> None:
    router = make_context(mounts=("/api/hello",), permissions=(READ,)).router("/api/hello")
    with pytest.raises(UndeclaredAccessError, match=re.escape("uses permission catalog.entity.read that the manifest")):
        router.get("/x", permission=OTHER_READ)
    # same name, different definition (e.g. weaker action) is not the declared permission
    with pytest.raises(UndeclaredAccessError, match=re.escape("uses permission hello.greeting.read that the manifest")):
        router.post("/x", permission=Permission("hello.greeting.read", "use"))


def test_declared_routes_land_in_the_route_table(make_context: Callable[..., PluginContext]) -> None:
    ctx = make_context(mounts=("/api/hello",), permissions=(READ,))
    router = ctx.router("/api/hello")

    @router.get("/greeting", permission=READ)
    def greeting(request: Any) -> dict[str, str]:
        return {}

    @router.get("/health", public=True)
    def health() -> dict[str, str]:
        return {}

    table = router._routes
    assert [(r.method, r.path, r.permission, r.public) for r in table.routes] == [
        ("GET", "/api/hello/greeting", "hello.greeting.read", False),
        ("GET", "/api/hello/health", None, True),
    ]
    assert table.lookup("GET", "/api/hello/health") is not None
    assert table.lookup("POST", "/api/hello/health") is None


def test_provide_only_declared_services(make_context: Callable[..., PluginContext]) -> None:
    ctx = make_context(provides=(GREETER,))
    ctx.provide(GREETER, "hi")
    other = make_context(id="other")
    with pytest.raises(
        UndeclaredAccessError, match=re.escape("plugin other provides hello.greeter without declaring it")
    ):
        other.provide(GREETER, "evil")


def test_nothing_can_be_declared_after_setup(make_context: Callable[..., PluginContext]) -> None:
    """Late registration: a route or service added after start-up escapes every start-up check."""
    ctx = make_context(mounts=("/api/hello",), permissions=(READ,), provides=(GREETER,))
    router = ctx.router("/api/hello")
    ctx.close()
    with pytest.raises(UndeclaredAccessError, match="route GET /api/hello/late declared after the plugin's setup"):
        router.get("/late", public=True)
    with pytest.raises(UndeclaredAccessError, match="creates a router for '/api/hello' after its setup returned"):
        ctx.router("/api/hello")
    with pytest.raises(UndeclaredAccessError, match=re.escape("provides hello.greeter after its setup returned")):
        ctx.provide(GREETER, "late")


def test_scoped_services_and_hooks(make_context: Callable[..., PluginContext]) -> None:
    ctx = make_context()
    with pytest.raises(UndeclaredAccessError, match=re.escape("uses service hello.greeter without declaring it")):
        ctx.services.get(GREETER)
    ctx.on_start(lambda: None)
    ctx.on_stop(lambda: None)
    assert len(ctx.start_hooks) == len(ctx.stop_hooks) == 1
    assert ctx.logger.name == "greenroom.plugins.hello"
    assert ctx.plugin_id == "hello"
