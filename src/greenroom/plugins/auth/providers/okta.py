"""Okta: OpenID Connect against an Okta org or one of its authorization servers.

    auth:
      providers:
        okta:
          production:
            clientId: ...
            clientSecret: ${AUTH_OKTA_CLIENT_SECRET}
            audience: https://acme.okta.com      # the Okta org URL (Backstage's key)
            authServerId: default                # optional
            idp: 0oa...                          # optional: route to an Okta IdP

`emailMatchingUserEntityAnnotation` matches `okta.com/email`.
"""

from __future__ import annotations

from greenroom.plugins.auth.providers.oidc import OidcProvider


class OktaProvider(OidcProvider):
    resolvers = {
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
        "emailMatchingUserEntityAnnotation": "okta.com/email",
    }

    def discovery_url(self) -> str:
        audience = (self.settings.text("audience", required=True) or "").rstrip("/")
        server = self.settings.text("authServerId")
        base = f"{audience}/oauth2/{server}" if server else audience
        return f"{base}/.well-known/openid-configuration"

    def extra_authorize_params(self) -> dict[str, str]:
        idp = self.settings.text("idp")
        return {"idp": idp} if idp else {}
