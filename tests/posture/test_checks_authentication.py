"""Authentication checks, each on configs that should and should not trigger it."""

from __future__ import annotations

from greenroom.posture import Severity
from tests.posture.conftest import findings, ids

OIDC = """
auth:
  environment: production
  providers:
    oidc:
      production:
        metadataUrl: https://idp.example.com/.well-known/openid-configuration
        clientId: ${CLIENT_ID}
        clientSecret: ${CLIENT_SECRET}
"""


# -- GR-AUTH-001 guest ------------------------------------------------------------------------


def test_guest_is_critical_in_production(audit):
    report = audit("auth:\n  environment: production\n  providers:\n    guest: {}\n")
    [finding] = findings(report, "GR-AUTH-001")
    assert finding.severity is Severity.CRITICAL
    assert finding.location.key == "auth.providers.guest"
    assert finding.location.line == 4


def test_guest_outside_development_is_high_outside_production(audit):
    report = audit("auth:\n  providers:\n    guest:\n      dangerouslyAllowOutsideDevelopment: true\n")
    assert findings(report, "GR-AUTH-001")[0].severity is Severity.HIGH


def test_guest_for_development_is_low(audit):
    report = audit("auth:\n  environment: development\n  providers:\n    guest: {}\n")
    assert findings(report, "GR-AUTH-001")[0].severity is Severity.LOW


def test_guest_removed_by_a_later_null_is_not_reported(audit):
    report = audit(
        "auth:\n  providers:\n    guest: {}\n",
        "auth:\n  providers:\n    guest: null\n",
    )
    assert "GR-AUTH-001" not in ids(report)


def test_no_guest_no_finding(audit):
    assert "GR-AUTH-001" not in ids(audit(OIDC))


# -- GR-AUTH-002 no provider ------------------------------------------------------------------


def test_production_without_a_provider(audit):
    report = audit("auth:\n  environment: production\n  providers:\n    guest: {}\n")
    [finding] = findings(report, "GR-AUTH-002")
    assert finding.severity is Severity.HIGH
    assert "only guest" in finding.evidence


def test_empty_provider_blocks_do_not_count(audit):
    report = audit("auth:\n  environment: production\n  providers:\n    myproxy:\n    production: {}\n")
    assert "GR-AUTH-002" in ids(report)


def test_greenroom_production_without_a_provider_is_critical(audit):
    report = audit("app:\n  production: true\n")
    assert report.flavor == "greenroom"
    assert findings(report, "GR-AUTH-002")[0].severity is Severity.CRITICAL


def test_provider_with_references_only_counts(audit):
    assert "GR-AUTH-002" not in ids(audit(OIDC))


def test_no_provider_outside_production_is_not_reported(audit):
    assert "GR-AUTH-002" not in ids(audit("auth:\n  providers: {}\n"))


# -- GR-AUTH-003 sign-in without catalog user ------------------------------------------------


def test_sign_in_without_catalog_user(audit):
    report = audit(
        OIDC
        + "        signIn:\n          resolvers:\n            - resolver: emailMatchingUserEntityProfileEmail\n"
        "              dangerouslyAllowSignInWithoutUserInCatalog: true\n"
    )
    [finding] = findings(report, "GR-AUTH-003")
    assert finding.severity is Severity.CRITICAL
    assert finding.location.key.endswith("dangerouslyAllowSignInWithoutUserInCatalog")


def test_sign_in_requires_catalog_user_by_default(audit):
    report = audit(
        OIDC + "        signIn:\n          resolvers:\n            - resolver: emailMatchingUserEntityProfileEmail\n"
    )
    assert "GR-AUTH-003" not in ids(report)


# -- GR-AUTH-004 resolvers --------------------------------------------------------------------


def _resolver(provider: str, resolver: str, extra: str = "") -> str:
    return (
        f"auth:\n  providers:\n    {provider}:\n      development:\n        clientId: x\n"
        f"        signIn:\n          resolvers:\n            - resolver: {resolver}\n{extra}"
    )


def test_local_part_resolver_without_domains_is_high(audit):
    [finding] = findings(audit(_resolver("microsoft", "emailLocalPartMatchingUserEntityName")), "GR-AUTH-004")
    assert finding.severity is Severity.HIGH
    assert finding.location.line == 8


def test_local_part_resolver_with_allowed_domains_passes(audit):
    domains = "              allowedDomains: [example.com]\n"
    report = audit(_resolver("github", "emailLocalPartMatchingUserEntityName", domains))
    assert "GR-AUTH-004" not in ids(report)


def test_preferred_username_resolver_is_high(audit):
    report = audit(_resolver("oidc", "preferredUsernameMatchingUserEntityName"))
    assert findings(report, "GR-AUTH-004")[0].severity is Severity.HIGH


