"""The plugin directory: what the running process is made of, for plugins that show it.

A read-only view of the frozen registry (the core registers it as `PLUGINS`): the loaded
plugins and their manifests, the refused ones with the reason, which plugin owns which
permission, and the UI contributions plugins declared. Filled in once start-up is done;
before that it reads as empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.kernel.manifest import PluginManifest
from greenroom.kernel.ui import EntityTab, NavLink, UiPage
from greenroom.permissions.model import Permission

if TYPE_CHECKING:
    from greenroom.kernel.context import PluginContext
    from greenroom.kernel.loader import Refusal
    from greenroom.kernel.registry import Registry


class PluginDirectory:
    def __init__(self) -> None:
        self._registry: Registry | None = None
        self._owners: dict[str, str] = {}

    def attach(self, registry: Registry) -> None:
        """Called by the core once the registry is frozen."""
        self._registry = registry
        owners = {p.name: "core" for p in registry.core_permissions}
        for plugin in registry.plugins:
            for permission in plugin.manifest.permissions:
                owners[permission.name] = plugin.id
        self._owners = owners

    def manifests(self) -> list[PluginManifest]:
        return [p.manifest for p in self._registry.plugins] if self._registry else []

    def manifest(self, plugin_id: str) -> PluginManifest | None:
        return next((m for m in self.manifests() if m.id == plugin_id), None)

    def refused(self) -> list[Refusal]:
        return list(self._registry.refused) if self._registry else []

    def permissions(self) -> list[Permission]:
        return list(self._registry.permissions) if self._registry else []

    def owner_of(self, permission: Permission) -> str | None:
        """The plugin id (or "core") whose manifest declares `permission`."""
        return self._owners.get(permission.name)

    def ui_pages(self) -> list[UiPage]:
        return [p for c in self._contexts() for p in c.ui.pages]

    def entity_tabs(self) -> list[EntityTab]:
        return [t for c in self._contexts() for t in c.ui.tabs]

    def nav_links(self) -> list[NavLink]:
        return [n for c in self._contexts() for n in c.ui.links]

    def _contexts(self) -> list[PluginContext]:
        return list(self._registry.contexts) if self._registry else []
