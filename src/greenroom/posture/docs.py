"""`docs/posture-checks.md`, generated from the check registry so it never drifts from the code.

    python -m greenroom.posture.docs docs/posture-checks.md     # write it
    python -m greenroom.posture.docs --check docs/posture-checks.md   # exit 1 when out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from greenroom.posture.model import FLAVORS
from greenroom.posture.registry import Check

FLAVOR_NAMES = {"backstage": "Backstage", "greenroom": "greenroom"}

# Keys the checks read for greenroom features whose issues did not fix a name, with the
# name chosen here and whether greenroom reads it yet (the audit trail and scaffolder do not exist).
IDENTITY = "read by the identity plugin"
PLANNED = "not read yet"
POSTURE = "read by the posture audit"
AUDIT = "read by the audit trail (docs/audit.md)"
PROPOSED_KEYS = (
    ("auth.requireMfa", "GR-AUTH-005", "true: refuse sign-ins whose amr/acr claims show no second factor", IDENTITY),
    ("auth.providers.<id>.<env>.requireMfa", "GR-AUTH-005", "the same, per provider", IDENTITY),
    ("auth.providers.<id>.<env>.pkce", "GR-AUTH-007", "PKCE on the authorization code flow (default true)", IDENTITY),
    ("auth.session.idleTimeout", "GR-AUTH-006", "browser session idle timeout (HumanDuration or ISO 8601)", IDENTITY),
    ("auth.session.absoluteTimeout", "GR-AUTH-006", "browser session absolute timeout", IDENTITY),
    ("auth.lockout.enabled", "GR-CORE-005", "lock an identity out after repeated failures (default true)", IDENTITY),
    ("auth.lockout.maxAttempts", "GR-CORE-005", "failed attempts before lockout", IDENTITY),
    ("audit.enabled", "GR-CORE-003", "record the audit trail (default true)", AUDIT),
    ("audit.hashChain", "GR-CORE-004", "chain audit events by hash; cannot be false (start-up refuses it)", AUDIT),
    ("audit.signing.key", "GR-CORE-008", "HMAC key signing the chain head and checkpoints", AUDIT),
    ("audit.forwarding.syslog / .webhook", "GR-CORE-008, GR-CORE-010", "copies of every event off the host", AUDIT),
    ("audit.retention.dangerouslyDeleteUnexported", "GR-CORE-009", "prune events nobody exported", AUDIT),
    ("scaffolder.actions.allow", "GR-SCAF-002", "the scaffolder actions templates may use", PLANNED),
    ("posture.allowedPlugins", "GR-SUP-001", "reviewed Backstage backend plugin packages (globs)", POSTURE),
    ("posture.trustedScopes", "GR-SUP-003", "npm scopes whose plugins are trusted, besides the built-in list", POSTURE),
    ("posture.suppressionsFile", "start-up gate", "suppression file the start-up gate and /api/posture apply", POSTURE),
)

INTRO = """\
# Posture checks

<!-- Generated from the check registry by `python -m greenroom.posture.docs docs/posture-checks.md`.
     Do not edit by hand: tests/posture/test_docs.py fails when this file is out of date. -->

`greenroom audit` checks a greenroom or Backstage configuration against the practices in
greenroom's product brief: authentication, permissions, secrets, network, data, TechDocs,
the scaffolder, plugins and dependencies. The same checks run when `greenroom serve`
starts (a production start with a critical finding is refused) and behind
`GET /api/posture` (permission `posture.report.read`).

```sh
greenroom audit app-config.yaml app-config.production.yaml --production \\
    --packages packages/backend --advisories osv.json \\
    --suppressions posture-suppressions.yaml --format sarif --fail-on high > posture.sarif
```

* **Inputs.** Config files are merged in order like Backstage does (later files win, `null`
  removes a key). `${VAR}`, `$env`, `$file`, `$include`, `$vault` and `$awsSecret` are
  understood without the secrets: the audit never reads the environment or a secret store
  and makes no network calls. Kubernetes ConfigMaps/Secrets holding an `app-config*.yaml`,
  and Helm values with `appConfig`, `backstage.appConfig` or `upstream.backstage.appConfig`,
  are unwrapped; findings point at lines of the file you gave.
* **Flavor.** `--flavor auto` (the default) picks greenroom when no file is given or a
  greenroom-only key is present (`app.production`, `plugins.allow`, `secrets.*`, `audit`, ...),
  Backstage otherwise. Each check below says which flavors it applies to.
* **Production.** `--production` / `--no-production`; otherwise greenroom configs are
  production when `app.production: true`, Backstage configs when `auth.environment:
  production` or a file name says `production`/`prod`. Several checks are stricter in
  production.
