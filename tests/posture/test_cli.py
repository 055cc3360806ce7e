"""`greenroom audit` as a CI job runs it: a real process, exit codes, hostile inputs, no hangs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenroom.cli import app
from tests.posture.conftest import APP_CONFIGS

CLEAN_BACKSTAGE = """\
app:
  baseUrl: https://portal.example.com
backend:
  baseUrl: https://portal.example.com
  listen:
    host: 127.0.0.1
    port: 7007
permission:
  enabled: true
"""
TIME_LIMIT = 30.0


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """In process (fast); the hostile-input tests use `run_process` to prove there is no hang."""
    result = CliRunner().invoke(app, ["audit", *map(str, args)])
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def run_process(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "greenroom.cli", "audit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )
    assert time.monotonic() - started < TIME_LIMIT, "the audit took too long"
    return completed


# -- exit codes ---------------------------------------------------------------------------------


def test_clean_config_exits_zero(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text(CLEAN_BACKSTAGE)
    completed = run(config)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Summary: 0 critical, 0 high" in completed.stdout
    assert "\x1b[" not in completed.stdout  # not a terminal: no colour


def test_findings_at_or_above_fail_on_exit_one(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text(CLEAN_BACKSTAGE + "auth:\n  providers:\n    guest: {}\n")
    assert run(config).returncode == 0  # guest outside production is low
    assert run(config, "--fail-on", "low").returncode == 1
    assert run(config, "--production").returncode == 1
    assert run(config, "--production", "--fail-on", "critical").returncode == 1


def test_zero_config_greenroom_passes():
    completed = run("--format", "json")
    assert completed.returncode == 0
    report = json.loads(completed.stdout)
    assert report["flavor"] == "greenroom"
    assert report["summary"]["critical"] == report["summary"]["high"] == 0


def test_output_file_and_formats(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text(CLEAN_BACKSTAGE)
    out = tmp_path / "report.sarif"
    completed = run(config, "--format", "sarif", "--output", out)
    assert completed.returncode == 0
    assert completed.stdout == ""
    assert json.loads(out.read_text())["version"] == "2.1.0"


def test_list_checks():
    completed = run("--list-checks", "--format", "json")
    assert completed.returncode == 0
    checks = json.loads(completed.stdout)
    assert {"GR-AUTH-001", "GR-SEC-002", "GR-SUP-004", "GR-CORE-001"} <= {c["id"] for c in checks}
    assert all(c["what"] and c["why"] and c["remediation"] for c in checks)


# -- unusable input: exit 2 with a clear message, quickly -----------------------------------------------


def _expect_unusable(completed: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""
    message = completed.stderr.lower()
    assert message.startswith("error:") or "usage" in message
    for phrase in phrases:
        assert phrase in message, completed.stderr


def test_two_hundred_nested_includes(tmp_path):
    for i in range(200):
        body = f"level{i}:\n  $include: inc{i + 1}.yaml\n" if i < 199 else "leaf: true\n"
        (tmp_path / f"inc{i}.yaml").write_text(body)
    config = tmp_path / "app-config.yaml"
    config.write_text("app:\n  deep:\n    $include: inc0.yaml\n")
    _expect_unusable(run_process(config), "deep")


def test_cyclic_include(tmp_path):
    (tmp_path / "a.yaml").write_text("b:\n  $include: b.yaml\n")
    (tmp_path / "b.yaml").write_text("a:\n  $include: a.yaml\n")
    config = tmp_path / "app-config.yaml"
    config.write_text("app:\n  x:\n    $include: a.yaml\n")
    _expect_unusable(run_process(config), "cyclic")


def test_twenty_megabyte_yaml(tmp_path):
    config = tmp_path / "huge.yaml"
    line = "k{:08d}: " + "x" * 90 + "\n"
    with config.open("w") as handle:
        for i in range(20 * 1024 * 1024 // len(line.format(0)) + 1):
            handle.write(line.format(i))
    assert config.stat().st_size >= 20 * 1024 * 1024
    _expect_unusable(run_process(config), "limit")


def test_yaml_bomb(tmp_path):
    config = tmp_path / "bomb.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    config.write_text("\n".join(lines) + "\n")
    _expect_unusable(run_process(config), "alias")


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--flavor", "jenkins"], "flavor"),
        (["--fail-on", "urgent"], "fail-on"),
        (["--format", "xml"], "format"),
        (["--packages", "/nonexistent/backend"], "no such file"),
    ],
)
def test_bad_options(tmp_path, args, phrase):
    config = tmp_path / "app-config.yaml"
    config.write_text(CLEAN_BACKSTAGE)
    _expect_unusable(run(config, *args), phrase)


def test_invalid_yaml_and_missing_file(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text("app:\n  title: [unclosed\n")
    _expect_unusable(run(config), "app-config.yaml:")
    assert run(tmp_path / "missing.yaml").returncode == 2


def test_advisories_need_packages(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text(CLEAN_BACKSTAGE)
    advisories = tmp_path / "osv.json"
    advisories.write_text("[]")
    _expect_unusable(run(config, "--advisories", advisories), "--packages")


@pytest.mark.parametrize("config", sorted(APP_CONFIGS.iterdir()), ids=lambda p: p.name[:40])
def test_every_real_world_config_is_read(config):
    completed = run(config, "--format", "json")
    assert completed.returncode in (0, 1), f"{config.name}: {completed.stderr}"
    assert json.loads(completed.stdout)["sources"]


def test_bad_suppressions_are_loud(tmp_path):
    config = tmp_path / "app-config.yaml"
    config.write_text(CLEAN_BACKSTAGE.replace("host: 127.0.0.1", "host: 0.0.0.0"))
    suppressions = tmp_path / "suppressions.yaml"
    suppressions.write_text(
        "suppressions:\n  - id: GR-NET-001\n    reason: Published only to the ingress controller.\n"
        "    expires: 2000-01-01\n  - id: GR-NET-002\n    expires: 2999-01-01\n"
    )
    completed = run(config, "--suppressions", suppressions, "--fail-on", "low")
    assert completed.returncode == 1  # the expired entry no longer hides GR-NET-001
    assert "error: " in completed.stderr
    assert "expired on 2000-01-01" in completed.stderr
    assert "needs a 'reason'" in completed.stderr
