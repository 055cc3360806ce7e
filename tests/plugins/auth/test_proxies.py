"""Auth proxies: Cloudflare Access and AWS ALB assertions verified against local key endpoints,
oauth2-proxy headers believed only from configured proxy addresses."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.plugins.auth.conftest import PortalHandle
from tests.plugins.auth.oidc_idp import unsigned
from tests.plugins.auth.servers import Served

XHR = {"X-Requested-With": "XMLHttpRequest"}
AUD = "cf-app-aud-tag-0123456789abcdef"
ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/portal/0123456789abcdef"
ALB_ISSUER = "https://idp.example.com"


class KeyServer:
    """Cloudflare's certs endpoint and ALB's per-kid PEM endpoint, on 127.0.0.1."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.requests: list[str] = []
        self.served = Served(Starlette(routes=[
            Route("/cdn-cgi/access/certs", self.certs),
            Route("/alb/{kid}", self.alb_key),
        ]))
        self.url = self.served.url

    async def certs(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True)
        jwk.update({"kid": "cf-key-1", "alg": "RS256", "use": "sig"})
        return JSONResponse({"keys": [jwk], "public_cert": {"kid": "cf-key-1", "cert": "..."}, "public_certs": []})

    async def alb_key(self, request: Request) -> Response:
        self.requests.append(request.url.path)
        if request.path_params["kid"] != "alb-key-1":
            return PlainTextResponse("not found", status_code=404)
        pem = self.ec.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        return Response(pem, media_type="application/x-pem-file")

    def cf_token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": [AUD], "sub": "cf-user-7", "email": "alice@example.com", "iat": now,
                  "nbf": now, "exp": now + 600, "type": "app", "identity_nonce": "n"}
        key = overrides.pop("_key", self.rsa)
        kid = overrides.pop("_kid", "cf-key-1")
        alg = overrides.pop("_alg", "RS256")
        claims.update(overrides)
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg, headers={"kid": kid})

    def alb_token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"sub": "alb-user-9", "email": "bob@example.com", "name": "Bob", "iss": ALB_ISSUER,
                  "exp": now + 120}
        header = {"kid": "alb-key-1", "signer": ARN, "iss": ALB_ISSUER, "client": "client-id", "exp": now + 120}
        header.update(overrides.pop("_header", {}))
        key = overrides.pop("_key", self.ec)
        claims.update(overrides)
        return jwt.encode(claims, key, algorithm="ES256", headers=header)


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.served.stop()


