"""Without a valid token or session, every API route answers 401 — except health, readiness,
OpenAPI, the portal's JWKS/discovery, and the routes that are how one signs in."""

from __future__ import annotations

import re
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.plugins.auth.conftest import oidc_sign_in, signed_in_token

# Public by design, with what they answer a caller without credentials.
PUBLIC = {
    ("GET", "/healthz"): {200},
    ("GET", "/readyz"): {200},
    ("GET", "/.backstage/health/v1/readiness"): {200},
    ("GET", "/.backstage/health/v1/liveness"): {200},
    ("GET", "/api/openapi.json"): {200},
    ("GET", "/api/auth/.well-known/openid-configuration"): {200},
    ("GET", "/api/auth/.well-known/jwks.json"): {200},
    ("GET", "/api/auth/{provider}/start"): {302},  # sends the browser to the identity provider
    ("GET", "/api/auth/{provider}/metadata"): {200, 404},  # SAML SP metadata (public by SAML's design)
    ("GET", "/api/auth/local/login"): {404},  # exists in local mode only
    ("GET", "/sign-in"): {200},  # the web UI's sign-in page
    ("GET", "/static/{name}"): {200, 404},  # the web UI's own CSS and JavaScript
}


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "oidc" if m.group(1) == "provider" else "x", path)


def _routes(portal: Any) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in portal.portal.registry.routes.routes]


def _call(portal: Any, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    body = {"json": {}} if method in ("POST", "PUT") else {}
    return portal.api(_concrete(path) + ("?env=development&user=x" if "{provider}" in path or "admin" in path
                                         else ""), method=method, headers=headers or {}, **body)


@pytest.fixture
def portal(oidc_portal: Any) -> Any:
    # A bad credential is sent to every route on purpose; the address lockout would stop the walk.
    return oidc_portal(extra={"auth": {"lockout": {"addressMaxAttempts": 100_000}}})


def test_every_route_answers_401_without_credentials(portal):
    routes = _routes(portal)
    assert len(routes) > 40
    assert ("GET", "/api/auth/v1/userinfo") in routes
    ui = {(r.method, r.path) for r in portal.portal.registry.routes.routes if r.plugin_id == "ui"}
    for method, path in routes:
        response = _call(portal, method, path)
        if (method, path) in ui and (method, path) not in PUBLIC:
            # Web pages (and their forms) send a browser without a session to the sign-in page.
            assert response.status_code == 303, f"{method} {path}: {response.status_code}"
            assert response.headers["location"].startswith("/sign-in"), f"{method} {path}"
            continue
        expected = PUBLIC.get((method, path), {401})
        assert response.status_code in expected, f"{method} {path}: {response.status_code} {response.text[:200]}"


@pytest.mark.parametrize("credential", ["garbage", "forged-user-token", "expired-user-token", "revoked-user-token",
                                        "wrong-cookie"])
def test_every_route_refuses_a_bad_credential(portal, credential):
    browser = portal.browser()
    token = signed_in_token(oidc_sign_in(browser, portal))
    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    key = portal.identity.keys.signing_key()
    headers: dict[str, str]
    if credential == "garbage":
        headers = {"Authorization": "Bearer not-a-token-at-all-0123456789"}
    elif credential == "forged-user-token":
        forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=header)
        headers = {"Authorization": f"Bearer {forged}"}
    elif credential == "expired-user-token":
        old = {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
        expired = jwt.encode(old, key.private, algorithm="ES256", headers={**header, "kid": key.kid})
        headers = {"Authorization": f"Bearer {expired}"}
    elif credential == "revoked-user-token":
        portal.identity.sessions.revoke(claims["sid"], "test")
        headers = {"Authorization": f"Bearer {token}"}
    else:
        headers = {"Cookie": "__Host-greenroom-session=abc.def"}
    ui = {(r.method, r.path) for r in portal.portal.registry.routes.routes if r.plugin_id == "ui"}
    for method, path in _routes(portal):
        if (method, path) in PUBLIC or path.endswith(("/handler/frame", "/logout", "/refresh")):
            continue
        response = _call(portal, method, path, headers)
        if (method, path) in ui:  # a web page: back to the sign-in page, never the page itself
            assert response.status_code == 303, f"{credential} {method} {path}: {response.status_code}"
            assert response.headers["location"].startswith("/sign-in"), f"{credential} {method} {path}"
            continue
        assert response.status_code == 401, f"{credential} {method} {path}: {response.status_code}"


def test_sign_in_routes_refuse_without_their_own_proof(portal):
    """The sign-in callback needs a started sign-in; refresh and logout need X-Requested-With."""
    assert portal.api("/api/auth/oidc/handler/frame").status_code == 401
    assert portal.api("/api/auth/oidc/handler/frame", method="POST").status_code == 401
    assert portal.api("/api/auth/oidc/refresh").status_code == 401
    assert portal.api("/api/auth/oidc/refresh", headers={"X-Requested-With": "XMLHttpRequest"}).status_code == 401
    assert portal.api("/api/auth/oidc/logout", method="POST").status_code == 401
    # Logging out without a session is a no-op (Backstage's frontend treats a failure as an error).
    out = portal.api("/api/auth/oidc/logout", method="POST", headers={"X-Requested-With": "XMLHttpRequest"})
    assert out.status_code == 200
    assert portal.api("/api/auth/nope/start").status_code == 404
