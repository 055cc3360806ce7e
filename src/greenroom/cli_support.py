"""What every `greenroom` command shares, including the commands plugins add."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from greenroom.config import Config, load_app_config
from greenroom.errors import GreenroomError

ConfigOption = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="Config file; repeat to merge, later files win.", exists=True, dir_okay=False),
]
err = Console(stderr=True)
out = Console()


def load(config: list[Path] | None, *, resolve_secrets: bool = True) -> Config:
    return load_app_config([str(p) for p in config or []], resolve_secrets=resolve_secrets)


def fail(exc: GreenroomError, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)
