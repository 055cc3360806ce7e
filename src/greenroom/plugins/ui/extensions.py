"""Pages other plugins add (`ctx.ui.page(...)`), served at `/ext/<plugin id>/<page id>`.

The page's permission is asked for the contributing plugin, as its own API routes would be;
the plugin's fragment is rendered in the UI's autoescaping sandbox inside the UI's layout.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from greenroom.errors import NotFoundError
from greenroom.kernel import PageView, PluginRouter
from greenroom.plugins.ui.web import Ui, Viewer


def extension_page(ui: Ui, request: Request, viewer: Viewer, plugin_id: str, page_id: str) -> Response:
    page = next((p for p in ui.services.directory.ui_pages() if p.plugin_id == plugin_id and p.id == page_id), None)
    if page is None:
        raise NotFoundError("There is no page at this address.")
    decision = viewer.require(page.permission)
    query = dict(request.query_params.items())
    fragment = page.render(PageView(viewer.principal, decision, query))
    body = Markup(ui.fragment(fragment))  # noqa: S704 - rendered by the autoescaping sandbox
    return ui.render(request, "ext_page.html", viewer=viewer, section=page.path, title=fragment.title or page.title,
                     body=body)


def register(routers: Mapping[str, PluginRouter], ui: Ui) -> None:
    @routers["/ext"].get("/{plugin_id}/{page_id}", public=True, include_in_schema=False)
    async def ext_page(request: Request, plugin_id: str, page_id: str) -> Response:
        return await ui.run(request, lambda viewer: extension_page(ui, request, viewer, plugin_id, page_id))
