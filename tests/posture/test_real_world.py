"""Every real-world app-config in ../shared/fixtures/real-world, audited, with the findings reviewed by hand.

Each row lists the findings (id and severity, with a count where a check fires more than once)
that a reviewer read against the file and agreed with. Files from one repository are also
merged in the order Backstage would load them. The comments say why, so a change in a check
shows up here as a reviewed diff rather than a silent drift.
"""

from __future__ import annotations

from collections import Counter

import pytest

from greenroom.posture import AuditOptions, Severity, audit_files
from tests.posture.conftest import APP_CONFIGS, TODAY

ZEROGIS_LOCAL = "0GiS0__backstage-demo__backstage__app-config-local.yaml"
ZEROGIS_PROD = "0GiS0__backstage-demo__backstage__app-config.production.yaml"
AXIS = "AxisCommunications__backstage-plugins__app-config.yaml"
BESTSELLER = "BESTSELLER__backstage_old__contrib__chart__backstage__values.yaml"
RBAC_DEMO = "PatAKnight__rbac-backend-demo__app-config.backstage.yaml"
TESTBED = "PatAKnight__rhdh-testbed__resources__rhdh__app-config-rhdh.yaml"
UFFIZZI = "backstage__backstage__.github__uffizzi__uffizzi.production.app-config.yaml"
BACKSTAGE = "backstage__backstage__app-config.yaml"
CHART = "backstage__charts__charts__backstage__ci__appConfig-values.yaml"
DEMO = "backstage__demo__app-config.yaml"
HEROKU = "backstage__demo__app-config.heroku.yaml"
DFDS = "dfds__backstage__app-config.production.yaml"
GIANT_EXAMPLE = "giantswarm__backstage__app-config.example.yaml"
GIANT = "giantswarm__backstage__app-config.yaml"
HMCTS = "hmcts__backstage-portal__app-config.production.yaml"
RHDH_LOCAL = "redhat-developer__rhdh-local__configs__app-config__app-config.yaml"
RHDH_RBAC = "redhat-developer__rhdh__.ci__pipelines__resources__config_map__app-config-rhdh-rbac.yaml"
RHDH_PROD = "redhat-developer__rhdh__app-config.production.yaml"

C, H, M, L = "critical", "high", "medium", "low"

