"""The start-up gate: the core runs the posture checks on the config it is about to serve.

`create_portal` calls `enforce_posture` before it opens the database or loads a plugin.
Every finding is logged; in production a critical finding stops start-up with the list.
The returned `PostureService` is registered as a core service, so the posture plugin can
serve the live report without a private door into the core.
"""

from __future__ import annotations

import logging
from pathlib import Path

from greenroom.config.model import Config
from greenroom.errors import ConfigError
from greenroom.kernel.services import ServiceRef
from greenroom.posture.engine import audit_config
from greenroom.posture.model import Report, Severity
from greenroom.posture.packages import PythonPlugin
from greenroom.posture.render import display_path
from greenroom.posture.sources import AuditInputError

log = logging.getLogger("greenroom.posture")
_LEVELS = {
    Severity.CRITICAL: logging.ERROR,
    Severity.HIGH: logging.WARNING,
    Severity.MEDIUM: logging.INFO,
    Severity.LOW: logging.INFO,
}


def installed_plugins() -> list[PythonPlugin]:
    """The third-party greenroom plugins installed in this process's environment."""
    from greenroom.kernel.loader import discover, record_sha256

    plugins = []
    for candidate in discover():
        if candidate.builtin or candidate.distribution is None:
            continue
        plugins.append(
            PythonPlugin(
                id=candidate.id,
                distribution=candidate.distribution_name,
                version=candidate.distribution.version,
                record_sha256=record_sha256(candidate.distribution),
                source=candidate.distribution_name,
            )
        )
    return plugins


class PostureService:
    """The running config's posture report, recomputed on request (it takes milliseconds)."""

    def __init__(self, config: Config, *, production: bool) -> None:
        self._config = config
        self.production = production
        suppressions = config.get("posture.suppressionsFile")
        self._suppressions = Path(str(suppressions)) if suppressions else None

    def report(self) -> Report:
        try:
            return audit_config(
                self._config,
                production=self.production,
                installed_plugins=installed_plugins(),
                suppressions=self._suppressions,
            )
        except AuditInputError as exc:
            raise ConfigError(str(exc), path="posture.suppressionsFile") from exc


POSTURE: ServiceRef[PostureService] = ServiceRef(
    "core.posture", PostureService, "the posture report of the running configuration"
)


def enforce_posture(config: Config, *, production: bool) -> PostureService:
    """Log the posture findings; in production refuse to start on a critical one."""
    service = PostureService(config, production=production)
    report = service.report()
    for finding in report.findings:
        location = finding.location
        log.log(
            _LEVELS[finding.severity],
            "posture finding",
            extra={
                "check": finding.id,
                "severity": finding.severity.value,
                "finding": finding.message,
                "file": location.file,
                "line": location.line,
                "key": location.key,
            },
        )
    for problem in report.problems:
        log.warning("posture audit problem", extra={"problem": str(problem)})
    critical = [f for f in report.findings if f.severity is Severity.CRITICAL]
    if production and critical:
        listed = "\n".join(
            f"  {f.id} {f.check.title}: {f.message} ({display_path(f.location.file)}"
            f"{':' + str(f.location.line) if f.location.line else ''})"
            for f in critical
        )
        raise ConfigError(
            f"refusing to start in production with {len(critical)} critical posture finding(s):\n{listed}\n"
            "Fix them (see `greenroom audit --production`) or suppress one with a reasoned, expiring entry "
            "in the file named by posture.suppressionsFile."
        )
    return service
