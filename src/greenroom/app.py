"""The one place the ASGI application is assembled: core first, then allowed plugins."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from greenroom import __version__
from greenroom.audit import MIGRATIONS as AUDIT_MIGRATIONS
from greenroom.audit.access import AccessAuditor
from greenroom.audit.identity_sink import StoredAuditSink
from greenroom.audit.service import AuditService
from greenroom.audit.settings import load_audit_settings
from greenroom.config.model import Config
from greenroom.config.schema import validate_core
from greenroom.db.engine import Database
from greenroom.db.migrate import upgrade
from greenroom.errors import GreenroomError
from greenroom.http.auth import Authenticator
from greenroom.http.errors import (
    greenroom_error_handler,
    http_error_handler,
    unhandled_error_handler,
    validation_error_handler,
    with_error_pages,
)
from greenroom.http.middleware import GreenroomMiddleware
from greenroom.identity import IDENTITY, IdentityService
from greenroom.identity import MIGRATIONS as IDENTITY_MIGRATIONS
from greenroom.identity.audit import Auditor as IdentityAuditor
from greenroom.identity.config import check_production_sign_in, load_settings
from greenroom.kernel.core_services import (
    AUDITOR,
    AUTHENTICATION,
    CORE_SERVICE_IDS,
    ERROR_PAGES,
    PERMISSION_POLICY,
    PERMISSIONS,
    PLUGIN_READ,
    PLUGINS,
    URL_READER,
)
from greenroom.kernel.directory import PluginDirectory
from greenroom.kernel.registry import Registry, schema_locations, start_plugins
from greenroom.kernel.routing import Guard, PluginRouter, RouteDeclaration
from greenroom.kernel.services import ServiceRegistry
from greenroom.permissions.model import Permission
from greenroom.permissions.policy import FoundationPolicy, PermissionService, rbac_admins
from greenroom.posture.gate import POSTURE, enforce_posture
from greenroom.reading import UrlReader

# FastAPI's own OpenTelemetry hooks (newer FastAPI releases) cost a check on every request;
# greenroom exports its metrics through Prometheus (greenroom.observability), so they stay off.
_NO_NATIVE_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)
log = logging.getLogger("greenroom.app")
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
METRICS_READ = Permission("core.metrics.read", "read", description="read Prometheus metrics")
CORE_PERMISSIONS = (METRICS_READ, PLUGIN_READ)


@dataclass
class Portal:
    """The assembled application and the parts tests and the CLI need to reach."""

    app: FastAPI
    config: Config
    database: Database
    registry: Registry
    authenticator: Authenticator
    identity: IdentityService
    production: bool
    local_mode: bool
    auditor: AuditService | None = None
    # Set by a server that calls `serving()` itself once it listens (`greenroom serve`);
    # otherwise the plugins' serving hooks run at the end of the ASGI start-up.
    defer_serving: bool = False
    _served: bool = False

    def serving(self) -> None:
        """The server accepts requests: run the plugins' serving hooks (once)."""
        if self._served:
            return
        self._served = True
        for context in self.registry.contexts:
            for hook in context.serving_hooks:
                hook()


def _allowed_hosts(config: Config, local_mode: bool) -> list[str] | None:
    if not local_mode:
        return None
    port = _listen_port(config)
    names = ["127.0.0.1", "localhost", "[::1]"]
    hosts = [f"{n}:{port}" for n in names] + names
    base = urlsplit(config.get_str("backend.baseUrl") or "")
    if base.netloc:
        hosts.append(base.netloc.lower())
    return hosts


def _listen_port(config: Config) -> int:
    listen = config.get("backend.listen")
    if isinstance(listen, dict) and listen.get("port") is not None:
        return int(listen["port"])
    if isinstance(listen, str) and ":" in listen:
        return int(listen.rsplit(":", 1)[1])
    return 7007


def _mount(app: FastAPI, router: PluginRouter) -> None:
    """Add a plugin router's routes to the app's own route list.

    Its routes already carry their full paths (the router's prefix is applied as each is
    declared). `include_router` would instead wrap the router and, on the first request that
    walks past it, analyse every one of its endpoints a second time (FastAPI >= 0.16x builds
    included routes lazily): tens of milliseconds on the first request, for nothing."""
    for route in router.api.routes:
        if isinstance(route, APIRoute):
            route.dependency_overrides_provider = app  # as include_router would set it
        app.router.routes.append(route)


def _core_routes(app: FastAPI, guard: Guard, registry: Registry, database: Database) -> None:
    core = PluginRouter(
        "",
        plugin_id="core",
        permissions={p.name: p for p in CORE_PERMISSIONS},
        routes=registry.routes,
        guard=guard,
    )

    @core.get("/healthz", public=True, include_in_schema=False)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def ready() -> Response:
        try:
            with database.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except Exception:  # noqa: BLE001 - any database failure means not ready
            return Response(b'{"status":"error","message":"database unavailable"}', 503,
                            media_type="application/json")
        return Response(b'{"status":"ok"}', media_type="application/json")

    core.get("/readyz", public=True, include_in_schema=False)(ready)
    # Backstage's health endpoints, so existing probes and the benchmark harness work.
    core.get("/.backstage/health/v1/readiness", public=True, include_in_schema=False)(ready)

    core.get("/.backstage/health/v1/liveness", public=True, include_in_schema=False)(healthz)

    @core.get("/metrics", permission=METRICS_READ, include_in_schema=False)
    async def metrics(request: Request) -> Response:  # noqa: ARG001 - the guard reads it
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    _mount(app, core)


