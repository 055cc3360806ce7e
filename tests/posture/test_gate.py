"""The start-up gate in create_portal, GET /api/posture, zero-config and the production example."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from greenroom.app import create_portal
from greenroom.config import load_app_config, load_config
from greenroom.config.defaults import base_defaults
from greenroom.config.schema import validate_core
from greenroom.errors import ConfigError
from greenroom.posture import AuditOptions, Severity, audit_config, audit_files
from tests.conftest import deep_merge

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "app-config.production.yaml"
TOKEN = "posture-test-token-4f8a1c9e2b7d"
RESTRICTED = "posture-restricted-token-9c1e7a"


def hardened(tmp_path: Path) -> dict[str, Any]:
    return {
        "app": {"baseUrl": "https://portal.example.com"},
        "backend": {
            "baseUrl": "https://portal.example.com",
            "database": {"client": "better-sqlite3", "connection": str(tmp_path / "g.sqlite")},
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": "${POSTURE_TOKEN}", "subject": "ops"},
                     "accessRestrictions": [{"plugin": "posture"}]},
                    {"type": "static", "options": {"token": "${RESTRICTED_TOKEN}", "subject": "ci"},
                     "accessRestrictions": [{"plugin": "catalog"}]},
                ]
            },
        },
        "auth": {
            "environment": "production",
            "requireMfa": True,
            "providers": {"oidc": {"production": {
                "metadataUrl": "https://idp.example.com/.well-known/openid-configuration",
                "clientId": "${OIDC_CLIENT_ID}",
                "clientSecret": "${OIDC_CLIENT_SECRET}",
            }}},
        },
        "catalog": {"processingInterval": False, "locations": []},
    }


def build(tmp_path: Path, config: dict[str, Any], **kwargs: Any):
    file = tmp_path / "app-config.yaml"
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {"POSTURE_TOKEN": TOKEN, "RESTRICTED_TOKEN": RESTRICTED, "OIDC_CLIENT_ID": "portal",
           "OIDC_CLIENT_SECRET": "a-client-secret-from-the-environment"}
    loaded = load_config([file], defaults=base_defaults(), env=env)
    return create_portal(loaded, **kwargs)


OPEN = {"backend": {"auth": {"dangerouslyDisableDefaultAuthPolicy": True}}}


def test_production_start_refuses_critical_findings(tmp_path):
    config = deep_merge(hardened(tmp_path), OPEN)
    with pytest.raises(ConfigError) as caught:
        build(tmp_path, config, production=True)
    message = caught.value.message
    assert "refusing to start in production" in message
    assert "GR-PERM-005" in message
    assert "app-config.yaml:" in message
    assert not (tmp_path / "g.sqlite").exists()  # refused before opening the database


def test_production_start_with_a_literal_secret_is_refused(tmp_path):
    config = deep_merge(hardened(tmp_path), {"auth": {"session": {"secret": "Zq8rT2vLx9Pw4KmN7sYbQ1"}}})
    with pytest.raises(ConfigError, match="GR-SEC-001"):
        build(tmp_path, config, production=True)


def test_production_start_with_only_lesser_findings_logs_them(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="greenroom.posture")
    portal = build(tmp_path, hardened(tmp_path), production=True)
    try:
        assert portal.production
        logged = {getattr(r, "check", None) for r in caplog.records if r.name == "greenroom.posture"}
        assert "GR-DATA-001" in logged  # SQLite in production: low, logged, not fatal
    finally:
        portal.database.dispose()


def test_critical_findings_outside_production_are_logged_not_fatal(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="greenroom.posture")
    portal = build(tmp_path, deep_merge(hardened(tmp_path), OPEN))
    try:
        records = [r for r in caplog.records if getattr(r, "check", None) == "GR-PERM-005"]
        assert records
        assert records[0].levelno == logging.WARNING
    finally:
        portal.database.dispose()


def test_suppression_file_lets_a_reviewed_critical_through(tmp_path):
    suppressions = tmp_path / "suppressions.yaml"
    suppressions.write_text(
        "suppressions:\n  - id: GR-PERM-005\n    reason: Read-only public demo, reviewed by the security team.\n"
        "    expires: 2999-12-31\n"
    )
    config = deep_merge(deep_merge(hardened(tmp_path), OPEN), {"posture": {"suppressionsFile": str(suppressions)}})
    portal = build(tmp_path, config, production=True)
    portal.database.dispose()


def test_posture_endpoint(tmp_path, live_server):
    portal = build(tmp_path, hardened(tmp_path))
    try:
        declared = portal.registry.routes.lookup("GET", "/api/posture")
        assert declared is not None
        assert declared.permission == "posture.report.read"
        assert "posture.report.read" in {p.name for p in portal.registry.permissions}
        server = live_server(portal.app)
        assert server.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/api/posture").status_code == 401
            assert client.get("/api/posture", headers={"Authorization": f"Bearer {RESTRICTED}"}).status_code == 403
            response = client.get("/api/posture", headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200
            report = response.json()
            assert report["schemaVersion"] == "1.0"
            assert report["flavor"] == "greenroom"
            assert TOKEN not in response.text
            assert "a-client-secret-from-the-environment" not in response.text
            checks = client.get("/api/posture/checks", headers={"Authorization": f"Bearer {TOKEN}"}).json()
            assert {"GR-AUTH-001", "GR-CORE-001"} <= {c["id"] for c in checks}
    finally:
        portal.database.dispose()


# -- zero-config and the production example: nothing at high or above -----------------------------------


def test_zero_config_has_no_high_findings():
    report = audit_config(load_app_config([], env={}, resolve_secrets=False), production=False)
    assert not report.at_or_above(Severity.HIGH), [f.id for f in report.findings]


def test_zero_config_through_the_cli_path():
    report = audit_files([], AuditOptions())
    assert report.flavor == "greenroom"
    assert not report.production
    assert not report.at_or_above(Severity.HIGH)


def test_production_example_has_no_high_findings():
    report = audit_files([EXAMPLE], AuditOptions())
    assert report.flavor == "greenroom"
    assert report.production
    assert report.production_reason == "app.production: true"
    assert not report.at_or_above(Severity.HIGH), [(f.id, f.message) for f in report.findings]
    assert {f.id for f in report.findings} <= {"GR-AUTH-004", "GR-NET-001"}  # both explained in the file


def test_production_example_is_a_valid_greenroom_config():
    config = load_config([EXAMPLE], defaults=base_defaults(), env={}, resolve_secrets=False, strict_files=False)
    core = validate_core(config)
    assert core.app.production
    assert config.get("auth.providers.oidc.production.clientSecret").startswith("<unresolved secret: vault:")
    pins = [p for p in core.plugins.allow if not isinstance(p, str)]
    assert pins
    assert all(p.sha256 for p in pins)
