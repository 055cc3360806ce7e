"""`greenroom catalog ...`: validate descriptors offline, import locations, show ingestion status."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from greenroom.cli_support import ConfigOption, err, fail, load, out
from greenroom.errors import ConflictError, GreenroomError, InputError

catalog_app = typer.Typer(no_args_is_help=True, help="Catalog descriptors and locations.")


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")


def _service(config: list[Path] | None) -> Any:
    from greenroom.app import create_portal
    from greenroom.plugins.catalog.plugin import CATALOG

    portal = create_portal(load(config))
    return portal.registry.services.get(CATALOG)


@catalog_app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Descriptor files to check.", exists=True, dir_okay=False)],
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Validate descriptor files offline with Backstage's rules (exit 1 on any error)."""
    from greenroom.plugins.catalog.model import EntityValidationError, relations_for, validate_entity
    from greenroom.plugins.catalog.store.search import check_key_casing
    from greenroom.yamlsafe import YamlError, load_all

    problems: list[dict[str, Any]] = []
    checked = 0
    for path in paths:
        try:
            documents = load_all(path.read_bytes(), source=str(path))
        except YamlError as exc:
            problems.append({"file": str(path), "line": exc.line, "message": f"YAML error: {exc.reason}"})
            continue
        for index, document in enumerate(documents):
            if document.value is None:
                continue
            checked += 1
            where = {"file": str(path), "line": document.line, "document": index}
            if not isinstance(document.value, dict):
                problems.append({**where, "message": "Expected object at root"})
                continue
            try:
                entity = validate_entity(document.value)
                check_key_casing(entity)
                relations_for(entity)
            except (EntityValidationError, InputError) as exc:
                problems.append({**where, "message": exc.message})
    if output == "json":
        out.print_json(json.dumps({"checked": checked, "errors": problems}))
    else:
        for problem in problems:
            line = f":{problem['line']}" if problem.get("line") else ""
            err.print(f"{problem['file']}{line}: {problem['message']}", highlight=False, soft_wrap=True)
        summary = f"{checked} entities checked, {len(problems)} error(s)"
        (err if problems else out).print(summary, highlight=False)
    if problems:
        raise typer.Exit(1)


@catalog_app.command("import")
def import_location(
    target: Annotated[str, typer.Argument(help="A descriptor file path or an http(s) URL.")],
    config: ConfigOption = None,
) -> None:
    """Register a location and ingest it now."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from greenroom.plugins.catalog.processing.locations import LocationSpec

    try:
        service = _service(config)
        if "://" in target:
            spec = LocationSpec("url", target)
        else:
            path = Path(target).expanduser().resolve()
            if not path.is_file():
                raise InputError(f"{target} is not a file")
            spec = LocationSpec("file", str(path))
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=err.real, transient=True) as progress:
            task = progress.add_task(f"reading {spec.key}", total=None)
            with contextlib.suppress(ConflictError):  # already registered: importing again refreshes it
                service.add_location(spec, source="cli", ingest=False)
            stats = service.ingestor.ingest(
                spec, force=True,
                progress=lambda n: progress.update(task, description=f"{n} entities read from {spec.key}"),
            )
    except GreenroomError as exc:
        raise fail(exc) from None
    out.print(
        f"imported {spec.key}: {stats.inserted} new, {stats.updated} updated, {stats.unchanged} unchanged, "
        f"{stats.orphaned} orphaned, {len(stats.errors)} error(s)",
        highlight=False,
    )
    for error in stats.errors:
        err.print(f"  {error.get('location')}: {error['message']}", highlight=False, soft_wrap=True)
    if stats.errors:
        raise typer.Exit(1)


@catalog_app.command("status")
def status(
    config: ConfigOption = None,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    refresh: Annotated[bool, typer.Option(help="Ingest every location first.")] = False,
) -> None:
    """What the last ingestion of every location found, including errors."""
    try:
        service = _service(config)
        if refresh:
            service.ingest_all()
        items = service.location_status()
    except GreenroomError as exc:
        raise fail(exc) from None
    if output == "json":
        out.print_json(json.dumps({"items": items}))
        return
    for item in items:
        loc = item["location"]
        state = "never read" if item["lastRunAt"] is None else ("errors" if item["errors"] else "ok")
        out.print(f"{loc['type']}:{loc['target']} [{loc['source']}] {state}, {item['entityCount']} entities",
                  highlight=False)
        for error in item["errors"]:
            out.print(f"  {error['name']}: {error['message']}", highlight=False, soft_wrap=True)
