"""The context a plugin's `setup` receives: only what its manifest declares."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from greenroom.config.model import REDACTED, Config
from greenroom.db.engine import Database
from greenroom.kernel.manifest import PluginManifest
from greenroom.kernel.routing import Guard, PluginRouter, RouteTable
from greenroom.kernel.services import ScopedServices, ServiceRef, ServiceRegistry, UndeclaredAccessError
from greenroom.kernel.ui import UiContributions

T = TypeVar("T")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


class ScopedConfig:
    """A plugin's window on the config: its own subtree plus the keys it declared.

    Credentials inside that window (values under secret-named keys or from a secret store)
    are handed out only for paths the manifest lists in `secrets`; everywhere else they read
    as a redaction marker. Values that are secret only because they came from `${VAR}`,
    `$env` or `$file` (a client id, a base URL, a CA bundle) are the plugin's to read, and
    still redacted in logs and shown config.
    """

    def __init__(self, config: Config, manifest: PluginManifest) -> None:
        self._config = config
        self._plugin = manifest.id
        self._roots = (manifest.id, *manifest.config_keys)
        self._secrets = manifest.secrets

    def _check(self, path: str) -> None:
        if not any(_under(path, root) for root in self._roots):
            raise UndeclaredAccessError(
                f"plugin {self._plugin} reads config key '{path}' without declaring it "
                f"(declared: {', '.join(self._roots)})"
            )

    def _declared_secret(self, path: str) -> bool:
        return any(_under(path, s) for s in self._secrets)

    def _scrub(self, value: Any, path: str) -> Any:
        if self._config.is_credential(path) and not self._declared_secret(path) and not isinstance(value, dict):
            return REDACTED
        if isinstance(value, dict):
            return {k: self._scrub(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def get(self, path: str, default: Any = None) -> Any:
        self._check(path)
        value = self._config.get(path)
        return default if value is None else self._scrub(value, path)

    def has(self, path: str) -> bool:
        self._check(path)
        return self._config.has(path)

    def get_str(self, path: str, default: str | None = None) -> str | None:
        self._check(path)
        self._check_secret(path)
        return self._config.get_str(path, default)

    def _check_secret(self, path: str) -> None:
        if self._config.is_credential(path) and not self._declared_secret(path):
            raise UndeclaredAccessError(f"plugin {self._plugin} reads secret '{path}' without declaring it")

    def get_bool(self, path: str, default: bool = False) -> bool:
        self._check(path)
        self._check_secret(path)
        return self._config.get_bool(path, default)

    def get_int(self, path: str, default: int | None = None) -> int | None:
        self._check(path)
        self._check_secret(path)
        return self._config.get_int(path, default)

    def get_list(self, path: str) -> list[Any]:
        self._check(path)
        return list(self._scrub(self._config.get_list(path), path))

    def get_mapping(self, path: str) -> dict[str, Any]:
        self._check(path)
        return dict(self._scrub(self._config.get_mapping(path), path))

    def secret(self, path: str) -> str | None:
        if not self._declared_secret(path):
            raise UndeclaredAccessError(f"plugin {self._plugin} asks for secret '{path}' it did not declare")
        self._check(path)
        return self._config.get_str(path)

    def where(self, path: str) -> str:
        return self._config.where(path)


class PluginContext:
    """Everything a plugin gets from the core.

    Routes and services are declared during `setup` only: once it returns, the context is
    closed, so nothing can appear later that the start-up checks (and the route coverage
    test) never saw.
    """

    def __init__(
        self,
        *,
        manifest: PluginManifest,
        config: Config,
        database: Database,
        services: ServiceRegistry,
        routes: RouteTable,
        guard: Guard,
        production: bool,
    ) -> None:
        self.manifest = manifest
        self.plugin_id = manifest.id
        self.config = ScopedConfig(config, manifest)
        self.logger = logging.getLogger(f"greenroom.plugins.{manifest.id}")
        self.database = database
        self.services = ScopedServices(services, manifest.services, manifest.id, optional=manifest.optional_services)
        self.ui = UiContributions(manifest)
        self.production = production
        self._registry = services
        self._routes = routes
        self._guard = guard
        self.routers: list[PluginRouter] = []
        self.start_hooks: list[Callable[[], None]] = []
        self.serving_hooks: list[Callable[[], None]] = []
        self.stop_hooks: list[Callable[[], None]] = []
        self._closed = False

    def close(self) -> None:
        """End of setup: no more routers, routes, services or UI contributions."""
        self._closed = True
        self.ui.closed = True

    def _require_open(self, what: str) -> None:
        if self._closed:
            raise UndeclaredAccessError(f"plugin {self.plugin_id} {what} after its setup returned")

    def router(self, mount: str) -> PluginRouter:
        self._require_open(f"creates a router for '{mount}'")
        if mount not in self.manifest.mounts:
            raise UndeclaredAccessError(f"plugin {self.plugin_id} mounts '{mount}' without declaring it")
        router = PluginRouter(
            mount,
            plugin_id=self.plugin_id,
            permissions={p.name: p for p in self.manifest.permissions},
            routes=self._routes,
            guard=self._guard,
            is_open=lambda: not self._closed,
        )
        self.routers.append(router)
        return router

    def provide(self, ref: ServiceRef[T], impl: T) -> None:
        self._require_open(f"provides {ref.id}")
        if ref not in self.manifest.provides:
            raise UndeclaredAccessError(f"plugin {self.plugin_id} provides {ref.id} without declaring it")
        self._registry.register(ref, impl, provider=self.plugin_id)

    def on_start(self, hook: Callable[[], None]) -> None:
        self.start_hooks.append(hook)

    def on_serving(self, hook: Callable[[], None]) -> None:
        """Run `hook` once the server accepts requests: background work that would compete with
        start-up for the interpreter (a first ingestion) starts here rather than in `on_start`.
        Under `greenroom serve` that is after the listening socket is bound; where nothing says
        so (tests, another ASGI server), right after the start hooks."""
        self.serving_hooks.append(hook)

    def on_stop(self, hook: Callable[[], None]) -> None:
        self.stop_hooks.append(hook)