def test_email_resolver_on_unverified_provider_is_medium(audit):
    report = audit(_resolver("microsoft", "emailMatchingUserEntityProfileEmail"))
    assert findings(report, "GR-AUTH-004")[0].severity is Severity.MEDIUM


def test_username_resolver_on_github_passes(audit):
    assert "GR-AUTH-004" not in ids(audit(_resolver("github", "usernameMatchingUserEntityName")))


def test_email_resolver_on_google_passes(audit):
    assert "GR-AUTH-004" not in ids(audit(_resolver("google", "emailMatchingUserEntityProfileEmail")))


# -- GR-AUTH-005 MFA (greenroom) --------------------------------------------------------------


def test_greenroom_provider_without_mfa(audit):
    report = audit("app:\n  production: true\n" + OIDC)
    [finding] = findings(report, "GR-AUTH-005")
    assert finding.severity is Severity.MEDIUM


def test_greenroom_mfa_required_globally_or_per_provider(audit):
    assert "GR-AUTH-005" not in ids(audit("app:\n  production: true\n" + OIDC + "  requireMfa: true\n"))
    assert "GR-AUTH-005" not in ids(audit("app:\n  production: true\n" + OIDC + "        requireMfa: true\n"))


def test_mfa_is_not_checked_for_backstage(audit):
    assert "GR-AUTH-005" not in ids(audit(OIDC))


# -- GR-AUTH-006 lifetimes --------------------------------------------------------------------


def test_long_token_and_sessions(audit):
    report = audit(
        OIDC
        + "        sessionDuration: { days: 7 }\n"
        "  backstageTokenExpiration: { hours: 24 }\n"
        "  session:\n    idleTimeout: PT8H\n    absoluteTimeout: 30d\n"
    )
    keys = {f.location.key for f in findings(report, "GR-AUTH-006")}
    assert keys == {
        "auth.providers.oidc.production.sessionDuration",
        "auth.backstageTokenExpiration",
        "auth.session.idleTimeout",
        "auth.session.absoluteTimeout",
    }


def test_short_lifetimes_pass(audit):
    report = audit(
        OIDC + "        sessionDuration: '8h'\n  backstageTokenExpiration: { minutes: 30 }\n"
        "  session:\n    idleTimeout: { minutes: 30 }\n    absoluteTimeout: PT12H\n"
    )
    assert "GR-AUTH-006" not in ids(report)


# -- GR-AUTH-007 protocol protections ----------------------------------------------------------


def test_pkce_off_and_unsigned_tokens(audit):
    report = audit(OIDC + "        pkce: false\n        tokenSignedResponseAlg: none\n")
    found = findings(report, "GR-AUTH-007")
    assert {f.location.key.rsplit(".", 1)[-1] for f in found} == {"pkce", "tokenSignedResponseAlg"}
    assert Severity.CRITICAL in {f.severity for f in found}


def test_defaults_keep_protocol_protections(audit):
    assert "GR-AUTH-007" not in ids(audit(OIDC + "        pkce: true\n        tokenSignedResponseAlg: RS256\n"))


# -- GR-AUTH-008 environment --------------------------------------------------------------------


def test_production_on_development_environment(audit):
    report = audit(OIDC.replace("environment: production", "environment: development"), production=True)
    keys = {f.location.key for f in findings(report, "GR-AUTH-008")}
    assert keys == {"auth.environment", "auth.providers.oidc.production"}


def test_matching_environment_passes(audit):
    assert "GR-AUTH-008" not in ids(audit(OIDC))


# -- GR-AUTH-009 open client registration -----------------------------------------------------------


def test_dynamic_client_registration_without_patterns(audit):
    report = audit("auth:\n  experimentalDynamicClientRegistration:\n    enabled: true\n")
    assert findings(report, "GR-AUTH-009")[0].severity is Severity.MEDIUM


def test_dynamic_client_registration_restricted_or_off(audit):
    restricted = (
        "auth:\n  experimentalDynamicClientRegistration:\n    enabled: true\n"
        "    allowedRedirectUriPatterns: ['http://127.0.0.1:*/callback']\n"
        "  clientIdMetadataDocuments:\n    enabled: false\n"
    )
    assert "GR-AUTH-009" not in ids(audit(restricted))


# -- GR-AUTH-010 service credentials -----------------------------------------------------------------


def test_external_access_without_restrictions(audit):
    report = audit(
        "backend:\n  auth:\n    externalAccess:\n      - type: static\n"
        "        options: { token: '${TOKEN}', subject: ci }\n"
    )
    [finding] = findings(report, "GR-AUTH-010")
    assert finding.location.key == "backend.auth.externalAccess[0]"


def test_external_access_with_restrictions_passes(audit):
    report = audit(
        "backend:\n  auth:\n    externalAccess:\n      - type: static\n"
        "        options: { token: '${TOKEN}', subject: ci }\n"
        "        accessRestrictions:\n          - plugin: catalog\n"
    )
    assert "GR-AUTH-010" not in ids(report)
