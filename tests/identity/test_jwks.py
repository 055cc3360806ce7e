"""Verifying external JWTs: cached JWKS with timeouts and bounded refetching, pinned algorithms."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from greenroom.errors import ConfigError
from greenroom.identity.jwks import RemoteJwks, TokenError, verify_jwt
from greenroom.identity.outbound import Outbound, check_url
from tests.plugins.auth.servers import Served


class Issuer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k1"
        self.fetches = 0
        self.delay = 0.0
        self.huge = False
        self.served = Served(Starlette(routes=[Route("/jwks", self.jwks)]))
        self.url = f"{self.served.url}/jwks"

    async def jwks(self, request: Request) -> Response:
        import asyncio

        self.fetches += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.huge:
            return Response(b"{" + b" " * (2 * 1024 * 1024) + b"}", media_type="application/json")
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig"})
        return JSONResponse({"keys": [jwk, {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]})

    def token(self, **claims: object) -> str:
        now = int(time.time())
        body = {"iss": "https://issuer.example", "aud": "greenroom", "sub": "svc", "iat": now, "exp": now + 60,
                **claims}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.served.stop()


def _verify(keys: RemoteJwks, token: str) -> dict:
    return verify_jwt(token, keys=keys, algorithms=("RS256",), issuer="https://issuer.example", audience="greenroom")


def test_keys_are_fetched_once_and_cached(issuer):
    keys = RemoteJwks(issuer.url, Outbound())
    for _ in range(5):
        assert _verify(keys, issuer.token())["sub"] == "svc"
    assert issuer.fetches == 1


def test_unknown_kid_refetches_at_most_once_per_interval(issuer):
    clock = [1000.0]
    keys = RemoteJwks(issuer.url, Outbound(), min_refresh=10, clock=lambda: clock[0])
    _verify(keys, issuer.token())
    forged = jwt.encode({"iss": "https://issuer.example", "aud": "greenroom", "sub": "x", "iat": int(time.time()),
                         "exp": int(time.time()) + 60}, issuer.key, algorithm="RS256", headers={"kid": "random"})
    for _ in range(20):  # a flood of unknown kids
        with pytest.raises(TokenError) as caught:
            _verify(keys, forged)
        assert caught.value.reason == "unknown-kid"
    assert issuer.fetches == 1
    clock[0] += 11
    issuer.kid = "random"  # the issuer rotated to a new key id
    assert _verify(keys, forged)["sub"] == "x"
    assert issuer.fetches == 2


def test_symmetric_keys_in_a_jwks_are_never_used(issuer):
    keys = RemoteJwks(issuer.url, Outbound())
    hs = jwt.encode({"iss": "https://issuer.example", "aud": "greenroom", "sub": "x", "iat": int(time.time()),
                     "exp": int(time.time()) + 60}, "secret", algorithm="HS256", headers={"kid": "hmac"})
    with pytest.raises(TokenError) as caught:
        verify_jwt(hs, keys=keys, algorithms=("RS256", "HS256"), issuer="https://issuer.example", audience="greenroom")
    assert caught.value.reason == "alg-not-allowed"


def test_key_type_must_fit_the_algorithm(issuer):
    keys = RemoteJwks(issuer.url, Outbound())
    es = jwt.encode({"iss": "https://issuer.example", "aud": "greenroom", "sub": "x", "iat": int(time.time()),
                     "exp": int(time.time()) + 60}, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                    headers={"kid": issuer.kid})
    with pytest.raises(TokenError) as caught:
        verify_jwt(es, keys=keys, algorithms=("RS256", "ES256"), issuer="https://issuer.example",
                   audience="greenroom")
    assert caught.value.reason == "unknown-kid"  # the RSA key is not offered for ES256


def test_slow_and_huge_key_endpoints_fail_closed(issuer):
    import httpx

    issuer.delay = 2.0
    slow = RemoteJwks(issuer.url, Outbound(httpx.Client(timeout=0.5, trust_env=False)))
    with pytest.raises(TokenError) as caught:
        _verify(slow, issuer.token())
    assert caught.value.reason == "jwks-unavailable"
    issuer.delay, issuer.huge = 0.0, True
    with pytest.raises(TokenError, match="larger than"):
        _verify(RemoteJwks(issuer.url, Outbound()), issuer.token())


def test_key_urls_must_be_https_except_loopback_outside_production():
    assert check_url("https://idp.example.com/jwks", production=True, path="x")
    assert check_url("http://127.0.0.1:8080/jwks", production=False, path="x")
    for url, production in (("http://127.0.0.1:8080/jwks", True), ("http://idp.example.com/jwks", False),
                            ("file:///etc/passwd", False), ("ftp://idp.example.com/", False)):
        with pytest.raises(ConfigError):
            check_url(url, production=production, path="x")
