"""Brute force across two portal instances sharing one database (SQLite, PostgreSQL) or Redis."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.conftest import BENCH_TOKEN
from tests.plugins.auth.browser import frame_message
from tests.plugins.auth.conftest import oidc_sign_in


@pytest.fixture(params=["database", "redis"])
def shared_store(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The store both instances of a test share (a Redis key prefix of the test's own)."""
    if request.param == "database":
        return {"type": "database"}
    return {"type": "redis", "connection": "redis://127.0.0.1:6379/0",
            "keyPrefix": f"greenroom-test:{uuid.uuid4().hex}:"}


def _config(store: dict[str, Any], **lockout: Any) -> dict[str, Any]:
    limit = lockout.pop("signInLimit", 6)
    return {"auth": {
        "lockout": {"maxAttempts": 2, "addressMaxAttempts": 4, "duration": {"minutes": 5}, **lockout},
        "rateLimit": {"signIn": {"limit": limit, "window": {"minutes": 1}}, "store": store},
    }}


def test_guessing_tokens_on_one_instance_locks_the_address_on_both(make_auth_portal, shared_store):
    first = make_auth_portal(extra=_config(shared_store))
    second = make_auth_portal(extra=_config(shared_store), ingest=False)
    assert second.api("/api/catalog/entities?limit=1", token=BENCH_TOKEN).status_code == 200
    for i in range(4):
        guess = f"guessed-token-{uuid.uuid4().hex}"
        target = first if i % 2 else second
        assert target.api("/api/catalog/entities", token=guess).status_code == 401
    locked = first.api("/api/catalog/entities?limit=1", token=BENCH_TOKEN)
    assert locked.status_code == 429  # even the right token, from the locked address
    assert "locked" in locked.json()["error"]["message"]
    time.sleep(2.1)  # the other instance caches lock answers for up to 2 s
    assert second.api("/api/catalog/entities?limit=1", token=BENCH_TOKEN).status_code == 429
    assert first.events("auth-lockout") or second.events("auth-lockout")


@pytest.fixture
def two_oidc_portals(make_auth_portal, shared_store, idp):
    from tests.conftest import free_port
    from tests.plugins.auth.conftest import CLIENT_ID, CLIENT_SECRET, oidc_provider_config

    def build(**lockout: Any) -> list[Any]:
        ports = [free_port(), free_port()]
        idp.register_client(CLIENT_ID, CLIENT_SECRET, "unused")
        idp.clients[CLIENT_ID].redirect_uris = [f"http://127.0.0.1:{p}/api/auth/oidc/handler/frame" for p in ports]
        providers = {"oidc": {"development": oidc_provider_config(idp, requireMfa=True)}}
        return [make_auth_portal(providers, port=port, extra=_config(shared_store, **lockout), ingest=i == 0)
                for i, port in enumerate(ports)]

    return build


def test_sign_in_rate_limit_is_shared(two_oidc_portals):
    first, second = two_oidc_portals(addressMaxAttempts=100)
    statuses = [(first if i % 2 else second).api("/api/auth/oidc/start?env=development").status_code
                for i in range(7)]
    assert statuses == [302] * 6 + [429]


def test_failed_sign_ins_lock_the_identity_on_both_instances(two_oidc_portals, idp):
    portals = two_oidc_portals(addressMaxAttempts=100, signInLimit=100)
    idp.amr = ["pwd"]  # no second factor: every sign-in fails for this identity
    for portal in portals:
        assert oidc_sign_in(portal.browser(), portal).status_code == 403
    idp.amr = ["pwd", "otp"]  # now it would succeed, but the identity is locked out
    time.sleep(2.1)  # past the other instance's cached lock answer
    for portal in portals:
        response = oidc_sign_in(portal.browser(), portal)
        assert response.status_code == 429, response.text
        assert "locked after repeated failures" in frame_message(response)["error"]["message"]
    assert any(p.events("auth-lockout") for p in portals)