def create_portal(
    config: Config,
    *,
    production: bool = False,
    local_mode: bool = False,
    migrate: bool = True,
    plugin_search_path: Sequence[str] | None = None,
) -> Portal:
    core = validate_core(config)
    production = production or core.app.production
    if production and local_mode:
        raise GreenroomError("local mode cannot run in production")
    if production:
        check_production_sign_in(config)
    posture = enforce_posture(config, production=production)
    database = Database.from_config(config)
    auditor = AuditService(database, load_audit_settings(config, production=production))
    identity = IdentityService(database, load_settings(config, production=production, local_mode=local_mode),
                               auditor=IdentityAuditor([StoredAuditSink(auditor)]))
    auditor.use_client_address(identity.client_address)
    external = [e.model_dump() for e in core.backend.auth.externalAccess]
    authenticator = Authenticator(external, local_mode=local_mode, identity=identity, production=production)
    # Until a policy plugin (RBAC, the `permission` plugin) installs its policy: deny by default,
    # RHDH's `permission.rbac.admin.users` get full access (also the policy when RBAC is disabled).
    permissions = PermissionService(FoundationPolicy(rbac_admins(config.get("permission.rbac.admin.users"))))
    guard = Guard(authenticator, permissions, audit=AccessAuditor(auditor))
    services = ServiceRegistry()
    services.register(URL_READER, UrlReader.from_config(config.get("backend.reading")), provider="core")
    services.register(PERMISSIONS, permissions, provider="core")
    services.register(AUTHENTICATION, authenticator, provider="core")
    directory = PluginDirectory()
    services.register(PLUGINS, directory, provider="core")
    services.register(IDENTITY, identity, provider="core")
    services.register(AUDITOR, auditor, provider="core")
    services.register(POSTURE, posture, provider="core")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        auditor.start(config=config, plugins=registry.plugins)
        for context in registry.contexts:
            for hook in context.start_hooks:
                hook()
        if not portal.defer_serving:
            portal.serving()
        log.info("greenroom started", extra={"version": __version__, "production": production,
                                              "local_mode": local_mode})
        try:
            yield
        finally:
            portal._served = False  # an app started again runs its serving hooks again
            for context in reversed(registry.contexts):
                for hook in reversed(context.stop_hooks):
                    with contextlib.suppress(Exception):
                        hook()
            auditor.stop()
            identity.outbound.close()
            database.dispose()

    app = FastAPI(
        title="greenroom",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        **_NO_NATIVE_TELEMETRY,
    )
    registry = start_plugins(
        config=config,
        database=database,
        services=services,
        guard=guard,
        core_service_ids=CORE_SERVICE_IDS | {POSTURE.id, IDENTITY.id},
        production=production,
        core_permissions=CORE_PERMISSIONS,
        search_path=plugin_search_path,
    )
    directory.attach(registry)
    if services.has(PERMISSION_POLICY):
        permissions.use_policy(services.get(PERMISSION_POLICY),
                               source=services.provider_of(PERMISSION_POLICY) or "?")
    else:
        log.warning("no permission policy plugin is loaded: users get nothing except the interim "
                    "permission.rbac.admin.users grant (the foundation policy)")
    permissions.freeze()
    if production and registry.plugin("auth") is None:
        raise GreenroomError("production mode needs the auth plugin (it is listed in plugins.disabled)")
    if migrate:
        upgrade(database, [IDENTITY_MIGRATIONS, AUDIT_MIGRATIONS,
                           *schema_locations(registry.plugins, plugin_search_path)])
    registry.routes.add(RouteDeclaration("core", "GET", "/api/openapi.json", None, public=True))
    for context in registry.contexts:
        for router in context.routers:
            _mount(app, router)
    _core_routes(app, guard, registry, database)  # after the plugins: routes match in order

    pages = services.get(ERROR_PAGES) if services.has(ERROR_PAGES) else None
    app.add_exception_handler(GreenroomError, with_error_pages(greenroom_error_handler, pages))
    app.add_exception_handler(RequestValidationError, with_error_pages(validation_error_handler, pages))
    app.add_exception_handler(StarletteHTTPException, with_error_pages(http_error_handler, pages))
    app.add_exception_handler(Exception, with_error_pages(unhandled_error_handler, pages))
    base_url = config.get_str("backend.baseUrl") or ""
    max_body = config.get_int("backend.limits.requestBodyBytes", DEFAULT_MAX_BODY_BYTES) or DEFAULT_MAX_BODY_BYTES
    app.add_middleware(
        GreenroomMiddleware,
        max_body_bytes=max_body,
        https=base_url.startswith("https://"),
        allowed_hosts=_allowed_hosts(config, local_mode),
    )
    app.state.portal = None
    portal = Portal(
        app=app,
        config=config,
        database=database,
        registry=registry,
        authenticator=authenticator,
        identity=identity,
        production=production,
        local_mode=local_mode,
        auditor=auditor,
    )
    app.state.portal = portal
    return portal
