"""The permission plugin: RBAC with Red Hat Developer Hub's files and REST API, on the public plugin API.

It provides `PERMISSION_POLICY` (the core installs it in place of the foundation policy) and
`RBAC` (roles, policies, conditions, explain and access review, for the CLI and the web UI).
"""

from __future__ import annotations

from typing import Any

from greenroom import __version__
from greenroom.identity import IDENTITY
from greenroom.kernel import (
    AUDITOR,
    PERMISSION_POLICY,
    PERMISSIONS,
    PluginContext,
    PluginManifest,
    ServiceRef,
    define_plugin,
)
from greenroom.plugins.catalog.plugin import CATALOG
from greenroom.plugins.permission import permissions
from greenroom.plugins.permission.routes import register
from greenroom.plugins.permission.service import RbacService
from greenroom.plugins.permission.settings import load_settings
from greenroom.plugins.permission.store import RbacStore

RBAC: ServiceRef[RbacService] = ServiceRef(
    "permission.rbac", RbacService, "roles, permission policies, conditions, explain and access review"
)


def _setup(ctx: PluginContext) -> None:
    settings = load_settings(ctx.config.get("permission.rbac"))
    if ctx.config.get("permission.enabled") is False:
        ctx.logger.warning("permission.enabled is false: greenroom ignores it and keeps denying by default")
    if not settings.admins and not settings.super_users:
        ctx.logger.warning("There are no admins or super admins configured for the RBAC plugin "
                           "(permission.rbac.admin.users): roles can be changed only through the policy files")
    for ref, key in settings.super_users:
        ctx.logger.warning("RBAC super-user: bypasses every permission policy", extra={"superUser": ref, "key": key})
    rbac = RbacService(
        settings=settings,
        permissions=ctx.services.get(PERMISSIONS),
        store=RbacStore(ctx.database),
        catalog=ctx.services.get_optional(CATALOG),
        audit=ctx.services.get(AUDITOR).for_plugin(ctx.plugin_id),
    )
    rbac.load_files()  # a policy file with errors stops start-up, naming file and line
    ctx.provide(RBAC, rbac)
    ctx.provide(PERMISSION_POLICY, rbac)
    register(ctx.router("/api/permission"), rbac)


def _cli(app: Any) -> None:
    from greenroom.plugins.permission.cli import register as register_cli

    register_cli(app)


plugin = define_plugin(
    PluginManifest(
        id="permission",
        version=__version__,
        description="Role-based access control: RHDH's policy files and REST API, explain, access review",
        mounts=("/api/permission",),
        permissions=permissions.ALL,
        services=(PERMISSIONS, IDENTITY, AUDITOR),
        optional_services=(CATALOG,),
        provides=(RBAC, PERMISSION_POLICY),
        migrations="greenroom.plugins.permission:migrations/versions",
        cli=_cli,
    ),
    setup=_setup,
)
