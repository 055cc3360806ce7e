"""greenroom-only checks, positive and negative."""

from __future__ import annotations

import hashlib
from pathlib import Path

from greenroom.posture import Severity
from tests.posture.conftest import findings, ids

GREENROOM = "plugins:\n  allow: []\n"


def fake_site(root: Path, plugins: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A site-packages with one distribution per plugin id; returns it and each RECORD's sha256."""
    site = root / "site-packages"
    pins = {}
    for plugin_id, dist in plugins.items():
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[greenroom.plugins]\n{plugin_id} = {dist.replace('-', '_')}:plugin\n")
        record = f"{info.name}/METADATA,,\n{info.name}/RECORD,,\n".encode()
        (info / "RECORD").write_bytes(record)
        pins[plugin_id] = hashlib.sha256(record).hexdigest()
    return site, pins


# -- GR-CORE-001 pins -----------------------------------------------------------------------------


def test_unpinned_third_party_plugin(audit):
    report = audit("app:\n  production: true\nplugins:\n  allow:\n    - hello\n    - id: other\n    - catalog\n")
    found = findings(report, "GR-CORE-001")
    assert [f.location.key for f in found] == ["plugins.allow[0]", "plugins.allow[1]"]
    assert {f.severity for f in found} == {Severity.HIGH}


def test_pinned_plugins_and_builtins_pass(audit):
    report = audit("plugins:\n  allow:\n    - catalog\n    - id: hello\n      sha256: " + "a" * 64 + "\n")
    assert "GR-CORE-001" not in ids(report)


def test_plugin_pins_are_not_checked_for_backstage(audit):
    assert "GR-CORE-001" not in ids(audit("permission:\n  enabled: true\n", flavor="backstage"))


# -- GR-CORE-002 installed plugins ---------------------------------------------------------------------


def test_installed_plugins_against_allow_list(audit, tmp_path):
    site, pins = fake_site(tmp_path, {"fancy": "fancy-plugin", "pinned": "pinned-plugin", "stale": "stale-plugin"})
    config = (
        "plugins:\n  allow:\n"
        f"    - id: pinned\n      sha256: {pins['pinned']}\n"
        f"    - id: stale\n      sha256: {'f' * 64}\n"
    )
    report = audit(config, packages=site)
    found = {(f.message.split("'")[1], f.severity.value) for f in findings(report, "GR-CORE-002")}
    assert found == {("fancy", "low"), ("stale", "high")}


def test_allowed_and_disabled_plugins_pass(audit, tmp_path):
    site, pins = fake_site(tmp_path, {"fancy": "fancy-plugin", "off": "off-plugin"})
    config = f"plugins:\n  allow:\n    - id: fancy\n      sha256: {pins['fancy']}\n  disabled: [off]\n"
    assert "GR-CORE-002" not in ids(audit(config, packages=site))


# -- GR-CORE-003 / 004 audit trail ---------------------------------------------------------------------


def test_audit_trail_off(audit):
    report = audit("app:\n  production: true\naudit:\n  enabled: false\n")
    assert findings(report, "GR-CORE-003")[0].severity is Severity.HIGH
    assert "GR-CORE-004" not in ids(report)


def test_audit_trail_not_chained(audit):
    report = audit("audit:\n  enabled: true\n  hashChain: false\n")
    assert "GR-CORE-004" in ids(report)
    assert "GR-CORE-003" not in ids(report)


def test_audit_trail_default_passes(audit):
    assert {"GR-CORE-003", "GR-CORE-004"}.isdisjoint(ids(audit(GREENROOM)))


# -- GR-CORE-005 lockout ----------------------------------------------------------------------------


def test_lockout_off_or_lax(audit):
    assert findings(audit("auth:\n  lockout:\n    enabled: false\n"), "GR-CORE-005")[0].severity is Severity.MEDIUM
    assert findings(audit("auth:\n  lockout:\n    maxAttempts: 100\n"), "GR-CORE-005")[0].severity is Severity.LOW


def test_lockout_default_or_strict_passes(audit):
    assert "GR-CORE-005" not in ids(audit(GREENROOM))
    assert "GR-CORE-005" not in ids(audit("auth:\n  lockout:\n    enabled: true\n    maxAttempts: 10\n"))


# -- GR-CORE-006 production mode -------------------------------------------------------------------------


def test_non_loopback_without_production(audit):
    report = audit(GREENROOM + "backend:\n  listen:\n    host: 0.0.0.0\n    port: 7007\n")
    [finding] = findings(report, "GR-CORE-006")
    assert finding.severity is Severity.HIGH
    assert finding.location.line == 4
    assert "GR-NET-001" not in ids(report)


def test_loopback_or_production_passes(audit):
    assert "GR-CORE-006" not in ids(audit(GREENROOM))
    report = audit("app:\n  production: true\nbackend:\n  listen:\n    host: 0.0.0.0\n")
    assert "GR-CORE-006" not in ids(report)
    assert findings(report, "GR-NET-001")[0].severity is Severity.LOW


# -- GR-CORE-007 secret store TLS ------------------------------------------------------------------------


def test_vault_over_http(audit):
    report = audit("secrets:\n  vault:\n    address: http://vault.example.com:8200\n")
    assert findings(report, "GR-CORE-007")[0].location.key == "secrets.vault.address"


def test_vault_over_https_or_loopback_passes(audit):
    assert "GR-CORE-007" not in ids(audit("secrets:\n  vault:\n    address: https://vault.example.com:8200\n"))
    assert "GR-CORE-007" not in ids(audit("secrets:\n  vault:\n    address: http://127.0.0.1:8200\n"))


# -- GR-CORE-008 / 009 / 010 audit copies, retention, forwarding ----------------------------------------


def test_audit_trail_neither_forwarded_nor_signed(audit):
    report = audit("app:\n  production: true\n" + GREENROOM)
    assert findings(report, "GR-CORE-008")[0].severity is Severity.MEDIUM
    assert findings(audit(GREENROOM), "GR-CORE-008")[0].severity is Severity.LOW
    assert "GR-CORE-008" not in ids(audit("audit:\n  signing:\n    key: ${AUDIT_KEY}\n"))
    assert "GR-CORE-008" not in ids(audit("audit:\n  forwarding:\n    syslog:\n      host: 127.0.0.1\n"))
    assert "GR-CORE-008" not in ids(audit("audit:\n  enabled: false\n"))  # GR-CORE-003 says it


def test_audit_retention_deleting_unexported_events(audit):
    report = audit("audit:\n  retention:\n    days: 30\n    dangerouslyDeleteUnexported: true\n")
    assert findings(report, "GR-CORE-009")[0].severity is Severity.HIGH
    assert "GR-CORE-009" not in ids(audit("audit:\n  retention:\n    days: 30\n"))


def test_audit_forwarding_in_plain_text(audit):
    report = audit("audit:\n  forwarding:\n    webhook:\n      url: http://siem.example.com/hook\n"
                   "    syslog:\n      host: 10.1.2.3\n      protocol: tcp\n")
    found = {(f.location.key, f.severity) for f in findings(report, "GR-CORE-010")}
    assert found == {("audit.forwarding.webhook.url", Severity.MEDIUM), ("audit.forwarding.syslog.host", Severity.LOW)}
    local = audit("audit:\n  forwarding:\n    webhook:\n      url: http://127.0.0.1:9000/hook\n"
                  "    syslog:\n      host: 127.0.0.1\n")
    assert "GR-CORE-010" not in ids(local)
    assert "GR-CORE-010" not in ids(audit("audit:\n  forwarding:\n    webhook:\n      url: https://siem.example.com/\n"))


# -- GR-CORE-011 security plugins switched off -------------------------------------------------------------


def test_rbac_or_audit_plugin_switched_off(audit):
    report = audit("plugins:\n  allow: []\n  disabled: [ui, permission, audit]\n")
    found = findings(report, "GR-CORE-011")
    assert [f.location.key for f in found] == ["plugins.disabled[1]", "plugins.disabled[2]"]
    assert {f.severity for f in found} == {Severity.HIGH}


def test_other_disabled_plugins_pass(audit):
    assert "GR-CORE-011" not in ids(audit("plugins:\n  allow: []\n  disabled: [ui]\n"))
    assert "GR-CORE-011" not in ids(audit(GREENROOM))
