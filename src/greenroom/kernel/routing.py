"""Plugin routes, each with a permission declared where it is defined.

A route is declared with exactly one of `permission=` (a permission from the plugin's
manifest) or `public=True`. The router puts the guard in front of every permissioned route,
which authenticates the caller and asks the permission service before anything else happens
for the request: before FastAPI reads the body, validates parameters or runs dependencies,
so an anonymous caller gets a 401, never a validation error describing the API or a
dependency's side effect, and no handler can forget the check. Every declaration lands in
the `RouteTable`, which a test walks to prove that every mounted route is covered.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from greenroom.audit.access import AccessAuditor
from greenroom.audit.service import DECISION_STATE
from greenroom.errors import AuthenticationError, NotAllowedError
from greenroom.kernel.services import UndeclaredAccessError
from greenroom.permissions.model import Decision, Permission
from greenroom.permissions.policy import PermissionService
from greenroom.permissions.principal import Principal


@dataclass(frozen=True, slots=True)
class RouteDeclaration:
    plugin_id: str
    method: str
    path: str
    permission: str | None
    public: bool


class RouteTable:
    def __init__(self) -> None:
        self.routes: list[RouteDeclaration] = []

    def add(self, declaration: RouteDeclaration) -> None:
        # Starlette serves the first route that matches; a second declaration of the same
        # method and path (another plugin's, or the core's) would be shadowed or shadow it.
        existing = self.lookup(declaration.method, declaration.path)
        if existing is not None:
            raise UndeclaredAccessError(
                f"route {declaration.method} {declaration.path} is declared by both {existing.plugin_id} "
                f"and {declaration.plugin_id}"
            )
        self.routes.append(declaration)

    def lookup(self, method: str, path: str) -> RouteDeclaration | None:
        for route in self.routes:
            if route.method == method and route.path == path:
                return route
        return None


@dataclass(frozen=True, slots=True)
class Authorization:
    """What the guard established: who is calling and what the policy said."""

    principal: Principal
    permission: Permission
    decision: Decision


class Guard:
    """Authenticates and authorizes a request for one permission."""

    def __init__(
        self,
        authenticate: Callable[[Request], Principal],
        permissions: PermissionService,
        audit: AccessAuditor | None = None,
    ) -> None:
        self.authenticate = authenticate
        self.permissions = permissions
        self.audit = audit  # records denials, decisions on mutations and reads (greenroom.audit.access)

    async def admit(self, request: Request, permission: Permission, plugin_id: str, *, threaded: bool) -> None:
        """`_check` (in the thread pool when `threaded`), with a refusal recorded in the audit trail
        from the thread pool: the append waits on the chain head and must not stall the loop."""
        try:
            if threaded:
                await run_in_threadpool(self._check, request, permission, plugin_id)
            else:
                self._check(request, permission, plugin_id)
        except (AuthenticationError, NotAllowedError) as exc:
            if self.audit is not None:
                await run_in_threadpool(self.audit.denied, request, permission, plugin_id, exc)
            raise

    def _check(self, request: Request, permission: Permission, plugin_id: str) -> Authorization:
        """Authenticate and authorize (no I/O beyond cached lookups: it runs on the event loop for
        async endpoints). A refusal raises."""
        principal = self.authenticate(request)
        request.state.principal = principal
        if not principal.is_authenticated:
            raise AuthenticationError("Missing credentials")
        decision = self.permissions.authorize(principal, permission, plugin_id=plugin_id)
        authz = Authorization(principal=principal, permission=permission, decision=decision)
        request.state.authz = authz
        if decision.denied:
            raise NotAllowedError(f"Missing permission {permission.name}")
        return authz

    def follows_up(self, request: Request, permission: Permission, sensitive: bool) -> bool:
        """Whether the audit trail wants to hear how this allowed request ended."""
        audit = self.audit
        return audit is not None and audit.enabled and (
            audit.is_mutation(request, permission) or audit.records_read(request, permission, sensitive)
        )

    async def follow_up(
        self, request: Request, permission: Permission, plugin_id: str, call: Callable[[], Awaitable[Response]]
    ) -> Response:
        """Run the handler, then record its permission decision (mutation) or the read."""
        audit = self.audit
        assert audit is not None
        error: BaseException | None = None
        try:
            return await call()
        except Exception as exc:
            error = exc
            raise
        finally:
            if audit.is_mutation(request, permission):
                if not getattr(request.state, DECISION_STATE, False):
                    await run_in_threadpool(audit.mutation_done, request, permission, plugin_id, error)
            else:
                await run_in_threadpool(audit.read_done, request, permission, plugin_id, error)


def authorization(request: Request) -> Authorization:
    """What the guard established for this request (call it from a guarded route)."""
    authz = getattr(request.state, "authz", None)
    if not isinstance(authz, Authorization):  # a public route asked for it: a programming error
        raise NotAllowedError("route is not guarded by a permission")
    return authz


async def current_authorization(request: Request) -> Authorization:
    return authorization(request)


AuthzDep = Annotated[Authorization, Depends(current_authorization)]


def _takes_only_request_and_path(endpoint: Callable[..., Any], path: str) -> bool:
    """True for `async def f(request: Request, <path params of `path`, as str>) -> Response`."""
    path_params = set(re.findall(r"{(\w+)}", path))
    try:
        hints = inspect.get_annotations(endpoint, eval_str=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations: let FastAPI handle it
        return False
    if hints.get("return") is not Response:
        return False
    for name, param in inspect.signature(endpoint).parameters.items():
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) or param.default is not param.empty:
            return False
        annotation = hints.get(name)
        if not (annotation is Request and name == "request") and not (annotation is str and name in path_params):
            return False
    return True


class PluginRouter:
    def __init__(
        self,
        mount: str,
        *,
        plugin_id: str,
        permissions: Mapping[str, Permission],
        routes: RouteTable,
        guard: Guard,
        is_open: Callable[[], bool] | None = None,
    ) -> None:
        self.mount = mount
        self.plugin_id = plugin_id
        # The root mount is the exact path `/` (see manifest.ROOT_MOUNT), not a prefix.
        self._root = mount == "/"
        self.api = APIRouter(prefix="" if self._root else mount)
        self._permissions = permissions
        self._routes = routes
        self._guard = guard
        self._is_open = is_open

    def _guarded_route_class(
        self, permission: Permission, endpoint: Callable[..., Any], path: str, *, sensitive: bool = False
    ) -> type[APIRoute]:
        """An APIRoute whose handler runs the guard first, at the cost of one call per request.

        The guard runs where the endpoint would (on the event loop for an async endpoint, in
        the thread pool for a sync one), since authentication may touch the database.
        """
        guard, plugin_id = self._guard, self.plugin_id
        on_loop = inspect.iscoroutinefunction(endpoint)
        direct = on_loop and _takes_only_request_and_path(endpoint, path)

        class GuardedRoute(APIRoute):
            def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
                if direct:
                    # The endpoint parses its own request: call it without FastAPI's
                    # dependency solving and response serialisation (a third of a cheap
                    # request's cost); the route stays an APIRoute for matching and OpenAPI.
                    async def guarded_direct(request: Request) -> Response:
                        await guard.admit(request, permission, plugin_id, threaded=False)
                        if guard.follows_up(request, permission, sensitive):
                            return await guard.follow_up(request, permission, plugin_id,
                                                         lambda: endpoint(request=request, **request.path_params))
                        response: Response = await endpoint(request=request, **request.path_params)
                        return response

                    return guarded_direct

                handler = super().get_route_handler()

                async def guarded(request: Request) -> Response:
                    await guard.admit(request, permission, plugin_id, threaded=not on_loop)
                    if guard.follows_up(request, permission, sensitive):
                        return await guard.follow_up(request, permission, plugin_id, lambda: handler(request))
                    return await handler(request)

                return guarded

        return GuardedRoute

    def route(
        self,
        method: str,
        path: str,
        *,
        permission: Permission | None = None,
        public: bool = False,
        sensitive: bool = False,
        **kwargs: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare a route. `sensitive=True` marks a read that `audit.readEvents: sensitive` records."""
        if self._is_open is not None and not self._is_open():
            # FastAPI would serve a route added to an included router at any time.
            raise UndeclaredAccessError(
                f"{self.plugin_id}: route {method} {self.mount}{path} declared after the plugin's setup returned"
            )
        if self._root and path != "/":
            raise UndeclaredAccessError(f"{self.plugin_id}: the root mount serves '/' only, not '{path}'")
        if (permission is None) == (not public):
            raise UndeclaredAccessError(
                f"{self.plugin_id}: route {method} {self.mount}{path} must declare exactly one of "
                "permission=... or public=True"
            )
        if permission is not None and self._permissions.get(permission.name) != permission:
            raise UndeclaredAccessError(
                f"{self.plugin_id}: route {method} {self.mount}{path} uses permission "
                f"{permission.name} that the manifest does not declare"
            )
        if permission is not None:
            extra = dict(kwargs.pop("openapi_extra", {}) or {})
            extra["x-greenroom-permission"] = permission.name
            kwargs["openapi_extra"] = extra
        self._routes.add(
            RouteDeclaration(
                plugin_id=self.plugin_id,
                method=method.upper(),
                path="/" if self._root else f"{self.mount}{path}",
                permission=permission.name if permission else None,
                public=public,
            )
        )
        def decorator(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            route_class = (self._guarded_route_class(permission, endpoint, path, sensitive=sensitive)
                           if permission is not None else None)
            self.api.add_api_route(
                path, endpoint, methods=[method.upper()], route_class_override=route_class, **kwargs
            )
            return endpoint

        return decorator

    def get(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route("DELETE", path, **kwargs)
