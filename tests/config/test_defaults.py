"""What greenroom runs with when nothing is configured: loopback, SQLite, the example catalog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from greenroom.config import load_app_config
from greenroom.config.defaults import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    base_defaults,
    data_dir,
    example_catalog_path,
    zero_config,
)
from greenroom.config.schema import validate_core
from greenroom.yamlsafe import load_all

Write = Callable[..., Path]


def test_defaults_bind_to_loopback_only() -> None:
    defaults = base_defaults()
    assert DEFAULT_HOST == "127.0.0.1"
    assert defaults["backend"]["listen"] == {"host": "127.0.0.1", "port": DEFAULT_PORT}
    assert defaults["backend"]["baseUrl"] == f"http://127.0.0.1:{DEFAULT_PORT}"
    assert defaults["backend"]["database"]["client"] == "better-sqlite3"
    assert "auth" not in defaults["backend"]  # no guest, no default credentials
    assert "auth" not in defaults


def test_defaults_are_fresh_copies() -> None:
    first = base_defaults()
    first["backend"]["listen"]["host"] = "0.0.0.0"
    assert base_defaults()["backend"]["listen"]["host"] == "127.0.0.1"


def test_data_dir_prefers_greenroom_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GREENROOM_HOME", str(tmp_path / "gr"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "gr"
    assert base_defaults()["backend"]["database"]["connection"] == str(tmp_path / "gr" / "greenroom.sqlite")


def test_data_dir_falls_back_to_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GREENROOM_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "greenroom"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "greenroom"


def test_zero_config_serves_the_example_catalog() -> None:
    config = zero_config()
    target = Path(config["catalog"]["locations"][0]["target"])
    assert target == example_catalog_path()
    assert target.is_file()
    assert load_all(target.read_bytes(), source=str(target))
    assert "Template" in config["catalog"]["rules"][0]["allow"]


def test_load_app_config_without_files_is_zero_config() -> None:
    config = load_app_config(env={})
    assert config.get("catalog.locations[0].target") == str(example_catalog_path())
    assert config.get("backend.listen.host") == "127.0.0.1"
    validate_core(config)


def test_load_app_config_with_files_has_no_example_catalog(write: Write) -> None:
    config = load_app_config([write("a.yaml", "app:\n  title: Mine\n")], env={})
    assert config.get("app.title") == "Mine"
    assert config.get("backend.listen.port") == DEFAULT_PORT
    assert not config.has("catalog")


def test_load_app_config_can_leave_secret_stores_unresolved(write: Write) -> None:
    path = write(
        "a.yaml",
        "secrets:\n  vault: {address: 'http://127.0.0.1:1', token: t}\ndb:\n  password: {$vault: {path: db}}\n",
    )
    config = load_app_config([path], env={}, resolve_secrets=False)
    assert config.get("db.password") == "<unresolved secret: vault:db>"
