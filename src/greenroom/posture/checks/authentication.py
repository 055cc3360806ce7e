"""Who can sign in, and how much the portal trusts what the identity provider says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from greenroom.posture.checks.common import (
    active_environment,
    by_deployment,
    falsy,
    identity_providers,
    provider_envs,
    providers,
    show,
    truthy,
)
from greenroom.posture.context import AuditContext, join
from greenroom.posture.model import Severity
from greenroom.posture.registry import Hit, check
from greenroom.posture.values import describe_duration, parse_duration

MAX_TOKEN_LIFETIME = timedelta(hours=1)
MAX_SESSION_DURATION = timedelta(hours=12)
MAX_IDLE_TIMEOUT = timedelta(hours=1)
MAX_REFRESH_ROTATION = timedelta(days=30)
# Providers whose `email` claim Backstage takes without proof that the user owns the address
# (Entra ID lets tenant admins set any mail attribute; generic OIDC/OAuth2 IdPs vary).
UNVERIFIED_EMAIL_PROVIDERS = frozenset({"microsoft", "oidc", "oauth2", "auth0", "onelogin", "keycloak", "pinniped"})


@check(
    id="GR-AUTH-001",
    title="Guest sign-in is enabled",
    severity=Severity.CRITICAL,
    severity_note="critical in production; high outside it with `dangerouslyAllowOutsideDevelopment`; low otherwise",
    category="authentication",
    why="""The guest provider signs anyone who can reach the portal in as a shared user, with no
    identity provider involved: every permission that user has is public, and the audit trail
    cannot tell people apart.""",
    remediation="""
        # app-config.production.yaml: remove guest, sign in through your identity provider
        auth:
          environment: production
          providers:
            guest: null
            oidc:
              production:
                metadataUrl: https://idp.example.com/.well-known/openid-configuration
                clientId: ${AUTH_OIDC_CLIENT_ID}
                clientSecret: ${AUTH_OIDC_CLIENT_SECRET}
    """,
)
def guest_provider(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `auth.providers.guest` when it is configured (after merging, so a production overlay's
    `guest: null` clears it), noting `dangerouslyAllowOutsideDevelopment`."""
    guest = providers(ctx).get("guest")
    if guest is None:
        return
    settings = guest if isinstance(guest, dict) else {}
    outside = truthy(settings.get("dangerouslyAllowOutsideDevelopment"))
    if ctx.production:
        severity = Severity.CRITICAL
        message = "the guest provider is configured in a production deployment"
    elif outside:
        severity = Severity.HIGH
        message = "guest sign-in is allowed outside development (dangerouslyAllowOutsideDevelopment)"
    else:
        severity = Severity.LOW
        message = "the guest provider is configured; fine for local development only"
    yield Hit(message, key="auth.providers.guest", evidence=f"guest: {show(settings)}", severity=severity)


@check(
    id="GR-AUTH-002",
    title="No identity provider for a production deployment",
    severity=Severity.CRITICAL,
    severity_note="critical for greenroom (it refuses to start), high for Backstage; production only",
    category="authentication",
    why="""With no real identity provider a production portal either lets nobody in, which pushes
    operators to guest access or a disabled auth policy, or it relies on a provider that is not
    configured at all.""",
    remediation="""
        auth:
          environment: production
          providers:
            oidc:
              production:
                metadataUrl: https://idp.example.com/.well-known/openid-configuration
                clientId: ${AUTH_OIDC_CLIENT_ID}
                clientSecret: ${AUTH_OIDC_CLIENT_SECRET}
                signIn:
                  resolvers:
                    - resolver: emailMatchingUserEntityProfileEmail
    """,
)
def no_provider(ctx: AuditContext) -> Iterator[Hit]:
    """In production, reports when `auth.providers` holds no configured provider other than `guest` (empty
    blocks and `null` entries do not count)."""
    if not ctx.production or identity_providers(ctx):
        return
    others = sorted(providers(ctx))
    detail = f"only {', '.join(others)}" if others else "none"
    severity = Severity.CRITICAL if ctx.flavor == "greenroom" else Severity.HIGH
    yield Hit(
        "no identity provider is configured for this production deployment",
        key="auth.providers",
        evidence=f"auth.providers: {detail}",
        severity=severity,
    )


