"""Helpers for the posture tests: write a config, audit it, look at the findings."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from greenroom.posture import AuditOptions, Report, audit_files

REAL_WORLD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "real-world"
APP_CONFIGS = REAL_WORLD / "app-config"
TODAY = date(2025, 6, 1)


def ids(report: Report) -> set[str]:
    return {f.id for f in report.findings}


def findings(report: Report, check_id: str) -> list[Any]:
    return [f for f in report.findings if f.id == check_id]


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write YAML text (dedented) or a dict to a file in tmp_path."""
    counter = iter(range(1000))

    def _write(content: str | dict[str, Any], name: str | None = None) -> Path:
        file = tmp_path / (name or f"app-config-{next(counter)}.yaml")
        file.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(content) if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        file.write_text(text, encoding="utf-8")
        return file

    return _write


@pytest.fixture
def audit(write: Callable[..., Path]) -> Callable[..., Report]:
    """Audit one config (text or dict); keyword arguments become AuditOptions."""

    def _audit(*contents: str | dict[str, Any], **options: Any) -> Report:
        files = [write(c) for c in contents]
        options.setdefault("today", TODAY)
        return audit_files(files, AuditOptions(**options))

    return _audit
