"""GitHub OAuth2 sign-in against a local server speaking GitHub's documented API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.conftest import free_port
from tests.plugins.auth.browser import frame_message
from tests.plugins.auth.conftest import PortalHandle, oidc_sign_in
from tests.plugins.auth.github_server import GithubServer


@pytest.fixture
def github() -> Iterator[GithubServer]:
    server = GithubServer().start()
    yield server
    server.stop()


@pytest.fixture
def github_portal(make_auth_portal: Callable[..., PortalHandle], github: GithubServer) -> Callable[..., PortalHandle]:
    def build(resolvers: list[dict[str, Any]] | None = None, **extra: Any) -> PortalHandle:
        config = {
            "clientId": github.client_id,
            "clientSecret": github.client_secret,
            "enterpriseInstanceUrl": github.url,
            "signIn": {"resolvers": resolvers or [{"resolver": "usernameMatchingUserEntityName"}]},
            **extra,
        }
        return make_auth_portal({"github": {"development": config}}, port=free_port())

    return build


def _identity(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    identity: dict[str, Any] = frame_message(response)["response"]["backstageIdentity"]["identity"]
    return identity


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = frame_message(response)["error"]["message"]
    return message


def test_sign_in_by_username(github_portal, github):
    portal = github_portal()
    browser = portal.browser()
    started = browser.get(f"{portal.url}/api/auth/github/start", params={"env": "development"})
    query = dict(parse_qsl(urlsplit(started.headers["location"]).query))
    assert started.headers["location"].startswith(f"{github.url}/login/oauth/authorize?")
    assert set(query["scope"].split()) == {"read:user", "user:email"}
    assert query["code_challenge_method"] == "S256"
    done = browser.get(browser.get(started.headers["location"]).headers["location"])
    identity = _identity(done)
    assert identity["userEntityRef"] == "user:default/alice"
    assert identity["ownershipEntityRefs"] == ["user:default/alice", "group:default/team-a"]
    assert frame_message(done)["response"]["profile"]["email"] == "alice@example.com"


def test_sign_in_by_user_id_annotation(github_portal, github):
    github.user = {**github.user, "login": "alice-renamed"}
    portal = github_portal([{"resolver": "userIdMatchingUserEntityAnnotation"}])
    assert _identity(oidc_sign_in(portal.browser(), portal, "github"))["userEntityRef"] == "user:default/alice"


def test_only_verified_emails_are_matched(github_portal, github):
    github.user = {**github.user, "login": "someone"}
    github.emails = [
        {"email": "carol@example.com", "verified": False, "primary": False, "visibility": None},
        {"email": "someone@users.noreply.github.com", "verified": True, "primary": True, "visibility": None},
    ]
    portal = github_portal([{"resolver": "emailMatchingUserEntityProfileEmail"}])
    message = _error(oidc_sign_in(portal.browser(), portal, "github"), 403)
    assert "does not match any user in the catalog" in message
    github.emails = [  # the primary verified address is the one matched
        {"email": "carol@example.com", "verified": False, "primary": False, "visibility": None},
        {"email": "bob@example.com", "verified": True, "primary": True, "visibility": None},
    ]
    assert _identity(oidc_sign_in(portal.browser(), portal, "github"))["userEntityRef"] == "user:default/bob"


def test_organization_membership_is_required(github_portal, github):
    portal = github_portal(allowedOrganizations=["acme"])
    browser = portal.browser()
    started = browser.get(f"{portal.url}/api/auth/github/start", params={"env": "development"})
    assert "read:org" in dict(parse_qsl(urlsplit(started.headers["location"]).query))["scope"].split()
    message = _error(oidc_sign_in(portal.browser(), portal, "github"), 403)
    assert "not an active member of acme" in message
    github.memberships["acme"] = "pending"
    _error(oidc_sign_in(portal.browser(), portal, "github"), 403)
    github.memberships["acme"] = "active"
    assert _identity(oidc_sign_in(portal.browser(), portal, "github"))["userEntityRef"] == "user:default/alice"
    assert "membership:acme" in github.calls
    assert portal.events("auth-sign-in", "failed")[0].meta["reason"] == "not-in-organization"


def test_bad_code_is_refused(github_portal, github):
    portal = github_portal()
    done = oidc_sign_in(portal.browser(), portal, "github",
                        callback=lambda url: url.replace("code=", "code=forged"))
    assert "did not redeem" in _error(done, 401)


def test_replayed_code_is_refused(github_portal, github):
    portal = github_portal()
    browser = portal.browser()
    started = browser.get(f"{portal.url}/api/auth/github/start", params={"env": "development"})
    callback = browser.get(started.headers["location"]).headers["location"]
    code = dict(parse_qsl(urlsplit(callback).query))["code"]
    assert browser.get(callback).status_code == 200
    calls = github.calls.count("access_token")
    again = oidc_sign_in(browser, portal, "github",
                         callback=lambda url: url.replace(dict(parse_qsl(urlsplit(url).query))["code"], code))
    assert "already used" in _error(again, 401)
    assert github.calls.count("access_token") == calls