@check(
    id="GR-AUTH-003",
    title="Sign-in allowed without a user in the catalog",
    severity=Severity.CRITICAL,
    severity_note="critical in production, high otherwise",
    category="authentication",
    why="""`dangerouslyAllowSignInWithoutUserInCatalog` issues a token to anyone the identity
    provider vouches for, even with no User entity: with a public IdP (GitHub, Google) that is
    everyone on the internet, and such users own nothing, so ownership-based rules stop working.""",
    remediation="""
        auth:
          providers:
            github:
              production:
                signIn:
                  resolvers:
                    - resolver: usernameMatchingUserEntityName   # no dangerouslyAllowSignInWithoutUserInCatalog
    """,
)
def sign_in_without_user(ctx: AuditContext) -> Iterator[Hit]:
    """Reports any `dangerouslyAllowSignInWithoutUserInCatalog: true` under `auth.providers` (it is an
    option of a sign-in resolver)."""
    for path, key, value in ctx.leaves("auth.providers"):
        if key == "dangerouslyAllowSignInWithoutUserInCatalog" and truthy(value):
            yield Hit(
                "a sign-in resolver accepts identities that match no catalog user",
                key=path,
                evidence=f"{key}: true",
                severity=by_deployment(ctx, Severity.CRITICAL, Severity.HIGH),
            )


@check(
    id="GR-AUTH-004",
    title="Sign-in resolver matches on unverified data",
    severity=Severity.HIGH,
    severity_note="high when any domain or a user-editable claim is accepted; medium for unverified email claims",
    category="authentication",
    why="""A resolver decides which catalog user a sign-in becomes. Matching the local part of an
    email without checking its domain, a `preferred_username` the user can edit, or an email
    claim the IdP does not verify lets one person sign in as another.""",
    remediation="""
        auth:
          providers:
            microsoft:
              production:
                signIn:
                  resolvers:
                    - resolver: emailLocalPartMatchingUserEntityName
                      allowedDomains: [example.com]
            oidc:
              production:
                signIn:
                  resolvers:
                    - resolver: oidcSubClaimMatchingKeycloakUserId   # a stable, IdP-assigned id
    """,
)
def weak_resolvers(ctx: AuditContext) -> Iterator[Hit]:
    """Reads every `auth.providers.<id>.<env>.signIn.resolvers` entry:
    `emailLocalPartMatchingUserEntityName` without `allowedDomains`,
    `preferredUsernameMatchingUserEntityName`, and email-matching resolvers on Microsoft, generic
    OIDC/OAuth2 and other providers whose email claim is not proven."""
    for provider, config in providers(ctx).items():
        for entry in provider_envs(provider, config):
            for index, resolver in enumerate(_resolvers(entry.config)):
                name = resolver.get("resolver")
                path = join(entry.path, f"signIn.resolvers[{index}].resolver")
                if name == "emailLocalPartMatchingUserEntityName" and not resolver.get("allowedDomains"):
                    yield Hit(
                        f"{provider}: '{name}' ignores the email domain, so alice@any-domain becomes user alice",
                        key=path,
                        evidence=f"resolver: {name} (no allowedDomains)",
                        severity=Severity.HIGH,
                    )
                elif name == "preferredUsernameMatchingUserEntityName":
                    yield Hit(
                        f"{provider}: '{name}' trusts preferred_username, which OIDC says is neither unique "
                        "nor stable and many IdPs let users change",
                        key=path,
                        evidence=f"resolver: {name}",
                        severity=Severity.HIGH,
                    )
                elif (
                    name in ("emailMatchingUserEntityProfileEmail", "emailMatchingUserEntityAnnotation")
                    and _email_unverified(provider, entry.config)
                ):
                    yield Hit(
                        f"{provider}: '{name}' matches the email claim, which this provider does not "
                        "guarantee the user owns",
                        key=path,
                        evidence=f"resolver: {name}",
                        severity=Severity.MEDIUM,
                    )


