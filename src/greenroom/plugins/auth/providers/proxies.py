"""Auth proxies in front of the portal: their identity is believed only once verified.

    auth:
      providers:
        cfaccess:                                # Cloudflare Access
          teamName: acme                         # https://acme.cloudflareaccess.com
          audience: ${CF_ACCESS_AUD}             # the Access application's AUD tag (required here)
          signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }
        awsalb:                                  # AWS Application Load Balancer authentication
          issuer: https://idp.example.com        # the IdP the ALB uses (the token's iss)
          region: eu-west-1
          signer: arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/portal/0123456789abcdef
          signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }
        oauth2Proxy:                             # oauth2-proxy and other header-setting proxies
          trustedProxies: [10.0.3.7/32]          # required: only these peers' headers count
          signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }

* Cloudflare Access: the `Cf-Access-Jwt-Assertion` header (or `CF_Authorization` cookie) is an
  RS256 JWT verified against the team's certs endpoint (`<issuer>/cdn-cgi/access/certs`,
  cached JWKS), for the team issuer and the application's AUD.
* AWS ALB: `x-amzn-oidc-data` is an ES256 JWT whose public key is fetched per `kid` from the
  regional endpoint (`https://public-keys.auth.elb.<region>.amazonaws.com/<kid>`, cached); its
  `signer` header must be the configured load balancer ARN, `iss` the configured issuer, and
  `exp` in the future.
* oauth2-proxy: `X-Forwarded-Email` / `X-Forwarded-User` / `X-Forwarded-Preferred-Username`
  (or the `X-Auth-Request-*` forms) count only when the TCP peer is in `trustedProxies`; from
  anywhere else the request is refused, whatever its headers say.

`issuer` (Cloudflare) and `publicKeyEndpoint` (ALB) override where keys come from; like every
key URL they must be https (http only to loopback outside production).
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.requests import Request

from greenroom.errors import ConfigError
from greenroom.identity.jwks import RemoteJwks, TokenError, verify_jwt
from greenroom.identity.outbound import Outbound, OutboundError, check_url
from greenroom.identity.service import IdentityService
from greenroom.plugins.auth.providers.base import ProviderIdentity, ProviderSettings, ProxyProvider, SignInError

_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TEAM = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ALB_KEY_TTL = 3600.0


def _email(value: Any) -> str | None:
    return value if isinstance(value, str) and "@" in value and len(value) <= 320 else None


class CloudflareAccessProvider(ProxyProvider):
    resolvers = {
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
        "emailMatchingUserEntityAnnotation": "cloudflare.com/email",
    }

    def __init__(self, settings: ProviderSettings, identity: IdentityService, outbound: Outbound) -> None:
        super().__init__(settings, identity, outbound)
        issuer = settings.url("issuer", production=self.production)
        if issuer is None:
            team = settings.text("teamName", required=True) or ""
            if not _TEAM.match(team):
                raise ConfigError("not a Cloudflare team name", path=f"{settings.path}.teamName")
            issuer = f"https://{team}.cloudflareaccess.com"
        self.issuer = issuer.rstrip("/")
        self.audiences = settings.texts("audience")
        if not self.audiences:
            raise ConfigError("cfaccess needs 'audience' (the Access application's AUD tag)",
                              path=f"{settings.path}.audience")
        self.header = (settings.text("jwtHeaderName") or "cf-access-jwt-assertion").lower()
        self.keys = RemoteJwks(f"{self.issuer}/cdn-cgi/access/certs", outbound)

    def authenticate(self, request: Request) -> ProviderIdentity:
        token = request.headers.get(self.header) or request.cookies.get("CF_Authorization")
        if not token:
            raise SignInError("missing-assertion", "no Cloudflare Access assertion on the request")
        try:
            claims = verify_jwt(token, keys=self.keys, algorithms=("RS256",), issuer=self.issuer,
                                audience=self.audiences, require=("exp", "iat", "iss", "aud", "sub"))
        except TokenError as exc:
            raise SignInError(f"assertion-{exc.reason}", f"the Cloudflare Access assertion was refused: "
                              f"{exc.message}") from None
        return ProviderIdentity(provider=self.id, subject=str(claims["sub"]), email=_email(claims.get("email")),
                                claims=claims)


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
            email=_email(claims.get("email")),
            display_name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            picture=claims.get("picture") if isinstance(claims.get("picture"), str) else None,
            claims=claims,
        )


class OAuth2ProxyProvider(ProxyProvider):
    resolvers = {
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
        "usernameMatchingUserEntityName": None,
    }

    def __init__(self, settings: ProviderSettings, identity: IdentityService, outbound: Outbound) -> None:
        super().__init__(settings, identity, outbound)
        proxies = settings.texts("trustedProxies")
        if not proxies:
            raise ConfigError("oauth2Proxy needs 'trustedProxies': the addresses of the proxies whose headers count",
                              path=f"{settings.path}.trustedProxies")
        try:
            self.trusted = tuple(ipaddress.ip_network(p, strict=False) for p in proxies)
        except ValueError as exc:
            raise ConfigError(f"not an address or CIDR range: {exc}", path=f"{settings.path}.trustedProxies") from exc

    def authenticate(self, request: Request) -> ProviderIdentity:
        if not self.identity.is_trusted_proxy(request, self.trusted):
            peer = request.client.host if request.client else "unknown"
            raise SignInError("untrusted-proxy", f"identity headers from {peer} are not trusted (not in "
                              "auth.providers.oauth2Proxy.trustedProxies)")
        headers = request.headers
        email = _email(headers.get("x-forwarded-email") or headers.get("x-auth-request-email"))
        user = headers.get("x-forwarded-user") or headers.get("x-auth-request-user")
        username = (headers.get("x-forwarded-preferred-username")
                    or headers.get("x-auth-request-preferred-username") or user)
        subject = user or email
        if not subject:
            raise SignInError("missing-assertion", "the proxy sent no X-Forwarded-User or X-Forwarded-Email")
        return ProviderIdentity(provider=self.id, subject=subject[:300], email=email,
                                username=username[:200] if username else None,
                                claims={"user": user, "email": email})


def check_proxy_url(url: str, production: bool, path: str) -> str:
    return check_url(url, production=production, path=path)
