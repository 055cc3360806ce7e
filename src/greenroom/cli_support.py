"""What every `greenroom` command shares, including the commands plugins add."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from greenroom.config import Config, load_app_config
from greenroom.errors import GreenroomError

if TYPE_CHECKING:
    from rich.console import Console

ConfigOption = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="Config file; repeat to merge, later files win.", exists=True, dir_okay=False),
]


@cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


class _LazyConsole:
    """rich is imported on first output, so `greenroom serve` starts without it."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr

    @property
    def real(self) -> Console:
        """The console itself, for rich APIs that take one (progress bars)."""
        return _console(self._stderr)

    def __getattr__(self, name: str) -> Any:
        return getattr(_console(self._stderr), name)


err = _LazyConsole(stderr=True)
out = _LazyConsole(stderr=False)


def load(config: list[Path] | None, *, resolve_secrets: bool = True) -> Config:
    return load_app_config([str(p) for p in config or []], resolve_secrets=resolve_secrets)


def fail(exc: GreenroomError, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)