@pytest.fixture
def proxy_portal(make_auth_portal: Callable[..., PortalHandle], keys: KeyServer) -> Callable[..., PortalHandle]:
    def build(trusted: list[str] | None = None) -> PortalHandle:
        resolvers = {"signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]}}
        return make_auth_portal({
            "cfaccess": {"issuer": keys.url, "audience": AUD, **resolvers},
            "awsalb": {"issuer": ALB_ISSUER, "region": "eu-west-1", "signer": ARN,
                       "publicKeyEndpoint": f"{keys.url}/alb", **resolvers},
            "oauth2Proxy": {"trustedProxies": trusted or ["127.0.0.1/32"], **resolvers},
        })

    return build


def _refresh(portal: PortalHandle, provider: str, headers: dict[str, str]) -> Any:
    return portal.api(f"/api/auth/{provider}/refresh", headers={**XHR, **headers})


# -- Cloudflare Access ---------------------------------------------------------------------
def test_cloudflare_access_assertion_signs_in(proxy_portal, keys):
    portal = proxy_portal()
    response = _refresh(portal, "cfaccess", {"Cf-Access-Jwt-Assertion": keys.cf_token()})
    assert response.status_code == 200, response.text
    identity = response.json()["backstageIdentity"]
    assert identity["identity"]["userEntityRef"] == "user:default/alice"
    assert portal.api("/api/auth/v1/userinfo", token=identity["token"]).status_code == 200
    assert "/cdn-cgi/access/certs" in keys.requests
    # The CF_Authorization cookie works too, and a second refresh reuses the session.
    browser = portal.browser()
    first = browser.get(f"{portal.url}/api/auth/cfaccess/refresh",
                        headers={**XHR, "Cookie": f"CF_Authorization={keys.cf_token()}"})
    assert first.status_code == 200
    assert any("greenroom-session" in c for c in first.headers.get_list("set-cookie"))


@pytest.mark.parametrize(("case", "overrides", "reason"), [
    ("wrong audience", {"aud": ["another-app"]}, "another audience"),
    ("wrong issuer", {"iss": "https://evil.cloudflareaccess.com"}, "another issuer"),
    ("expired", {"exp": int(time.time()) - 600, "iat": int(time.time()) - 1200}, "expired"),
    ("unknown kid", {"_kid": "cf-key-unknown"}, "no signing key"),
    ("another key", {"_key": rsa.generate_private_key(public_exponent=65537, key_size=2048)}, "signature"),
])
def test_cloudflare_access_forged_assertions_are_refused(proxy_portal, keys, case, overrides, reason):
    portal = proxy_portal()
    response = _refresh(portal, "cfaccess", {"Cf-Access-Jwt-Assertion": keys.cf_token(**overrides)})
    assert response.status_code == 401, case
    assert reason in response.json()["error"]["message"], response.text


def test_cloudflare_access_alg_none_and_hs256_are_refused(proxy_portal, keys):
    portal = proxy_portal()
    now = int(time.time())
    none = unsigned({"iss": keys.url, "aud": [AUD], "sub": "x", "email": "alice@example.com", "iat": now,
                     "exp": now + 60})
    assert _refresh(portal, "cfaccess", {"Cf-Access-Jwt-Assertion": none}).status_code == 401
    hs = jwt.encode({"iss": keys.url, "aud": [AUD], "sub": "x", "email": "alice@example.com", "iat": now,
                     "exp": now + 60}, "0123456789abcdef0123456789abcdef", algorithm="HS256",
                    headers={"kid": "cf-key-1"})
    response = _refresh(portal, "cfaccess", {"Cf-Access-Jwt-Assertion": hs})
    assert response.status_code == 401
    assert "not allowed" in response.json()["error"]["message"]
    assert _refresh(portal, "cfaccess", {}).status_code == 401


# -- AWS ALB ---------------------------------------------------------------------------------
def test_aws_alb_data_signs_in(proxy_portal, keys):
    portal = proxy_portal()
    response = _refresh(portal, "awsalb", {"x-amzn-oidc-data": keys.alb_token()})
    assert response.status_code == 200, response.text
    assert response.json()["backstageIdentity"]["identity"]["userEntityRef"] == "user:default/bob"
    assert "/alb/alb-key-1" in keys.requests


def test_aws_alb_wrong_signer_is_refused_before_any_key_fetch(proxy_portal, keys):
    portal = proxy_portal()
    other = ARN.replace("portal", "attacker")
    response = _refresh(portal, "awsalb", {"x-amzn-oidc-data": keys.alb_token(_header={"signer": other})})
    assert response.status_code == 401
    assert "another load balancer" in response.json()["error"]["message"]
    assert keys.requests == []


def test_aws_alb_kid_cannot_steer_the_key_fetch(proxy_portal, keys):
    portal = proxy_portal()
    token = keys.alb_token(_header={"kid": "../../latest/meta-data"})
    assert _refresh(portal, "awsalb", {"x-amzn-oidc-data": token}).status_code == 401
    assert keys.requests == []


@pytest.mark.parametrize(("case", "overrides", "reason"), [
    ("expired", {"exp": int(time.time()) - 600}, "expired"),
    ("wrong issuer", {"iss": "https://evil.example"}, "another issuer"),
    ("another key", {"_key": ec.generate_private_key(ec.SECP256R1())}, "refused"),
    ("unknown kid", {"_header": {"kid": "alb-key-404"}}, "does not know"),
])
def test_aws_alb_forged_data_is_refused(proxy_portal, keys, case, overrides, reason):
    portal = proxy_portal()
    response = _refresh(portal, "awsalb", {"x-amzn-oidc-data": keys.alb_token(**overrides)})
    assert response.status_code == 401, case
    assert reason in response.json()["error"]["message"], response.text


def test_aws_alb_other_algorithms_are_refused(proxy_portal, keys):
    portal = proxy_portal()
    now = int(time.time())
    claims = {"sub": "x", "email": "bob@example.com", "iss": ALB_ISSUER, "exp": now + 60}
    for token in (
        unsigned(claims),
        jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
                   headers={"kid": "alb-key-1", "signer": ARN}),
        jwt.encode(claims, "0123456789abcdef0123456789abcdef", algorithm="HS256",
                   headers={"kid": "alb-key-1", "signer": ARN}),
    ):
        response = _refresh(portal, "awsalb", {"x-amzn-oidc-data": token})
        assert response.status_code == 401
        assert "ES256" in response.json()["error"]["message"]


# -- oauth2-proxy --------------------------------------------------------------------------
def test_oauth2_proxy_headers_from_a_trusted_proxy(proxy_portal):
    portal = proxy_portal(["127.0.0.1/32"])
    response = _refresh(portal, "oauth2Proxy", {"X-Forwarded-Email": "alice@example.com",
                                                "X-Forwarded-User": "alice"})
    assert response.status_code == 200, response.text
    assert response.json()["backstageIdentity"]["identity"]["userEntityRef"] == "user:default/alice"


def test_oauth2_proxy_headers_from_an_untrusted_address_are_refused(proxy_portal):
    portal = proxy_portal(["10.0.0.0/8"])
    response = _refresh(portal, "oauth2Proxy", {"X-Forwarded-Email": "alice@example.com",
                                                "X-Forwarded-User": "alice"})
    assert response.status_code == 401
    assert "not trusted" in response.json()["error"]["message"]
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "untrusted-proxy"


def test_proxy_refresh_requires_x_requested_with(proxy_portal, keys):
    portal = proxy_portal()
    response = portal.api("/api/auth/cfaccess/refresh", headers={"Cf-Access-Jwt-Assertion": keys.cf_token()})
    assert response.status_code == 401
