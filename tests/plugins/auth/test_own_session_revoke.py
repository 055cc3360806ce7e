"""`DELETE /api/auth/v1/sessions/:id`: a user ends one of their own sessions (the API behind the
UI's sessions page); someone else's session is a 404 and stays; with the cookie it needs CSRF."""

from __future__ import annotations

from tests.plugins.auth.conftest import oidc_sign_in, signed_in_token

XHR = {"X-Requested-With": "XMLHttpRequest"}
CSRF = "__Host-greenroom-csrf"


def test_a_user_revokes_one_of_their_own_sessions(oidc_portal, idp):
    portal = oidc_portal()
    laptop, phone = portal.browser(), portal.browser()
    laptop_token = signed_in_token(oidc_sign_in(laptop, portal))
    assert oidc_sign_in(phone, portal).status_code == 200
    sessions = portal.api("/api/auth/v1/sessions", token=laptop_token).json()["items"]
    other = next(s["id"] for s in sessions if not s["current"])
    assert phone.request("DELETE", f"{portal.url}/api/auth/v1/sessions/{other}").status_code == 403  # no CSRF
    revoked = portal.api(f"/api/auth/v1/sessions/{other}", token=laptop_token, method="DELETE")
    assert revoked.status_code == 204
    assert phone.get(f"{portal.url}/api/auth/oidc/refresh", headers=XHR).status_code == 401
    assert portal.api("/api/auth/v1/userinfo", token=laptop_token).status_code == 200  # this one stays
    again = portal.api(f"/api/auth/v1/sessions/{other}", token=laptop_token, method="DELETE")
    assert again.status_code == 404
    event = portal.events("auth-session-revoke", "succeeded")[-1]
    assert event.meta == {"sessionId": other, "scope": "own"}


def test_someone_elses_session_cannot_be_revoked(oidc_portal, idp):
    portal = oidc_portal()
    alice = portal.browser()
    alice_token = signed_in_token(oidc_sign_in(alice, portal))
    idp.user = {**idp.user, "sub": "bob-sub", "email": "bob@example.com", "name": "Bob"}
    bob_token = signed_in_token(oidc_sign_in(portal.browser(), portal))
    bob_session = portal.api("/api/auth/v1/sessions", token=bob_token).json()["items"][0]["id"]
    refused = portal.api(f"/api/auth/v1/sessions/{bob_session}", token=alice_token, method="DELETE")
    assert refused.status_code == 404
    assert portal.api("/api/auth/v1/userinfo", token=bob_token).status_code == 200
    assert portal.api(f"/api/auth/v1/sessions/{bob_session}", method="DELETE").status_code == 401
