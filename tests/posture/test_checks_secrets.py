"""Secret checks. Token-shaped test values are generated at run time, never committed."""

from __future__ import annotations

import json
import secrets
import string

import pytest

from greenroom.posture import Severity
from greenroom.posture.render import render_json, render_sarif, render_text
from tests.posture.conftest import findings, ids

ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    """Random text using every character class the alphabet has (so it looks like a real token)."""
    classes = [c for c in (str.isdigit, str.isupper, str.islower) if any(c(ch) for ch in alphabet)]
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(n))
        if all(any(test(ch) for ch in value) for test in classes):
            return value


def all_text(report) -> str:
    return render_json(report) + render_sarif(report) + render_text(report)


# -- GR-SEC-001 literal secrets ---------------------------------------------------------------------


def test_literal_client_secret(audit):
    secret = rand(32)
    report = audit(
        f"auth:\n  providers:\n    github:\n      development:\n        clientId: abc\n        clientSecret: {secret}\n"
    )
    [finding] = findings(report, "GR-SEC-001")
    assert finding.severity is Severity.HIGH
    assert finding.location.line == 6
    assert finding.evidence == "clientSecret: [REDACTED 32 chars]"
    assert secret not in all_text(report)


def test_literal_secrets_are_critical_in_production(audit):
    report = audit(f"backend:\n  database:\n    connection:\n      password: {rand(20)}\n", production=True)
    assert findings(report, "GR-SEC-001")[0].severity is Severity.CRITICAL


@pytest.mark.parametrize(
    "value",
    ["${DB_PASSWORD}", "\n        $env: DB_PASSWORD", "\n        $file: /run/secrets/db", "prefix-${DB_PASSWORD}"],
)
def test_references_are_not_literals(audit, value):
    report = audit(f"backend:\n  database:\n    connection:\n      password: {value}\n")
    assert "GR-SEC-001" not in ids(report)


def test_vault_reference_is_not_a_literal(audit):
    report = audit("backend:\n  database:\n    connection:\n      password:\n        $vault: { path: db, key: pw }\n")
    assert "GR-SEC-001" not in ids(report)


def test_fallback_default_is_a_literal(audit):
    report = audit("auth:\n  session:\n    secret: ${SESSION_SECRET:-Zq8rT2vLx9Pw4KmN7sYb}\n")
    [finding] = findings(report, "GR-SEC-001")
    assert "fallback" in finding.message


def test_later_literal_replaces_an_earlier_reference(audit):
    report = audit(
        "backend:\n  database:\n    connection:\n      password: ${DB_PASSWORD}\n",
        f"backend:\n  database:\n    connection:\n      password: {rand(24)}\n",
    )
    [finding] = findings(report, "GR-SEC-001")
    assert finding.location.file.endswith("app-config-1.yaml")


def test_credentials_in_a_url(audit):
    password = rand(16)
    report = audit(f"backend:\n  cache:\n    connection: redis://cache:{password}@redis.internal:6379\n")
    [finding] = findings(report, "GR-SEC-001")
    assert finding.location.key == "backend.cache.connection"
    assert password not in all_text(report)


def test_url_with_referenced_credentials_passes(audit):
    report = audit("backend:\n  cache:\n    connection: redis://${REDIS_USER}:${REDIS_PASSWORD}@redis:6379\n")
    assert "GR-SEC-001" not in ids(report)


def test_placeholders_are_grouped_and_low(audit):
    report = audit(
        "auth:\n  providers:\n    github:\n      development:\n        clientSecret: <YOUR_SECRET>\n"
        "integrations:\n  github:\n    - host: github.com\n      token: github_pat_XXXX\n"
    )
    [finding] = findings(report, "GR-SEC-001")
    assert finding.severity is Severity.LOW
    assert "2 placeholder" in finding.evidence


@pytest.mark.parametrize(
    "snippet",
    [
        "proxy:\n  endpoints:\n    /q:\n      target: https://quay.io\n      credentials: require\n",
        "auth:\n  providers:\n    saml:\n      cert: MIICizCCAfQCCQCY8tKaMc0BMjANBgkqhkiG9w0BAQsFADCBiT\n",
        "auth:\n  providers:\n    oidc:\n      production:\n        tokenSignedResponseAlg: RS256\n",
        "scaffolder:\n  secretsKey: USER_OAUTH_TOKEN\n",
    ],
)
def test_secret_sounding_settings_are_not_secrets(audit, snippet):
    assert "GR-SEC-001" not in ids(audit(snippet))