* **Exit codes.** 0: no finding at or above `--fail-on` (default `high`); 1: at least one;
  2: unusable input (unreadable file, invalid YAML, an `$include` cycle or more than 32 levels
  deep, a file over 2 MiB, a YAML alias bomb, a bad suppression file).
* **Formats.** `text` (grouped by severity, coloured on a terminal), `json` (schema below)
  and `sarif` (SARIF 2.1.0 for GitHub code scanning: one rule per check, `security-severity`
  9.5/8.0/5.5/2.0 for critical/high/medium/low).
* **Supply chain.** `--packages` takes a Backstage backend package directory (its
  `package.json`; `yarn.lock` or `package-lock.json` is found there or up to four parents
  up; `node_modules` is read when present) or a Python environment (virtualenv or
  `site-packages`). `--advisories` takes OSV JSON (records, `{"vulns": [...]}` or
  `osv-scanner` output); `--package-metadata` takes `{name: packument | "YYYY-MM-DD"}` for
  publish dates. Checks that need an input that was not given are listed as skipped.

## Suppressions

A finding is suppressed only by an entry with a reason and an expiry date:

```yaml
suppressions:
  - id: GR-NET-001
    path: deploy/app-config.production.yaml   # optional: the finding's file (suffix or glob)
    key: backend.listen                       # optional: the finding's key (glob)
    reason: The container only publishes the port to the ingress controller.
    expires: 2026-06-30
```

Entries without a reason (10 characters or more), without a valid date, for an unknown
check, or past their date suppress nothing and are reported; an expiry more than a year
ahead is reported too. Suppressed findings stay in the JSON (`suppressed`) and SARIF
(`suppressions`) output.

## JSON report

`schemaVersion` (`1.0`), `tool`, `flavor`, `production`, `productionReason`, `sources`,
`summary` (`critical`, `high`, `medium`, `low`, `total`, `suppressed`), `findings` (each:
`id`, `title`, `severity`, `category`, `message`, `file`, `line`, `key`, `evidence`, `why`,
`remediation`, `fingerprint`), `suppressed` (findings plus `suppression: {reason,
expires}`), `skippedChecks` (`id`, `reason`) and `problems` (`kind`, `message`, `file`,
`line`). Fields are only ever added within a schema version. Evidence never contains a
secret value: secrets are shown as `[REDACTED n chars]`.
"""


def _proposed_keys() -> str:
    lines = [
        "## Keys chosen for greenroom features",
        "",
        "Some checks read greenroom keys that no issue had named. These are the names the checks use;",
        "a feature built later is expected to read the same keys.",
        "",
        "| key | check | meaning | status |",
        "|---|---|---|---|",
    ]
    lines.extend(f"| `{key}` | {check} | {meaning} | {status} |" for key, check, meaning, status in PROPOSED_KEYS)
    return "\n".join(lines) + "\n"


def _flavors(flavors: tuple[str, ...]) -> str:
    return ", ".join(FLAVOR_NAMES[f] for f in FLAVORS if f in flavors)


def _anchor(check: Check) -> str:
    return check.info.id.lower()


def render_markdown(checks: tuple[Check, ...]) -> str:
    parts = [INTRO, _proposed_keys()]
    table = ["## Checks", "", "| id | title | severity | applies to |", "|---|---|---|---|"]
    for check in checks:
        info = check.info
        flavors = _flavors(info.flavors)
        table.append(f"| [{info.id}](#{_anchor(check)}) | {info.title} | {info.severity.value} | {flavors} |")
    parts.append("\n".join(table) + "\n")
    for check in checks:
        info = check.info
        severity = info.severity.value + (f" ({info.severity_note})" if info.severity_note else "")
        meta = [
            f"**Severity:** {severity}",
            f"**Category:** {info.category}",
            f"**Applies to:** {_flavors(info.flavors)}",
        ]
        if info.needs:
            meta.append(f"**Needs:** `--{info.needs}`")
        what = " ".join((check.run.__doc__ or "").split())
        section = [
            f"### {info.id}",
            "",
            f"**{info.title}**",
            "",
            " · ".join(meta),
            "",
            f"**What.** {what}",
            "",
            f"**Why.** {info.why}",
            "",
            "**Fix.**",
            "",
            "```yaml",
            info.remediation,
            "```",
        ]
        parts.append("\n".join(section) + "\n")
    return "\n".join(parts)


def current_markdown() -> str:
    from greenroom.posture.engine import all_checks

    return render_markdown(all_checks())


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check_only = "--check" in args
    paths = [a for a in args if a != "--check"]
    text = current_markdown()
    if not paths:
        sys.stdout.write(text)
        return 0
    target = Path(paths[0])
    if check_only:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            sys.stderr.write(f"{target} is out of date: run python -m greenroom.posture.docs {target}\n")
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
