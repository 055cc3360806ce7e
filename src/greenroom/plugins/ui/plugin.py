"""The web UI plugin: server-rendered pages, registered through the public plugin API.

It declares no permissions of its own: every page shows data under the permission of the
plugin that owns it (`catalog.entity.read`, `catalog.location.create`, `posture.report.read`,
...), asked for the signed-in viewer exactly as that plugin's API routes ask. Its routes are
public in the route table because each page authenticates the viewer itself (anonymous
viewers are sent to the sign-in page); see docs/ui.md.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from greenroom import __version__
from greenroom.audit.access import AccessAuditor
from greenroom.errors import NotFoundError
from greenroom.identity.service import IDENTITY
from greenroom.kernel import (
    AUDITOR,
    AUTHENTICATION,
    ERROR_PAGES,
    PERMISSIONS,
    PLUGINS,
    PluginContext,
    PluginManifest,
    define_plugin,
)
from greenroom.plugins.auth.directory import SIGN_IN
from greenroom.plugins.catalog.plugin import CATALOG
from greenroom.plugins.permission.plugin import RBAC
from greenroom.plugins.ui import account, admin, admin_audit, admin_rbac, catalog_pages, extensions
from greenroom.plugins.ui.web import HtmlErrorPages, Ui, UiServices
from greenroom.posture.gate import POSTURE

MOUNTS = ("/", "/sign-in", "/sign-out", "/catalog", "/catalog-import", "/settings", "/admin", "/ext", "/static")


def _setup(ctx: PluginContext) -> None:
    identity = ctx.services.get(IDENTITY)
    auditor = ctx.services.get(AUDITOR)
    services = UiServices(
        authenticate=ctx.services.get(AUTHENTICATION),
        permissions=ctx.services.get(PERMISSIONS),
        directory=ctx.services.get(PLUGINS),
        identity=identity,
        catalog=ctx.services.get_optional(CATALOG),
        posture=ctx.services.get(POSTURE),
        sign_in=ctx.services.get_optional(SIGN_IN),
        access=AccessAuditor(auditor),
        local_mode=identity.settings.local_mode,
    )
    ui = Ui(services)
    routers = {mount: ctx.router(mount) for mount in MOUNTS}
    catalog_pages.register(routers, ui)
    account.register(routers, ui)
    admin.register(routers, ui)
    rbac = ctx.services.get_optional(RBAC)
    if rbac is not None:
        admin_rbac.register(routers, ui, rbac)
    admin_audit.register(routers, ui, auditor)
    extensions.register(routers, ui)

    @routers["/static"].get("/{name}", public=True, include_in_schema=False)
    def static_file(request: Request, name: str) -> Response:
        response = ui.static.response(request, name)
        if response is None:
            raise NotFoundError(f"No static file {name}")
        return response

    ctx.provide(ERROR_PAGES, HtmlErrorPages(ui))


plugin = define_plugin(
    PluginManifest(
        id="ui",
        version=__version__,
        description="The web UI: catalog, entity pages, sign-in, sessions and administration pages",
        mounts=MOUNTS,
        services=(AUTHENTICATION, PERMISSIONS, PLUGINS, IDENTITY, POSTURE, AUDITOR),
        optional_services=(CATALOG, SIGN_IN, RBAC),
        provides=(ERROR_PAGES,),
    ),
    setup=_setup,
)
