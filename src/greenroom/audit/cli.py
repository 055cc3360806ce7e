"""`greenroom audit-log ...`: verify, export, prune and inspect the audit trail.

    greenroom audit-log verify --config app-config.yaml [--format json]
    greenroom audit-log export --config ... --format jsonl|csv --since 2026-01-01 [--until ...] [--output FILE]
    greenroom audit-log prune --config ...          # apply audit.retention now
    greenroom audit-log status --config ...         # chain head, forwarding cursors, exports

`verify` exits 0 when the chain is intact and 1 when it found a problem (each printed with
the sequence number and event id where it is); 2 for a usage or configuration error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from greenroom.audit.times import parse_time
from greenroom.cli_support import ConfigOption, err, fail, load, out
from greenroom.errors import GreenroomError, InputError

audit_log_app = typer.Typer(no_args_is_help=True, help="The audit trail: verify, export, prune.")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_log_app, name="audit-log")


def _service(config: list[Path] | None, *, need_tables: bool = True) -> Any:
    from sqlalchemy import inspect

    from greenroom.audit.service import AuditService
    from greenroom.audit.settings import load_audit_settings
    from greenroom.db.engine import Database

    cfg = load(config)
    settings = load_audit_settings(cfg, production=cfg.get_bool("app.production"))
    database = Database.from_config(cfg)
    if need_tables:
        with database.engine.connect() as connection:
            if not inspect(connection).has_table("audit_chain_head"):
                raise GreenroomError(f"the database at {database.describe()} has no audit trail "
                                     "(run `greenroom db upgrade` or start the server once)")
    return AuditService(database, settings)


@audit_log_app.command("verify")
def verify(
    config: ConfigOption = None,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Check the hash chain (and, with audit.signing.key, its signatures); exit 1 on any problem."""
    from greenroom.audit.verify import verify_chain

    try:
        if output not in ("text", "json"):
            raise InputError("--format must be text or json")
        service = _service(config)
        report = verify_chain(service.database, signer=service.signer)
    except GreenroomError as exc:
        raise fail(exc) from None
    if output == "json":
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        span = f"seq {report.first_seq}-{report.last_seq}" if report.first_seq is not None else "no events"
        out.print(f"checked {report.checked} event(s) ({span}; pruned through seq {report.anchor_seq}; "
                  f"head seq {report.head_seq}; {report.signed_checkpoints} signed checkpoint(s); signatures "
                  f"{'checked' if report.signed else 'not checked: no audit.signing.key'})", highlight=False)
        for problem in report.problems:
            out.print(f"[red]TAMPERED[/red] {problem}", highlight=False)
        if report.ok:
            out.print("[green]the audit trail is intact[/green]")
    if not report.ok:
        raise typer.Exit(1)


@audit_log_app.command("export")
def export(
    config: ConfigOption = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601 or 7d/12h/30m ago).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to (not including) this time.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.",
                                                dir_okay=False)] = None,
    actor: Annotated[str | None, typer.Option(help="Only events by this actor id.")] = None,
    event_id: Annotated[str | None, typer.Option("--event-id", help="Only this eventId.")] = None,
) -> None:
    """Write events (oldest first) as JSON Lines or CSV; recorded as an audit-export event."""
    from greenroom.audit.model import cli_actor
    from greenroom.audit.store import AuditQuery

    try:
        if fmt not in ("jsonl", "csv"):
            raise InputError(f"--format must be jsonl or csv, not '{fmt}'")
        if since is None:
            raise InputError("--since is required (e.g. --since 2026-01-01 or --since 7d)")
        since_us = parse_time(since, name="--since")
        until_us = parse_time(until, name="--until") if until is not None else None
        if until_us is not None and until_us <= since_us:
            raise InputError("--until must be later than --since")
        service = _service(config)
        query = AuditQuery(since_us=since_us, until_us=until_us, actor=actor, event_id=event_id, order="asc")
        if output is not None:
            partial = output.with_name(output.name + ".partial")
            with partial.open("wb") as stream:
                result = service.export(query, fmt, stream, actor=cli_actor())
            partial.replace(output)
        else:
            result = service.export(query, fmt, sys.stdout.buffer, actor=cli_actor())
    except GreenroomError as exc:
        raise fail(exc) from None
    except OSError as exc:
        raise fail(GreenroomError(f"cannot write the export: {exc}")) from None
    span = f" (seq {result.first_seq}-{result.last_seq})" if result.count else ""
    err.print(f"exported {result.count} event(s){span}" + (f" to {output}" if output else ""), highlight=False)


@audit_log_app.command("prune")
def prune_command(config: ConfigOption = None) -> None:
    """Apply audit.retention now: delete old events that were exported or forwarded."""
    from greenroom.audit.model import cli_actor
    from greenroom.audit.retention import prune

    try:
        service = _service(config)
        if service.settings.retention.days is None:
            raise InputError("audit.retention.days is not set: nothing is ever pruned")
        result = prune(service, actor=cli_actor())
    except GreenroomError as exc:
        raise fail(exc) from None
    out.print(f"deleted {result.deleted} event(s)"
              + (f" through seq {result.through_seq}" if result.through_seq is not None else ""), highlight=False)
    if result.kept_unexported:
        err.print(f"[yellow]kept {result.kept_unexported} event(s) older than {service.settings.retention.days} days "
                  f"from seq {result.first_kept_seq}: never exported or forwarded[/yellow] (export them with "
                  "`greenroom audit-log export`)", highlight=False)
    if result.unexported_deleted:
        err.print(f"[red]{result.unexported_deleted} of them had never been exported or forwarded "
                  "(audit.retention.dangerouslyDeleteUnexported)[/red]", highlight=False)


@audit_log_app.command("status")
def status(config: ConfigOption = None) -> None:
    """The chain head, unexported events and each forwarding sink's progress, as JSON."""
    from sqlalchemy import func, select

    from greenroom.audit import tables
    from greenroom.audit.forwarding import cursor_status

    try:
        service = _service(config)
        seq, head_hash = service.store.head()
        e = tables.events.c
        with service.database.engine.connect() as connection:
            stored = int(connection.execute(select(func.count()).select_from(tables.events)).scalar() or 0)
            unexported = int(connection.execute(
                select(func.count()).select_from(tables.events).where(e.exported_at.is_(None))).scalar() or 0)
        data = {"headSequence": seq, "headHash": head_hash, "storedEvents": stored, "unexportedEvents": unexported,
                "sinks": cursor_status(service.store), "enabled": service.enabled,
                "signing": service.signer is not None, "retentionDays": service.settings.retention.days}
    except GreenroomError as exc:
        raise fail(exc) from None
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
