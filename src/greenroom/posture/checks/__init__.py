"""Every check; importing this package registers them all and freezes the registry."""

from greenroom.posture.checks import (  # noqa: F401 - imported for their registrations
    authentication,
    data,
    greenroom_checks,
    network,
    permissions,
    scaffolder,
    secrets,
    supply_chain,
    techdocs,
)
from greenroom.posture.registry import REGISTRY

REGISTRY.freeze()
