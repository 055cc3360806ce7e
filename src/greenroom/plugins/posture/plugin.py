"""The posture plugin, registered through the public plugin API.

The core runs the posture checks at start-up (and refuses a production start on a critical
finding); this plugin serves the same report, recomputed on the running configuration, to
callers granted `posture.report.read`. It reaches the core's posture service through the
`core.posture` service reference its manifest declares.
"""

from __future__ import annotations

from greenroom import __version__
from greenroom.kernel import PluginContext, PluginManifest, define_plugin
from greenroom.plugins.posture import permissions
from greenroom.plugins.posture.routes import register
from greenroom.posture.gate import POSTURE


def _setup(ctx: PluginContext) -> None:
    register(ctx.router("/api/posture"), ctx.services.get(POSTURE))


plugin = define_plugin(
    PluginManifest(
        id="posture",
        version=__version__,
        description="The running configuration's security posture report",
        mounts=("/api/posture",),
        permissions=permissions.ALL,
        services=(POSTURE,),
    ),
    setup=_setup,
)
