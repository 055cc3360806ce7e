"""`start_plugins` with real entry points: dependency order, cycles, production secret rules.

These call the kernel directly with only the fake site on the search path (no built-ins, no
database: none of these plugins touch it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from greenroom.config import Config, load_config
from greenroom.errors import ConfigError
from greenroom.kernel.registry import Registry, start_plugins
from greenroom.kernel.routing import Guard
from greenroom.kernel.services import ServiceRegistry
from greenroom.permissions.policy import FoundationPolicy, PermissionService
from greenroom.permissions.principal import ANONYMOUS
from tests.kernel.conftest import PluginSite, hello_source

GREETER = "GREETER = ServiceRef('provider.greeter', object)\n"


@pytest.fixture
def start(plugin_site: PluginSite) -> Callable[..., Registry]:
    def run(config: Config, *, production: bool = False) -> Registry:
        return start_plugins(
            config=config,
            database=None,  # type: ignore[arg-type] - no plugin here uses it
            services=ServiceRegistry(),
            guard=Guard(lambda request: ANONYMOUS, PermissionService(FoundationPolicy())),
            core_service_ids={"core.urlReader"},
            production=production,
            search_path=[str(plugin_site.root)],
        )

    return run


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[..., Config]:
    def build(text: str, env: dict[str, str] | None = None, **files: str) -> Config:
        for name, content in files.items():
            (tmp_path / name).write_text(content, encoding="utf-8")
        path = tmp_path / "app-config.yaml"
        path.write_text(text, encoding="utf-8")
        return load_config([path], env=env or {})

    return build


def install_pair(plugin_site: PluginSite, *, cycle: bool = False) -> None:
    record = "SEEN.setdefault('order', []).append(ctx.plugin_id)"
    plugin_site.install(
        "greenroom_consumer",
        plugins={"consumer": "greenroom_consumer:plugin"},
        source=GREETER
        + ("BACK = ServiceRef('consumer.back', object)\n" if cycle else "")
        + hello_source(
            plugin_id="consumer",
            manifest="services=(GREETER,)" + (", provides=(BACK,)" if cycle else ""),
            setup=f"SEEN['greeter'] = ctx.services.get(GREETER)\n{record}"
            + ("\nctx.provide(BACK, 'back')" if cycle else ""),
        ),
    )
    plugin_site.install(
        "greenroom_provider",
        plugins={"provider": "greenroom_provider:plugin"},
        source=GREETER
        + ("BACK = ServiceRef('consumer.back', object)\n" if cycle else "")
        + hello_source(
            plugin_id="provider",
            manifest="provides=(GREETER,)" + (", services=(BACK,)" if cycle else ""),
            setup=f"ctx.provide(GREETER, 'hello from provider')\n{record}",
        ),
    )


def test_service_providers_start_first(
    plugin_site: PluginSite, start: Callable[..., Registry], config_file: Callable[..., Config]
) -> None:
    install_pair(plugin_site)
    registry = start(config_file("plugins:\n  allow: [consumer, provider]\n"))
    assert [p.id for p in registry.plugins] == ["provider", "consumer"]
    consumer = plugin_site.module("greenroom_consumer").SEEN
    provider = plugin_site.module("greenroom_provider").SEEN
    assert consumer["greeter"] == "hello from provider"
    assert provider["order"] == ["provider"]
    assert registry.services.provider_of(registry.plugins[0].manifest.provides[0]) == "provider"
    assert registry.frozen


def test_consumer_without_its_provider_does_not_start(
    plugin_site: PluginSite, start: Callable[..., Registry], config_file: Callable[..., Config]
) -> None:
    install_pair(plugin_site)
    with pytest.raises(
        ConfigError, match=re.escape("plugin consumer needs service provider.greeter, which nothing provides")
    ):
        start(config_file("plugins:\n  allow: [consumer]\n"))


def test_service_cycle_does_not_start(
    plugin_site: PluginSite, start: Callable[..., Registry], config_file: Callable[..., Config]
) -> None:
    install_pair(plugin_site, cycle=True)
    with pytest.raises(ConfigError, match="plugins consumer, provider depend on each other's services in a cycle"):
        start(config_file("plugins:\n  allow: [consumer, provider]\n"))


# -- production: declared secrets must come from a reference --------------------------------------


@pytest.fixture
def secret_plugin(plugin_site: PluginSite) -> None:
    plugin_site.install(
        plugins={"hello": "greenroom_hello:plugin"},
        source=hello_source(
            manifest="secrets=('hello.apiToken', 'hello.db')",
            setup="SEEN['token'] = ctx.config.secret('hello.apiToken')",
        ),
    )


def test_production_refuses_a_literal_secret(
    secret_plugin: None, start: Callable[..., Registry], config_file: Callable[..., Config], tmp_path: Path
) -> None:
    config = config_file("plugins:\n  allow: [hello]\nhello:\n  apiToken: literal-token-123\n")
    with pytest.raises(ConfigError) as info:
        start(config, production=True)
    message = str(info.value)
    assert message.startswith("hello.apiToken: plugin hello secret is a literal in the config file")
    assert f"(at {tmp_path.resolve() / 'app-config.yaml'}:4)" in message
    assert "literal-token-123" not in message
    start(config)  # outside production a literal is accepted


@pytest.mark.parametrize(
    ("value", "env"),
    [
        ("${HELLO_TOKEN}", {"HELLO_TOKEN": "from-env-123"}),
        ("{$env: HELLO_TOKEN}", {"HELLO_TOKEN": "from-env-123"}),
        ("{$file: token.txt}", {}),
    ],
)
def test_production_accepts_secrets_from_references(
    secret_plugin: None,
    plugin_site: PluginSite,
    start: Callable[..., Registry],
    config_file: Callable[..., Config],
    value: str,
    env: dict[str, str],
) -> None:
    config = config_file(f"plugins:\n  allow: [hello]\nhello:\n  apiToken: {value}\n", env, **{"token.txt": "tok"})
    start(config, production=True)
    assert plugin_site.module("greenroom_hello").SEEN["token"] in {"from-env-123", "tok"}


def test_production_checks_every_value_under_a_declared_secret_subtree(
    secret_plugin: None, start: Callable[..., Registry], config_file: Callable[..., Config]
) -> None:
    env: dict[str, Any] = {"DB_USER": "u", "DB_PASS": "p"}
    good = config_file("plugins:\n  allow: [hello]\nhello:\n  db: {user: '${DB_USER}', password: '${DB_PASS}'}\n", env)
    start(good, production=True)
    bad = config_file("plugins:\n  allow: [hello]\nhello:\n  db: {user: admin, password: '${DB_PASS}'}\n", env)
    with pytest.raises(ConfigError, match=r"^hello\.db\.user: plugin hello secret is a literal"):
        start(bad, production=True)


def test_production_refuses_a_literal_secret_moved_into_an_included_file(
    secret_plugin: None, start: Callable[..., Registry], config_file: Callable[..., Config]
) -> None:
    """Bypass attempt: `$include` is config, not a secret store."""
    config = config_file(
        "plugins:\n  allow: [hello]\nhello: {$include: hello.yaml}\n", {}, **{"hello.yaml": "apiToken: lit-123\n"}
    )
    with pytest.raises(ConfigError, match=r"hello\.apiToken: plugin hello secret is a literal .*hello\.yaml:1"):
        start(config, production=True)


def test_production_ignores_declared_secrets_that_are_not_configured(
    secret_plugin: None, start: Callable[..., Registry], config_file: Callable[..., Config]
) -> None:
    start(config_file("plugins:\n  allow: [hello]\n"), production=True)
