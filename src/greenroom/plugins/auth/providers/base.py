"""What every identity provider module implements, and what a sign-in produces.

Two shapes, as in Backstage:

* **redirect providers** (OIDC and its presets, GitHub, SAML) send the browser to the
  identity provider from `/start` and verify what comes back at `/handler/frame`;
* **proxy providers** (Cloudflare Access, AWS ALB, oauth2-proxy) verify the identity a proxy
  in front of the portal asserts on each `/refresh` call.

Both end in a `ProviderIdentity`, which the sign-in resolvers map to a catalog user.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from greenroom.errors import ConfigError
from greenroom.identity.outbound import Outbound, check_url
from greenroom.identity.service import IdentityService


class SignInError(Exception):
    """A sign-in was refused; `reason` is machine-readable (audit), `message` is for the user."""

    def __init__(self, reason: str, message: str, *, status: int = 401, identity: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.identity = identity


@dataclass(frozen=True)
class ProviderIdentity:
    provider: str
    subject: str
    email: str | None = None
    display_name: str | None = None
    picture: str | None = None
    username: str | None = None
    user_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def lockout_key(self) -> str:
        return f"{self.provider}:{self.subject}"

    def profile(self) -> dict[str, Any]:
        """Backstage's `profile` object."""
        out: dict[str, Any] = {}
        if self.email:
            out["email"] = self.email
        if self.display_name:
            out["displayName"] = self.display_name
        if self.picture:
            out["picture"] = self.picture
        return out


@dataclass(frozen=True)
class ProviderSettings:
    """One provider's config for the active environment."""

    id: str
    env: str | None
    config: dict[str, Any]
    path: str
    require_mfa: bool
    session_duration: float | None

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self.config.get(key, default)
        if value is None:
            if required:
                raise ConfigError(f"{self.id} needs '{key}'", path=f"{self.path}.{key}")
            return None
        if not isinstance(value, str) or (required and not value):
            raise ConfigError("expected a string", path=f"{self.path}.{key}")
        return value

    def url(self, key: str, *, production: bool, required: bool = False, default: str | None = None) -> str | None:
        value = self.text(key, required=required, default=default)
        return None if value is None else check_url(value, production=production, path=f"{self.path}.{key}")

    def texts(self, key: str) -> list[str]:
        value = self.config.get(key)
        if value is None:
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError("expected a string or a list of strings", path=f"{self.path}.{key}")
        return list(items)

    def flag(self, key: str, default: bool) -> bool:
        value = self.config.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError("expected true or false", path=f"{self.path}.{key}")
        return value


@dataclass
class StartContext:
    """What `/start` knows when it hands over to a redirect provider."""

    state: str
    callback_url: str
    scope: str | None
    attempt: dict[str, Any]


class Provider:
    kind: str = "redirect"
    # Whether the provider's answer can show a second factor (amr/acr, AuthnContextClassRef).
    shows_mfa = False
    # Resolvers this provider supports, by Backstage name, with the annotation each uses.
    resolvers: Mapping[str, str | None] = {}

    def __init__(self, settings: ProviderSettings, identity: IdentityService, outbound: Outbound) -> None:
        self.settings = settings
        self.identity = identity
        self.outbound = outbound

    @property
    def id(self) -> str:
        return self.settings.id

    @property
    def production(self) -> bool:
        return self.identity.settings.production

    def callback_url(self) -> str:
        default = f"{self.identity.settings.base_url}/api/auth/{self.id}/handler/frame"
        return self.settings.text("callbackUrl") or default

    def provider_info(self, identity: ProviderIdentity) -> dict[str, Any]:  # noqa: ARG002
        """Backstage's `providerInfo`; greenroom does not hand identity-provider tokens to browsers."""
        return {}


class RedirectProvider(Provider, ABC):
    kind = "redirect"
    # SAML's IdP posts the response cross-site, so its attempt cookie must be SameSite=None.
    cross_site_callback = False

    @abstractmethod
    def start(self, ctx: StartContext) -> str:
        """The URL to send the browser to; may add to `ctx.attempt` (stored server-side)."""

    @abstractmethod
    def handle(self, request: Request, params: Mapping[str, str], attempt: dict[str, Any]) -> ProviderIdentity:
        """Verify the identity provider's response to the attempt; SignInError otherwise."""

    def metadata(self) -> Response | None:
        return None


def proxy_email(value: Any) -> str | None:
    """An email a proxy asserted, if it looks like one."""
    return value if isinstance(value, str) and "@" in value and len(value) <= 320 else None


class ProxyProvider(Provider, ABC):
    kind = "proxy"

    @abstractmethod
    def authenticate(self, request: Request) -> ProviderIdentity:
        """Verify the identity a proxy asserts on this request; SignInError otherwise."""
