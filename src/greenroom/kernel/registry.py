"""Start plugins in dependency order and freeze what they registered."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from greenroom.config.model import Config
from greenroom.config.schema import validate_section
from greenroom.db.engine import Database
from greenroom.errors import ConfigError
from greenroom.kernel.context import PluginContext
from greenroom.kernel.loader import Candidate, Refusal, discover, load, select
from greenroom.kernel.manifest import Plugin
from greenroom.kernel.routing import Guard, RouteTable
from greenroom.kernel.services import ServiceRegistry
from greenroom.permissions.model import Permission

log = logging.getLogger("greenroom.kernel")


@dataclass
class Registry:
    """What the running process is made of; read-only after `freeze()`."""

    services: ServiceRegistry
    routes: RouteTable = field(default_factory=RouteTable)
    plugins: list[Plugin] = field(default_factory=list)
    contexts: list[PluginContext] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    core_permissions: list[Permission] = field(default_factory=list)
    frozen: bool = False

    @property
    def permissions(self) -> list[Permission]:
        return [*self.core_permissions, *(p for plugin in self.plugins for p in plugin.manifest.permissions)]

    def plugin(self, plugin_id: str) -> Plugin | None:
        return next((p for p in self.plugins if p.id == plugin_id), None)

    def freeze(self) -> None:
        self.services.freeze()
        self.frozen = True


def order_by_services(plugins: Sequence[Plugin], core_services: set[str]) -> list[Plugin]:
    """Providers before consumers (of required and optional services alike); an unmet required
    need or a cycle is a start-up error, an optional service nobody provides is not."""
    providers = {ref.id: p.id for p in plugins for ref in p.manifest.provides}
    remaining = {p.id: p for p in plugins}
    ordered: list[Plugin] = []
    while remaining:
        ready = [
            p
            for p in remaining.values()
            if all(
                ref.id in core_services or providers.get(ref.id) not in remaining or providers.get(ref.id) == p.id
                for ref in (*p.manifest.services, *p.manifest.optional_services)
            )
        ]
        if not ready:
            raise ConfigError(f"plugins {', '.join(sorted(remaining))} depend on each other's services in a cycle")
        for plugin in ready:
            for ref in plugin.manifest.services:
                if ref.id not in core_services and ref.id not in providers:
                    raise ConfigError(f"plugin {plugin.id} needs service {ref.id}, which nothing provides")
            ordered.append(plugin)
            del remaining[plugin.id]
    return ordered


def plugin_candidates(
    config: Config, search_path: Sequence[str] | None = None
) -> tuple[list[Candidate], list[Refusal]]:
    return select(discover(search_path), config.get_mapping("plugins"))


def _leaf_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _leaf_paths(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _leaf_paths(item, f"{path}[{i}]")]
    return [path]


def _from_reference(path: str, references: frozenset[str]) -> bool:
    return any(path == ref or path.startswith((ref + ".", ref + "[")) for ref in references)


def _validate_secrets(plugin: Plugin, config: Config, production: bool) -> None:
    """In production every value under a declared secret must come from a reference."""
    if not production:
        return
    for declared in plugin.manifest.secrets:
        for path in _leaf_paths(config.get(declared), declared) if config.has(declared) else []:
            if not _from_reference(path, config.reference_paths):
                raise ConfigError(
                    f"plugin {plugin.id} secret is a literal in the config file{config.where(path)}; in production "
                    "use ${VAR}, $env, $file, $vault or $awsSecret",
                    path=path,
                )


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def check_claims(plugins: Sequence[Plugin], core_permissions: Sequence[Permission] = ()) -> None:
    """No two plugins may claim the same URL space or the same permission name.

    Otherwise a plugin could answer requests meant for another one's routes (whichever is
    mounted first wins the match), or its routes would be granted by a policy written for
    another plugin's permission.
    """
    mounts: list[tuple[str, str]] = []
    owners = {p.name: "core" for p in core_permissions}
    for plugin in plugins:
        for mount in plugin.manifest.mounts:
            for other_mount, other in mounts:
                if other != plugin.id and _overlap(mount, other_mount):
                    raise ConfigError(f"plugin {plugin.id} mounts '{mount}', which overlaps '{other_mount}' of {other}")
            mounts.append((mount, plugin.id))
        for permission in plugin.manifest.permissions:
            owner = owners.setdefault(permission.name, plugin.id)
            if owner != plugin.id:
                raise ConfigError(f"plugin {plugin.id} declares permission {permission.name}, which belongs to {owner}")


def start_plugins(
    *,
    config: Config,
    database: Database,
    services: ServiceRegistry,
    guard: Guard,
    core_service_ids: set[str],
    production: bool,
    core_permissions: Sequence[Permission] = (),
    search_path: Sequence[str] | None = None,
) -> Registry:
    candidates, refused = plugin_candidates(config, search_path)
    for refusal in refused:
        log.warning(
            "plugin not loaded",
            extra={"plugin": refusal.id, "distribution": refusal.distribution, "reason": refusal.reason},
        )
    plugins = [load(c) for c in candidates]
    check_claims(plugins, core_permissions)
    # Every permission is known before any plugin is set up, so a policy loaded during setup
    # can check its grants against all of them.
    guard.permissions.declare("core", core_permissions)
    for plugin in plugins:
        guard.permissions.declare(plugin.id, plugin.manifest.permissions)
    registry = Registry(services=services, refused=refused, core_permissions=list(core_permissions))
    for plugin in order_by_services(plugins, core_service_ids):
        schema = plugin.manifest.config_schema
        if schema is not None:
            validate_section(config, schema, root=plugin.id)
        _validate_secrets(plugin, config, production)
        context = PluginContext(
            manifest=plugin.manifest,
            config=config,
            database=database,
            services=services,
            routes=registry.routes,
            guard=guard,
            production=production,
        )
        plugin.setup(context)
        context.close()
        registry.plugins.append(plugin)
        registry.contexts.append(context)
        log.info("plugin started", extra={"plugin": plugin.id, "version": plugin.manifest.version})
    registry.freeze()
    return registry


def schema_locations(plugins: Sequence[Plugin], search_path: Sequence[str] | None = None) -> list[str]:
    """Migration folders to upgrade with: the loaded plugins', plus those of built-ins that are
    switched off, so a database that once had their tables still matches Alembic's history.
    (Built-ins only: a third-party plugin's migrations are its code, and run only if it loads.)
    """
    locations = migrations_of(plugins)
    loaded = {p.id for p in plugins}
    for candidate in discover(search_path):
        if candidate.builtin and candidate.id not in loaded:
            migrations = load(candidate).manifest.migrations
            if migrations:
                locations.append(migrations)
    return locations


def migrations_of(plugins: Sequence[Any]) -> list[str]:
    return [p.manifest.migrations for p in plugins if p.manifest.migrations]
