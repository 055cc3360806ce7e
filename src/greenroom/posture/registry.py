"""The check registry: every check with its id, documentation and the function that runs it.

Checks register themselves with the `check` decorator when their module is imported
(`greenroom.posture.checks` imports them all); the registry is frozen once they have, so
nothing can add a check at run time. Ids are stable (`GR-<AREA>-<NNN>`): suppression files,
SARIF baselines and CI scripts refer to them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from greenroom.posture.model import FLAVORS, CheckInfo, Flavor, Location, Severity

if TYPE_CHECKING:
    from greenroom.posture.context import AuditContext

CATEGORIES = (
    "authentication",
    "permissions",
    "secrets",
    "network",
    "data",
    "techdocs",
    "scaffolder",
    "supply-chain",
    "greenroom",
)
NEEDS = ("", "packages", "advisories", "package-metadata")
_ID = re.compile(r"^GR-[A-Z]+-\d{3}$")


@dataclass(frozen=True, slots=True)
class Hit:
    """What a check function reports; the engine adds the check's documentation to it."""

    message: str
    key: str | None = None
    evidence: str = ""
    severity: Severity | None = None
    location: Location | None = None


CheckFn = Callable[["AuditContext"], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class Check:
    info: CheckInfo
    run: CheckFn


class CheckRegistry:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._frozen = False

    def register(self, check: Check) -> None:
        info = check.info
        if self._frozen:
            raise RuntimeError(f"check {info.id} registered after the registry was frozen")
        if not _ID.match(info.id):
            raise ValueError(f"check id '{info.id}' must look like GR-AUTH-001")
        if info.id in self._checks:
            raise ValueError(f"check id {info.id} registered twice")
        if info.category not in CATEGORIES:
            raise ValueError(f"check {info.id}: unknown category '{info.category}'")
        if info.needs not in NEEDS:
            raise ValueError(f"check {info.id}: unknown input '{info.needs}'")
        if not info.why.strip() or not info.remediation.strip():
            raise ValueError(f"check {info.id}: 'why' and 'remediation' are required")
        self._checks[info.id] = check

    def freeze(self) -> None:
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def all(self) -> tuple[Check, ...]:
        """Checks in documentation order: by category, then id."""
        return tuple(sorted(self._checks.values(), key=lambda c: (CATEGORIES.index(c.info.category), c.info.id)))

    def get(self, check_id: str) -> Check | None:
        return self._checks.get(check_id)

    def ids(self) -> frozenset[str]:
        return frozenset(self._checks)


REGISTRY = CheckRegistry()


def check(
    *,
    id: str,
    title: str,
    severity: Severity,
    category: str,
    why: str,
    remediation: str,
    flavors: tuple[Flavor, ...] = FLAVORS,
    severity_note: str = "",
    needs: str = "",
) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated function as a check."""

    def decorate(fn: CheckFn) -> CheckFn:
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"check {id}: the function's docstring says what it checks; it is missing")
        info = CheckInfo(
            id=id,
            title=title,
            severity=severity,
            category=category,
            flavors=flavors,
            why=" ".join(why.split()),
            remediation=textwrap.dedent(remediation).strip("\n"),
            severity_note=severity_note,
            needs=needs,
        )
        REGISTRY.register(Check(info=info, run=fn))
        return fn

    return decorate
