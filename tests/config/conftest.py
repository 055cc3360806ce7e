"""Helpers for config tests: files written under a tmp dir and loaded like real ones."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from greenroom.config import Config, load_config


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """`write("a/app.yaml", text)` -> the file's path (text is dedented; bytes are written as is)."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load() -> Callable[..., Config]:
    """`load(*files, env={...}, **kwargs)`: load_config that never reads the real environment."""

    def _load(*files: Path, env: dict[str, str] | None = None, **kwargs: Any) -> Config:
        return load_config(list(files), env=env or {}, **kwargs)

    return _load
