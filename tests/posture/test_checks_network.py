"""Network checks, positive and negative."""

from __future__ import annotations

import pytest

from greenroom.posture import Severity
from tests.posture.conftest import findings, ids

# -- GR-NET-001 listen --------------------------------------------------------------------------


@pytest.mark.parametrize("listen", ["':7007'", "{ port: 7007 }", "{ host: 0.0.0.0, port: 7007 }", "{ host: '::' }"])
def test_backstage_listening_on_all_interfaces(audit, listen):
    report = audit(f"backend:\n  listen: {listen}\n")
    [finding] = findings(report, "GR-NET-001")
    assert finding.severity is Severity.LOW
    assert finding.location.line == 2


@pytest.mark.parametrize("listen", ["{ host: 127.0.0.1, port: 7007 }", "'127.0.0.1:7007'", "{ host: 10.0.0.5 }"])
def test_one_interface_passes(audit, listen):
    assert "GR-NET-001" not in ids(audit(f"backend:\n  listen: {listen}\n"))


def test_listen_host_from_environment_is_unknown(audit):
    assert "GR-NET-001" not in ids(audit("backend:\n  listen:\n    host: ${HOST}\n"))


# -- GR-NET-002 http base URL ---------------------------------------------------------------------


def test_http_base_url_for_a_remote_host(audit):
    report = audit("app:\n  baseUrl: http://portal.example.com\nbackend:\n  baseUrl: http://portal.example.com\n",
                   production=True)
    found = findings(report, "GR-NET-002")
    assert {f.location.key for f in found} == {"app.baseUrl", "backend.baseUrl"}
    assert {f.severity for f in found} == {Severity.HIGH}


@pytest.mark.parametrize("url", ["http://localhost:3000", "http://127.0.0.1:7007", "https://portal.example.com",
                                 "${BASE_URL}"])
def test_local_or_https_base_urls_pass(audit, url):
    assert "GR-NET-002" not in ids(audit(f"backend:\n  baseUrl: {url}\n"))


# -- GR-NET-003 / 004 CORS ----------------------------------------------------------------------------


def test_cors_wildcard_with_credentials(audit):
    report = audit("backend:\n  cors:\n    origin: '*'\n    credentials: true\n", production=True)
    [finding] = findings(report, "GR-NET-003")
    assert finding.severity is Severity.CRITICAL


def test_cors_wildcard_without_credentials_is_low(audit):
    report = audit("backend:\n  cors:\n    origin: ['*']\n")
    assert findings(report, "GR-NET-003")[0].severity is Severity.LOW


def test_cors_named_origin_passes(audit):
    named = "backend:\n  cors:\n    origin: https://portal.example.com\n    credentials: true\n"
    assert "GR-NET-003" not in ids(audit(named))


def test_cors_insecure_origins_in_production(audit):
    report = audit("backend:\n  cors:\n    origin: [https://a.example.com, http://b.example.com, http://localhost:3000]\n",
                   production=True)
    severities = sorted(f.severity.value for f in findings(report, "GR-NET-004"))
    assert severities == ["low", "medium"]


def test_cors_insecure_origins_are_fine_in_development(audit):
    assert "GR-NET-004" not in ids(audit("backend:\n  cors:\n    origin: http://localhost:3000\n"))


# -- GR-NET-005 CSP --------------------------------------------------------------------------------


def test_csp_loosened(audit):
    report = audit(
        "backend:\n  csp:\n    script-src: [\"'self'\", \"'unsafe-inline'\", \"'unsafe-eval'\"]\n"
        "    connect-src: [\"'self'\", 'http:', 'https:']\n    upgrade-insecure-requests: false\n"
        "    default-src: false\n"
    )
    found = {(f.location.key.rsplit(".", 1)[-1], f.severity.value) for f in findings(report, "GR-NET-005")}
    assert found == {
        ("script-src", "high"),
        ("script-src", "medium"),
        ("connect-src", "low"),
        ("upgrade-insecure-requests", "low"),
        ("default-src", "medium"),
    }


def test_strict_csp_passes(audit):
    report = audit("backend:\n  csp:\n    script-src: [\"'self'\"]\n    connect-src: [\"'self'\", 'https://api.github.com']\n")
    assert "GR-NET-005" not in ids(report)


