"""Google: OpenID Connect with Google's discovery document.

    auth:
      providers:
        google:
          production: { clientId: ..., clientSecret: ${AUTH_GOOGLE_CLIENT_SECRET}, signIn: ... }

`emailMatchingUserEntityAnnotation` matches `google.com/email`. Google sends no `amr`, so with
MFA required every Google sign-in is refused.
"""

from __future__ import annotations

from greenroom.plugins.auth.providers.oidc import OidcProvider


class GoogleProvider(OidcProvider):
    resolvers = {
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
        "emailMatchingUserEntityAnnotation": "google.com/email",
    }

    def discovery_url(self) -> str:
        return "https://accounts.google.com/.well-known/openid-configuration"
