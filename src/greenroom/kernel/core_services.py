"""References to the services the core provides to any plugin that declares them."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from greenroom.audit.service import AuditService
from greenroom.kernel.directory import PluginDirectory
from greenroom.kernel.services import ServiceRef
from greenroom.permissions.model import Permission
from greenroom.permissions.policy import PermissionPolicy, PermissionService
from greenroom.permissions.principal import Principal


class RequestAuthenticator(Protocol):
    """Who is calling: the same authentication the route guard runs (a user token, the session
    cookie with its CSRF check on state-changing requests, or a service credential); the
    anonymous principal when the request carries no credential, an AuthenticationError when it
    carries a bad one."""

    def __call__(self, request: Request) -> Principal: ...


class ErrorPages(Protocol):
    """Error pages for browsers. When a plugin provides `ERROR_PAGES`, the core asks it to
    answer errors of requests that want HTML (a page navigation outside `/api/`); it returns
    None to leave the JSON error body in place."""

    def render(self, request: Request, status: int, name: str, message: str) -> Response | None: ...


# The URL reader's type lives in greenroom.reading; Any keeps the kernel import-light.
URL_READER: ServiceRef[Any] = ServiceRef("core.urlReader", object, "reads allow-listed URLs (SSRF-safe)")
PERMISSIONS: ServiceRef[PermissionService] = ServiceRef(
    "core.permissions", PermissionService, "authorizes principals for permissions"
)
AUTHENTICATION: ServiceRef[RequestAuthenticator] = ServiceRef(
    "core.authentication", RequestAuthenticator,
    "authenticates a request (for routes that handle anonymous callers themselves, such as web pages)",
)
PLUGINS: ServiceRef[PluginDirectory] = ServiceRef(
    "core.plugins", PluginDirectory, "the loaded plugins, their manifests and UI contributions (read-only)"
)
# Provided by at most one plugin (the RBAC plugin, `permission`); the core installs it in the
# permission service in place of the foundation policy, once, at start-up.
PERMISSION_POLICY: ServiceRef[PermissionPolicy] = ServiceRef(
    "core.permissionPolicy", PermissionPolicy, "the policy that decides permissions (replaces the foundation policy)"
)
ERROR_PAGES: ServiceRef[ErrorPages] = ServiceRef(
    "core.errorPages", ErrorPages, "HTML error pages for browser navigations (provided by a UI plugin)"
)

AUDITOR: ServiceRef[AuditService] = ServiceRef(
    "core.auditor", AuditService,
    "records audit events (bind with .for_plugin(id)), reads, exports and verifies the audit trail",
)

# A permission of the core's own: reading what the plugin directory holds (the admin plugins page).
PLUGIN_READ = Permission("core.plugin.read", "read", description="list the loaded plugins and their manifests")

CORE_SERVICE_IDS = {URL_READER.id, PERMISSIONS.id, AUTHENTICATION.id, PLUGINS.id, AUDITOR.id}
