"""Known-vulnerable versions from an OSV advisory file, matched offline.

The file may be one OSV record, a list of records, `{"vulns": [...]}` (the OSV API's
answer) or `osv-scanner --format json` output. Ranges are evaluated the way the OSV schema
describes (events in version order: `introduced`, `fixed`, `last_affected`), with npm
versions compared as SemVer and PyPI versions as PEP 440.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenroom.posture.model import Severity
from greenroom.posture.packages import Installed, read_json
from greenroom.posture.sources import AuditInputError


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str
    name: str
    ranges: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    versions: frozenset[str]


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: Severity
    affected: tuple[Affected, ...]


@dataclass(frozen=True, slots=True)
class Match:
    package: Installed
    advisory: Advisory
    fixed: str | None


# -- versions ---------------------------------------------------------------------------------

VersionKey = tuple[Any, ...]


def semver_key(version: str) -> VersionKey:
    text = version.strip().lstrip("vV=").split("+", 1)[0]
    core, _, pre = text.partition("-")
    numbers = [int(p) if p.isdigit() else 0 for p in core.split(".")[:3]]
    numbers += [0] * (3 - len(numbers))
    if not pre:
        return (tuple(numbers), (1,))
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (tuple(numbers), (0, *ids))


_PEP440 = re.compile(
    r"^v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:-(?P<post_implicit>\d+)|[-_.]?(?:post|rev|r)[-_.]?(?P<post_n>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?(?:\+.*)?$",
    re.IGNORECASE,
)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}


def pep440_key(version: str) -> VersionKey:
    match = _PEP440.match(version.strip())
    if match is None:
        return (-1, tuple(int(p) if p.isdigit() else 0 for p in re.findall(r"\d+", version)), (0,), (-1,), (math.inf,))
    release = [int(p) for p in match["release"].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    pre_name = (match["pre"] or "").lower()
    post = match["post_implicit"] or match["post_n"]
    has_post = match["post_implicit"] is not None or match["post_n"] is not None
    dev = match["dev_n"]
    has_dev = dev is not None
    if pre_name:
        pre: tuple[float, ...] = (_PRE_ORDER[pre_name], int(match["pre_n"] or 0))
    elif has_dev and not has_post:
        pre = (-math.inf,)
    else:
        pre = (math.inf,)
    return (
        int(match["epoch"] or 0),
        tuple(release),
        pre,
        (int(post or 0),) if has_post else (-1,),
        (int(dev or 0),) if has_dev else (math.inf,),
    )


def version_key(ecosystem: str, version: str) -> VersionKey:
    return pep440_key(version) if ecosystem.lower() == "pypi" else semver_key(version)


def normalize_name(ecosystem: str, name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower() if ecosystem.lower() == "pypi" else name


# -- severity ---------------------------------------------------------------------------------

_CVSS3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "CIA": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def _roundup(value: float) -> float:
    scaled = round(value * 100000)
    return scaled / 100000.0 if scaled % 10000 == 0 else (math.floor(scaled / 10000) + 1) / 10.0


def cvss3_score(vector: str) -> float | None:
    """The CVSS v3.x base score of a vector string (None when it is not one)."""
    if not vector.startswith("CVSS:3"):
        return None
    metrics = dict(part.split(":", 1) for part in vector.split("/")[1:] if ":" in part)
    try:
        scope_changed = metrics["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if scope_changed else 0.62, "H": 0.5 if scope_changed else 0.27}[metrics["PR"]]
        av, ac, ui = _CVSS3["AV"][metrics["AV"]], _CVSS3["AC"][metrics["AC"]], _CVSS3["UI"][metrics["UI"]]
        c, i, a = (_CVSS3["CIA"][metrics[k]] for k in ("C", "I", "A"))
    except KeyError:
        return None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if scope_changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    exploitability = 8.22 * av * ac * pr * ui
    total = 1.08 * (impact + exploitability) if scope_changed else impact + exploitability
    return _roundup(min(total, 10.0))


def _from_score(score: float) -> Severity:
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


_LABELS = {"critical": Severity.CRITICAL, "high": Severity.HIGH, "moderate": Severity.MEDIUM,
           "medium": Severity.MEDIUM, "low": Severity.LOW}


def _severity(record: dict[str, Any]) -> Severity:
    specific = record.get("database_specific")
    if isinstance(specific, dict) and str(specific.get("severity", "")).lower() in _LABELS:
        return _LABELS[str(specific["severity"]).lower()]
    for entry in record.get("severity") or []:
        if isinstance(entry, dict):
            score = entry.get("score")
            if isinstance(score, int | float):
                return _from_score(float(score))
            if isinstance(score, str):
                computed = cvss3_score(score)
                if computed is not None:
                    return _from_score(computed)
    return Severity.HIGH


# -- loading ----------------------------------------------------------------------------------


def _records(data: Any) -> Iterable[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _records(item)
    elif isinstance(data, dict):
        if "affected" in data and "id" in data:
            yield data
        elif isinstance(data.get("vulns"), list):
            yield from _records(data["vulns"])
        elif isinstance(data.get("results"), list):
            for result in data["results"]:
                for package in (result or {}).get("packages") or []:
                    yield from _records((package or {}).get("vulnerabilities") or [])


def _affected(entry: dict[str, Any]) -> Affected | None:
    package = entry.get("package")
    if not isinstance(package, dict) or not package.get("name") or not package.get("ecosystem"):
        return None
    ranges = []
    for item in entry.get("ranges") or []:
        if not isinstance(item, dict) or item.get("type") not in ("SEMVER", "ECOSYSTEM"):
            continue
        events = tuple(
            (kind, str(value))
            for event in item.get("events") or []
            if isinstance(event, dict)
            for kind, value in event.items()
            if kind in ("introduced", "fixed", "last_affected", "limit")
        )
        ranges.append((str(item["type"]), events))
    ecosystem = str(package["ecosystem"]).split(":", 1)[0]
    return Affected(
        ecosystem=ecosystem,
        name=normalize_name(ecosystem, str(package["name"])),
        ranges=tuple(ranges),
        versions=frozenset(str(v) for v in entry.get("versions") or []),
    )


def load_advisories(file: Path) -> list[Advisory]:
    data = read_json(file)
    advisories = []
    for record in _records(data):
        affected = tuple(a for a in (_affected(e) for e in record.get("affected") or [] if isinstance(e, dict)) if a)
        if not affected:
            continue
        advisories.append(
            Advisory(
                id=str(record["id"]),
                aliases=tuple(str(a) for a in record.get("aliases") or []),
                summary=str(record.get("summary") or record.get("details") or "")[:300],
                severity=_severity(record),
                affected=affected,
            )
        )
    if not advisories and not isinstance(data, dict | list):
        raise AuditInputError(f"{file}: not an OSV advisory file")
    return advisories


# -- matching ---------------------------------------------------------------------------------


def _in_range(ecosystem: str, version: str, events: tuple[tuple[str, str], ...]) -> tuple[bool, str | None]:
    """Whether `version` is affected by the range, and the first fixed version after it."""
    key = version_key(ecosystem, version)

    def order(event: tuple[str, str]) -> tuple[int, VersionKey]:
        kind, value = event
        return (0, ()) if kind == "introduced" and value == "0" else (1, version_key(ecosystem, value))

    affected = False
    fixed: str | None = None
    for kind, value in sorted(events, key=order):
        if kind == "introduced" and (value == "0" or key >= version_key(ecosystem, value)):
            affected = True
        elif (kind in ("fixed", "limit") and key >= version_key(ecosystem, value)) or (
            kind == "last_affected" and key > version_key(ecosystem, value)
        ):
            affected = False
    if affected:
        later = [
            v for k, v in events if k == "fixed" and version_key(ecosystem, v) > key
        ]
        fixed = min(later, key=lambda v: version_key(ecosystem, v)) if later else None
    return affected, fixed


def match_advisories(advisories: Iterable[Advisory], installed: Iterable[Installed]) -> list[Match]:
    by_name: dict[tuple[str, str], list[Installed]] = {}
    for package in installed:
        by_name.setdefault((package.ecosystem.lower(), normalize_name(package.ecosystem, package.name)), []).append(
            package
        )
    matches: list[Match] = []
    seen: set[tuple[str, str, str]] = set()
    for advisory in advisories:
        for affected in advisory.affected:
            for package in by_name.get((affected.ecosystem.lower(), affected.name), []):
                mark = (advisory.id, package.name, package.version)
                if mark in seen:
                    continue
                hit, fixed = package.version in affected.versions, None
                for _kind, events in affected.ranges:
                    in_range, range_fixed = _in_range(affected.ecosystem, package.version, events)
                    if in_range:
                        hit, fixed = True, range_fixed or fixed
                if hit:
                    seen.add(mark)
                    matches.append(Match(package, advisory, fixed))
    return matches
