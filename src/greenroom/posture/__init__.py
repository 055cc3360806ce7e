"""Posture audit: checks a greenroom or Backstage configuration against security practice.

    from greenroom.posture import AuditOptions, audit_files
    report = audit_files([Path("app-config.yaml")], AuditOptions(production=True))

The pieces: `registry` (checks with ids and documentation), `checks/` (one module per area),
`sources` (ConfigMaps and Helm values unwrapped), `context` (what a check sees), `engine`
(flavor, production, running the checks), `suppressions`, `render` (text, JSON, SARIF),
`docs` (docs/posture-checks.md), `gate` (the start-up gate) and `cli` (`greenroom audit`).
"""

from greenroom.posture.engine import AuditOptions, audit_config, audit_files
from greenroom.posture.model import Finding, Location, Report, Severity
from greenroom.posture.sources import AuditInputError

__all__ = [
    "AuditInputError",
    "AuditOptions",
    "Finding",
    "Location",
    "Report",
    "Severity",
    "audit_config",
    "audit_files",
]
