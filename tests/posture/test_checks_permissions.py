"""Permission checks, positive and negative."""

from __future__ import annotations

import json

from greenroom.posture import Severity
from tests.posture.conftest import findings, ids

RBAC = """
permission:
  enabled: true
  rbac:
    policies-csv-file: ./rbac-policy.csv
    admin:
      users:
        - name: group:default/platform-admins
"""


# -- GR-PERM-001 ----------------------------------------------------------------------------------


def test_permission_framework_absent(audit):
    report = audit("app:\n  title: x\n")
    [finding] = findings(report, "GR-PERM-001")
    assert finding.severity is Severity.MEDIUM
    assert finding.evidence == "permission.enabled not set"


def test_permission_framework_off_in_production_is_high(audit):
    report = audit("permission:\n  enabled: false\n", production=True)
    [finding] = findings(report, "GR-PERM-001")
    assert finding.severity is Severity.HIGH
    assert finding.location.line == 2


def test_permission_framework_on(audit):
    assert "GR-PERM-001" not in ids(audit("permission:\n  enabled: true\n"))


def test_permission_enabled_from_environment_is_unknown_not_off(audit):
    assert "GR-PERM-001" not in ids(audit("permission:\n  enabled: ${PERMISSIONS_ON}\n"))


def test_greenroom_explicit_false_is_reported(audit):
    report = audit("plugins:\n  allow: []\npermission:\n  enabled: false\n")
    assert report.flavor == "greenroom"
    assert findings(report, "GR-PERM-001")[0].severity is Severity.MEDIUM
    assert "GR-PERM-001" not in ids(audit("plugins:\n  allow: []\n"))


# -- GR-PERM-002 ----------------------------------------------------------------------------------


def _backend(tmp_path, deps, index_ts=""):
    backend = tmp_path / "packages" / "backend"
    (backend / "src").mkdir(parents=True)
    (backend / "package.json").write_text(json.dumps({"name": "backend", "dependencies": deps}, indent=2))
    (backend / "src" / "index.ts").write_text(index_ts)
    return backend


def test_allow_all_policy_in_dependencies_and_backend(audit, tmp_path):
    backend = _backend(
        tmp_path,
        {"@backstage/plugin-permission-backend-module-allow-all-policy": "^0.2.0"},
        "backend.add(import('@backstage/plugin-permission-backend-module-allow-all-policy'));\n",
    )
    report = audit("permission:\n  enabled: true\n", packages=backend, production=True)
    found = findings(report, "GR-PERM-002")
    assert len(found) == 2
    assert all(f.severity is Severity.CRITICAL for f in found)
    assert {f.location.file.rsplit("/", 1)[-1] for f in found} == {"package.json", "index.ts"}
    assert next(f for f in found if f.location.file.endswith("index.ts")).location.line == 1


def test_real_policy_passes(audit, tmp_path):
    backend = _backend(tmp_path, {"@backstage-community/plugin-rbac-backend": "7.2.0"})
    assert "GR-PERM-002" not in ids(audit("permission:\n  enabled: true\n", packages=backend))


def test_allow_all_check_is_skipped_without_packages(audit):
    report = audit("permission:\n  enabled: true\n")
    assert "GR-PERM-002" in {s.check_id for s in report.skipped}


# -- GR-PERM-003 / 004 ------------------------------------------------------------------------


def test_rbac_without_admin(audit):
    report = audit("permission:\n  enabled: true\n  rbac:\n    policies-csv-file: ./p.csv\n")
    assert "GR-PERM-003" in ids(report)


def test_rbac_with_admin_passes(audit):
    assert {"GR-PERM-003", "GR-PERM-004"}.isdisjoint(ids(audit(RBAC)))


def test_super_users(audit):
    report = audit(RBAC + "      superUsers:\n        - name: user:default/alice\n        - name: group:default/devs\n")
    found = findings(report, "GR-PERM-004")
    assert [f.severity for f in found] == [Severity.HIGH, Severity.MEDIUM]


def test_guest_admin(audit):
    report = audit(RBAC + "        - name: user:development/guest\n")
    [finding] = findings(report, "GR-PERM-004")
    assert finding.location.key == "permission.rbac.admin.users[1]"


# -- GR-PERM-005 ----------------------------------------------------------------------------------


def test_default_auth_policy_disabled(audit):
    report = audit("backend:\n  auth:\n    dangerouslyDisableDefaultAuthPolicy: true\n", production=True)
    [finding] = findings(report, "GR-PERM-005")
    assert finding.severity is Severity.CRITICAL
    assert finding.location.line == 3


def test_default_auth_policy_kept(audit):
    assert "GR-PERM-005" not in ids(audit("backend:\n  auth:\n    dangerouslyDisableDefaultAuthPolicy: false\n"))
