"""AWS Application Load Balancer authentication: the `x-amzn-oidc-data` header.

    auth:
      providers:
        awsalb:
          issuer: https://idp.example.com        # the IdP the ALB uses (the token's iss)
          region: eu-west-1
          signer: arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/portal/0123456789abcdef
          signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }

The header is an ES256 JWT. Its `signer` header must be the configured load balancer ARN
before anything else happens; the public key is fetched per `kid` (which must look like a key
id, so it cannot steer the URL) from `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>`
(or `publicKeyEndpoint`, https only) and cached; `iss` and `exp` are checked.
"""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.requests import Request

from greenroom.errors import ConfigError
from greenroom.identity.outbound import Outbound, OutboundError
from greenroom.identity.service import IdentityService
from greenroom.lazy import LazyModule
from greenroom.plugins.auth.providers.base import (
    ProviderIdentity,
    ProviderSettings,
    ProxyProvider,
    SignInError,
    proxy_email,
)

if TYPE_CHECKING:
    import jwt
else:
    jwt = LazyModule("jwt")

_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
ALB_KEY_TTL = 3600.0


class AwsAlbProvider(ProxyProvider):
    resolvers = {
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
    }

    def __init__(self, settings: ProviderSettings, identity: IdentityService, outbound: Outbound) -> None:
        super().__init__(settings, identity, outbound)
        self.issuer = settings.text("issuer", required=True) or ""
        region = settings.text("region", required=True) or ""
        if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", region):
            raise ConfigError("not an AWS region", path=f"{settings.path}.region")
        self.signer = settings.text("signer")
        if not self.signer:
            raise ConfigError("awsalb needs 'signer' (the load balancer ARN the tokens must come from)",
                              path=f"{settings.path}.signer")
        endpoint = settings.url("publicKeyEndpoint", production=self.production) or (
            f"https://public-keys.auth.elb.{region}.amazonaws.com"
        )
        self.endpoint = endpoint.rstrip("/")
        self._keys: dict[str, tuple[Any, float]] = {}
        self._lock = threading.Lock()

    def _key(self, kid: str) -> Any:
        now = time.monotonic()
        cached = self._keys.get(kid)
        if cached is not None and now - cached[1] < ALB_KEY_TTL:
            return cached[0]
        try:
            status, body, _ = self.outbound.request("GET", f"{self.endpoint}/{kid}")
        except OutboundError as exc:
            raise SignInError("assertion-jwks-unavailable", f"could not fetch the ALB key: {exc.message}",
                              status=502) from exc
        if status != 200:
            raise SignInError("assertion-unknown-kid", "the ALB key endpoint does not know this key")
        try:
            key = load_pem_public_key(body)
        except ValueError as exc:
            raise SignInError("assertion-unknown-kid", "the ALB key endpoint answered with no PEM key") from exc
        with self._lock:
            if len(self._keys) > 1000:
                self._keys.clear()
            self._keys[kid] = (key, now)
        return key

    def authenticate(self, request: Request) -> ProviderIdentity:
        token = request.headers.get("x-amzn-oidc-data")
        if not token:
            raise SignInError("missing-assertion", "no x-amzn-oidc-data header on the request")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise SignInError("assertion-malformed", "x-amzn-oidc-data is not a JWT") from exc
        if header.get("alg") != "ES256":
            raise SignInError("assertion-alg-not-allowed", f"ALB tokens are ES256; got {header.get('alg')!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.match(kid):
            raise SignInError("assertion-malformed", "the ALB token's kid is not a key id")
        if header.get("signer") != self.signer:
            raise SignInError("assertion-wrong-signer", "the ALB token was signed by another load balancer")
        try:
            claims = jwt.decode(token, self._key(kid), algorithms=["ES256"], issuer=self.issuer, leeway=60,
                                options={"require": ["exp", "iss", "sub"], "verify_aud": False})
        except jwt.ExpiredSignatureError as exc:
            raise SignInError("assertion-expired", "the ALB token has expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise SignInError("assertion-wrong-issuer", "the ALB token is from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise SignInError("assertion-bad-signature", f"the ALB token was refused: {type(exc).__name__}") from exc
        return ProviderIdentity(
            provider=self.id,
            subject=str(claims["sub"]),
            email=proxy_email(claims.get("email")),
            display_name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            picture=claims.get("picture") if isinstance(claims.get("picture"), str) else None,
            claims=claims,
        )
