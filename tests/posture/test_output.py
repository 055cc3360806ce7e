"""Report formats: the JSON schema, SARIF 2.1.0 as GitHub code scanning reads it, and text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from greenroom.posture.render import render_json, render_sarif, render_text
from tests.posture.conftest import APP_CONFIGS

MIXED = """\
app:
  baseUrl: http://portal.example.com
backend:
  listen: ':7007'
  auth:
    dangerouslyDisableDefaultAuthPolicy: true
    externalAccess:
      - type: static
        options: { token: '${CI_TOKEN}', subject: ci }
  cors:
    origin: http://localhost:3000
auth:
  environment: production
  providers:
    guest: {}
"""

FINDING_FIELDS = {
    "id": str, "title": str, "severity": str, "category": str, "message": str, "file": (str, type(None)),
    "line": (int, type(None)), "key": (str, type(None)), "evidence": str, "why": str, "remediation": str,
    "fingerprint": str,
}


def check_report_json(data: dict[str, Any]) -> None:
    """The documented JSON schema (version 1.0), checked field by field."""
    assert data["schemaVersion"] == "1.0"
    assert data["tool"]["name"] == "greenroom-audit"
    assert isinstance(data["tool"]["version"], str)
    assert data["flavor"] in ("backstage", "greenroom")
    assert isinstance(data["production"], bool)
    assert isinstance(data["productionReason"], str)
    assert all(isinstance(s, str) for s in data["sources"])
    summary = data["summary"]
    assert set(summary) == {"critical", "high", "medium", "low", "total", "suppressed"}
    assert summary["total"] == len(data["findings"]) == sum(summary[s] for s in ("critical", "high", "medium", "low"))
    assert summary["suppressed"] == len(data["suppressed"])
    for finding in data["findings"] + data["suppressed"]:
        for field, kind in FINDING_FIELDS.items():
            assert isinstance(finding[field], kind), (field, finding)
        assert finding["severity"] in ("critical", "high", "medium", "low")
        assert re.fullmatch(r"GR-[A-Z]+-\d{3}", finding["id"])
    for item in data["suppressed"]:
        assert set(item["suppression"]) == {"reason", "expires"}
    assert all(set(s) == {"id", "reason"} for s in data["skippedChecks"])
    assert all(set(p) == {"kind", "message", "file", "line"} for p in data["problems"])
    ranks = {"critical": 4, "high": 3, "medium": 2, "low": 1}
    order = [ranks[f["severity"]] for f in data["findings"]]
    assert order == sorted(order, reverse=True)


def check_sarif(log: dict[str, Any]) -> None:
    """SARIF 2.1.0's required properties, and what GitHub code scanning needs on top."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list)
    assert log["runs"]
    for run in log["runs"]:
        driver = run["tool"]["driver"]
        assert isinstance(driver["name"], str)
        assert driver["name"]
        rules = driver["rules"]
        rule_ids = [r["id"] for r in rules]
        assert len(rule_ids) == len(set(rule_ids))
        for rule in rules:
            assert isinstance(rule["id"], str)
            assert rule["shortDescription"]["text"]
            assert rule["fullDescription"]["text"]
            assert rule["help"]["text"]
            assert rule["help"]["markdown"]
            assert rule["defaultConfiguration"]["level"] in ("none", "note", "warning", "error")
            assert 0.0 < float(rule["properties"]["security-severity"]) <= 10.0
            assert "security" in rule["properties"]["tags"]
        for result in run["results"]:
            assert isinstance(result["message"]["text"], str)
            assert result["message"]["text"]
            assert result["ruleId"] in rule_ids
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert result["level"] in ("none", "note", "warning", "error")
            assert all(isinstance(v, str) for v in result["partialFingerprints"].values())
            assert result["locations"], "GitHub code scanning needs a location on every result"
            for location in result["locations"]:
                physical = location["physicalLocation"]
                uri = physical["artifactLocation"]["uri"]
                assert isinstance(uri, str)
                assert uri
                assert "\\" not in uri
                if "uriBaseId" in physical["artifactLocation"]:
                    assert physical["artifactLocation"]["uriBaseId"] in run["originalUriBaseIds"]
                    assert not uri.startswith("/")
                else:
                    assert uri.startswith("file://")
                start = physical["region"]["startLine"]
                assert isinstance(start, int)
                assert start >= 1
            for suppression in result.get("suppressions", []):
                assert suppression["kind"] in ("inSource", "external")
        for base in run.get("originalUriBaseIds", {}).values():
            assert base["uri"].endswith("/")
        assert isinstance(run["invocations"][0]["executionSuccessful"], bool)


@pytest.fixture
def mixed(audit):
    return audit(MIXED)


def test_json_schema(mixed):
    data = json.loads(render_json(mixed))
    check_report_json(data)
    assert data["production"] is True
    assert data["productionReason"] == "auth.environment: production"
    assert {"GR-AUTH-001", "GR-PERM-005", "GR-NET-002"} <= {f["id"] for f in data["findings"]}


def test_sarif_structure(mixed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config is under the working directory: relative URIs
    log = json.loads(render_sarif(mixed))
    check_sarif(log)
    results = log["runs"][0]["results"]
    guest = next(r for r in results if r["ruleId"] == "GR-AUTH-001")
    location = guest["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "app-config-0.yaml", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == 15
    assert guest["level"] == "error"


def test_sarif_outside_the_working_directory_uses_file_uris(mixed, monkeypatch):
    monkeypatch.chdir("/")
    log = json.loads(render_sarif(mixed, base=APP_CONFIGS))
    check_sarif(log)


def test_every_real_world_report_is_valid(audit):
    from greenroom.posture import AuditOptions, audit_files

    for config in sorted(APP_CONFIGS.iterdir()):
        report = audit_files([config], AuditOptions())
        check_report_json(json.loads(render_json(report)))
        check_sarif(json.loads(render_sarif(report)))


def test_text_groups_by_severity_without_colour(mixed):
    text = render_text(mixed)
    assert "\x1b[" not in text
    heading = re.compile(r"\s*(CRITICAL|HIGH|MEDIUM|LOW) \(\d+\)\s*")
    headings = [line.strip() for line in text.splitlines() if heading.fullmatch(line)]
    assert [h.split()[0] for h in headings] == ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    assert "why:" in text
    assert "fix:" in text
    assert "Summary:" in text


def test_text_colours_on_request(mixed):
    text = render_text(mixed, colour=True)
    assert "\x1b[1;37;41m" in text
    assert "\x1b[0m" in text


def test_fingerprints_are_stable_across_line_moves(write):
    from greenroom.posture import AuditOptions, audit_files

    config = "auth:\n  environment: production\n  providers:\n    guest: {}\n"
    first = audit_files([write(config, "v1/app-config.yaml")])
    second = audit_files(
        [write("# a comment\n\nauth:\n  environment: production\n  providers:\n    guest: {}\n", "v2/app-config.yaml")],
        AuditOptions(),
    )
    a = next(f for f in first.findings if f.id == "GR-AUTH-001")
    b = next(f for f in second.findings if f.id == "GR-AUTH-001")
    assert a.location.line != b.location.line
    assert a.fingerprint == b.fingerprint
