"""Plugin routes, each with a permission declared where it is defined.

A route is declared with exactly one of `permission=` (a permission from the plugin's
manifest) or `public=True`. The router wraps every permissioned route in the guard, which
authenticates the caller and asks the permission service before the handler runs, so no
handler can forget the check. Every declaration lands in the `RouteTable`, which a test
walks to prove that every mounted route is covered.
"""

from __future__ import annotations

import functools
import inspect

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

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
        self.api = APIRouter(prefix=mount)
        self._permissions = permissions
        self._routes = routes
        self._guard = guard
        self._is_open = is_open

    def _guarded(self, endpoint: Callable[..., Any], permission: Permission, where: str) -> Callable[..., Any]:
        """The endpoint wrapped so the guard runs before it, every time.

        A wrapper rather than a FastAPI dependency: it costs one function call instead of a
        pass through dependency resolution on every request. FastAPI still sees the
        endpoint's own signature (through `__wrapped__`), so it must take `request`.
        """
        if "request" not in inspect.signature(endpoint).parameters:
            raise UndeclaredAccessError(f"{self.plugin_id}: guarded route {where} must take a `request` parameter")
        guard, plugin_id = self._guard, self.plugin_id
        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                guard.check(kwargs["request"], permission, plugin_id)
                return await endpoint(*args, **kwargs)

            return guarded_async

        @functools.wraps(endpoint)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            guard.check(kwargs["request"], permission, plugin_id)
            return endpoint(*args, **kwargs)

        return guarded

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
                path=f"{self.mount}{path}",
                permission=permission.name if permission else None,
                public=public,
            )
        )
        register = self.api.api_route(path, methods=[method.upper()], **kwargs)
        where = f"{method.upper()} {self.mount}{path}"

        def decorator(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            register(self._guarded(endpoint, permission, where) if permission is not None else endpoint)
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
