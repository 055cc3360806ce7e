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
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

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

    def __init__(self, authenticate: Callable[[Request], Principal], permissions: PermissionService) -> None:
        self.authenticate = authenticate
        self.permissions = permissions

    def check(self, request: Request, permission: Permission, plugin_id: str) -> Authorization:
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


def authorization(request: Request) -> Authorization:
    """What the guard established for this request (call it from a guarded route)."""
    authz = getattr(request.state, "authz", None)
    if not isinstance(authz, Authorization):  # a public route asked for it: a programming error
        raise NotAllowedError("route is not guarded by a permission")
    return authz


async def current_authorization(request: Request) -> Authorization:
    return authorization(request)


AuthzDep = Annotated[Authorization, Depends(current_authorization)]


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

    def _guarded_route_class(self, permission: Permission, endpoint: Callable[..., Any]) -> type[APIRoute]:
        """An APIRoute whose handler runs the guard first, at the cost of one call per request.

        The guard runs where the endpoint would (on the event loop for an async endpoint, in
        the thread pool for a sync one), since authentication may touch the database.
        """
        guard, plugin_id = self._guard, self.plugin_id
        on_loop = inspect.iscoroutinefunction(endpoint)

        class GuardedRoute(APIRoute):
            def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
                handler = super().get_route_handler()

                async def guarded(request: Request) -> Response:
                    if on_loop:
                        guard.check(request, permission, plugin_id)
                    else:
                        await run_in_threadpool(guard.check, request, permission, plugin_id)
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
        **kwargs: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
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
            route_class = self._guarded_route_class(permission, endpoint) if permission is not None else None
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
