"""User tokens: ES256 with keys published in the database, pinned algorithm, required aud/iss,
revocation, rotation; and the attacks on them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from greenroom.identity.service import CredentialError
from greenroom.identity.tokens import USER_TOKEN_TYPE


def _session(identity, user="user:default/alice", refs=("user:default/alice", "group:default/team-a")):
    session, _cookie = identity.sessions.create(kind="user", user_ref=user, provider="oidc", ownership_refs=refs)
    return session


def _part(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_issued_token_has_backstage_shape_and_verifies(make_identity):
    identity = make_identity()
    session = _session(identity)
    issued = identity.issue_token(session)
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": "ES256", "kid": header["kid"], "typ": USER_TOKEN_TYPE}
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert claims["iss"] == "https://portal.example.com/api/auth"
    assert claims["aud"] == "backstage"
    assert claims["sub"] == "user:default/alice"
    assert claims["sid"] == session.id
    assert claims["jti"]
    assert claims["exp"] - claims["iat"] == 3600
    principal = identity.principal_from_token(issued.token)
    assert principal.type == "user"
    assert principal.subject == "user:default/alice"
    assert principal.ownership_refs == ("user:default/alice", "group:default/team-a")
    assert principal.attributes["sid"] == session.id


def test_token_lifetime_never_exceeds_the_session(make_identity, clock):
    identity = make_identity()
    session = _session(identity)
    clock.advance(12 * 3600 - 600)  # ten minutes left of the absolute timeout
    identity.sessions.touch(session)
    issued = identity.issue_token(identity.sessions.fetch(session.id))
    assert issued.expires_at <= session.expires_at


def test_a_second_process_verifies_with_the_published_key(make_identity, database):
    issuer, verifier = make_identity(), make_identity()
    issued = issuer.issue_token(_session(issuer))
    assert verifier.principal_from_token(issued.token).subject == "user:default/alice"
    assert {k["kid"] for k in verifier.keys.jwks()} == {jwt.get_unverified_header(issued.token)["kid"]}


def test_keys_rotate_and_old_tokens_still_verify(make_identity, clock):
    identity = make_identity(key_rotation=600)
    session = _session(identity)
    first = identity.issue_token(session)
    clock.advance(601)
    identity.sessions.touch(session, clock.now)
    second = identity.issue_token(session)
    kid1, kid2 = (jwt.get_unverified_header(t.token)["kid"] for t in (first, second))
    assert kid1 != kid2
    assert {kid1, kid2} <= {k["kid"] for k in identity.keys.jwks()}
    assert identity.principal_from_token(first.token).subject == "user:default/alice"


def test_token_signed_by_another_key_is_refused(make_identity):
    identity = make_identity()
    session = _session(identity)
    good = jwt.decode(identity.issue_token(session).token, options={"verify_signature": False})
    kid = identity.keys.signing_key().kid
    forged = jwt.encode(good, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                        headers={"kid": kid, "typ": USER_TOKEN_TYPE})
    with pytest.raises(CredentialError, match="signature") as caught:
        identity.principal_from_token(forged)
    assert caught.value.counts  # a forgery counts towards lockout


def test_unknown_kid_is_refused(make_identity):
    identity = make_identity()
    claims = jwt.decode(identity.issue_token(_session(identity)).token, options={"verify_signature": False})
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                        headers={"kid": "not-a-key-of-ours", "typ": USER_TOKEN_TYPE})
    with pytest.raises(CredentialError, match="key this portal does not know"):
        identity.principal_from_token(forged)


def test_alg_none_is_refused(make_identity):
    identity = make_identity()
    claims = jwt.decode(identity.issue_token(_session(identity)).token, options={"verify_signature": False})
    none = f"{_part({'alg': 'none', 'typ': USER_TOKEN_TYPE})}.{_part(claims)}."
    with pytest.raises(CredentialError, match="ES256"):
        identity.principal_from_token(none)


def test_hs256_signed_with_the_public_key_is_refused(make_identity):
    identity = make_identity()
    token = identity.issue_token(_session(identity)).token
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    public_pem = identity.keys.signing_key().private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head, body = _part({"alg": "HS256", "kid": kid, "typ": USER_TOKEN_TYPE}), _part(claims)
    signature = base64.urlsafe_b64encode(
        hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    with pytest.raises(CredentialError, match="ES256"):
        identity.principal_from_token(f"{head}.{body}.{signature}")


def _resigned(identity, **changes):
    token = identity.issue_token(_session(identity)).token
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    key = identity.keys.signing_key()
    return jwt.encode(claims, key.private, algorithm="ES256", headers={"kid": key.kid, "typ": USER_TOKEN_TYPE})


@pytest.mark.parametrize(("changes", "message"), [
    ({"aud": "another-service"}, "another audience"),
    ({"iss": "https://evil.example/api/auth"}, "another issuer"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ({"nbf": int(time.time()) + 3600}, "not valid"),
    ({"aud": None}, "aud"),
    ({"sid": None}, "sid"),
    ({"jti": None}, "jti"),
])
def test_claims_are_checked(make_identity, changes, message):
    identity = make_identity()
    with pytest.raises(CredentialError, match=message):
        identity.principal_from_token(_resigned(identity, **changes))


def test_expired_token_does_not_count_as_a_forgery(make_identity):
    identity = make_identity()
    with pytest.raises(CredentialError) as caught:
        identity.principal_from_token(_resigned(identity, exp=int(time.time()) - 3600,
                                                iat=int(time.time()) - 7200))
    assert not caught.value.counts


def test_token_of_a_revoked_session_is_refused(make_identity):
    identity = make_identity()
    session = _session(identity)
    token = identity.issue_token(session).token
    assert identity.principal_from_token(token)
    identity.sessions.revoke(session.id, "logout")
    with pytest.raises(CredentialError, match="revoked"):
        identity.principal_from_token(token)


def test_single_token_revocation_by_jti(make_identity):
    identity = make_identity()
    session = _session(identity)
    one, two = identity.issue_token(session), identity.issue_token(session)
    identity.sessions.revoke_token(one.jti, one.expires_at)
    with pytest.raises(CredentialError, match="revoked"):
        identity.principal_from_token(one.token)
    assert identity.principal_from_token(two.token)


def test_revocation_in_another_process_applies_within_the_check_interval(make_identity, clock):
    here, there = make_identity(), make_identity()
    session = _session(here)
    token = here.issue_token(session).token
    assert there.principal_from_token(token)  # cached in "there"
    here.sessions.revoke(session.id, "admin")
    assert there.principal_from_token(token)  # still within revocationCheckInterval (5 s)
    clock.advance(5.1)
    with pytest.raises(CredentialError, match="revoked"):
        there.principal_from_token(token)


def test_subject_must_match_the_session(make_identity):
    identity = make_identity()
    with pytest.raises(CredentialError, match="does not match"):
        identity.principal_from_token(_resigned(identity, sub="user:default/mallory"))


def test_on_behalf_of_token_is_capped_to_the_target_plugin(make_identity):
    identity = make_identity()
    session = _session(identity)
    user = identity.principal_from_token(identity.issue_token(session).token)
    obo = identity.on_behalf_of(user, acting_plugin="scaffolder", target_plugin="catalog")
    claims = jwt.decode(obo, options={"verify_signature": False})
    assert claims["aud"] == "greenroom-plugin:catalog"
    assert claims["act"] == {"sub": "plugin:scaffolder"}
    assert claims["exp"] - claims["iat"] == 300
    principal = identity.principal_from_token(obo)
    assert principal.subject == "user:default/alice"
    assert principal.restricted_out("catalog", "catalog.entity.read") is False
    assert principal.restricted_out("scaffolder", "scaffolder.task.create") is True
    assert principal.attributes["actingPlugin"] == "scaffolder"
    assert identity.test_audit.events[-1].event_id == "auth-token-issue"
