"""What a posture audit produces: findings with a severity and a place, collected in a report.

The JSON form of `Report` is a stable interface (CI jobs parse it): fields are only ever
added, and `schemaVersion` changes when one is renamed or removed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

SCHEMA_VERSION = "1.0"
Flavor = Literal["backstage", "greenroom"]
FLAVORS: tuple[Flavor, ...] = ("backstage", "greenroom")


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """4 for critical down to 1 for low: higher is worse."""
        return _RANKS[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity '{text}' (one of {names})") from None


_RANKS = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}
SEVERITIES_WORST_FIRST = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding points: a file and 1-based line, and the dotted config key if any."""

    file: str | None = None
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.file or "<defaults>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where} ({self.key})" if self.key else where


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """The documentation half of a check (the other half is the function that finds things)."""

    id: str
    title: str
    severity: Severity
    category: str
    flavors: tuple[Flavor, ...]
    why: str
    remediation: str
    severity_note: str = ""
    needs: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity.value,
            "severityNote": self.severity_note,
            "category": self.category,
            "flavors": list(self.flavors),
            "why": self.why,
            "remediation": self.remediation,
            "needs": self.needs or None,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    check: CheckInfo
    severity: Severity
    message: str
    location: Location
    evidence: str = ""

    @property
    def id(self) -> str:
        return self.check.id

    @property
    def fingerprint(self) -> str:
        """Stable across runs and line moves: the check, the file name and the key or message."""
        file = (self.location.file or "").replace("\\", "/").rsplit("/", 1)[-1]
        anchor = self.location.key or self.message
        digest = hashlib.sha256(f"{self.check.id}|{file}|{anchor}".encode()).hexdigest()
        return digest[:32]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.check.id,
            "title": self.check.title,
            "severity": self.severity.value,
            "category": self.check.category,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "key": self.location.key,
            "evidence": self.evidence,
            "why": self.check.why,
            "remediation": self.check.remediation,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True, slots=True)
class Suppressed:
    finding: Finding
    reason: str
    expires: str

    def to_json(self) -> dict[str, Any]:
        return {**self.finding.to_json(), "suppression": {"reason": self.reason, "expires": self.expires}}


@dataclass(frozen=True, slots=True)
class Problem:
    """Something about the input that the user must hear about but that is not a finding."""

    kind: str
    message: str
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "file": self.file, "line": self.line}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else (f"{self.file}: " if self.file else "")
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class Skipped:
    check_id: str
    reason: str


@dataclass
class Report:
    flavor: Flavor
    production: bool
    production_reason: str
    sources: tuple[str, ...]
    tool_version: str
    checks: tuple[CheckInfo, ...]
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def sort(self) -> None:
        def key(f: Finding) -> tuple[int, str, str, int, str]:
            return (-f.severity.rank, f.check.id, f.location.file or "", f.location.line or 0, f.location.key or "")

        self.findings.sort(key=key)
        self.suppressed.sort(key=lambda s: key(s.finding))

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in SEVERITIES_WORST_FIRST}
        for finding in self.findings:
            out[finding.severity.value] += 1
        return out

    def at_or_above(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.at_least(threshold)]

    def to_json(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "schemaVersion": SCHEMA_VERSION,
            "tool": {"name": "greenroom-audit", "version": self.tool_version},
            "flavor": self.flavor,
            "production": self.production,
            "productionReason": self.production_reason,
            "sources": list(self.sources),
            "summary": {**counts, "total": len(self.findings), "suppressed": len(self.suppressed)},
            "findings": [f.to_json() for f in self.findings],
            "suppressed": [s.to_json() for s in self.suppressed],
            "skippedChecks": [{"id": s.check_id, "reason": s.reason} for s in self.skipped],
            "problems": [p.to_json() for p in self.problems],
        }
