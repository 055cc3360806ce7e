"""The identity settings, read once from `auth.*` (Backstage's keys where Backstage has one).

    auth:
      environment: development            # picks auth.providers.<id>.<env> (Backstage)
      backstageTokenExpiration: { minutes: 60 }   # user token lifetime, at most 1 hour
      session:
        idleTimeout: { hours: 1 }
        absoluteTimeout: { hours: 12 }
        revocationCheckInterval: { seconds: 5 }   # how stale another process's revocation may be
      keyStore:
        rotationInterval: { hours: 1 }
      requireMfa: false
      lockout: { enabled: true, maxAttempts: 5, addressMaxAttempts: 50, window: 15m, duration: 15m }
      rateLimit:
        signIn: { limit: 30, window: 1m }
        store: { type: database }          # or { type: redis, connection: redis://host:6379, keyPrefix: ... }
      trustedProxies: [10.0.0.0/8]          # peers whose X-Forwarded-For names the client
      experimentalExtraAllowedOrigins: []   # more origins sign-in may return to (Backstage)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from greenroom.config.model import Config
from greenroom.errors import ConfigError
from greenroom.identity.durations import parse_duration

MAX_TOKEN_LIFETIME = timedelta(hours=1)
MIN_TOKEN_LIFETIME = timedelta(minutes=1)
TOKEN_AUDIENCE = "backstage"  # noqa: S105 - a claim value, not a secret
# Providers greenroom refuses outright in production: they sign in without an identity provider.
GUEST_PROVIDERS = frozenset({"guest", "local"})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SessionSettings:
    idle_timeout: float = 3600.0
    absolute_timeout: float = 12 * 3600.0
    revocation_check_interval: float = 5.0
    touch_interval: float = 60.0


@dataclass(frozen=True)
class LockoutSettings:
    enabled: bool = True
    max_attempts: int = 5
    address_max_attempts: int = 50
    window: float = 900.0
    duration: float = 900.0


@dataclass(frozen=True)
class RateLimitSettings:
    sign_in_limit: int = 30
    sign_in_window: float = 60.0
    store: str = "database"
    redis_url: str | None = None
    redis_prefix: str = "greenroom:identity:"


@dataclass(frozen=True)
class IdentitySettings:
    base_url: str
    environment: str = "development"
    token_lifetime: float = 3600.0
    key_rotation: float = 3600.0
    require_mfa: bool = False
    session: SessionSettings = field(default_factory=SessionSettings)
    lockout: LockoutSettings = field(default_factory=LockoutSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    trusted_proxies: tuple[Network, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    production: bool = False
    local_mode: bool = False
    include_transitive_groups: bool = False

    @property
    def issuer(self) -> str:
        """`iss` of every user token: the auth plugin's base URL, as Backstage sets it."""
        return f"{self.base_url}/api/auth"

    @property
    def secure_cookies(self) -> bool:
        """Cookies are `Secure` except in local mode on plain http (loopback only)."""
        return not (self.local_mode and self.base_url.startswith("http://"))

    @property
    def app_origin(self) -> str:
        return self.allowed_origins[0] if self.allowed_origins else origin_of(self.base_url)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _seconds(config: Config, path: str, default: float) -> float:
    raw = config.get(path)
    return default if raw is None else parse_duration(raw, path=path).total_seconds()


def _positive_int(config: Config, path: str, default: int) -> int:
    value = config.get_int(path, default)
    if value is None or value < 1:
        raise ConfigError("must be a whole number of at least 1", path=path)
    return value


def _networks(values: Sequence[Any], path: str) -> tuple[Network, ...]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(ipaddress.ip_network(str(value), strict=False))
        except ValueError as exc:
            raise ConfigError(f"not an IP address or CIDR range: {value!r}", path=f"{path}[{i}]") from exc
    return tuple(out)


