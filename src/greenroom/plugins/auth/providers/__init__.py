"""The identity providers greenroom has, by their Backstage ids, and reading their config.

Every provider is off until `auth.providers.<id>` configures it. Providers Backstage nests by
environment (`auth.providers.<id>.<env>`, chosen by `auth.environment`) are read that way;
`saml`, `cfaccess`, `awsalb` and `oauth2Proxy`, which Backstage configures without an
environment level, are read either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from greenroom.errors import ConfigError
from greenroom.identity.durations import parse_duration
from greenroom.identity.outbound import Outbound
from greenroom.identity.service import IdentityService
from greenroom.plugins.auth.providers.awsalb import AwsAlbProvider
from greenroom.plugins.auth.providers.base import Provider, ProviderSettings, ProxyProvider, RedirectProvider
from greenroom.plugins.auth.providers.cfaccess import CloudflareAccessProvider
from greenroom.plugins.auth.providers.github import GithubProvider
from greenroom.plugins.auth.providers.google import GoogleProvider
from greenroom.plugins.auth.providers.microsoft import MicrosoftProvider
from greenroom.plugins.auth.providers.oauth2proxy import OAuth2ProxyProvider
from greenroom.plugins.auth.providers.oidc import OidcProvider
from greenroom.plugins.auth.providers.okta import OktaProvider
from greenroom.plugins.auth.providers.saml import SamlProvider
from greenroom.plugins.auth.resolvers import ResolverSpec, parse_resolvers

log = logging.getLogger("greenroom.plugins.auth")

PROVIDER_TYPES: dict[str, type[Provider]] = {
    "oidc": OidcProvider,
    "google": GoogleProvider,
    "okta": OktaProvider,
    "microsoft": MicrosoftProvider,
    "github": GithubProvider,
    "saml": SamlProvider,
    "cfaccess": CloudflareAccessProvider,
    "awsalb": AwsAlbProvider,
    "oauth2Proxy": OAuth2ProxyProvider,
}
ENVIRONMENT_OPTIONAL = frozenset({"saml", "cfaccess", "awsalb", "oauth2Proxy"})
# Environments whose provider secrets the plugin declares (see plugin.py); others are refused.
ENVIRONMENTS = ("development", "production", "staging", "test", "testing", "qa", "uat", "local", "dev", "prod",
                "preprod", "sandbox", "demo")
SECRET_KEYS = {
    "oidc": ("clientSecret",),
    "google": ("clientSecret",),
    "okta": ("clientSecret",),
    "microsoft": ("clientSecret",),
    "github": ("clientSecret",),
    "saml": ("cert", "privateKey", "signingCert", "decryptionPvk"),
}


def declared_secrets() -> tuple[str, ...]:
    paths = []
    for provider, keys in SECRET_KEYS.items():
        for key in keys:
            if provider in ENVIRONMENT_OPTIONAL:
                paths.append(f"auth.providers.{provider}.{key}")
            paths.extend(f"auth.providers.{provider}.{env}.{key}" for env in ENVIRONMENTS)
    return tuple(paths)


@dataclass
class LoadedProvider:
    provider: Provider
    resolvers: list[ResolverSpec]

    @property
    def redirect(self) -> RedirectProvider | None:
        return self.provider if isinstance(self.provider, RedirectProvider) else None

    @property
    def proxy(self) -> ProxyProvider | None:
        return self.provider if isinstance(self.provider, ProxyProvider) else None


def _check_mfa(provider: Provider, identity: IdentityService, config: dict[str, Any], where: str) -> None:
    """With MFA required, a provider that cannot show a second factor fails closed at start-up."""
    required = provider.settings.require_mfa or identity.settings.require_mfa
    if not required or provider.shows_mfa:
        return
    if config.get("dangerouslyTrustUpstreamMfa") is True:
        log.warning("MFA is required but this provider cannot show it; trusting that it is enforced upstream "
                    "(dangerouslyTrustUpstreamMfa)", extra={"path": where})
        return
    raise ConfigError(
        f"MFA is required, but {provider.id} cannot show a second factor; enforce MFA in the identity provider or "
        "proxy and set dangerouslyTrustUpstreamMfa: true on this provider, or use OIDC or SAML",
        path=f"{where}.requireMfa" if provider.settings.require_mfa else "auth.requireMfa",
    )


def load_providers(
    providers: dict[str, Any], *, environment: str, identity: IdentityService, outbound: Outbound
) -> dict[str, LoadedProvider]:
    loaded: dict[str, LoadedProvider] = {}
    for provider_id, raw in providers.items():
        if not isinstance(raw, dict) or not raw:
            continue
        path = f"auth.providers.{provider_id}"
        if provider_id in ("guest", "local"):
            log.warning("greenroom has no guest provider; it is ignored (local mode prints a one-time login link "
                        "instead)", extra={"path": path})
            continue
        cls = PROVIDER_TYPES.get(provider_id)
        if cls is None:
            log.warning("unknown auth provider ignored", extra={"path": path, "known": sorted(PROVIDER_TYPES)})
            continue
        env_config = raw.get(environment)
        if isinstance(env_config, dict):
            config, where, env = env_config, f"{path}.{environment}", environment
        elif provider_id in ENVIRONMENT_OPTIONAL and not any(isinstance(v, dict) and k in ENVIRONMENTS
                                                              for k, v in raw.items()):
            config, where, env = raw, path, None
        else:
            log.info("auth provider not configured for this environment", extra={"path": path,
                                                                                  "environment": environment})
            continue
        if env is not None and env not in ENVIRONMENTS:
            raise ConfigError(f"auth.environment '{env}' is not one greenroom reads provider secrets for "
                              f"({', '.join(ENVIRONMENTS)})", path="auth.environment")
        duration = config.get("sessionDuration")
        settings = ProviderSettings(
            id=provider_id,
            env=env,
            config=config,
            path=where,
            require_mfa=config.get("requireMfa") is True,
            session_duration=None if duration is None else parse_duration(duration, path=f"{where}.sessionDuration")
            .total_seconds(),
        )
        provider = cls(settings, identity, outbound)
        _check_mfa(provider, identity, config, where)
        specs = parse_resolvers(config, where, cls.resolvers)
        if not specs:
            log.warning("auth provider has no signIn.resolvers: nobody can sign in through it",
                        extra={"path": where})
        loaded[provider_id] = LoadedProvider(provider, specs)
    return loaded


__all__ = ["ENVIRONMENTS", "PROVIDER_TYPES", "LoadedProvider", "declared_secrets", "load_providers"]
