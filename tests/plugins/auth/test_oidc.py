"""Generic OIDC sign-in against a real authlib provider, and the attacks on it, each refused."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.plugins.auth.browser import frame_message, frame_target
from tests.plugins.auth.conftest import CLIENT_ID, oidc_sign_in, signed_in_token, start_flow
from tests.plugins.auth.oidc_idp import unsigned


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _with(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query)), **params}
    return parts._replace(query=urlencode(query)).geturl()


def _refused(response: Any, status: int, reason_text: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    message = frame_message(response)
    assert "error" in message
    assert "response" not in message
    assert reason_text.lower() in message["error"]["message"].lower(), message
    assert not any(c.startswith(("greenroom-session", "__Host-greenroom-session"))
                   for c in response.headers.get_list("set-cookie") if "Max-Age=0" not in c and 'expires' not in c)
    return message


def test_full_sign_in_issues_a_backstage_identity_and_session(oidc_portal, idp):
    portal = oidc_portal()
    browser = portal.browser()
    started = start_flow(browser, portal, origin=portal.url)
    assert started.status_code == 302
    params = _query(started.headers["location"])
    assert started.headers["location"].startswith(f"{idp.issuer}/authorize?")
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) >= 43
    assert params["nonce"]
    assert params["state"]
    nonce_cookie = browser.cookie("oidc-nonce")
    assert nonce_cookie is not None
    assert nonce_cookie.value == params["state"]
    assert nonce_cookie.path == "/api/auth/oidc/handler"
    assert {"httponly", "secure"} <= set(nonce_cookie.attributes)
    assert nonce_cookie.attributes["samesite"] == "lax"

    done = browser.follow(browser.get(started.headers["location"]))
    assert done.status_code == 200
    assert "script-src 'sha256-" in done.headers["content-security-policy"]
    assert frame_target(done) == portal.url
    message = frame_message(done)
    assert message["type"] == "authorization_response"
    response = message["response"]
    assert response["profile"] == {"email": "alice@example.com", "displayName": "Alice Example"}
    identity = response["backstageIdentity"]
    assert identity["identity"] == {"type": "user", "userEntityRef": "user:default/alice",
                                    "ownershipEntityRefs": ["user:default/alice", "group:default/team-a"]}
    assert 3500 <= identity["expiresInSeconds"] <= 3600
    token = identity["token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["typ"] == "vnd.backstage.user"
    assert header["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "user:default/alice"
    assert claims["aud"] == "backstage"
    assert claims["iss"] == f"{portal.url}/api/auth"
    assert claims["exp"] - claims["iat"] <= 3600
    assert "ent" not in claims  # ownership comes from userinfo, so tokens stay small
    # The session cookie: HttpOnly, Secure, SameSite=Lax, host-only (__Host- prefix).
    session = browser.cookie("__Host-greenroom-session")
    assert session is not None
    assert {"httponly", "secure"} <= set(session.attributes)
    assert session.attributes["samesite"] == "lax"
    assert session.path == "/"
    assert browser.cookie("oidc-nonce") is None  # the attempt cookie is spent
    # The token verifies against the published JWKS and answers userinfo.
    jwks = portal.api("/api/auth/.well-known/jwks.json").json()["keys"]
    key = jwt.PyJWK(next(k for k in jwks if k["kid"] == header["kid"])).key
    jwt.decode(token, key, algorithms=["ES256"], audience="backstage", issuer=f"{portal.url}/api/auth")
    info = portal.api("/api/auth/v1/userinfo", token=token).json()
    assert info["claims"] == {"sub": "user:default/alice", "ent": ["user:default/alice", "group:default/team-a"]}
    discovery = portal.api("/api/auth/.well-known/openid-configuration").json()
    assert discovery["jwks_uri"] == f"{portal.url}/api/auth/.well-known/jwks.json"
    assert discovery["issuer"] == f"{portal.url}/api/auth"
    events = portal.events("auth-sign-in", "succeeded")
    assert events
    assert events[-1].actor.actor_id == "user:default/alice"
    assert events[-1].meta["provider"] == "oidc"


def test_refresh_and_logout_follow_backstage(oidc_portal):
    portal = oidc_portal()
    browser = portal.browser()
    assert oidc_sign_in(browser, portal).status_code == 200
    refresh_url = f"{portal.url}/api/auth/oidc/refresh?env=development"
    assert browser.get(refresh_url).status_code == 401  # no X-Requested-With
    refreshed = browser.get(refresh_url, headers={"X-Requested-With": "XMLHttpRequest"})
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert set(body) == {"profile", "providerInfo", "backstageIdentity"}
    assert body["backstageIdentity"]["identity"]["userEntityRef"] == "user:default/alice"
    token = body["backstageIdentity"]["token"]
    assert portal.api("/api/catalog/entities", token=token).status_code == 403  # users get nothing (no RBAC yet)
    assert portal.api("/api/auth/v1/userinfo", token=token).status_code == 200
    out = browser.post(f"{portal.url}/api/auth/oidc/logout", headers={"X-Requested-With": "XMLHttpRequest"})
    assert out.status_code == 200
    assert browser.cookie("__Host-greenroom-session") is None
    # Logout revoked the session server-side: its tokens and any copy of the cookie are dead.
    assert portal.api("/api/auth/v1/userinfo", token=token).status_code == 401
    again = browser.get(refresh_url, headers={"X-Requested-With": "XMLHttpRequest"})
    assert again.status_code == 401
    assert portal.events("auth-logout", "succeeded")


def test_sign_in_rotates_the_session(oidc_portal):
    """Session fixation: a cookie the browser already had is replaced, and the old session ended."""
    portal = oidc_portal()
    browser = portal.browser()
    first = signed_in_token(oidc_sign_in(browser, portal))
    old_cookie = browser.cookie("__Host-greenroom-session")
    assert old_cookie is not None
    second = signed_in_token(oidc_sign_in(browser, portal))
    new_cookie = browser.cookie("__Host-greenroom-session")
    assert new_cookie is not None
    assert new_cookie.value != old_cookie.value
    assert portal.api("/api/auth/v1/userinfo", token=first).status_code == 401
    assert portal.api("/api/auth/v1/userinfo", token=second).status_code == 200
    planted = portal.api("/api/auth/oidc/refresh", headers={"X-Requested-With": "XMLHttpRequest",
                                                             "Cookie": f"__Host-greenroom-session={old_cookie.value}"})
    assert planted.status_code == 401


def test_redirect_flow_returns_to_an_allowed_url(oidc_portal):
    portal = oidc_portal()
    browser = portal.browser()
    done = oidc_sign_in(browser, portal, flow="redirect", redirectUrl=f"{portal.url}/catalog?x=1")
    assert done.status_code == 302
    assert done.headers["location"] == f"{portal.url}/catalog?x=1"
    assert browser.cookie("__Host-greenroom-session") is not None


# -- state -------------------------------------------------------------------------------
def test_missing_state_is_refused(oidc_portal):
    portal = oidc_portal()
    browser = portal.browser()
    _refused(oidc_sign_in(browser, portal, callback=lambda u: _with(u, state="")), 401, "no state")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "missing-state"


def test_bad_state_is_refused(oidc_portal):
    portal = oidc_portal()
    browser = portal.browser()
    _refused(oidc_sign_in(browser, portal, callback=lambda u: _with(u, state="forged-state-value")), 401,
             "does not belong")


def test_state_from_another_browser_is_refused(oidc_portal):
    """Login CSRF: an attacker's own (valid) callback URL opened in the victim's browser."""
    portal = oidc_portal()
    attacker, victim = portal.browser(), portal.browser()
    started = start_flow(attacker, portal)
    callback = attacker.get(started.headers["location"]).headers["location"]
    start_flow(victim, portal)  # the victim has a sign-in of their own in progress
    _refused(victim.get(callback), 401, "does not belong")
    assert victim.cookie("__Host-greenroom-session") is None


def test_replayed_state_is_refused(oidc_portal):
    portal = oidc_portal()
    browser = portal.browser()
    started = start_flow(browser, portal)
    callback = browser.get(started.headers["location"]).headers["location"]
    nonce_cookie = browser.cookie("oidc-nonce")
    assert browser.get(callback).status_code == 200
    # The same response again, with the attempt cookie put back as an attacker would.
    replay = browser.get(callback, headers={"Cookie": f"oidc-nonce={nonce_cookie.value}"})
    _refused(replay, 401, "already used")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "replayed-state"


def test_replayed_code_is_refused(oidc_portal, idp):
    """A code that was redeemed once, injected into a fresh sign-in of the same browser."""
    portal = oidc_portal()
    browser = portal.browser()
    started = start_flow(browser, portal)
    first_code = _query(browser.get(started.headers["location"]).headers["location"])["code"]
    # (the first callback is never delivered: the code leaked, e.g. through a referrer or log)
    assert oidc_sign_in(browser, portal).status_code == 200  # an honest sign-in to redeem... another code
    idp_code = idp.codes[first_code]
    idp_code.used = True  # the attacker redeemed it already at the IdP
    started = start_flow(browser, portal)
    callback = browser.get(started.headers["location"]).headers["location"]
    _refused(browser.get(_with(callback, code=first_code)), 401, "did not redeem")
    # And a code the portal itself redeemed is refused by the portal before it reaches the IdP.
    started = start_flow(browser, portal)
    callback = browser.get(started.headers["location"]).headers["location"]
    code = _query(callback)["code"]
    assert browser.get(callback).status_code == 200
    started = start_flow(browser, portal)
    fresh = browser.get(started.headers["location"]).headers["location"]
    before = len(idp.token_requests)
    _refused(browser.get(_with(fresh, code=code)), 401, "already used")
    assert len(idp.token_requests) == before


# -- ID token verification -------------------------------------------------------------
def _tampered(oidc_portal, idp, tamper) -> Any:
    portal = oidc_portal()
    idp.tamper = tamper
    try:
        return portal, oidc_sign_in(portal.browser(), portal)
    finally:
        idp.tamper = None


def test_wrong_nonce_is_refused(oidc_portal, idp):
    portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign({**c, "nonce": "attacker-nonce"}))
    _refused(done, 401, "nonce")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "nonce-mismatch"


def test_missing_nonce_is_refused(oidc_portal, idp):
    _portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign({k: v for k, v in c.items() if k != "nonce"}))
    _refused(done, 401, "nonce")


def test_wrong_audience_is_refused(oidc_portal, idp):
    _portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign({**c, "aud": ["another-client"]}))
    _refused(done, 401, "another audience")


def test_several_audiences_without_azp_are_refused(oidc_portal, idp):
    _portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign({**c, "aud": [CLIENT_ID, "other"]}))
    _refused(done, 401, "azp")


def test_wrong_issuer_is_refused(oidc_portal, idp):
    _portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign({**c, "iss": "https://evil.example"}))
    _refused(done, 401, "another issuer")


def test_expired_id_token_is_refused(oidc_portal, idp):
    now = int(time.time())
    _portal, done = _tampered(oidc_portal, idp,
                              lambda c, h: idp.sign({**c, "iat": now - 7200, "exp": now - 3600}))
    _refused(done, 401, "expired")


def test_not_yet_valid_id_token_is_refused(oidc_portal, idp):
    now = int(time.time())
    _portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign({**c, "nbf": now + 3600}))
    _refused(done, 401, "not valid yet")
    _portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign({**c, "iat": now + 3600,
                                                                         "exp": now + 7200}))
    _refused(done, 401, "not valid yet")  # issued in the future


def test_alg_none_is_refused(oidc_portal, idp):
    portal, done = _tampered(oidc_portal, idp, lambda c, h: unsigned(c))
    _refused(done, 401, "not allowed")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "id-token-alg-not-allowed"


def test_hs256_signed_with_the_public_key_is_refused(oidc_portal, idp):
    """Algorithm confusion: the IdP's RSA public key used as an HMAC secret."""
    import base64
    import hashlib
    import hmac
    import json

    def forge(claims: dict[str, Any], _header: dict[str, Any]) -> str:
        def part(value: bytes) -> str:
            return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

        head = part(json.dumps({"alg": "HS256", "kid": idp.kid, "typ": "JWT"}).encode())
        body = part(json.dumps(claims).encode())
        signature = hmac.new(idp.public_pem(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{part(signature)}"

    _portal, done = _tampered(oidc_portal, idp, forge)
    _refused(done, 401, "not allowed")


def test_unknown_kid_is_refused(oidc_portal, idp):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign(c, kid="rotated-away", key=other))
    _refused(done, 401, "no signing key")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "id-token-unknown-kid"


def test_signature_by_another_key_with_a_known_kid_is_refused(oidc_portal, idp):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _portal, done = _tampered(oidc_portal, idp, lambda c, h: idp.sign(c, key=other))
    _refused(done, 401, "signature")


def test_token_from_another_provider_is_refused(oidc_portal, idp):
    """A valid ID token from a second IdP (its own keys and issuer) passed off in this one's flow."""
    from tests.plugins.auth.oidc_idp import OidcIdp

    other = OidcIdp("other").start()
    try:
        def swap(claims: dict[str, Any], _header: dict[str, Any]) -> str:
            return other.sign({**claims, "iss": other.issuer})

        _portal, done = _tampered(oidc_portal, idp, swap)
        _refused(done, 401, "")
        _portal, done = _tampered(oidc_portal, idp, lambda c, h: other.sign(c))  # its key, our issuer
        _refused(done, 401, "no signing key")
    finally:
        other.stop()


def test_unverified_email_is_not_matched(oidc_portal, idp):
    idp.user = {**idp.user, "email_verified": False}
    portal = oidc_portal()
    done = oidc_sign_in(portal.browser(), portal)
    message = _refused(done, 403, "does not match any user")
    assert "catalog" in message["error"]["message"]


def test_identity_without_catalog_user_is_refused_with_a_clear_message(oidc_portal, idp):
    idp.user = {**idp.user, "email": "mallory@example.com"}
    portal = oidc_portal()
    done = oidc_sign_in(portal.browser(), portal)
    message = _refused(done, 403, "mallory@example.com does not match any user in the catalog")
    assert message["error"]["name"] == "NotAllowedError"
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "no-catalog-user"


def test_idp_error_response_is_refused(oidc_portal):
    portal = oidc_portal()
    done = oidc_sign_in(portal.browser(), portal, callback=lambda u: _with(u, error="access_denied"))
    _refused(done, 401, "access_denied")


# -- return URLs ---------------------------------------------------------------------------
def test_open_redirect_in_return_url_is_refused(oidc_portal):
    portal = oidc_portal()
    browser = portal.browser()
    for bad in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        f"{portal.url}@evil.example/",
        f"http://evil.example/{portal.url}",
        "javascript:alert(1)",
        f"{portal.url.replace('127.0.0.1', '127.0.0.1.evil.example')}/",
        f"{portal.url}\\@evil.example",
        f"https://user:pass@{portal.url.removeprefix('http://')}/",
    ):
        response = start_flow(browser, portal, flow="redirect", redirectUrl=bad)
        assert response.status_code == 400, bad
        assert "Refused return address" in response.json()["error"]["message"]
    for bad_origin in ("https://evil.example", "null", f"{portal.url}/path"):
        assert start_flow(browser, portal, origin=bad_origin).status_code == 400, bad_origin
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "open-redirect"
    assert browser.cookie("oidc-nonce") is None


def test_popup_posts_only_to_the_app_origin(oidc_portal):
    portal = oidc_portal()
    done = oidc_sign_in(portal.browser(), portal)
    assert frame_target(done) == portal.url  # never "*"


# -- MFA -----------------------------------------------------------------------------------
def test_missing_mfa_claim_is_refused_when_required(oidc_portal, idp):
    portal = oidc_portal({"requireMfa": True})
    idp.amr = ["pwd"]
    message = _refused(oidc_sign_in(portal.browser(), portal), 403, "multi-factor")
    assert "amr=['pwd']" in message["error"]["message"]
    idp.amr = ["pwd", "otp"]
    assert oidc_sign_in(portal.browser(), portal).status_code == 200
    idp.amr, idp.acr = None, "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
    assert oidc_sign_in(portal.browser(), portal).status_code == 200


def test_global_require_mfa_applies_to_every_provider(oidc_portal, idp):
    portal = oidc_portal(extra={"auth": {"requireMfa": True}})
    idp.amr = None
    _refused(oidc_sign_in(portal.browser(), portal), 403, "multi-factor")
    idp.amr = ["mfa"]
    assert oidc_sign_in(portal.browser(), portal).status_code == 200