# (files merged in order, audited as production?, expected {(id, severity): count})
TABLE: list[tuple[tuple[str, ...], bool, dict[tuple[str, str], int]]] = [
    # A local override alone: guest for development (low), placeholder client secret and PAT
    # (one grouped low), and what an overlay without backend/permission sections implies.
    ((ZEROGIS_LOCAL,), False, {("GR-AUTH-001", L): 1, ("GR-SEC-001", L): 1, ("GR-NET-001", L): 1,
                               ("GR-PERM-001", M): 1}),
    # Scaffolded production overlay: `guest: null` leaves no provider; no auth.environment;
    # pg from ${POSTGRES_*} without ssl (host unknown: medium); listen ':7007'; no permission block.
    ((ZEROGIS_PROD,), True, {("GR-AUTH-002", H): 1, ("GR-AUTH-008", M): 1, ("GR-DATA-002", M): 1,
                             ("GR-NET-001", L): 1, ("GR-PERM-001", H): 1}),
    # Merged: the production overlay's `guest: null` removes the local guest; GitHub remains.
    ((ZEROGIS_LOCAL, ZEROGIS_PROD), True, {("GR-AUTH-008", M): 1, ("GR-DATA-002", M): 1, ("GR-NET-001", L): 1,
                                           ("GR-PERM-001", H): 1, ("GR-SEC-001", L): 1}),
    # Plugin monorepo dev config: guest (low), Microsoft email resolver (unverified email claim),
    # connect-src http:/https:, no permission framework; in-memory SQLite is fine for development.
    ((AXIS,), False, {("GR-AUTH-001", L): 1, ("GR-AUTH-004", M): 1, ("GR-NET-001", L): 1, ("GR-NET-005", L): 1,
                      ("GR-PERM-001", M): 1}),
    # Old Helm values: appConfig has pg ssl.rejectUnauthorized false; the chart's top-level
    # `auth:` holds 15 one-letter/`fake-` placeholder secrets (grouped low); k8s Secret *names*
    # (existingSecret-style keys) are not secrets; legacy `$secret: {env}` references are read.
    ((BESTSELLER,), False, {("GR-DATA-002", M): 1, ("GR-NET-001", L): 1, ("GR-PERM-001", M): 1,
                            ("GR-SEC-001", L): 1}),
    # RBAC demo: permission on with an admin from ${PERMISSION_ADMIN} (not judged); Template
    # allowed globally with url locations.
    ((RBAC_DEMO,), False, {("GR-NET-001", L): 1, ("GR-SCAF-001", M): 1}),
    # ConfigMap-wrapped RHDH config: guest with dangerouslyAllowOutsideDevelopment (high),
    # Keycloak preferred_username resolver (high); redis credentials are ${} references.
    ((TESTBED,), False, {("GR-AUTH-001", H): 1, ("GR-AUTH-004", H): 1, ("GR-NET-001", L): 1, ("GR-PERM-001", M): 1,
                         ("GR-SCAF-001", M): 1}),
    # Uffizzi preview env (auth.environment production): the literal backend.auth.keys secret is
    # critical; `myproxy:` (null) and `production: {}` are no provider; rollbar/jenkins/azure
    # values are placeholders (grouped low); CORS to localhost:3000 in production (low).
    ((UFFIZZI,), True, {("GR-AUTH-002", H): 1, ("GR-DATA-002", M): 1, ("GR-DOCS-002", L): 1, ("GR-NET-001", L): 1,
                        ("GR-NET-004", L): 1, ("GR-NET-005", L): 1, ("GR-SEC-001", C): 1, ("GR-SEC-001", L): 1}),
    # Old upstream example: jenkins proxy to localhost without policy; six proxies inject
    # credentials without allowedMethods (sentry and ilert restrict methods); *.mozilla.org.
    ((BACKSTAGE,), False, {("GR-NET-001", L): 1, ("GR-NET-005", L): 1, ("GR-NET-006", L): 1, ("GR-NET-007", M): 1,
                           ("GR-NET-008", M): 6, ("GR-PERM-001", M): 1, ("GR-SCAF-001", M): 1,
                           ("GR-SEC-001", L): 1}),
    # Official chart CI values: literal backend.auth.keys secret (high: not a production file).
    ((CHART,), False, {("GR-NET-001", L): 1, ("GR-PERM-001", M): 1, ("GR-SEC-001", H): 1}),
    # demo.backstage.io production overlay alone: guest outside development, default auth policy
    # disabled, a legacy externalAccess key without restrictions (the static one is restricted).
    ((HEROKU,), True, {("GR-AUTH-001", C): 1, ("GR-AUTH-010", M): 1, ("GR-NET-001", L): 1, ("GR-PERM-001", H): 1,
                       ("GR-PERM-005", C): 1}),
    # Demo base: dynamic client registration and client ID metadata documents open to any URI.
    ((DEMO,), False, {("GR-AUTH-001", L): 1, ("GR-AUTH-009", M): 2, ("GR-NET-001", L): 1, ("GR-NET-005", L): 1,
                      ("GR-PERM-001", M): 1}),
    # Demo as deployed (base + heroku): the above, plus in-memory SQLite in production.
    ((DEMO, HEROKU), True, {("GR-AUTH-001", C): 1, ("GR-AUTH-009", H): 2, ("GR-AUTH-010", M): 1,
                            ("GR-DATA-001", H): 1, ("GR-NET-001", L): 1, ("GR-NET-004", L): 1, ("GR-NET-005", L): 1,
                            ("GR-PERM-001", H): 1, ("GR-PERM-005", C): 1}),
    # DFDS production: auth.environment development; jenkins proxy to localhost; credentialed
    # proxies without allowedMethods; CORS list keeps http://localhost:3000; pg TLS via ssl.ca.
    ((DFDS,), True, {("GR-AUTH-008", M): 1, ("GR-DOCS-002", L): 1, ("GR-NET-001", L): 1, ("GR-NET-004", L): 1,
                     ("GR-NET-005", L): 1, ("GR-NET-006", L): 1, ("GR-NET-007", M): 1, ("GR-NET-008", M): 6,
                     ("GR-PERM-001", H): 1, ("GR-SCAF-001", M): 1, ("GR-SEC-001", L): 1}),
    # Giant Swarm example overlay alone (custom provider id oidc-main, session secret from env).
    ((GIANT_EXAMPLE,), False, {("GR-NET-001", L): 1, ("GR-PERM-001", M): 1}),
    # Giant Swarm base: permission on; CSP script-src 'unsafe-eval'.
    ((GIANT,), False, {("GR-NET-001", L): 1, ("GR-NET-005", L): 1, ("GR-NET-005", M): 1, ("GR-SCAF-001", M): 1}),
    ((GIANT, GIANT_EXAMPLE), False, {("GR-NET-001", L): 1, ("GR-NET-005", L): 1, ("GR-NET-005", M): 1,
                                     ("GR-SCAF-001", M): 1}),
    # HMCTS production: email local-part resolver without allowedDomains; provider only under
    # `production` while auth.environment defaults to development (two AUTH-008s); TechDocs
    # generated locally; GitHub App credentials via a missing $include (unresolved, not an error).
    ((HMCTS,), True, {("GR-AUTH-004", H): 1, ("GR-AUTH-008", M): 2, ("GR-DATA-002", M): 1, ("GR-DOCS-001", H): 1,
                      ("GR-DOCS-002", L): 1, ("GR-NET-001", L): 1, ("GR-PERM-001", H): 1, ("GR-SCAF-001", M): 1}),
    # RHDH Local: guest outside development, an unrestricted static token, TechDocs built
    # locally and published to /tmp, CSP unsafe-eval and upgrade-insecure-requests off.
    ((RHDH_LOCAL,), False, {("GR-AUTH-001", H): 1, ("GR-AUTH-010", M): 1, ("GR-DOCS-001", M): 1,
                            ("GR-DOCS-002", M): 1, ("GR-NET-001", L): 1, ("GR-NET-005", L): 1,
                            ("GR-NET-005", M): 1, ("GR-PERM-001", M): 1, ("GR-SCAF-001", M): 1}),
    # RHDH CI RBAC config: literal guessable session secret (SEC-001 and SEC-003), `temp`
    # placeholders, proxy `secure: false`, guest outside development, local-part resolver.
    ((RHDH_RBAC,), False, {("GR-AUTH-001", H): 1, ("GR-AUTH-004", H): 1, ("GR-NET-001", L): 1, ("GR-NET-009", M): 1,
                           ("GR-SCAF-001", M): 1, ("GR-SEC-001", H): 1, ("GR-SEC-001", L): 1, ("GR-SEC-003", H): 1}),
    # RHDH production base: pg TLS through ssl.ca; the image adds providers and permissions
    # elsewhere, so on its own it has none. No critical: the closest to hardened in the set.
    ((RHDH_PROD,), True, {("GR-AUTH-002", H): 1, ("GR-NET-001", L): 1, ("GR-PERM-001", H): 1}),
    # Both RHDH files as one deployment: the CI file's problems become critical in production.
    ((RHDH_PROD, RHDH_RBAC), True, {("GR-AUTH-001", C): 1, ("GR-AUTH-004", H): 1, ("GR-AUTH-008", M): 1,
                                    ("GR-NET-001", L): 1, ("GR-NET-009", H): 1, ("GR-SCAF-001", M): 1,
                                    ("GR-SEC-001", C): 1, ("GR-SEC-001", L): 1, ("GR-SEC-003", C): 1}),
]