def _resolvers(config: dict[str, object]) -> list[dict[str, object]]:
    sign_in = config.get("signIn")
    resolvers = sign_in.get("resolvers") if isinstance(sign_in, dict) else None
    return [r for r in resolvers if isinstance(r, dict)] if isinstance(resolvers, list) else []


def _email_unverified(provider: str, config: dict[str, object]) -> bool:
    return provider in UNVERIFIED_EMAIL_PROVIDERS or "metadataUrl" in config


@check(
    id="GR-AUTH-005",
    title="Multi-factor authentication is not required",
    severity=Severity.MEDIUM,
    severity_note="medium in production, low otherwise; only when a provider is configured",
    category="authentication",
    flavors=("greenroom",),
    why="""greenroom can refuse a sign-in whose `amr`/`acr` claims (or SAML AuthnContext) show no
    second factor; without `auth.requireMfa` a phished IdP password is enough to use the portal
    and the tokens it hands to the scaffolder.""",
    remediation="""
        auth:
          requireMfa: true          # or per provider: auth.providers.<id>.<env>.requireMfa
    """,
)
def mfa_not_required(ctx: AuditContext) -> Iterator[Hit]:
    """greenroom only: when an identity provider is configured, reports that neither `auth.requireMfa` nor
    every provider's `requireMfa` is true."""
    entries = identity_providers(ctx)
    if not entries or truthy(ctx.get("auth.requireMfa")) or ctx.unresolved("auth.requireMfa"):
        return
    missing = [e for e in entries if not truthy(e.config.get("requireMfa"))]
    if not missing:
        return
    names = ", ".join(sorted({e.provider for e in missing}))
    yield Hit(
        f"sign-in through {names} does not require a second factor",
        key="auth.requireMfa",
        evidence="auth.requireMfa: " + show(ctx.get("auth.requireMfa", "not set")),
        severity=by_deployment(ctx, Severity.MEDIUM, Severity.LOW),
    )


@check(
    id="GR-AUTH-006",
    title="Session or token lifetime too long",
    severity=Severity.MEDIUM,
    category="authentication",
    why="""A long-lived user token or session keeps working after the person leaves, loses a laptop
    or has their IdP account disabled; short lifetimes bound that window (NIST SP 800-63B AAL2:
    re-authenticate within 12 hours, 1 hour idle is a common portal choice).""",
    remediation="""
        auth:
          backstageTokenExpiration: { minutes: 60 }
          session:
            idleTimeout: { hours: 1 }         # greenroom
            absoluteTimeout: { hours: 12 }    # greenroom
          providers:
            oidc:
              production:
                sessionDuration: { hours: 12 }
    """,
)
def long_sessions(ctx: AuditContext) -> Iterator[Hit]:
    """Compares `auth.backstageTokenExpiration` (over 1 hour), each provider's `sessionDuration` and
    greenroom's `auth.session.absoluteTimeout` (over 12 hours), `auth.session.idleTimeout` (over 1
    hour) and `auth.refreshToken.*` lifetimes (over 30 days) with those limits; durations may be
    HumanDuration objects, ISO 8601 or `ms`-style strings."""
    limits: list[tuple[str, timedelta]] = [
        ("auth.backstageTokenExpiration", MAX_TOKEN_LIFETIME),
        ("auth.session.idleTimeout", MAX_IDLE_TIMEOUT),
        ("auth.session.absoluteTimeout", MAX_SESSION_DURATION),
        ("auth.refreshToken.maxRotationLifetime", MAX_REFRESH_ROTATION),
        ("auth.refreshToken.tokenLifetime", MAX_REFRESH_ROTATION),
    ]
    for provider, config in providers(ctx).items():
        for entry in provider_envs(provider, config):
            if "sessionDuration" in entry.config:
                limits.append((join(entry.path, "sessionDuration"), MAX_SESSION_DURATION))
    for path, limit in limits:
        raw = ctx.get(path)
        duration = parse_duration(raw) if raw is not None else None
        if duration is not None and duration > limit:
            yield Hit(
                f"{path} is {describe_duration(duration)}, longer than {describe_duration(limit)}",
                key=path,
                evidence=f"{path.rsplit('.', 1)[-1]}: {show(raw)}",
            )


