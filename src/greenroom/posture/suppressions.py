"""Suppressing a finding: only by an explicit, reasoned entry that expires.

    # posture-suppressions.yaml
    suppressions:
      - id: GR-NET-001
        path: deploy/app-config.production.yaml   # optional: the finding's file (suffix or glob)
        key: backend.listen                       # optional: the finding's config key (glob)
        reason: The container only publishes the port to the ingress controller.
        expires: 2026-06-30

An entry without a reason, without a valid expiry date, for an unknown check, or past its
expiry suppresses nothing and is reported as a problem, so a forgotten suppression turns
back into a finding instead of hiding it for ever.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from greenroom.posture.model import Finding, Problem, Suppressed
from greenroom.posture.sources import AuditInputError, node_data, parse_nodes

MIN_REASON_LENGTH = 10
MAX_HORIZON = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class Suppression:
    id: str
    reason: str
    expires: date
    path: str | None = None
    key: str | None = None
    line: int | None = None
    source: str | None = None

    def matches(self, finding: Finding) -> bool:
        if finding.check.id != self.id:
            return False
        if self.key is not None and not fnmatch.fnmatchcase(finding.location.key or "", self.key):
            return False
        if self.path is not None:
            file = (finding.location.file or "").replace("\\", "/")
            wanted = self.path.replace("\\", "/")
            if not (file == wanted or file.endswith("/" + wanted.lstrip("./")) or fnmatch.fnmatchcase(file, wanted)):
                return False
        return True


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def load_suppressions(file: Path, *, known_ids: frozenset[str], today: date) -> tuple[list[Suppression], list[Problem]]:
    """Valid, unexpired entries, and a problem for every entry that is not."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"cannot read suppression file {file}: {exc}") from exc
    nodes = parse_nodes(text, str(file))
    lines: dict[str, int] = {}
    data = node_data(nodes[0], "", lines) if nodes else None
    entries = data.get("suppressions") if isinstance(data, dict) else data
    prefix = "suppressions" if isinstance(data, dict) else ""
    if data is None or entries is None:
        entries = []
    if not isinstance(entries, list):
        raise AuditInputError(f"{file}: expected a list of suppressions (under 'suppressions:')")
    valid: list[Suppression] = []
    problems: list[Problem] = []
    source = str(file)
    for index, entry in enumerate(entries):
        where = f"{prefix}[{index}]"
        line = lines.get(where)

        def problem(message: str, line: int | None = line) -> None:
            problems.append(Problem("suppression", message, source, line))

        if not isinstance(entry, dict):
            problem("entry is not a mapping; ignored")
            continue
        check_id = str(entry.get("id") or "").strip()
        reason = str(entry.get("reason") or "").strip()
        expires = _date(entry.get("expires"))
        if not check_id:
            problem("entry has no 'id'; ignored")
            continue
        if check_id not in known_ids:
            problem(f"{check_id}: no such check; ignored")
            continue
        if len(reason) < MIN_REASON_LENGTH:
            problem(f"{check_id}: a suppression needs a 'reason' (at least {MIN_REASON_LENGTH} characters); ignored")
            continue
        if expires is None:
            problem(f"{check_id}: 'expires' must be a date (YYYY-MM-DD); ignored")
            continue
        if expires < today:
            problem(f"{check_id}: suppression expired on {expires.isoformat()}; the finding is reported again")
            continue
        if expires - today > MAX_HORIZON:
            problems.append(Problem("suppression-warning", f"{check_id}: expires more than a year ahead "
                                    f"({expires.isoformat()}); review it sooner", source, line))
        path = entry.get("path")
        key = entry.get("key")
        valid.append(
            Suppression(
                id=check_id,
                reason=reason,
                expires=expires,
                path=str(path) if path else None,
                key=str(key) if key else None,
                line=line,
                source=source,
            )
        )
    return valid, problems


def apply_suppressions(
    findings: list[Finding], suppressions: list[Suppression]
) -> tuple[list[Finding], list[Suppressed], list[Problem]]:
    kept: list[Finding] = []
    suppressed: list[Suppressed] = []
    used: set[int] = set()
    for finding in findings:
        match = next((i for i, s in enumerate(suppressions) if s.matches(finding)), None)
        if match is None:
            kept.append(finding)
            continue
        used.add(match)
        entry = suppressions[match]
        suppressed.append(Suppressed(finding, entry.reason, entry.expires.isoformat()))
    unused = [
        Problem("suppression-warning", f"{s.id}: suppression matches no finding", s.source, s.line)
        for i, s in enumerate(suppressions)
        if i not in used
    ]
    return kept, suppressed, unused
