"""THE route coverage test: every route the portal serves declares a permission or is public,
and every non-public route refuses an anonymous caller over real HTTP.

A route reachable without a permission check is the attack class; this walks every route
FastAPI actually serves (not just the ones the kernel knows about), so a route mounted by any
other door shows up here as uncovered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, routing
from starlette.staticfiles import StaticFiles

from greenroom.app import Portal
from greenroom.kernel.routing import RouteDeclaration

PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/.backstage/health/v1/readiness"),
    ("GET", "/.backstage/health/v1/liveness"),
    ("GET", "/api/openapi.json"),
}
# The sign-in flow cannot require a credential it is there to issue (Backstage's auth routes
# are public too). Each one is listed here on purpose: a new public route fails this test.
SIGN_IN_ROUTES = {
    ("GET", "/api/auth/.well-known/openid-configuration"),
    ("GET", "/api/auth/.well-known/jwks.json"),
    ("GET", "/api/auth/local/login"),
    ("GET", "/api/auth/{provider}/start"),
    ("GET", "/api/auth/{provider}/handler/frame"),
    ("POST", "/api/auth/{provider}/handler/frame"),
    ("GET", "/api/auth/{provider}/refresh"),
    ("POST", "/api/auth/{provider}/refresh"),
    ("POST", "/api/auth/{provider}/logout"),
    ("GET", "/api/auth/{provider}/metadata"),
}
# Public in the route table because they authenticate the caller themselves (a user token or
# the session cookie, not the service-credential guard); anonymous callers still get a 401.
SELF_AUTHENTICATING_ROUTES = {
    ("GET", "/api/auth/v1/userinfo"),
    ("GET", "/api/auth/v1/sessions"),
    ("DELETE", "/api/auth/v1/sessions"),
    ("DELETE", "/api/auth/v1/sessions/{session_id}"),
}
# The web UI's pages (the `ui` plugin): public in the route table because every page
# authenticates its viewer itself (anonymous viewers are sent to /sign-in, see the test below)
# and asks for the owning plugin's permission for everything it shows; plus the sign-in page
# and the static files.
UI_PAGES = {
    ("GET", "/"),
    ("GET", "/sign-in"),
    ("POST", "/sign-out"),
    ("GET", "/catalog"),
    ("GET", "/catalog/{namespace}/{kind}/{name}"),
    ("GET", "/catalog/{namespace}/{kind}/{name}/{tab}"),
    ("GET", "/catalog-import"),
    ("POST", "/catalog-import"),
    ("GET", "/settings"),
    ("POST", "/settings/sessions/{session_id}/revoke"),
    ("POST", "/settings/sessions/revoke-all"),
    ("GET", "/admin"),
    ("GET", "/admin/posture"),
    ("GET", "/admin/plugins"),
    ("GET", "/admin/rbac"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/audit/export"),
    ("POST", "/admin/rbac/roles"),
    ("GET", "/admin/rbac/explain"),
    ("GET", "/admin/rbac/roles/{kind}/{namespace}/{name}"),
    ("POST", "/admin/rbac/roles/{kind}/{namespace}/{name}/{what}"),
    ("GET", "/ext/{plugin_id}/{page_id}"),
}
UI_PUBLIC = {("GET", "/sign-in"), ("GET", "/static/{name}")}
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


def mounted_routes(app: FastAPI) -> Iterator[tuple[str, frozenset[str], Any]]:
    """(path, methods, route) for every route the app serves, whatever its type.

    FastAPI >= 0.16x keeps included routers as lazy `_IncludedRouter` entries in `app.routes`;
    `fastapi.routing.iter_route_contexts` flattens them. Older versions list the routes flat.
    A route without methods (a Mount, a static-file app) yields `{"*"}` so it must be declared.
    """
    iterate = getattr(routing, "iter_route_contexts", None)
    if iterate is not None:
        for context in iterate(app.routes):
            yield context.path or "", frozenset(context.methods or {"*"}), context.original_route
    else:  # pragma: no cover - depends on the FastAPI version
        for route in app.routes:
            yield getattr(route, "path", ""), frozenset(getattr(route, "methods", None) or {"*"}), route


def concrete(path: str) -> str:
    return _PARAM.sub("x", path)


@pytest.fixture
def portal(make_portal: Callable[..., Portal]) -> Portal:
    """Every built-in plugin, not local mode (local mode lets loopback callers in)."""
    # Forged credentials count towards the address lockout; these tests send one to every route
    # on purpose, so the lockout threshold is raised above the number of routes.
    portal = make_portal({"auth": {"lockout": {"addressMaxAttempts": 100_000}}}, local_mode=False)
    assert portal.registry.plugin("catalog") is not None
    assert not portal.local_mode
    return portal


def declarations(portal: Portal) -> dict[tuple[str, str], RouteDeclaration]:
    table: dict[tuple[str, str], RouteDeclaration] = {}
    for declaration in portal.registry.routes.routes:
        key = (declaration.method, declaration.path)
        assert key not in table, f"{key} declared twice"
        table[key] = declaration
    return table


def uncovered_routes(portal: Portal) -> tuple[list[str], set[tuple[str, str]]]:
    """Problems with served routes, and the (method, path) pairs that are served."""
    declared = declarations(portal)
    permission_names = {p.name for p in portal.registry.permissions}
    uncovered = []
    seen = set()
    for path, methods, route in mounted_routes(portal.app):
        for method in methods:
            if method == "HEAD" and "GET" in methods:
                continue  # Starlette answers HEAD with the GET route
            declaration = declared.get((method, path))
            seen.add((method, path))
            if declaration is None:
                uncovered.append(f"{method} {path} ({type(route).__name__}) is not in the route table")
            elif declaration.public == (declaration.permission is not None):
                uncovered.append(f"{method} {path} must have exactly one of a permission or public=True")
            elif declaration.permission is not None and declaration.permission not in permission_names:
                uncovered.append(f"{method} {path} uses {declaration.permission}, which no manifest declares")
    return uncovered, seen


def test_every_mounted_route_declares_a_permission_or_is_public(portal: Portal) -> None:
    uncovered, seen = uncovered_routes(portal)
    assert not uncovered, "\n".join(uncovered)
    assert len(seen) >= 20
    stale = set(declarations(portal)) - seen
    assert not stale, f"declared but not mounted: {sorted(stale)}"


def test_the_walk_sees_routes_mounted_outside_the_kernel(portal: Portal, tmp_path: Path) -> None:
    """The check above can fail: routes added by any other door are reported."""
    portal.app.add_api_route("/sneaky", lambda: {"ok": True}, methods=["GET"])
    side = APIRouter(prefix="/api/side")
    side.add_api_route("/door", lambda: {}, methods=["POST"])
    portal.app.include_router(side)
    portal.app.mount("/files", StaticFiles(directory=tmp_path))
    uncovered, _ = uncovered_routes(portal)
    assert any(line.startswith("GET /sneaky ") for line in uncovered), uncovered
    assert any(line.startswith("POST /api/side/door ") for line in uncovered), uncovered
    assert any(line.startswith("* /files ") for line in uncovered), uncovered


def test_public_routes_are_exactly_health_readiness_and_openapi(portal: Portal) -> None:
    """...plus the sign-in routes of the auth plugin, each listed above on purpose."""
    public: dict[str, set[tuple[str, str]]] = {}
    for key, declaration in declarations(portal).items():
        if declaration.public:
            public.setdefault(declaration.plugin_id, set()).add(key)
    assert public.pop("core") == PUBLIC_ROUTES
    assert public.pop("auth", set()) <= SIGN_IN_ROUTES | SELF_AUTHENTICATING_ROUTES
    assert public.pop("ui", set()) <= UI_PAGES | UI_PUBLIC
    assert public == {}, f"public routes outside core, sign-in and the UI's pages: {public}"


def test_ui_pages_send_anonymous_viewers_to_sign_in(portal: Portal, live_server: Callable[[Any], Any]) -> None:
    """Every page of the UI answers an anonymous browser with a redirect to the sign-in page and
    nothing else: no page content, no data."""
    declared = declarations(portal)
    pages = UI_PAGES & set(declared)
    assert len(pages) >= 10
    server = live_server(portal.app)
    with server.client(headers={"Accept": "text/html"}) as client:
        for method, path in sorted(pages):
            if path == "/sign-in":
                continue
            response = _request(client, method, path)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/sign-in"), (method, path)
            assert response.content == b"", (method, path)


def test_documented_operations_carry_their_permission(portal: Portal) -> None:
    declared = declarations(portal)
    spec = portal.app.openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            declaration = declared[(method.upper(), path)]
            assert operation.get("x-greenroom-permission") == declaration.permission, (method, path)


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return client.request(method, concrete(path), **kwargs)


def test_anonymous_requests_get_401_on_every_non_public_route(
    portal: Portal, live_server: Callable[[Any], Any]
) -> None:
    server = live_server(portal.app)
    failures = []
    with server.client(headers={}) as client:
        for (method, path), declaration in declarations(portal).items():
            if declaration.public:
                continue
            attempts: list[dict[str, Any]] = [{}]
            if method in {"POST", "PUT", "PATCH", "DELETE"}:
                # a body of the wrong shape must not get a validation answer before authentication
                attempts += [{"json": {"unexpected": ["shape"]}}, {"json": []}]
            for extra in attempts:
                response = _request(client, method, path, **extra)
                body = response.json() if response.headers.get("content-type", "").startswith("application/json") \
                    else None
                if response.status_code != 401 or not body or body["error"]["name"] != "AuthenticationError":
                    failures.append(f"{method} {path} {extra or ''}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


def test_invalid_credentials_get_401_on_every_non_public_route(
    portal: Portal, live_server: Callable[[Any], Any]
) -> None:
    server = live_server(portal.app)
    failures = []
    for header in ("Bearer not-the-configured-token-0000", "Basic dXNlcjpwYXNz", "Token abc"):
        with server.client(headers={"Authorization": header}) as client:
            for (method, path), declaration in declarations(portal).items():
                if declaration.public:
                    continue
                response = _request(client, method, path)
                if response.status_code != 401:
                    failures.append(f"{header!r} {method} {path}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_public_routes_answer_without_credentials(portal: Portal, live_server: Callable[[Any], Any]) -> None:
    server = live_server(portal.app)
    with server.client(headers={}) as client:
        for method, path in sorted(PUBLIC_ROUTES):
            response = client.request(method, path)
            assert response.status_code == 200, (path, response.text)
        assert client.get("/api/openapi.json").json()["openapi"].startswith("3.")


def test_self_authenticating_public_routes_refuse_anonymous_callers(
    portal: Portal, live_server: Callable[[Any], Any]
) -> None:
    declared = declarations(portal)
    server = live_server(portal.app)
    with server.client(headers={}) as client:
        for method, path in sorted(SELF_AUTHENTICATING_ROUTES & set(declared)):
            assert client.request(method, path).status_code == 401, (method, path)


def test_a_credential_opens_the_guarded_routes(portal: Portal, live_server: Callable[[Any], Any]) -> None:
    """The other half: the 401s above come from the guard, not from routes that never answer."""
    server = live_server(portal.app)
    with server.client() as client:
        assert client.get("/metrics").status_code == 200
        assert client.get("/api/catalog/entities").status_code == 200
        assert client.get("/api/catalog/locations").status_code == 200


def test_unknown_paths_do_not_leak_route_existence_to_anonymous_callers(
    portal: Portal, live_server: Callable[[Any], Any]
) -> None:
    server = live_server(portal.app)
    with server.client(headers={}) as client:
        assert client.get("/api/catalog/entities").status_code == 401
        assert client.get("/api/nothing-here").status_code == 404


def test_a_signed_in_user_without_a_role_is_refused_on_every_guarded_route(
    portal: Portal, live_server: Callable[[Any], Any]
) -> None:
    """Deny by default for people too: a real user token whose user no role names gets 403 on every
    guarded route; the one exception is asking about one's own permissions (`permission.authorize`)."""
    session, _cookie = portal.identity.sessions.create(kind="user", user_ref="user:default/nobody", provider="test",
                                                        ownership_refs=["user:default/nobody"])
    token = portal.identity.issue_token(session).token
    server = live_server(portal.app)
    failures = []
    with server.client(headers={"Authorization": f"Bearer {token}"}) as client:
        for (method, path), declaration in declarations(portal).items():
            if declaration.public:
                continue
            response = _request(client, method, path, json={"items": []})
            expected = 200 if declaration.permission == "permission.authorize" else 403
            if response.status_code != expected:
                failures.append(f"{method} {path} ({declaration.permission}): {response.status_code}")
    assert not failures, "\n".join(failures)
