"""The sign-in options the auth plugin offers, for a sign-in page (the `SIGN_IN` service).

Only providers configured for the active `auth.environment` are listed; a redirect provider's
start URL runs the full-page redirect flow and returns to a path of the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from greenroom.errors import NotFoundError
from greenroom.kernel import ServiceRef
from greenroom.plugins.auth.providers import LoadedProvider

TITLES = {
    "oidc": "OpenID Connect",
    "google": "Google",
    "okta": "Okta",
    "microsoft": "Microsoft",
    "github": "GitHub",
    "saml": "SAML",
    "cfaccess": "Cloudflare Access",
    "awsalb": "AWS load balancer",
    "oauth2Proxy": "oauth2-proxy",
}


@dataclass(frozen=True)
class SignInOption:
    id: str
    title: str
    kind: Literal["redirect", "proxy"]


class SignInDirectory:
    def __init__(self, providers: dict[str, LoadedProvider], *, base_url: str, local_mode: bool) -> None:
        self._providers = providers
        self._base_url = base_url.rstrip("/")
        self.local_mode = local_mode

    def options(self) -> list[SignInOption]:
        return [
            SignInOption(id=pid, title=TITLES.get(pid, pid), kind="redirect" if loaded.redirect else "proxy")
            for pid, loaded in sorted(self._providers.items())
        ]

    def start_url(self, provider_id: str, return_path: str) -> str:
        """Where a browser starts signing in through a redirect provider, ending at `return_path`."""
        loaded = self._providers.get(provider_id)
        if loaded is None or loaded.redirect is None:
            raise NotFoundError(f"No redirect sign-in provider '{provider_id}'")
        if not return_path.startswith("/") or return_path.startswith("//"):
            return_path = "/"
        query = {"flow": "redirect", "redirectUrl": f"{self._base_url}{return_path}"}
        env = loaded.redirect.settings.env
        if env is not None:
            query["env"] = env
        return f"/api/auth/{provider_id}/start?{urlencode(query)}"

    def refresh_url(self, provider_id: str) -> str:
        """Where a proxy provider's identity is turned into a session (a script calls it)."""
        if provider_id not in self._providers:
            raise NotFoundError(f"No sign-in provider '{provider_id}'")
        return f"/api/auth/{provider_id}/refresh"


SIGN_IN: ServiceRef[SignInDirectory] = ServiceRef(
    "auth.signIn", SignInDirectory, "the configured sign-in providers and how a browser starts each"
)