@check(
    id="GR-AUTH-007",
    title="OAuth/OIDC protections switched off",
    severity=Severity.HIGH,
    category="authentication",
    why="""State, nonce and PKCE are what stop login CSRF, code injection and replayed ID tokens;
    an unsigned (`alg: none`) ID token or the implicit flow lets an attacker mint or steal
    identities.""",
    remediation="""
        auth:
          providers:
            oidc:
              production:
                pkce: true                     # greenroom's default; never set it to false
                tokenSignedResponseAlg: RS256
    """,
)
def protocol_protections(ctx: AuditContext) -> Iterator[Hit]:
    """Reports provider settings that switch off PKCE, state or nonce (`pkce`, `usePkce`, `state`, `nonce`,
    ... set to false), accept unsigned ID tokens (`tokenSignedResponseAlg: none`) or use the
    implicit flow (`responseType: token`)."""
    switches = ("pkce", "usePkce", "pkceEnabled", "state", "useState", "nonce", "checkNonce", "validateIssuer")
    for provider, config in providers(ctx).items():
        for entry in provider_envs(provider, config):
            for key in switches:
                if falsy(entry.config.get(key)):
                    yield Hit(
                        f"{provider}: '{key}' is switched off",
                        key=join(entry.path, key),
                        evidence=f"{key}: false",
                    )
            alg = entry.config.get("tokenSignedResponseAlg")
            if isinstance(alg, str) and alg.strip().lower() == "none":
                yield Hit(
                    f"{provider}: ID tokens are accepted unsigned",
                    key=join(entry.path, "tokenSignedResponseAlg"),
                    evidence="tokenSignedResponseAlg: none",
                    severity=Severity.CRITICAL,
                )
            response_type = entry.config.get("responseType")
            if isinstance(response_type, str) and "token" in response_type.split() and "code" not in response_type:
                yield Hit(
                    f"{provider}: the implicit flow returns tokens in the browser URL",
                    key=join(entry.path, "responseType"),
                    evidence=f"responseType: {response_type}",
                )


@check(
    id="GR-AUTH-008",
    title="auth.environment does not match the deployment",
    severity=Severity.MEDIUM,
    category="authentication",
    why="""Backstage picks each provider's settings by `auth.environment` (default `development`):
    a production deployment on `development` runs with development OAuth apps and callback URLs,
    and a provider configured only for another environment is silently not used.""",
    remediation="""
        # app-config.production.yaml
        auth:
          environment: production
          providers:
            microsoft:
              production:
                clientId: ${AUTH_MICROSOFT_CLIENT_ID}
                clientSecret: ${AUTH_MICROSOFT_CLIENT_SECRET}
                tenantId: ${AUTH_MICROSOFT_TENANT_ID}
    """,
)
def environment_mismatch(ctx: AuditContext) -> Iterator[Hit]:
    """Reports a production deployment whose `auth.environment` is not `production` (Backstage's default is
    `development`), and providers configured only for environments other than the active one."""
    active = active_environment(ctx)
    if active is None:
        return
    written = ctx.get("auth.environment")
    if ctx.production and active != "production":
        shown = f"auth.environment: {written}" if written is not None else "auth.environment not set (development)"
        yield Hit(
            f"this production deployment signs users in with the '{active}' provider settings",
            key="auth.environment",
            evidence=shown,
        )
    for provider, config in providers(ctx).items():
        envs = [e for e in provider_envs(provider, config) if e.env is not None]
        if envs and all(e.env != active for e in envs):
            yield Hit(
                f"{provider} is configured for {', '.join(str(e.env) for e in envs)} only; with "
                f"auth.environment '{active}' it is not used",
                key=envs[0].path,
                evidence=f"{provider}: {', '.join(str(e.env) for e in envs)}",
            )