def load_settings(config: Config, *, production: bool, local_mode: bool) -> IdentitySettings:
    base_url = (config.get_str("backend.baseUrl") or "http://127.0.0.1:7007").rstrip("/")
    lifetime = _seconds(config, "auth.backstageTokenExpiration", MAX_TOKEN_LIFETIME.total_seconds())
    if lifetime > MAX_TOKEN_LIFETIME.total_seconds() or lifetime < MIN_TOKEN_LIFETIME.total_seconds():
        raise ConfigError("user tokens live between 1 minute and 1 hour", path="auth.backstageTokenExpiration")
    idle = _seconds(config, "auth.session.idleTimeout", 3600.0)
    session = SessionSettings(
        idle_timeout=idle,
        absolute_timeout=_seconds(config, "auth.session.absoluteTimeout", 12 * 3600.0),
        revocation_check_interval=_seconds(config, "auth.session.revocationCheckInterval", 5.0),
        # Use of a session is written down at most this often, so reads rarely write.
        touch_interval=min(60.0, idle / 4),
    )
    if session.idle_timeout > session.absolute_timeout:
        raise ConfigError("the idle timeout cannot be longer than the absolute timeout",
                          path="auth.session.idleTimeout")
    if session.revocation_check_interval > 60:
        raise ConfigError("at most 60 seconds, or revoked sessions stay usable too long",
                          path="auth.session.revocationCheckInterval")
    lockout = LockoutSettings(
        enabled=config.get_bool("auth.lockout.enabled", True),
        max_attempts=_positive_int(config, "auth.lockout.maxAttempts", 5),
        address_max_attempts=_positive_int(config, "auth.lockout.addressMaxAttempts", 50),
        window=_seconds(config, "auth.lockout.window", 900.0),
        duration=_seconds(config, "auth.lockout.duration", 900.0),
    )
    if not lockout.enabled and production:
        raise ConfigError("lockout cannot be switched off in production", path="auth.lockout.enabled")
    store = config.get_mapping("auth.rateLimit.store") or {"type": "database"}
    store_type = str(store.get("type") or "database")
    if store_type not in ("database", "redis"):
        raise ConfigError("store type is 'database' or 'redis'", path="auth.rateLimit.store.type")
    redis_url = store.get("connection")
    if store_type == "redis" and not isinstance(redis_url, str):
        raise ConfigError("a redis store needs a connection URL (redis://host:6379/0)",
                          path="auth.rateLimit.store.connection")
    rate_limit = RateLimitSettings(
        sign_in_limit=_positive_int(config, "auth.rateLimit.signIn.limit", 30),
        sign_in_window=_seconds(config, "auth.rateLimit.signIn.window", 60.0),
        store=store_type,
        redis_url=redis_url if isinstance(redis_url, str) else None,
        redis_prefix=str(store.get("keyPrefix") or "greenroom:identity:"),
    )
    app_base = config.get_str("app.baseUrl")
    origins = [origin_of(app_base)] if app_base else []
    origins.append(origin_of(base_url))
    for i, extra in enumerate(config.get_list("auth.experimentalExtraAllowedOrigins")):
        if not isinstance(extra, str) or "*" in extra or not urlsplit(extra).netloc:
            raise ConfigError("an allowed origin is a scheme://host[:port] without wildcards",
                              path=f"auth.experimentalExtraAllowedOrigins[{i}]")
        origins.append(origin_of(extra))
    return IdentitySettings(
        base_url=base_url,
        environment=config.get_str("auth.environment", "development") or "development",
        token_lifetime=min(lifetime, session.idle_timeout),
        key_rotation=_seconds(config, "auth.keyStore.rotationInterval", 3600.0),
        require_mfa=config.get_bool("auth.requireMfa", False),
        session=session,
        lockout=lockout,
        rate_limit=rate_limit,
        trusted_proxies=_networks(config.get_list("auth.trustedProxies"), "auth.trustedProxies"),
        allowed_origins=tuple(dict.fromkeys(origins)),
        production=production,
        local_mode=local_mode,
        include_transitive_groups=config.get_bool("includeTransitiveGroupOwnership", False),
    )


def configured_providers(config: Config) -> dict[str, Any]:
    """Identity providers configured under `auth.providers` (not `null`, not empty, not guest-style)."""
    providers = config.get_mapping("auth.providers")
    return {name: value for name, value in providers.items()
            if isinstance(value, dict) and value and name not in GUEST_PROVIDERS}


def check_production_sign_in(config: Config) -> None:
    """Production needs a real identity provider and refuses guest-style sign-in."""
    providers = configured_providers(config)
    for name in sorted(set(config.get_mapping("auth.providers")) & GUEST_PROVIDERS):
        if config.get(f"auth.providers.{name}") is not None:
            raise ConfigError(
                f"the '{name}' provider signs people in without an identity provider and is refused in production; "
                "remove it and configure oidc, google, okta, microsoft, github, saml or an auth proxy",
                path=f"auth.providers.{name}",
            )
    if not providers:
        raise ConfigError(
            "production mode needs an identity provider: configure one under auth.providers "
            "(oidc, google, okta, microsoft, github, saml, cfaccess, awsalb or oauth2Proxy); see docs/identity.md",
            path="auth.providers",
        )
