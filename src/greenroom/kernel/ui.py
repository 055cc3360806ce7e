"""What a plugin adds to the web UI: pages, navigation entries and entity tabs.

During `setup` a plugin declares its contributions on `ctx.ui`, each gated by one of the
permissions its manifest declares:

    def setup(ctx: PluginContext) -> None:
        def docs_tab(view: TabView) -> Fragment:
            return Fragment("<p>Docs of {{ name }}</p>", {"name": view.entity["metadata"]["name"]})

        ctx.ui.entity_tab("docs", title="Docs", permission=DOCS_READ, render=docs_tab,
                          kinds=("Component", "API"))
        ctx.ui.page("overview", title="Docs", permission=DOCS_READ, render=docs_home)  # /ext/<id>/overview
        ctx.ui.nav_link("API docs", "/api/docs/index.html", permission=DOCS_READ)        # under a declared mount

The UI (the `ui` plugin) shows a contribution only to a viewer the permission service does
not deny that permission (for the contributing plugin, exactly as the route guard asks),
and passes the decision along so a conditional one can be applied. A `Fragment` is a Jinja2
template source the plugin wrote plus its data; the UI renders it in its sandboxed,
autoescaping environment inside its own layout, so data in the context is escaped unless the
plugin's own template marks it safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenroom.kernel.services import UndeclaredAccessError
from greenroom.permissions.model import Decision, Permission
from greenroom.permissions.principal import Principal

if TYPE_CHECKING:
    from greenroom.kernel.manifest import PluginManifest

_ID = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Fragment:
    """Markup a plugin contributes: a Jinja2 template source and the data it renders."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    title: str | None = None


@dataclass(frozen=True)
class PageView:
    """What a plugin page's `render` gets: who is looking, what they may do, the query string."""

    principal: Principal
    decision: Decision
    query: Mapping[str, str]


@dataclass(frozen=True)
class TabView:
    """What an entity tab's `render` gets: the entity (as the viewer may read it) and the decision."""

    principal: Principal
    decision: Decision
    entity: Mapping[str, Any]


@dataclass(frozen=True)
class UiPage:
    plugin_id: str
    id: str
    title: str
    permission: Permission
    render: Callable[[PageView], Fragment]
    nav: bool = True

    @property
    def path(self) -> str:
        return f"/ext/{self.plugin_id}/{self.id}"


@dataclass(frozen=True)
class EntityTab:
    plugin_id: str
    id: str
    title: str
    permission: Permission
    render: Callable[[TabView], Fragment]
    kinds: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.plugin_id}.{self.id}"

    def applies_to(self, kind: str) -> bool:
        return not self.kinds or kind.lower() in {k.lower() for k in self.kinds}


@dataclass(frozen=True)
class NavLink:
    plugin_id: str
    label: str
    href: str
    permission: Permission


@dataclass
class UiContributions:
    """One plugin's contributions, declared through `ctx.ui` while its setup runs."""

    manifest: PluginManifest
    pages: list[UiPage] = field(default_factory=list)
    tabs: list[EntityTab] = field(default_factory=list)
    links: list[NavLink] = field(default_factory=list)
    closed: bool = False

    @property
    def plugin_id(self) -> str:
        return self.manifest.id

    def _check(self, what: str, ident: str | None, permission: Permission) -> None:
        if self.closed:
            raise UndeclaredAccessError(f"plugin {self.plugin_id} adds UI {what} after its setup returned")
        if ident is not None and not _ID.match(ident):
            raise UndeclaredAccessError(f"plugin {self.plugin_id}: UI {what} id '{ident}' must be lowercase words "
                                        "joined by '-'")
        if permission not in self.manifest.permissions:
            raise UndeclaredAccessError(
                f"plugin {self.plugin_id}: UI {what} uses permission {permission.name} "
                "that the manifest does not declare"
            )

    def page(
        self, id: str, *, title: str, permission: Permission, render: Callable[[PageView], Fragment], nav: bool = True
    ) -> UiPage:
        """A page at `/ext/<plugin id>/<id>`, listed in the navigation unless `nav=False`."""
        self._check("page", id, permission)
        if any(p.id == id for p in self.pages):
            raise UndeclaredAccessError(f"plugin {self.plugin_id}: UI page '{id}' declared twice")
        page = UiPage(self.plugin_id, id, title, permission, render, nav)
        self.pages.append(page)
        return page

    def entity_tab(
        self,
        id: str,
        *,
        title: str,
        permission: Permission,
        render: Callable[[TabView], Fragment],
        kinds: tuple[str, ...] = (),
    ) -> EntityTab:
        """A tab on entity pages (of `kinds`, or every kind), at `/catalog/<ns>/<kind>/<name>/<plugin>.<id>`."""
        self._check("entity tab", id, permission)
        if any(t.id == id for t in self.tabs):
            raise UndeclaredAccessError(f"plugin {self.plugin_id}: entity tab '{id}' declared twice")
        tab = EntityTab(self.plugin_id, id, title, permission, render, tuple(kinds))
        self.tabs.append(tab)
        return tab

    def nav_link(self, label: str, href: str, *, permission: Permission) -> NavLink:
        """A navigation entry to a path the plugin serves itself (under one of its mounts)."""
        self._check("navigation entry", None, permission)
        if not any(href == m or href.startswith(m + "/") or href.startswith(m + "?") for m in self.manifest.mounts):
            raise UndeclaredAccessError(
                f"plugin {self.plugin_id}: navigation entry '{href}' is not under one of its mounts"
            )
        link = NavLink(self.plugin_id, label, href, permission)
        self.links.append(link)
        return link


__all__ = ["EntityTab", "Fragment", "NavLink", "PageView", "TabView", "UiContributions", "UiPage"]
