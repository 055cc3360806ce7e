"""The machinery every page shares: who is looking, what they may do, and rendering.

A page handler never reads data on its own authority. `Ui.run` authenticates the request with
the core's authenticator (the one the route guard uses: session cookie, CSRF check on forms,
lockout) and hands the handler a `Viewer`. Everything the page shows comes through the viewer:
`viewer.require(P)` / `viewer.may(P)` ask the permission service for the plugin that declares
P, exactly as the guard would for that plugin's API route, and `viewer.catalog` is the catalog
restricted by the viewer's `catalog.entity.read` decision (conditions become SQL).

Anonymous viewers are sent to the sign-in page; a denied permission renders a 403 page that
names the permission and nothing else; errors render pages with the status code. Every page
is `no-store` and carries the portal's CSP (no inline script or style) from the middleware.

The audit trail hears about pages as it hears about API routes, through the guard's own
recorder (`greenroom.audit.access`): a refused `require` is a denial, an allowed mutation of a
form is a permission decision (unless the service's own event carried it), and pages that show
sensitive data (the audit trail) record the read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from jinja2 import PackageLoader, Template
from jinja2.sandbox import SandboxedEnvironment
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from greenroom.audit.access import AccessAuditor
from greenroom.errors import AuthenticationError, GreenroomError, NotAllowedError
from greenroom.identity.service import IdentityService
from greenroom.kernel import (
    Authorization,
    Decision,
    Fragment,
    Permission,
    PluginDirectory,
    Principal,
    RequestAuthenticator,
)
from greenroom.kernel.core_services import PLUGIN_READ
from greenroom.permissions.policy import PermissionService
from greenroom.plugins.catalog.authorized import AuthorizedCatalog
from greenroom.plugins.catalog.permissions import ENTITY_READ, LOCATION_CREATE
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.posture.permissions import REPORT_READ
from greenroom.plugins.ui.entities import parse_ref
from greenroom.plugins.ui.links import local_path, safe_href
from greenroom.plugins.ui.static import StaticAssets

log = logging.getLogger("greenroom.plugins.ui")
MAX_FORM_FIELDS = 50
MAX_FRAGMENT_TEMPLATES = 256
# Pages keep the referrer to this origin only: with `no-referrer` (the API's default) browsers
# send `Origin: null` on form posts, which the CSRF origin check must refuse.
NO_STORE = {"cache-control": "no-store", "referrer-policy": "same-origin"}


class SignInRequired(Exception):
    """The page needs a signed-in viewer."""


class PageDenied(Exception):
    """The viewer lacks `permission` (the 403 page names it)."""

    def __init__(self, permission: Permission) -> None:
        super().__init__(permission.name)
        self.permission = permission


@dataclass
class UiServices:
    authenticate: RequestAuthenticator
    permissions: PermissionService
    directory: PluginDirectory
    identity: IdentityService
    catalog: CatalogService | None
    posture: Any | None = None
    sign_in: Any | None = None
    access: AccessAuditor | None = None  # the guard's recorder of denials, decisions and reads
    local_mode: bool = False


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    section: str


@dataclass(frozen=True)
class AdminPage:
    path: str
    title: str
    description: str
    permission: Permission


class Viewer:
    """The signed-in principal of one request, and what they may do."""

    def __init__(self, ui: Ui, request: Request, principal: Principal, csrf_token: str | None) -> None:
        self.ui = ui
        self.request = request
        self.principal = principal
        self.csrf_token = csrf_token
        self._decisions: dict[str, Decision] = {}
        self.mutations: list[tuple[Permission, str]] = []

    @property
    def subject(self) -> str:
        return self.principal.subject

    @property
    def name(self) -> str:
        ref = parse_ref(self.principal.subject)
        return ref.name if ref is not None else self.principal.subject

    def _plugin_of(self, permission: Permission) -> str:
        return self.ui.services.directory.owner_of(permission) or "core"

    def decide(self, permission: Permission) -> Decision:
        decision = self._decisions.get(permission.name)
        if decision is None:
            decision = self.ui.services.permissions.authorize(self.principal, permission,
                                                               plugin_id=self._plugin_of(permission))
            self._decisions[permission.name] = decision
        return decision

    def may(self, permission: Permission) -> bool:
        """Not denied: allowed, or allowed under conditions the data layer applies."""
        return not self.decide(permission).denied

    def require(self, permission: Permission) -> Decision:
        """The decision for something the page is about to do; PageDenied (recorded) when denied."""
        decision = self.decide(permission)
        access, request = self.ui.services.access, self.request
        if decision.denied:
            if access is not None:
                authz = Authorization(self.principal, permission, decision)
                if getattr(request.state, "authz", None) is None:
                    request.state.authz = authz
                access.denied(request, permission, self._plugin_of(permission),
                              NotAllowedError(f"Missing permission {permission.name}"))
            raise PageDenied(permission)
        if access is not None and access.is_mutation(request, permission):
            if getattr(request.state, "authz", None) is None:  # a service's own event carries it
                request.state.authz = Authorization(self.principal, permission, decision)
            self.mutations.append((permission, self._plugin_of(permission)))
        return decision

    def record_read(self, permission: Permission) -> None:
        """This page showed data of a sensitive read (recorded as the API route's read would be)."""
        access = self.ui.services.access
        if access is not None and access.records_read(self.request, permission, True):
            access.read_done(self.request, permission, self._plugin_of(permission), None)

    def mutations_done(self, error: BaseException | None) -> None:
        access = self.ui.services.access
        if access is not None:
            for permission, plugin_id in self.mutations:
                access.mutation_done(self.request, permission, plugin_id, error)

    @cached_property
    def catalog(self) -> AuthorizedCatalog:
        if self.ui.services.catalog is None:
            raise GreenroomError("the catalog plugin is not loaded")
        return AuthorizedCatalog(self.ui.services.catalog, self.require(ENTITY_READ))

    @cached_property
    def admin_pages(self) -> list[AdminPage]:
        return [page for page in self.ui.admin_pages() if self.may(page.permission)]

    @cached_property
    def nav(self) -> list[NavItem]:
        items = [NavItem("Home", "/", "home")]
        if self.ui.services.catalog is not None and self.may(ENTITY_READ):
            items.append(NavItem("Catalog", "/catalog", "catalog"))
        if self.ui.services.catalog is not None and self.may(LOCATION_CREATE):
            items.append(NavItem("Register", "/catalog-import", "register"))
        directory = self.ui.services.directory
        for page in directory.ui_pages():
            if page.nav and self.may(page.permission):
                items.append(NavItem(page.title, page.path, page.path))
        for link in directory.nav_links():
            if self.may(link.permission):
                items.append(NavItem(link.label, link.href, link.href))
        if self.admin_pages:
            items.append(NavItem("Admin", "/admin", "admin"))
        return items


class Ui:
    def __init__(self, services: UiServices) -> None:
        self.services = services
        self.static = StaticAssets()
        self.env = SandboxedEnvironment(
            loader=PackageLoader("greenroom.plugins.ui", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # Plugin fragments: the same sandbox and escaping, lenient about missing values.
        self.fragments = SandboxedEnvironment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
        # Compiled fragment templates (a plugin's template is a constant; data goes in its context),
        # bounded so that a plugin building templates from data cannot grow it without end.
        self._fragment_cache: dict[str, Template] = {}
        for env in (self.env, self.fragments):
            env.filters["href"] = safe_href
            env.filters["timestamp"] = timestamp
            env.filters["ref_path"] = ref_path
        self.env.globals["static"] = self.static.url
        self.extra_admin_pages: list[AdminPage] = []

    # -- who is looking ------------------------------------------------------------------
    def viewer(self, request: Request) -> Viewer:
        try:
            principal = self.services.authenticate(request)
        except AuthenticationError:
            raise SignInRequired from None
        if not principal.is_authenticated:
            raise SignInRequired
        return Viewer(self, request, principal, self.services.identity.csrf_token(request))

    def admin_pages(self) -> list[AdminPage]:
        pages = [
            AdminPage("/admin/posture", "Posture", "Security findings about the running configuration", REPORT_READ),
            AdminPage("/admin/plugins", "Plugins", "Loaded and refused plugins with their manifests", PLUGIN_READ),
        ]
        return [*self.extra_admin_pages, *pages]

    # -- rendering ------------------------------------------------------------------------
    def render(self, request: Request, template: str, *, viewer: Viewer | None, status: int = 200,
               section: str = "", **context: Any) -> HTMLResponse:
        body = self.env.get_template(template).render(
            viewer=viewer, request_path=request.url.path, section=section, local_mode=self.services.local_mode,
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=NO_STORE)

    def fragment(self, fragment: Fragment) -> str:
        template = self._fragment_cache.get(fragment.template)
        if template is None:
            template = self.fragments.from_string(fragment.template)
            if len(self._fragment_cache) >= MAX_FRAGMENT_TEMPLATES:
                self._fragment_cache.clear()
            self._fragment_cache[fragment.template] = template
        return template.render(**dict(fragment.context))

    def error_page(self, request: Request, status: int, title: str, message: str, *,
                   viewer: Viewer | None = None, permission: Permission | None = None) -> HTMLResponse:
        return self.render(request, "error.html", viewer=viewer, status=status, title=title, message=message,
                           permission=permission, status_code=status)

    @staticmethod
    def sign_in_redirect(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = "" if target == "/" or request.method != "GET" else "?" + urlencode({"next": local_path(target)})
        return RedirectResponse(f"/sign-in{query}", status_code=303, headers=NO_STORE)

    # -- running a page ---------------------------------------------------------------------
    async def run(
        self,
        request: Request,
        handler: Callable[[Viewer], Response],
    ) -> Response:
        """A GET page: authenticate, then run `handler` (in the thread pool: it reads the database)."""
        return await self._guarded(request, lambda: run_in_threadpool(lambda: handler(self.viewer(request))))

    async def run_form(
        self,
        request: Request,
        handler: Callable[[Viewer, FormData], Response],
    ) -> Response:
        """A POST from one of the UI's forms: read the form, then authenticate with its CSRF token."""

        async def go() -> Response:
            form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
            token = form.get("csrf_token")
            request.state.csrf_form_token = token if isinstance(token, str) else None

            def submit() -> Response:
                viewer = self.viewer(request)
                try:
                    response = handler(viewer, form)
                except Exception as exc:
                    viewer.mutations_done(exc)
                    raise
                viewer.mutations_done(None)
                return response

            return await run_in_threadpool(submit)

        return await self._guarded(request, go)

    async def _guarded(self, request: Request, go: Callable[[], Awaitable[Response]]) -> Response:
        try:
            return await go()
        except SignInRequired:
            response: Response = self.sign_in_redirect(request)
            return response
        except PageDenied as exc:
            return self.error_page(request, 403, "Not allowed",
                                   "You do not have the permission this page needs.", permission=exc.permission)
        except NotAllowedError as exc:
            return self.error_page(request, 403, "Not allowed", exc.message)
        except GreenroomError as exc:
            if exc.status_code >= 500:
                log.exception("page failed", exc_info=exc, extra={"path": request.url.path})
                return self.error_page(request, exc.status_code, "Something went wrong",
                                       "An internal error occurred. The request id in the response headers "
                                       "identifies it in the portal's log.")
            return self.error_page(request, exc.status_code, _TITLES.get(exc.status_code, "Request failed"),
                                   exc.message)
        except Exception:
            log.exception("page failed", extra={"path": request.url.path})
            return self.error_page(request, 500, "Something went wrong",
                                   "An internal error occurred. The request id in the response headers "
                                   "identifies it in the portal's log.")


_TITLES = {400: "Bad request", 401: "Sign-in needed", 404: "Not found", 409: "Conflict", 413: "Too large",
           429: "Too many requests", 503: "Unavailable"}


class HtmlErrorPages:
    """The core's `ERROR_PAGES` hook: pages for errors outside the UI's own routes (unknown
    paths, a browser opening an API-less core route)."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui

    def render(self, request: Request, status: int, name: str, message: str) -> Response | None:  # noqa: ARG002
        if status == 401:
            return self.ui.sign_in_redirect(request)
        if status == 404:
            message = "There is no page at this address."
        title = "Not allowed" if status == 403 else _TITLES.get(status, "Something went wrong")
        return self.ui.error_page(request, status, title, message)


def timestamp(value: Any) -> str:
    """Seconds since the epoch, an ISO 8601 string or a datetime, as UTC text."""
    if value is None or value == "":
        return ""
    moment: datetime | None = None
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if moment is None:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ref_path(value: Any) -> str | None:
    ref = parse_ref(value)
    return None if ref is None else ref.path

