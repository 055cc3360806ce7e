"""Sessions over HTTP: CSRF on cookie-authenticated changes, timeouts, sign out everywhere, the
admin API and CLI, ownership refs, and the interim RBAC admins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.plugins.auth.conftest import oidc_sign_in, signed_in_token

XHR = {"X-Requested-With": "XMLHttpRequest"}
SESSION = "__Host-greenroom-session"
CSRF = "__Host-greenroom-csrf"


def _as(idp: Any, name: str) -> None:
    idp.user = {"sub": f"{name}-sub", "email": f"{name}@example.com", "email_verified": True, "name": name.title()}


def test_cookie_authenticated_changes_need_the_csrf_token(oidc_portal, idp):
    portal = oidc_portal()
    _as(idp, "carol")  # an RBAC admin, so the catalog answers her
    browser = portal.browser()
    assert oidc_sign_in(browser, portal).status_code == 200
    csrf = browser.cookie(CSRF)
    assert csrf is not None
    assert "httponly" not in csrf.attributes
    assert csrf.attributes["samesite"] == "strict"
    assert browser.get(f"{portal.url}/api/catalog/entities?limit=1").status_code == 200  # reads need no token
    refresh = f"{portal.url}/api/catalog/refresh"
    body = {"entityRef": "component:default/pay-service"}
    missing = browser.post(refresh, json=body)
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["error"]["message"]
    assert browser.post(refresh, json=body, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    assert browser.post(refresh, json=body, headers={"X-CSRF-Token": csrf.value,
                                                     "Origin": "https://evil.example"}).status_code == 403
    ok = browser.post(refresh, json=body, headers={"X-CSRF-Token": csrf.value, "Origin": portal.url})
    assert ok.status_code == 200, ok.text
    # Bearer tokens are not sent by browsers on their own, so they need no CSRF token.
    token = signed_in_token(oidc_sign_in(portal.browser(), portal))
    assert portal.api("/api/catalog/refresh", token=token, method="POST", json=body).status_code == 200


def test_sign_out_everywhere(oidc_portal):
    portal = oidc_portal()
    laptop, phone = portal.browser(), portal.browser()
    laptop_token = signed_in_token(oidc_sign_in(laptop, portal))
    assert oidc_sign_in(phone, portal).status_code == 200
    own = portal.api("/api/auth/v1/sessions", token=laptop_token).json()["items"]
    assert len(own) == 2
    assert sum(s["current"] for s in own) == 1
    # With the cookie, this change needs the CSRF token.
    assert phone.request("DELETE", f"{portal.url}/api/auth/v1/sessions").status_code == 403
    out = phone.request("DELETE", f"{portal.url}/api/auth/v1/sessions",
                        headers={"X-CSRF-Token": phone.cookie(CSRF).value})
    assert out.status_code == 200
    assert out.json() == {"revoked": 2}
    assert laptop.get(f"{portal.url}/api/auth/oidc/refresh", headers=XHR).status_code == 401
    assert portal.api("/api/auth/v1/userinfo", token=laptop_token).status_code == 401
    assert portal.events("auth-logout", "succeeded")[-1].meta["scope"] == "everywhere"


def test_admin_lists_and_revokes_sessions(oidc_portal, idp):
    portal = oidc_portal()
    alice_browser = portal.browser()
    alice_token = signed_in_token(oidc_sign_in(alice_browser, portal))
    oidc_sign_in(portal.browser(), portal)
    _as(idp, "carol")
    carol = signed_in_token(oidc_sign_in(portal.browser(), portal))
    assert portal.api("/api/auth/v1/admin/sessions?user=user:default/carol", token=alice_token).status_code == 403
    listed = portal.api("/api/auth/v1/admin/sessions?user=user:default/alice", token=carol)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 2
    assert {i["userEntityRef"] for i in items} == {"user:default/alice"}
    assert {i["clientIp"] for i in items} == {"127.0.0.1"}
    assert all(i["state"] == "active" for i in items)
    one = items[0]["id"]
    assert portal.api(f"/api/auth/v1/admin/sessions/{one}", token=carol, method="DELETE").status_code == 204
    assert portal.api(f"/api/auth/v1/admin/sessions/{one}", token=carol, method="DELETE").status_code == 404
    revoked = portal.api("/api/auth/v1/admin/sessions?user=user:default/alice", token=carol, method="DELETE")
    assert revoked.json() == {"revoked": 1}
    assert portal.api("/api/auth/v1/userinfo", token=alice_token).status_code == 401
    event = portal.events("auth-session-revoke")[-1]
    assert event.actor.actor_id == "user:default/carol"
    assert event.meta["userEntityRef"] == "user:default/alice"


def _cli(portal: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenroom.cli", "auth", "sessions", *args,
                           "--config", str(portal.config_file)],
                          capture_output=True, text=True, timeout=120, check=False, env={**os.environ})


def test_cli_lists_and_revokes_sessions(oidc_portal):
    portal = oidc_portal()
    browser = portal.browser()
    token = signed_in_token(oidc_sign_in(browser, portal))
    listed = _cli(portal, "list", "--user", "user:default/alice", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert len(items) == 1
    assert items[0]["provider"] == "oidc"
    revoked = _cli(portal, "revoke", "--user", "user:default/alice")
    assert revoked.returncode == 0
    assert "revoked 1 session(s)" in revoked.stdout
    time.sleep(5.1)  # another process: the running portal sees it within revocationCheckInterval
    assert portal.api("/api/auth/v1/userinfo", token=token).status_code == 401
    assert _cli(portal, "revoke").returncode == 2  # one of --user, --id, --everyone


def test_idle_and_absolute_timeouts_end_sessions(oidc_portal):
    portal = oidc_portal(extra={"auth": {"session": {"idleTimeout": {"seconds": 3},
                                                     "absoluteTimeout": {"seconds": 7}}}})
    browser = portal.browser()
    started = time.monotonic()
    token = signed_in_token(oidc_sign_in(browser, portal))
    assert portal.api("/api/auth/v1/userinfo", token=token).status_code == 200
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 3  # tokens never outlive the idle timeout
    while time.monotonic() - started < 5.5:  # in use: the session lives past its idle timeout
        time.sleep(0.8)
        assert browser.get(f"{portal.url}/api/auth/oidc/refresh", headers=XHR).status_code == 200
    time.sleep(max(0.0, 8.2 - (time.monotonic() - started)))  # past the absolute timeout (7 s)
    expired = browser.get(f"{portal.url}/api/auth/oidc/refresh", headers=XHR)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    idle_browser = portal.browser()
    assert oidc_sign_in(idle_browser, portal).status_code == 200
    time.sleep(4.2)
    idle = idle_browser.get(f"{portal.url}/api/auth/oidc/refresh", headers=XHR)
    assert idle.status_code == 401
    assert "idle" in idle.json()["error"]["message"]


def test_transitive_group_ownership_is_opt_in(oidc_portal):
    portal = oidc_portal(extra={"includeTransitiveGroupOwnership": True})
    token = signed_in_token(oidc_sign_in(portal.browser(), portal))
    refs = portal.api("/api/auth/v1/userinfo", token=token).json()["ownershipEntityRefs"]
    assert refs == ["user:default/alice", "group:default/team-a", "group:default/org"]


def test_users_get_nothing_unless_listed_as_rbac_admins(oidc_portal, idp):
    portal = oidc_portal(extra={"permission": {"rbac": {"admin": {"users": [
        {"name": "group:default/admins"}, {"name": "user:default/bob"}]}}}})
    alice = signed_in_token(oidc_sign_in(portal.browser(), portal))
    assert portal.api("/api/catalog/entities?limit=1", token=alice).status_code == 403
    for name in ("carol", "bob"):  # carol through her group, bob by name
        _as(idp, name)
        token = signed_in_token(oidc_sign_in(portal.browser(), portal))
        assert portal.api("/api/catalog/entities?limit=1", token=token).status_code == 200, name


def test_refresh_follows_catalog_changes(oidc_portal, tmp_path):
    """Ownership is re-read on refresh; a user removed from the catalog loses the session."""
    from greenroom.plugins.catalog.plugin import CATALOG
    from tests.plugins.auth.conftest import ORG

    portal = oidc_portal(extra={"catalog": {"orphanStrategy": "delete"}})
    browser = portal.browser()
    assert oidc_sign_in(browser, portal).status_code == 200
    org = tmp_path / "org.yaml"
    org.write_text(ORG.replace("memberOf: [team-a]", "memberOf: [team-a, admins]"), encoding="utf-8")
    portal.portal.registry.services.get(CATALOG).ingest_all(force=True)
    refreshed = browser.get(f"{portal.url}/api/auth/oidc/refresh", headers=XHR).json()
    assert "group:default/admins" in refreshed["backstageIdentity"]["identity"]["ownershipEntityRefs"]
    org.write_text(ORG.replace("name: alice", "name: alice-gone"), encoding="utf-8")
    portal.portal.registry.services.get(CATALOG).ingest_all(force=True)
    gone = browser.get(f"{portal.url}/api/auth/oidc/refresh", headers=XHR)
    assert gone.status_code == 401
    assert "no longer in the catalog" in gone.json()["error"]["message"]


@pytest.mark.parametrize("flag", [True])
def test_dangerously_allow_sign_in_without_catalog_user(oidc_portal, idp, flag):
    idp.user = {**idp.user, "email": "newcomer@example.com"}
    portal = oidc_portal({"signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail",
                                                    "dangerouslyAllowSignInWithoutUserInCatalog": flag}]}})
    token = signed_in_token(oidc_sign_in(portal.browser(), portal))
    info = portal.api("/api/auth/v1/userinfo", token=token).json()
    assert info["userEntityRef"] == "user:default/newcomer"
    assert info["ownershipEntityRefs"] == ["user:default/newcomer"]
    assert portal.events("auth-sign-in", "succeeded")[-1].meta["inCatalog"] is False
