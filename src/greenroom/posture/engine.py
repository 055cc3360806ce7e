"""Run the checks: load what the user points at, decide flavor and production, collect findings."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from greenroom import __version__
from greenroom.config import Config, load_config
from greenroom.config.defaults import base_defaults, zero_config
from greenroom.errors import GreenroomError
from greenroom.posture.context import AuditContext
from greenroom.posture.model import Finding, Flavor, Problem, Report, Skipped
from greenroom.posture.osv import load_advisories
from greenroom.posture.packages import PythonPlugin, load_inventory, load_publish_dates
from greenroom.posture.registry import REGISTRY, Check, Hit
from greenroom.posture.sources import AuditInputError, ConfigSource, prepare
from greenroom.posture.suppressions import apply_suppressions, load_suppressions

# Keys only greenroom reads: their presence says a config is written for greenroom.
GREENROOM_KEYS = (
    "app.production",
    "plugins.allow",
    "plugins.disabled",
    "secrets.vault",
    "secrets.aws",
    "audit",
    "auth.lockout",
    "auth.requireMfa",
    "auth.session.idleTimeout",
    "auth.session.absoluteTimeout",
    "scaffolder.actions.allow",
)
_PRODUCTION_FILE = re.compile(r"(?:^|[.\-_])prod(?:uction)?(?:[.\-_]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class AuditOptions:
    flavor: str = "auto"
    production: bool | None = None
    packages: Path | None = None
    advisories: Path | None = None
    package_metadata: Path | None = None
    suppressions: Path | None = None
    today: date | None = None


def all_checks() -> tuple[Check, ...]:
    import greenroom.posture.checks  # noqa: F401 - registers every check

    return REGISTRY.all()


def detect_flavor(config: Config, *, files_given: bool) -> tuple[Flavor, str]:
    if not files_given:
        return "greenroom", "no config files: greenroom's zero-config setup"
    for key in GREENROOM_KEYS:
        if config.has(key) or any(p == key or p.startswith(key + ".") for p in config.unresolved):
            return "greenroom", f"greenroom-only key '{key}'"
    for text in config.unresolved.values():
        if text.startswith(("vault:", "aws:")):
            return "greenroom", "secret-store reference ($vault/$awsSecret)"
    return "backstage", "no greenroom-only keys"


def detect_production(
    config: Config, flavor: Flavor, files: Sequence[Path], explicit: bool | None
) -> tuple[bool, str]:
    if explicit is not None:
        return explicit, "--production" if explicit else "--no-production"
    if config.get("app.production") is True:
        return True, "app.production: true"
    if flavor == "greenroom":
        return False, "app.production is not true"
    if config.get("auth.environment") == "production":
        return True, "auth.environment: production"
    for file in files:
        if _PRODUCTION_FILE.search(Path(file).name):
            return True, f"file name {Path(file).name}"
    return False, "no production signal (auth.environment, file name); use --production to audit as production"


def _load(paths: Sequence[Path], defaults: dict[str, Any] | None) -> Config:
    try:
        return load_config(paths, defaults=defaults, env={}, resolve_secrets=False, strict_files=False)
    except GreenroomError as exc:
        raise AuditInputError(exc.message) from exc
    except RecursionError as exc:
        raise AuditInputError("config is nested too deeply to read") from exc


def _finding(ctx: AuditContext, check: Check, hit: Hit) -> Finding:
    location = hit.location or ctx.location(hit.key)
    return Finding(
        check=check.info,
        severity=hit.severity or check.info.severity,
        message=hit.message,
        location=location,
        evidence=hit.evidence,
    )


def _missing_input(ctx: AuditContext, needs: str) -> str | None:
    if needs == "packages" and ctx.inventory is None:
        return "needs --packages"
    if needs == "advisories" and (ctx.advisories is None or ctx.inventory is None):
        return "needs --advisories and --packages"
    if needs == "package-metadata" and (ctx.publish_dates is None or ctx.inventory is None):
        return "needs --package-metadata and --packages"
    return None


def run_checks(
    ctx: AuditContext,
    *,
    suppressions: Path | None = None,
    problems: Iterable[Problem] = (),
) -> Report:
    """Every check that applies to the flavor, then suppressions; returns the sorted report."""
    checks = [c for c in all_checks() if ctx.flavor in c.info.flavors]
    report = Report(
        flavor=ctx.flavor,
        production=ctx.production,
        production_reason=ctx.production_reason,
        sources=tuple(s.describe() for s in ctx.sources) or tuple(ctx.config.sources),
        tool_version=__version__,
        checks=tuple(c.info for c in checks),
        problems=list(problems),
    )
    findings: list[Finding] = []
    for check in checks:
        missing = _missing_input(ctx, check.info.needs)
        if missing:
            report.skipped.append(Skipped(check.info.id, missing))
            continue
        try:
            hits = list(check.run(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others' findings
            report.problems.append(Problem("check-error", f"{check.info.id} failed: {type(exc).__name__}: {exc}"))
            continue
        findings.extend(_finding(ctx, check, hit) for hit in hits)
    unique: dict[tuple[str, str | None, int | None, str | None, str], Finding] = {}
    for finding in findings:
        # Checks remember secrets as they find them: scrub text only once all have run.
        clean = replace(finding, message=ctx.redact_text(finding.message), evidence=ctx.redact_text(finding.evidence))
        mark = (clean.id, clean.location.file, clean.location.line, clean.location.key, clean.message)
        unique.setdefault(mark, clean)
    kept = list(unique.values())
    if suppressions is not None:
        entries, suppression_problems = load_suppressions(
            suppressions, known_ids=REGISTRY.ids(), today=ctx.today
        )
        kept, report.suppressed, unused = apply_suppressions(kept, entries)
        report.problems.extend(suppression_problems + unused)
    report.findings = kept
    report.sort()
    return report


def audit_files(files: Sequence[Path], options: AuditOptions | None = None) -> Report:
    """Audit config files (none: greenroom's zero-config setup). Raises AuditInputError."""
    options = options or AuditOptions()
    if options.flavor not in ("auto", "backstage", "greenroom"):
        raise AuditInputError(f"unknown flavor '{options.flavor}' (backstage, greenroom or auto)")
    if not files and options.flavor == "backstage":
        raise AuditInputError("a Backstage audit needs at least one app-config file")
    if options.advisories is not None and options.packages is None:
        raise AuditInputError("--advisories needs --packages (the versions to match the advisories against)")
    if options.package_metadata is not None and options.packages is None:
        raise AuditInputError("--package-metadata needs --packages")
    today = options.today or date.today()
    try:
        with tempfile.TemporaryDirectory(prefix="greenroom-audit-") as scratch:
            prepared = prepare(files, Path(scratch).resolve())
            paths = [s.load_path for s in prepared.sources]
            probe = _load(paths, None)
            if options.flavor == "auto":
                flavor, _reason = detect_flavor(probe, files_given=bool(files))
            else:
                flavor = "greenroom" if options.flavor == "greenroom" else "backstage"
            config = probe
            if flavor == "greenroom":
                config = _load(paths, base_defaults() if files else zero_config())
            production, production_reason = detect_production(
                config, flavor, [s.path for s in prepared.sources], options.production
            )
            ctx = AuditContext(
                config=config,
                flavor=flavor,
                production=production,
                production_reason=production_reason,
                sources=tuple(prepared.sources),
                outer=tuple(prepared.outer),
                inventory=load_inventory(options.packages) if options.packages else None,
                advisories=load_advisories(options.advisories) if options.advisories else None,
                publish_dates=load_publish_dates(options.package_metadata) if options.package_metadata else None,
                today=today,
            )
            problems = list(prepared.problems)
            if ctx.inventory is not None:
                problems.extend(Problem("note", note, str(ctx.inventory.root)) for note in ctx.inventory.notes)
            return run_checks(ctx, suppressions=options.suppressions, problems=problems)
    except RecursionError as exc:
        raise AuditInputError("input is nested too deeply to read") from exc


def audit_config(
    config: Config,
    *,
    production: bool,
    flavor: Flavor = "greenroom",
    installed_plugins: list[PythonPlugin] | None = None,
    suppressions: Path | None = None,
    today: date | None = None,
) -> Report:
    """Audit an already loaded config (the running one, for the start-up gate and the API)."""
    sources = tuple(
        ConfigSource(path=Path(s), shape="app-config", detail="", load_path=Path(s)) for s in config.sources
    )
    ctx = AuditContext(
        config=config,
        flavor=flavor,
        production=production,
        production_reason="production mode" if production else "not in production mode",
        sources=sources,
        outer=(),
        installed_plugins=installed_plugins,
        today=today or date.today(),
    )
    return run_checks(ctx, suppressions=suppressions)
