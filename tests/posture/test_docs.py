"""docs/posture-checks.md is generated from the registry and must match it; registry invariants."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from greenroom.posture.docs import current_markdown, main
from greenroom.posture.engine import all_checks
from greenroom.posture.model import Severity
from greenroom.posture.registry import REGISTRY, check

DOC = Path(__file__).resolve().parents[2] / "docs" / "posture-checks.md"


def test_committed_doc_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == current_markdown(), (
        "docs/posture-checks.md is out of date: run `python -m greenroom.posture.docs docs/posture-checks.md`"
    )


def test_check_mode(tmp_path):
    stale = tmp_path / "posture-checks.md"
    stale.write_text("# old\n")
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0


def test_one_section_per_check_with_what_why_fix():
    text = current_markdown()
    for c in all_checks():
        section = text.split(f"### {c.info.id}\n", 1)[1].split("\n### ", 1)[0]
        assert "**What.**" in section
        assert "**Why.**" in section
        assert "**Fix.**" in section
        assert c.info.title in section


def test_registry_invariants():
    checks = all_checks()
    assert REGISTRY.frozen
    assert len(checks) >= 40
    for c in checks:
        info = c.info
        assert re.fullmatch(r"GR-[A-Z]+-\d{3}", info.id)
        sentences = len(re.findall(r"[.!?](?:\s|$)", info.why))
        assert 1 <= sentences <= 2, f"{info.id}: 'why' should be one or two sentences"
        assert (c.run.__doc__ or "").strip()
        assert yaml.safe_load(info.remediation) is not None, f"{info.id}: remediation is not a YAML snippet"
        assert info.flavors
        assert set(info.flavors) <= {"backstage", "greenroom"}


def test_registry_refuses_late_or_undocumented_checks():
    def documented(ctx):
        """Says what it checks."""
        return iter(())

    def undocumented(ctx):
        return iter(())

    register = check(
        id="GR-TEST-001", title="t", severity=Severity.LOW, category="network", why="w.", remediation="a: 1"
    )
    with pytest.raises(RuntimeError, match="frozen"):
        register(documented)
    with pytest.raises(ValueError, match="docstring"):
        register(undocumented)


def test_issue_checklist_is_covered():
    """Every area the posture issue lists has at least one check."""
    categories = {c.info.category for c in all_checks()}
    assert categories == {
        "authentication", "permissions", "secrets", "network", "data", "techdocs", "scaffolder", "supply-chain",
        "greenroom",
    }
