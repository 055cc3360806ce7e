"""Config shapes the audit unwraps, with findings mapped back to the lines of the given file."""

from __future__ import annotations

import base64

from tests.posture.conftest import findings, ids

CONFIGMAP = """\
kind: ConfigMap
apiVersion: v1
metadata:
  name: app-config
data:
  app-config.yaml: |
    auth:
      environment: development
      providers:
        guest:
          dangerouslyAllowOutsideDevelopment: true
    backend:
      database:
        client: better-sqlite3
        connection: ':memory:'
  unrelated.txt: hello
"""


def test_configmap_is_unwrapped_with_original_lines(audit):
    report = audit(CONFIGMAP)
    [guest] = findings(report, "GR-AUTH-001")
    assert guest.location.line == 10
    assert guest.location.file.endswith("app-config-0.yaml")
    assert report.sources[0].endswith("(configmap: data['app-config.yaml'])")


def test_secret_with_base64_data(audit):
    inner = "auth:\n  providers:\n    guest: {}\n"
    text = (
        "kind: Secret\napiVersion: v1\nmetadata:\n  name: app-config\ndata:\n"
        f"  app-config.production.yaml: {base64.b64encode(inner.encode()).decode()}\n"
    )
    report = audit(text)
    [guest] = findings(report, "GR-AUTH-001")
    assert guest.location.line == 6  # the entry's key: base64 text has no lines of its own


def test_multi_document_configmaps(audit):
    second = (
        "kind: ConfigMap\napiVersion: v1\ndata:\n  app-config.extra.yaml: |\n    permission:\n      enabled: true\n"
    )
    text = CONFIGMAP + "---\n" + second
    report = audit(text)
    assert "GR-PERM-001" not in ids(report)  # merged with the second document
    assert len(report.sources) == 2


def test_helm_values_official_chart(audit):
    text = (
        "backstage:\n  image:\n    tag: latest\n  appConfig:\n    app:\n      baseUrl: https://x.example.com\n"
        "    backend:\n      baseUrl: http://portal.example.com\n      auth:\n        keys:\n"
        "          # comment at a lower indent\n"
        "          - secret: superSecretSecret\n"
        "postgresql:\n  enabled: true\n"
    )
    report = audit(text)
    assert findings(report, "GR-NET-002")[0].location.line == 8
    [weak] = findings(report, "GR-SEC-003")
    assert weak.location.line == 12
    assert weak.location.key == "backend.auth.keys[0].secret"


def test_rhdh_helm_values(audit):
    text = "upstream:\n  backstage:\n    appConfig:\n      auth:\n        providers:\n          guest: {}\n"
    assert findings(audit(text), "GR-AUTH-001")[0].location.line == 6


def test_legacy_secret_references(audit):
    report = audit(
        "auth:\n  providers:\n    github:\n      development:\n        clientId:\n          $secret:\n"
        "            env: GITHUB_CLIENT_ID\n        clientSecret: {$secret: {env: GITHUB_SECRET}}\n"
        "backend:\n  listen: ':7007'\n"
    )
    assert "GR-SEC-001" not in ids(report)
    assert findings(report, "GR-NET-001")[0].location.line == 10  # lines did not move
    assert any("legacy `$secret`" in p.message for p in report.problems)


def test_dollar_keys_that_are_data(audit):
    report = audit(
        "app:\n  extensions:\n    - entity-card:x:\n        config:\n          filter:\n"
        "            $not: { kind: { $in: [Group, User] } }\n"
        "auth:\n  providers:\n    guest: {}\n"
    )
    assert findings(report, "GR-AUTH-001")[0].location.line == 9


def test_relative_includes_of_a_rewritten_file(audit, write):
    write("guest:\n  dangerouslyAllowOutsideDevelopment: true\n", name="providers.yaml")
    # `$legacy` makes the audit read a rewritten copy; the include must still resolve next to the original.
    report = audit("app:\n  x:\n    $legacy: 1\nauth:\n  providers:\n    $include: providers.yaml\n")
    [guest] = findings(report, "GR-AUTH-001")
    assert guest.location.file.endswith("providers.yaml")
    assert guest.location.line == 1


def test_missing_files_are_unresolved_not_errors(audit):
    report = audit(
        "integrations:\n  github:\n    - host: github.com\n      apps:\n        - $include: missing.yaml\n"
        "backend:\n  database:\n    client: pg\n    connection:\n      host: db.example.com\n"
        "      ssl:\n        ca:\n          $file: /no/such/ca.pem\n"
    )
    assert "GR-DATA-002" not in ids(report)
    assert "GR-SEC-001" not in ids(report)
