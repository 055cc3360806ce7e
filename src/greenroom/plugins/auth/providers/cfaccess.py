"""Cloudflare Access: the `Cf-Access-Jwt-Assertion` header (or `CF_Authorization` cookie).

    auth:
      providers:
        cfaccess:
          teamName: acme                         # https://acme.cloudflareaccess.com
          audience: ${CF_ACCESS_AUD}             # the Access application's AUD tag (required here)
          jwtHeaderName: Cf-Access-Jwt-Assertion # default
          signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }

The assertion is an RS256 JWT verified against the team's certs endpoint
(`<issuer>/cdn-cgi/access/certs`, a cached JWKS) for the team issuer and the application's AUD.
`issuer` replaces `teamName` where the certs come from elsewhere (https only; the tests use it).
"""

from __future__ import annotations

import re

from starlette.requests import Request

from greenroom.errors import ConfigError
from greenroom.identity.jwks import RemoteJwks, TokenError, verify_jwt
from greenroom.identity.outbound import Outbound
from greenroom.identity.service import IdentityService
from greenroom.plugins.auth.providers.base import (
    ProviderIdentity,
    ProviderSettings,
    ProxyProvider,
    SignInError,
    proxy_email,
)

_TEAM = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


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
        return ProviderIdentity(provider=self.id, subject=str(claims["sub"]), email=proxy_email(claims.get("email")),
                                claims=claims)