# -- GR-NET-006 reading allow-list ------------------------------------------------------------------


def test_reading_allow_wildcards_and_internal_hosts(audit):
    report = audit(
        "backend:\n  reading:\n    allow:\n      - host: '*'\n      - host: '*.com'\n      - host: '*.mozilla.org'\n"
        "      - host: 169.254.169.254\n      - host: gitlab.internal\n      - host: localhost:8080\n"
        "      - host: github.com\n        dangerouslyAllowPrivateAddresses: true\n"
    )
    found = {(f.location.key, f.severity.value) for f in findings(report, "GR-NET-006")}
    assert found == {
        ("backend.reading.allow[0].host", "high"),
        ("backend.reading.allow[1].host", "high"),
        ("backend.reading.allow[2].host", "low"),
        ("backend.reading.allow[3].host", "high"),
        ("backend.reading.allow[4].host", "high"),
        ("backend.reading.allow[5].host", "high"),
        ("backend.reading.allow[6].dangerouslyAllowPrivateAddresses", "high"),
    }


def test_reading_allow_public_hosts_pass(audit):
    report = audit(
        "backend:\n  reading:\n    allow:\n      - host: raw.githubusercontent.com\n        paths: [/org/]\n"
    )
    assert "GR-NET-006" not in ids(report)


# -- GR-NET-007 / 008 / 010 proxy ----------------------------------------------------------------------


def test_proxy_to_internal_host_without_policy(audit):
    report = audit("proxy:\n  '/jenkins/api':\n    target: http://jenkins.internal:8080\n")
    [finding] = findings(report, "GR-NET-007")
    assert finding.location.key == "proxy./jenkins/api.target"


def test_proxy_to_internal_host_with_policy_passes(audit):
    report = audit(
        "proxy:\n  endpoints:\n    /jenkins/api:\n      target: http://10.0.0.8:8080\n"
        "      credentials: require\n      allowedHeaders: [Accept]\n"
    )
    assert "GR-NET-007" not in ids(report)


def test_proxy_lending_credentials_for_any_method(audit):
    report = audit("proxy:\n  endpoints:\n    /circleci/api:\n      target: https://circleci.com/api\n"
                   "      headers:\n        Circle-Token: ${CIRCLECI_TOKEN}\n")
    assert findings(report, "GR-NET-008")[0].location.key == "proxy.endpoints./circleci/api.headers"


def test_proxy_credentials_read_only_pass(audit):
    report = audit("proxy:\n  endpoints:\n    /sentry:\n      target: https://sentry.io/api/\n"
                   "      allowedMethods: [GET]\n      headers:\n        Authorization: ${SENTRY_TOKEN}\n")
    assert "GR-NET-008" not in ids(report)


def test_unauthenticated_proxy(audit):
    report = audit("proxy:\n  endpoints:\n    /quay:\n      target: https://quay.io\n"
                   "      credentials: dangerously-allow-unauthenticated\n")
    assert "GR-NET-010" in ids(report)
    assert "GR-NET-010" not in ids(audit("proxy:\n  endpoints:\n    /quay:\n      target: https://quay.io\n"))


# -- GR-NET-009 TLS verification ---------------------------------------------------------------------


def test_tls_verification_disabled(audit):
    report = audit(
        "proxy:\n  endpoints:\n    /hub:\n      target: https://hub.example.com\n      secure: false\n"
        "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n"
        "        - url: https://k8s.example.com\n          skipTLSVerify: true\n"
        "integrations:\n  gitlab:\n    - host: gitlab.example.com\n      tls:\n        rejectUnauthorized: false\n",
        production=True,
    )
    keys = {f.location.key for f in findings(report, "GR-NET-009")}
    assert keys == {
        "proxy.endpoints./hub.secure",
        "kubernetes.clusterLocatorMethods[0].clusters[0].skipTLSVerify",
        "integrations.gitlab[0].tls.rejectUnauthorized",
    }
    assert {f.severity for f in findings(report, "GR-NET-009")} == {Severity.HIGH}


def test_tls_verification_on_passes(audit):
    report = audit("proxy:\n  endpoints:\n    /hub:\n      target: https://hub.example.com\n      secure: true\n"
                   "kubernetes:\n  clusters:\n    - skipTLSVerify: false\n")
    assert "GR-NET-009" not in ids(report)
