"""References to the services the core provides to any plugin that declares them."""

from __future__ import annotations

from typing import Any

from greenroom.kernel.services import ServiceRef
from greenroom.permissions.policy import PermissionService

# The URL reader's type lives in greenroom.reading; Any keeps the kernel import-light.
URL_READER: ServiceRef[Any] = ServiceRef("core.urlReader", object, "reads allow-listed URLs (SSRF-safe)")
PERMISSIONS: ServiceRef[PermissionService] = ServiceRef(
    "core.permissions", PermissionService, "authorizes principals for permissions"
)

CORE_SERVICE_IDS = {URL_READER.id, PERMISSIONS.id}
