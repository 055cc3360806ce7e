"""`greenroom audit`: the posture audit on the command line, with CI exit codes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from greenroom.posture.model import Report, Severity
from greenroom.posture.sources import AuditInputError

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2


def _error(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(EXIT_UNUSABLE)


def _list_checks(output_format: str) -> str:
    from greenroom.posture.docs import render_markdown
    from greenroom.posture.engine import all_checks

    checks = all_checks()
    if output_format == "markdown":
        return render_markdown(checks)
    if output_format == "json":
        items = [{**c.info.to_json(), "what": " ".join((c.run.__doc__ or "").split())} for c in checks]
        return json.dumps(items, indent=2) + "\n"
    rows = [f"{c.info.id:13} {c.info.severity.value:9} {'/'.join(c.info.flavors):19} {c.info.title}" for c in checks]
    return "\n".join(rows) + "\n"


def _use_colour(choice: bool | None) -> bool:
    if choice is not None:
        return choice
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _render(report: Report, output_format: str, colour: bool) -> str:
    from greenroom.posture.render import render_json, render_sarif, render_text

    if output_format == "json":
        return render_json(report)
    if output_format == "sarif":
        return render_sarif(report)
    return render_text(report, colour=colour)


def audit(
    configs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="app-config files (or ConfigMaps / Helm values holding one), merged in order; none: zero-config.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    flavor: Annotated[str, typer.Option(help="backstage, greenroom or auto.")] = "auto",
    production: Annotated[
        bool | None,
        typer.Option("--production/--no-production", help="Audit as a production deployment (default: detect).",
                     show_default=False),
    ] = None,
    packages: Annotated[
        Path | None,
        typer.Option(help="Backstage backend package dir (package.json + lockfile) or a Python environment."),
    ] = None,
    advisories: Annotated[
        Path | None, typer.Option(help="OSV advisories (JSON) to match installed versions against.", exists=True)
    ] = None,
    package_metadata: Annotated[
        Path | None, typer.Option(help="Publish dates: {package: packument | 'YYYY-MM-DD'} (JSON).", exists=True)
    ] = None,
    suppressions: Annotated[
        Path | None, typer.Option(help="Suppression file (id, reason, expires).", exists=True, dir_okay=False)
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text, json or sarif (markdown with --list-checks).")
    ] = "text",
    fail_on: Annotated[str, typer.Option(help="Exit 1 on findings at or above: critical, high, medium, low.")] = "high",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to a file.")] = None,
    colour: Annotated[
        bool | None, typer.Option("--color/--no-color", help="Colour text output (default: on a terminal).",
                                  show_default=False)
    ] = None,
    list_checks: Annotated[bool, typer.Option("--list-checks", help="List the checks and exit.")] = False,
) -> None:
    """Audit a greenroom or Backstage config's security posture (exit 1 on findings, 2 on bad input)."""
    from greenroom.posture.engine import AuditOptions, audit_files

    formats = ("text", "json", "sarif", "markdown") if list_checks else ("text", "json", "sarif")
    if output_format not in formats:
        raise _error(f"--format must be one of {', '.join(formats)}")
    if list_checks:
        sys.stdout.write(_list_checks(output_format))
        raise typer.Exit(EXIT_OK)
    try:
        threshold = Severity.parse(fail_on)
    except ValueError as exc:
        raise _error(f"--fail-on: {exc}") from None
    options = AuditOptions(
        flavor=flavor,
        production=production,
        packages=packages,
        advisories=advisories,
        package_metadata=package_metadata,
        suppressions=suppressions,
    )
    try:
        report = audit_files(list(configs or []), options)
    except AuditInputError as exc:
        raise _error(str(exc)) from None
    for problem in report.problems:
        # Bad suppression entries suppress nothing; say so where CI logs show it.
        if problem.kind in ("suppression", "check-error"):
            sys.stderr.write(f"error: {problem}\n")
        elif problem.kind == "suppression-warning":
            sys.stderr.write(f"warning: {problem}\n")
    text = _render(report, output_format, _use_colour(colour) and output is None)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _error(f"cannot write {output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    raise typer.Exit(EXIT_FINDINGS if report.at_or_above(threshold) else EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
