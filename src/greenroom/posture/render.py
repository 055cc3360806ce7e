"""A report as text for people, JSON for scripts and SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from greenroom.posture.model import SEVERITIES_WORST_FIRST, CheckInfo, Finding, Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
# GitHub code scanning ranks security alerts by this property (CVSS-like bands).
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "2.0"}
_COLOURS = {
    Severity.CRITICAL: "\x1b[1;37;41m",
    Severity.HIGH: "\x1b[1;31m",
    Severity.MEDIUM: "\x1b[1;33m",
    Severity.LOW: "\x1b[1;36m",
}
_BOLD, _DIM, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"


def display_path(file: str | None, base: Path | None = None) -> str:
    """A path relative to `base` (default: the working directory) when it is inside it."""
    if not file:
        return "<built-in defaults>"
    root = (base or Path.cwd()).resolve()
    try:
        return Path(file).resolve().relative_to(root).as_posix()
    except ValueError:
        return file


# -- text -----------------------------------------------------------------------------------------


def render_text(report: Report, *, colour: bool = False, base: Path | None = None) -> str:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    lines: list[str] = []
    mode = "production" if report.production else "not production"
    lines.append(paint("greenroom audit", _BOLD) + f" · {report.flavor} config · {mode} ({report.production_reason})")
    for source in report.sources:
        lines.append(paint(f"  {display_path(source, base) if ' (' not in source else source}", _DIM))
    for severity in SEVERITIES_WORST_FIRST:
        group = [f for f in report.findings if f.severity is severity]
        if not group:
            continue
        lines.append("")
        lines.append(paint(f" {severity.value.upper()} ({len(group)}) ", _COLOURS[severity]))
        for finding in group:
            lines.extend(_text_finding(finding, paint, base))
    if report.suppressed:
        lines.append("")
        lines.append(paint(f"SUPPRESSED ({len(report.suppressed)})", _BOLD))
        for item in report.suppressed:
            f = item.finding
            lines.append(f"  {f.id}  {_where(f, base)}  until {item.expires}: {item.reason}")
    if report.problems:
        lines.append("")
        lines.append(paint("NOTES", _BOLD))
        lines.extend(f"  {problem.kind}: {problem}" for problem in report.problems)
    counts = report.counts()
    summary = ", ".join(f"{counts[s.value]} {s.value}" for s in SEVERITIES_WORST_FIRST)
    extra = []
    if report.suppressed:
        extra.append(f"{len(report.suppressed)} suppressed")
    if report.skipped:
        reasons = sorted({s.reason for s in report.skipped})
        extra.append(f"{len(report.skipped)} checks skipped ({'; '.join(reasons)})")
    lines.append("")
    lines.append(paint("Summary: ", _BOLD) + summary + (f" · {' · '.join(extra)}" if extra else ""))
    return "\n".join(lines) + "\n"


def _where(finding: Finding, base: Path | None) -> str:
    location = finding.location
    where = display_path(location.file, base)
    if location.line:
        where += f":{location.line}"
    return where


def _text_finding(finding: Finding, paint: Any, base: Path | None) -> list[str]:
    key = f"  {finding.location.key}" if finding.location.key else ""
    out = [
        "",
        f"  {paint(finding.id, _BOLD)}  {finding.check.title}",
        f"    at {_where(finding, base)}{key}",
        f"    {finding.message}",
    ]
    if finding.evidence:
        out.append(f"    evidence: {finding.evidence}")
    out.append(f"    why: {finding.check.why}")
    out.append("    fix:")
    out.extend(f"      {line}" for line in finding.check.remediation.splitlines())
    return out


# -- JSON -----------------------------------------------------------------------------------------


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


# -- SARIF ----------------------------------------------------------------------------------------


def _rule_name(title: str) -> str:
    return "".join(word.capitalize() for word in re.findall(r"[A-Za-z0-9]+", title))


def _rule(info: CheckInfo) -> dict[str, Any]:
    help_text = f"{info.why}\n\nFix:\n{info.remediation}"
    help_markdown = f"{info.why}\n\n**Fix**\n\n```yaml\n{info.remediation}\n```"
    if info.severity_note:
        help_text += f"\n\nSeverity: {info.severity_note}."
        help_markdown += f"\n\nSeverity: {info.severity_note}."
    return {
        "id": info.id,
        "name": _rule_name(info.title),
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.why},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": _SARIF_LEVEL[info.severity]},
        "properties": {
            "tags": ["security", info.category],
            "precision": "high",
            "security-severity": _SECURITY_SEVERITY[info.severity],
        },
    }


def _artifact(file: str, base: Path | None) -> dict[str, Any]:
    root = (base or Path.cwd()).resolve()
    path = Path(file)
    try:
        relative = path.resolve().relative_to(root).as_posix()
    except ValueError:
        return {"uri": path.resolve().as_uri() if path.is_absolute() else path.as_posix()}
    return {"uri": relative, "uriBaseId": "%SRCROOT%"}


def _result(finding: Finding, index: dict[str, int], base: Path | None) -> dict[str, Any]:
    text = finding.message + (f" ({finding.evidence})" if finding.evidence else "")
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "ruleIndex": index[finding.id],
        "level": _SARIF_LEVEL[finding.severity],
        "message": {"text": text},
        "partialFingerprints": {"greenroomFinding/v1": finding.fingerprint},
        "properties": {"severity": finding.severity.value, "key": finding.location.key},
    }
    if finding.location.file:
        region = {"startLine": finding.location.line or 1}
        result["locations"] = [
            {"physicalLocation": {"artifactLocation": _artifact(finding.location.file, base), "region": region}}
        ]
    return result


def render_sarif(report: Report, *, base: Path | None = None) -> str:
    rules = [_rule(info) for info in report.checks]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [_result(f, index, base) for f in report.findings]
    for item in report.suppressed:
        suppressed = _result(item.finding, index, base)
        suppressed["suppressions"] = [
            {"kind": "external", "justification": f"{item.reason} (expires {item.expires})"}
        ]
        results.append(suppressed)
    root = (base or Path.cwd()).resolve()
    driver: dict[str, Any] = {"name": "greenroom-audit", "version": report.tool_version, "rules": rules}
    if re.fullmatch(r"\d+\.\d+\.\d+.*", report.tool_version):
        driver["semanticVersion"] = report.tool_version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
        "results": results,
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {"level": "note", "message": {"text": str(problem)}} for problem in report.problems
                ],
            }
        ],
        "properties": {"flavor": report.flavor, "production": report.production},
    }
    sarif = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"
