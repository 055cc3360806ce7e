"""Administration pages: the index, the posture report and the plugins list.

Each page requires the permission of the API it mirrors: `posture.report.read` (what
`GET /api/posture` needs), `core.plugin.read` for the plugin directory. The roles and audit
pages come from `admin_rbac.py` and `admin_audit.py` when those services are present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from greenroom.errors import NotAllowedError, NotFoundError
from greenroom.kernel import PluginRouter
from greenroom.kernel.core_services import PLUGIN_READ
from greenroom.plugins.posture.permissions import REPORT_READ
from greenroom.plugins.ui.web import Ui, Viewer


def admin_index(ui: Ui, request: Request, viewer: Viewer) -> Response:
    if not viewer.admin_pages:
        raise NotAllowedError("You have no administration permissions: every page here needs one "
                              f"({', '.join(p.permission.name for p in ui.admin_pages())}).")
    return ui.render(request, "admin_index.html", viewer=viewer, section="admin")


def posture_page(ui: Ui, request: Request, viewer: Viewer) -> Response:
    viewer.require(REPORT_READ)
    if ui.services.posture is None:
        raise NotFoundError("The posture report is not available")
    report = ui.services.posture.report().to_json()
    return ui.render(request, "admin_posture.html", viewer=viewer, section="admin", report=report)


def plugins_page(ui: Ui, request: Request, viewer: Viewer) -> Response:
    viewer.require(PLUGIN_READ)
    directory = ui.services.directory
    contributions: dict[str, list[str]] = {}
    for page in directory.ui_pages():
        contributions.setdefault(page.plugin_id, []).append(f"page {page.title}")
    for tab in directory.entity_tabs():
        contributions.setdefault(tab.plugin_id, []).append(f"entity tab {tab.title}")
    for link in directory.nav_links():
        contributions.setdefault(link.plugin_id, []).append(f"link {link.label}")
    manifests: list[dict[str, Any]] = [
        {**m.to_json(), "ui": contributions.get(m.id, [])} for m in directory.manifests()
    ]
    return ui.render(request, "admin_plugins.html", viewer=viewer, section="admin", manifests=manifests,
                     refused=directory.refused())


def register(routers: Mapping[str, PluginRouter], ui: Ui) -> None:
    admin = routers["/admin"]

    @admin.get("", public=True, include_in_schema=False)
    async def index(request: Request) -> Response:
        return await ui.run(request, lambda viewer: admin_index(ui, request, viewer))

    @admin.get("/posture", public=True, include_in_schema=False)
    async def posture(request: Request) -> Response:
        return await ui.run(request, lambda viewer: posture_page(ui, request, viewer))

    @admin.get("/plugins", public=True, include_in_schema=False)
    async def plugins(request: Request) -> Response:
        return await ui.run(request, lambda viewer: plugins_page(ui, request, viewer))
