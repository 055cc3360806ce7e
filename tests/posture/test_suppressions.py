"""Suppressions: explicit, reasoned and expiring, or they suppress nothing and say so."""

from __future__ import annotations

import json

import pytest

from greenroom.posture import AuditInputError
from greenroom.posture.render import render_json, render_sarif
from tests.posture.conftest import findings, ids

CONFIG = "backend:\n  listen: ':7007'\nauth:\n  environment: production\n  providers:\n    guest: {}\n"
REASON = "The container only publishes the port to the ingress controller."


def suppressions(write, *entries: str):
    return write("suppressions:\n" + "".join(entries), name="suppressions.yaml")


def test_reasoned_unexpired_entry_suppresses(audit, write):
    entry = f"  - id: GR-NET-001\n    key: backend.listen\n    reason: {REASON}\n    expires: 2025-12-31\n"
    file = suppressions(write, entry)
    report = audit(CONFIG, suppressions=file)
    assert "GR-NET-001" not in ids(report)
    [item] = report.suppressed
    assert item.reason == REASON
    assert item.expires == "2025-12-31"
    data = json.loads(render_json(report))
    assert data["summary"]["suppressed"] == 1
    sarif = json.loads(render_sarif(report))
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert suppressed[0]["suppressions"][0]["kind"] == "external"
    assert not report.problems


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("  - id: GR-NET-001\n    expires: 2025-12-31\n", "needs a 'reason'"),
        ("  - id: GR-NET-001\n    reason: because\n    expires: 2025-12-31\n", "needs a 'reason'"),
        (f"  - id: GR-NET-001\n    reason: {REASON}\n", "'expires' must be a date"),
        (f"  - id: GR-NET-001\n    reason: {REASON}\n    expires: someday\n", "'expires' must be a date"),
        (f"  - id: GR-NET-001\n    reason: {REASON}\n    expires: 2025-05-31\n", "expired on 2025-05-31"),
        (f"  - id: GR-NOPE-001\n    reason: {REASON}\n    expires: 2025-12-31\n", "no such check"),
        ("  - just a string\n", "not a mapping"),
    ],
)
def test_bad_entries_suppress_nothing_and_are_reported(audit, write, entry, problem):
    report = audit(CONFIG, suppressions=suppressions(write, entry))
    assert "GR-NET-001" in ids(report)
    assert not report.suppressed
    messages = [p.message for p in report.problems if p.kind == "suppression"]
    assert any(problem in m for m in messages), messages
    assert all(p.file and p.file.endswith("suppressions.yaml") and p.line == 2 for p in report.problems
               if p.kind == "suppression")


def test_far_future_expiry_is_flagged_but_applied(audit, write):
    file = suppressions(write, f"  - id: GR-NET-001\n    reason: {REASON}\n    expires: 2030-01-01\n")
    report = audit(CONFIG, suppressions=file)
    assert "GR-NET-001" not in ids(report)
    assert any("more than a year ahead" in p.message for p in report.problems)


def test_path_and_key_narrow_the_match(audit, write):
    file = suppressions(
        write,
        f"  - id: GR-NET-001\n    path: other.yaml\n    reason: {REASON}\n    expires: 2025-12-31\n",
        f"  - id: GR-AUTH-001\n    key: auth.providers.gu*\n    reason: {REASON}\n    expires: 2025-12-31\n",
    )
    report = audit(CONFIG, suppressions=file)
    assert "GR-NET-001" in ids(report)
    assert "GR-AUTH-001" not in ids(report)
    assert any("matches no finding" in p.message for p in report.problems)


def test_critical_can_be_suppressed_only_with_a_reason(audit, write):
    report = audit(CONFIG, suppressions=suppressions(write, "  - id: GR-AUTH-001\n    expires: 2025-12-31\n"))
    assert findings(report, "GR-AUTH-001")


def test_unreadable_suppression_file_is_unusable_input(audit, write):
    with pytest.raises(AuditInputError):
        audit(CONFIG, suppressions=write("suppressions: {id: x}\n", name="s.yaml"))
    with pytest.raises(AuditInputError):
        audit(CONFIG, suppressions=write("suppressions: [unclosed\n", name="t.yaml"))
