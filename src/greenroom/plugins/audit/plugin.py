"""The audit plugin: serves the core audit trail over HTTP to callers granted `audit.read`
(and `audit.export`). Recording does not depend on it: the core auditor records for every
plugin whether or not this one is loaded."""

from __future__ import annotations

from greenroom import __version__
from greenroom.kernel import AUDITOR, PluginContext, PluginManifest, define_plugin
from greenroom.plugins.audit import permissions
from greenroom.plugins.audit.routes import register


def _setup(ctx: PluginContext) -> None:
    register(ctx.router("/api/audit"), ctx.services.get(AUDITOR))


plugin = define_plugin(
    PluginManifest(
        id="audit",
        version=__version__,
        description="The audit trail's REST API: query, export, verify",
        mounts=("/api/audit",),
        permissions=permissions.ALL,
        services=(AUDITOR,),
    ),
    setup=_setup,
)