@check(
    id="GR-AUTH-009",
    title="Open OAuth client registration",
    severity=Severity.HIGH,
    severity_note="high in production, medium otherwise",
    category="authentication",
    flavors=("backstage",),
    why="""Dynamic client registration and client ID metadata documents let any client obtain user
    tokens through the portal's authorization server; without allowed redirect and client ID
    patterns (the default is '*') a phishing client can collect tokens for every user who clicks.""",
    remediation="""
        auth:
          experimentalDynamicClientRegistration:
            enabled: true
            allowedRedirectUriPatterns: ['http://127.0.0.1:*/callback']
          clientIdMetadataDocuments:
            enabled: true
            allowedClientIdPatterns: ['https://tools.example.com/*']
            allowedRedirectUriPatterns: ['http://127.0.0.1:*/callback']
    """,
)
def open_client_registration(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `auth.experimentalDynamicClientRegistration` and
    `auth.(experimental)ClientIdMetadataDocuments` enabled without `allowedRedirectUriPatterns` /
    `allowedClientIdPatterns` narrower than '*'."""
    sections = {
        "auth.experimentalDynamicClientRegistration": ("allowedRedirectUriPatterns",),
        "auth.clientIdMetadataDocuments": ("allowedClientIdPatterns", "allowedRedirectUriPatterns"),
        "auth.experimentalClientIdMetadataDocuments": ("allowedClientIdPatterns", "allowedRedirectUriPatterns"),
    }
    for section, pattern_keys in sections.items():
        if not truthy(ctx.get(f"{section}.enabled")):
            continue
        open_keys = [k for k in pattern_keys if _open_patterns(ctx.get(f"{section}.{k}"))]
        if open_keys:
            shown = "; ".join(f"{k}: {show(ctx.get(section + '.' + k, ['*']))}" for k in open_keys)
            yield Hit(
                f"{section.rsplit('.', 1)[-1]} is enabled with {', '.join(open_keys)} allowing any value",
                key=f"{section}.enabled",
                evidence=f"enabled: true; {shown}",
                severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM),
            )


def _open_patterns(value: object) -> bool:
    if not isinstance(value, list) or not value:
        return True
    return any(isinstance(p, str) and p.strip() in ("*", "**", "https://*", "http://*") for p in value)


@check(
    id="GR-AUTH-010",
    title="Service credential without access restrictions",
    severity=Severity.MEDIUM,
    category="authentication",
    why="""An `externalAccess` token without `accessRestrictions` may call every plugin with every
    permission; a leaked CI or integration token then reaches the whole portal instead of the
    one API it was made for.""",
    remediation="""
        backend:
          auth:
            externalAccess:
              - type: static
                options:
                  token: ${CI_CATALOG_TOKEN}
                  subject: ci-catalog-sync
                accessRestrictions:
                  - plugin: catalog
                    permission: [catalog.entity.read]
    """,
)
def unrestricted_service_credentials(ctx: AuditContext) -> Iterator[Hit]:
    """Reports each `backend.auth.externalAccess` entry (static, legacy or JWKS) without
    `accessRestrictions`."""
    for index, entry in enumerate(ctx.items("backend.auth.externalAccess")):
        if not isinstance(entry, dict) or entry.get("accessRestrictions"):
            continue
        options = entry.get("options") if isinstance(entry.get("options"), dict) else {}
        subject = options.get("subject") if isinstance(options, dict) else None
        yield Hit(
            f"{entry.get('type', 'external')} credential '{subject or index}' may call every plugin",
            key=f"backend.auth.externalAccess[{index}]",
            evidence=f"type: {entry.get('type')}, subject: {subject}, accessRestrictions: none",
        )
