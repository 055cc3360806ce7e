"""oauth2-proxy and other header-setting proxies: believed only from trusted addresses.

    auth:
      providers:
        oauth2Proxy:
          trustedProxies: [10.0.3.7/32]          # required: only these peers' headers count
          signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }

`X-Forwarded-Email` / `X-Forwarded-User` / `X-Forwarded-Preferred-Username` (or the
`X-Auth-Request-*` forms) count only when the TCP peer is in `trustedProxies`; from anywhere
else the request is refused, whatever its headers say.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

from greenroom.errors import ConfigError
from greenroom.identity.outbound import Outbound
from greenroom.identity.service import IdentityService
from greenroom.plugins.auth.providers.base import (
    ProviderIdentity,
    ProviderSettings,
    ProxyProvider,
    SignInError,
    proxy_email,
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
        email = proxy_email(headers.get("x-forwarded-email") or headers.get("x-auth-request-email"))
        user = headers.get("x-forwarded-user") or headers.get("x-auth-request-user")
        username = (headers.get("x-forwarded-preferred-username")
                    or headers.get("x-auth-request-preferred-username") or user)
        subject = user or email
        if not subject:
            raise SignInError("missing-assertion", "the proxy sent no X-Forwarded-User or X-Forwarded-Email")
        return ProviderIdentity(provider=self.id, subject=subject[:300], email=email,
                                username=username[:200] if username else None,
                                claims={"user": user, "email": email})