def _case_id(case: tuple[tuple[str, ...], bool, dict[tuple[str, str], int]]) -> str:
    return "+".join(name.split("__")[1] + ":" + name.rsplit("__", 1)[-1][:24] for name in case[0])


@pytest.mark.parametrize("case", TABLE, ids=_case_id)
def test_reviewed_findings(case):
    files, production, expected = case
    report = audit_files([APP_CONFIGS / f for f in files], AuditOptions(today=TODAY))
    assert report.flavor == "backstage"
    assert report.production is production, report.production_reason
    actual = Counter((f.id, f.severity.value) for f in report.findings)
    assert dict(actual) == expected
    for finding in report.findings:
        assert finding.location.file, finding
        assert finding.location.line, finding
        assert any(finding.location.file.endswith(f) for f in files), finding.location


def test_every_fixture_is_in_the_table():
    covered = {name for files, _, _ in TABLE for name in files}
    assert covered == {p.name for p in APP_CONFIGS.iterdir()}


def test_no_critical_without_a_reason_to_be():
    """Criticals only where a reviewer agreed: literal secrets, guest or open auth in production."""
    allowed = {"GR-AUTH-001", "GR-PERM-005", "GR-SEC-001", "GR-SEC-003"}
    for files, production, expected in TABLE:
        criticals = {check for (check, severity) in expected if severity == Severity.CRITICAL.value}
        assert criticals <= allowed
        if criticals:
            assert production, files
