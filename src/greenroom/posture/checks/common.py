"""Helpers several checks share: identity providers, severities by deployment, short evidence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from greenroom.posture.context import AuditContext, join
from greenroom.posture.model import Severity

# Keys that appear directly under `auth.providers.<id>` when a provider has no per-environment
# blocks (guest, SAML in older configs, the proxy providers).
FLAT_PROVIDER_KEYS = frozenset(
    {
        "clientId", "clientSecret", "entryPoint", "issuer", "audience", "signIn", "teamName", "region",
        "userEntityRef", "dangerouslyAllowOutsideDevelopment", "metadataUrl", "cert", "jwtHeaderName",
        "serviceTokens", "ownershipEntityRefs", "requireMfa",
    }
)
NON_IDENTITY_PROVIDERS = frozenset({"guest"})


@dataclass(frozen=True, slots=True)
class ProviderEnv:
    provider: str
    env: str | None
    path: str
    config: dict[str, Any]


def providers(ctx: AuditContext) -> dict[str, Any]:
    return {k: v for k, v in ctx.mapping("auth.providers").items() if v is not None}


def provider_envs(provider: str, config: Any) -> Iterator[ProviderEnv]:
    base = f"auth.providers.{provider}"
    if not isinstance(config, dict):
        return
    if not config or set(config) & FLAT_PROVIDER_KEYS or not all(isinstance(v, dict) for v in config.values()):
        yield ProviderEnv(provider, None, base, config)
        return
    for env, block in config.items():
        if isinstance(block, dict):
            yield ProviderEnv(provider, str(env), join(base, str(env)), block)


def configured(ctx: AuditContext, entry: ProviderEnv) -> bool:
    return bool(entry.config) or bool(ctx.unresolved_under(entry.path))


def identity_providers(ctx: AuditContext) -> list[ProviderEnv]:
    """Provider blocks that can sign a real person in (not guest, not empty)."""
    out: list[ProviderEnv] = []
    for provider, config in providers(ctx).items():
        if provider in NON_IDENTITY_PROVIDERS:
            continue
        out.extend(e for e in provider_envs(provider, config) if configured(ctx, e))
    return out


def active_environment(ctx: AuditContext) -> str | None:
    """`auth.environment` (Backstage's default is 'development'); None when a reference decides it."""
    if ctx.unresolved("auth.environment"):
        return None
    value = ctx.get("auth.environment")
    return str(value) if value is not None else "development"


def by_deployment(ctx: AuditContext, production: Severity, otherwise: Severity) -> Severity:
    return production if ctx.production else otherwise


def show(value: Any, limit: int = 160) -> str:
    """A short YAML-ish rendering of a (non-secret) value for evidence."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def falsy(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")
