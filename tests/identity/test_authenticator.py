"""The Authenticator: user tokens and sessions first, then `externalAccess` service credentials
(static, legacy and jwks), every bad credential a 401 that counts towards the address lockout."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from starlette.requests import Request

from greenroom.errors import ConfigError
from greenroom.http.auth import Authenticator
from greenroom.identity.ratelimit import TooManyRequestsError
from greenroom.identity.service import CredentialError
from greenroom.permissions.principal import ANONYMOUS
from tests.identity.test_jwks import Issuer

STATIC = "a-static-token-0123456789abcdef"


def _request(headers: dict[str, str] | None = None, method: str = "GET", client: str = "203.0.113.9") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": method, "path": "/api/catalog/entities", "headers": raw,
                    "client": (client, 1234), "query_string": b""})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.served.stop()


def _jwks_entry(issuer: Issuer, **options: Any) -> dict[str, Any]:
    return {"type": "jwks", "options": {"url": issuer.url, "issuer": "https://issuer.example",
                                        "audience": "greenroom", "algorithm": "RS256", **options},
            "accessRestrictions": [{"plugin": "catalog"}]}


def test_jwks_external_access(make_identity, issuer):
    auth = Authenticator([_jwks_entry(issuer, subjectPrefix="deploy")], local_mode=False, identity=make_identity())
    principal = auth(_request({"Authorization": f"Bearer {issuer.token(sub='pipeline-7')}"}))
    assert principal.type == "service"
    assert principal.subject == "external:deploy:pipeline-7"
    assert principal.credential == "jwks"
    assert principal.restricted_out("scaffolder", None)
    for bad in (issuer.token(aud="another"), issuer.token(exp=int(time.time()) - 600, iat=int(time.time()) - 900)):
        with pytest.raises(CredentialError):
            auth(_request({"Authorization": f"Bearer {bad}"}))
    other_issuer = issuer.token(iss="https://other.example")
    with pytest.raises(CredentialError, match="Invalid or expired token"):
        auth(_request({"Authorization": f"Bearer {other_issuer}"}))


@pytest.mark.parametrize(("options", "message"), [
    ({"audience": None}, "audience"),
    ({"issuer": None}, "issuer"),
    ({"algorithm": "HS256"}, "not allowed"),
    ({"algorithm": "none"}, "not allowed"),
    ({"url": "http://issuer.example/jwks"}, "https"),
])
def test_jwks_entries_fail_closed_at_start_up(make_identity, issuer, options, message):
    entry = _jwks_entry(issuer)
    entry["options"].update(options)
    entry["options"] = {k: v for k, v in entry["options"].items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        Authenticator([entry], local_mode=False, identity=make_identity())


def test_static_and_legacy_tokens_still_work(make_identity):
    secret = base64.b64encode(b"0123456789abcdef0123").decode()
    auth = Authenticator([
        {"type": "static", "options": {"token": STATIC, "subject": "ci"}},
        {"type": "legacy", "options": {"secret": secret, "subject": "old"}},
    ], local_mode=False, identity=make_identity())
    assert auth(_request({"Authorization": f"Bearer {STATIC}"})).subject == "external:ci"
    legacy = jwt.encode({"sub": "backstage-server", "exp": int(time.time()) + 60}, base64.b64decode(secret),
                        algorithm="HS256")
    assert auth(_request({"Authorization": f"Bearer {legacy}"})).subject == "external:old"
    assert auth(_request()) is ANONYMOUS


def test_service_token_use_is_an_audit_event(make_identity):
    identity = make_identity()
    auth = Authenticator([{"type": "static", "options": {"token": STATIC, "subject": "ci"}}], local_mode=False,
                         identity=identity)
    auth(_request({"Authorization": f"Bearer {STATIC}"}))
    event = identity.test_audit.events[-1]
    assert event.event_id == "auth-service-token"
    assert event.actor.actor_id == "external:ci"
    assert STATIC not in repr(event.to_json())


def test_service_token_uses_are_folded_before_any_event_is_built(make_identity):
    """A script's every request uses its token: one event per credential and five minutes."""
    identity = make_identity()
    auth = Authenticator([{"type": "static", "options": {"token": STATIC, "subject": "ci"}}], local_mode=False,
                         identity=identity)
    before = len(identity.test_audit.events)
    for _ in range(5):
        assert auth(_request({"Authorization": f"Bearer {STATIC}"})).subject == "external:ci"
    uses = [e for e in identity.test_audit.events[before:] if e.event_id == "auth-service-token"]
    assert len(uses) == 1
    assert uses[0].meta["coalesced"] == 0


def test_guessing_locks_the_address_out(make_identity):
    identity = make_identity()  # addressMaxAttempts 5
    auth = Authenticator([{"type": "static", "options": {"token": STATIC, "subject": "ci"}}], local_mode=False,
                         identity=identity)
    for i in range(5):
        with pytest.raises(CredentialError):
            auth(_request({"Authorization": f"Bearer guess-{i}-0123456789abcdef"}))
    with pytest.raises(TooManyRequestsError):
        auth(_request({"Authorization": f"Bearer {STATIC}"}))
    assert auth(_request({"Authorization": f"Bearer {STATIC}"}, client="198.51.100.4")).subject == "external:ci"
    assert any(e.event_id == "auth-lockout" for e in identity.test_audit.events)


def test_expired_user_tokens_do_not_lock_anyone_out(make_identity):
    identity = make_identity()
    session, _ = identity.sessions.create(kind="user", user_ref="user:default/alice", provider="oidc",
                                          ownership_refs=["user:default/alice"])
    token = identity.issue_token(session).token
    claims = {**jwt.decode(token, options={"verify_signature": False}), "iat": int(time.time()) - 7200,
              "exp": int(time.time()) - 3600}
    key = identity.keys.signing_key()
    expired = jwt.encode(claims, key.private, algorithm="ES256", headers={"kid": key.kid, "typ": "vnd.backstage.user"})
    auth = Authenticator([], local_mode=False, identity=identity)
    for _ in range(10):
        with pytest.raises(CredentialError):
            auth(_request({"Authorization": f"Bearer {expired}"}))
    assert auth(_request({"Authorization": f"Bearer {token}"})).subject == "user:default/alice"


def test_malformed_authorization_header_is_401(make_identity):
    auth = Authenticator([], local_mode=False, identity=make_identity())
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer   "):
        with pytest.raises(CredentialError):
            auth(_request({"Authorization": header}))


def test_session_cookie_needs_csrf_for_changes(make_identity):
    from greenroom.errors import NotAllowedError
    from greenroom.identity.sessions import csrf_token_for

    identity = make_identity()
    _session, cookie = identity.sessions.create(kind="user", user_ref="user:default/alice", provider="oidc",
                                                ownership_refs=["user:default/alice"])
    auth = Authenticator([], local_mode=False, identity=identity)
    jar = {"Cookie": f"__Host-greenroom-session={cookie}"}
    assert auth(_request(jar)).subject == "user:default/alice"
    with pytest.raises(NotAllowedError, match="CSRF"):
        auth(_request(jar, method="POST"))
    csrf = csrf_token_for(cookie.partition(".")[2])
    assert auth(_request({**jar, "X-CSRF-Token": csrf}, method="POST")).subject == "user:default/alice"
    with pytest.raises(NotAllowedError, match="Cross-origin"):
        auth(_request({**jar, "X-CSRF-Token": csrf, "Origin": "https://evil.example"}, method="DELETE"))
