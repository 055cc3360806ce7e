"""Microsoft Entra ID: OpenID Connect v2 for one tenant.

    auth:
      providers:
        microsoft:
          production:
            clientId: ...
            clientSecret: ${AUTH_MICROSOFT_CLIENT_SECRET}
            tenantId: 11111111-2222-3333-4444-555555555555   # common/organizations/consumers are refused
            domainHint: example.com

`emailMatchingUserEntityAnnotation` matches `microsoft.com/email`;
`userIdMatchingUserEntityAnnotation` matches `graph.microsoft.com/user-id` (the `oid` claim).
"""

from __future__ import annotations

import re

from greenroom.errors import ConfigError
from greenroom.plugins.auth.providers.oidc import OidcProvider

_MS_MULTI_TENANT = frozenset({"common", "organizations", "consumers"})


class MicrosoftProvider(OidcProvider):
    resolvers = {
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
        "emailMatchingUserEntityAnnotation": "microsoft.com/email",
        "userIdMatchingUserEntityAnnotation": "graph.microsoft.com/user-id",
    }

    def discovery_url(self) -> str:
        tenant = self.settings.text("tenantId", required=True) or ""
        if tenant.lower() in _MS_MULTI_TENANT:
            raise ConfigError(f"tenantId '{tenant}' would accept users of any Entra tenant; use your tenant's id",
                              path=f"{self.settings.path}.tenantId")
        return f"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"

    def issuer_matches(self, issuer: str) -> bool:
        # A tenant given by domain name is answered with its GUID in the issuer.
        match = re.fullmatch(r"https://login\.microsoftonline\.com/([0-9a-f-]{36})/v2\.0", issuer)
        tenant = (self.settings.text("tenantId") or "").lower()
        return match is not None and (match.group(1) == tenant or "." in tenant)

    def extra_authorize_params(self) -> dict[str, str]:
        hint = self.settings.text("domainHint")
        return {"domain_hint": hint} if hint else {}