def test_helm_values_outside_the_app_config(audit):
    secret = rand(28)
    report = audit(
        "postgresql:\n  existingSecret: backstage-postgresql\n  tls:\n    certificatesSecret: backstage-certs\n"
        f"auth:\n  github:\n    clientSecret: {secret}\n"
        "appConfig:\n  app:\n    title: x\n"
    )
    [finding] = [f for f in findings(report, "GR-SEC-001") if f.severity is not Severity.LOW]
    assert finding.location.key == "auth.github.clientSecret"
    assert finding.location.line == 7
    assert secret not in all_text(report)


# -- GR-SEC-002 known formats --------------------------------------------------------------------


def test_known_token_formats_anywhere_in_the_file(audit):
    github = "ghp_" + rand(36)
    aws = "AKIA" + rand(16, string.ascii_uppercase + string.digits)
    slack = "xoxb-" + rand(12, string.digits) + "-" + rand(24)
    gitlab = "glpat-" + rand(20)
    report = audit(
        "app:\n  title: x\n"
        f"# old token: {github}\n"
        f"integrations:\n  gitlab:\n    - host: gitlab.com\n      token: {gitlab}\n"
        f"techdocs:\n  publisher:\n    awsS3:\n      accessKeyId: {aws}\n"
        f"notifications:\n  slack: {slack}\n"
        "  key: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    abc\n    -----END OPENSSH PRIVATE KEY-----\n"
    )
    found = findings(report, "GR-SEC-002")
    kinds = {f.message for f in found}
    assert kinds == {
        "a GitHub personal access token is written in the file",
        "a GitLab token is written in the file",
        "a AWS access key id is written in the file",
        "a Slack token is written in the file",
        "a private key is written in the file",
    }
    assert all(f.severity is Severity.CRITICAL for f in found)
    assert next(f for f in found if "GitHub" in f.message).location.line == 3
    text = all_text(report)
    for token in (github, aws, slack, gitlab):
        assert token not in text


def test_example_tokens_are_not_reported(audit):
    report = audit(
        "integrations:\n  github:\n    - token: github_pat_XXXX\n"
        "aws:\n  accessKeyId: AKIAIOSFODNN7EXAMPLE\n  other: ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
    )
    assert "GR-SEC-002" not in ids(report)


# -- GR-SEC-003 guessable portal credentials ------------------------------------------------------


def test_short_static_token(audit):
    report = audit(
        "backend:\n  auth:\n    externalAccess:\n      - type: static\n"
        "        options:\n          token: abc123abc123\n          subject: ci\n",
        production=True,
    )
    [finding] = findings(report, "GR-SEC-003")
    assert finding.severity is Severity.CRITICAL
    assert finding.location.key == "backend.auth.externalAccess[0].options.token"


def test_dictionary_session_secret(audit):
    report = audit("auth:\n  session:\n    secret: superSecretSecret\n")
    assert "common word" in findings(report, "GR-SEC-003")[0].message


def test_strong_or_referenced_portal_credentials_pass(audit):
    report = audit(
        f"backend:\n  auth:\n    keys:\n      - secret: {rand(48)}\n"
        "auth:\n  session:\n    secret: ${AUTH_SESSION_SECRET}\n"
    )
    assert "GR-SEC-003" not in ids(report)


# -- GR-SEC-004 high entropy ------------------------------------------------------------------------


def test_random_value_under_an_ordinary_key(audit):
    value = rand(40, ALNUM + "+/")
    report = audit(
        f"proxy:\n  endpoints:\n    /nr:\n      target: https://api.newrelic.com\n"
        f"      headers:\n        X-License: {value}\n"
    )
    [finding] = findings(report, "GR-SEC-004")
    assert finding.location.key == "proxy.endpoints./nr.headers.X-License"
    assert value not in all_text(report)


def test_ids_hashes_and_urls_are_not_secrets(audit):
    report = audit(
        "plugins:\n  allow:\n    - id: hello\n      sha256: " + "ab12" * 16 + "\n"
        "app:\n  analytics:\n    trackingId: 8c1e4b6f-4e2a-4c4b-9a7d-2f9e0b1c3d5e\n"
        "kubernetes:\n  url: https://B182759F93D251942CB146063F57036B.yl4.eu-west-1.eks.amazonaws.com\n"
    )
    assert "GR-SEC-004" not in ids(report)


def test_jenkins_style_sequential_key_is_a_placeholder(audit):
    report = audit("jenkins:\n  instances:\n    - name: default\n      apiKey: 123456789abcdef0123456789abcedf012\n")
    assert findings(report, "GR-SEC-001")[0].severity is Severity.LOW
    assert json.loads(render_json(report))["summary"]["low"] >= 1
