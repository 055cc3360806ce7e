"""What greenroom uses when a key is not configured, and the zero-config local setup."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7007


def data_dir() -> Path:
    """Where zero-config mode keeps its SQLite file: $GREENROOM_HOME or the XDG data dir."""
    home = os.environ.get("GREENROOM_HOME")
    if home:
        return Path(home)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "greenroom"


def example_catalog_path() -> Path:
    return Path(str(resources.files("greenroom.examples").joinpath("catalog", "all.yaml")))


def base_defaults() -> dict[str, Any]:
    """Defaults below every config file: loopback, embedded SQLite."""
    return {
        "app": {"title": "greenroom", "baseUrl": f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"},
        "backend": {
            "baseUrl": f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
            "listen": {"host": DEFAULT_HOST, "port": DEFAULT_PORT},
            "database": {
                "client": "better-sqlite3",
                "connection": str(data_dir() / "greenroom.sqlite"),
            },
        },
    }


def zero_config() -> dict[str, Any]:
    """The local setup used when no config file is given: the example organisation."""
    config = base_defaults()
    config["catalog"] = {
        "rules": [
            {"allow": ["Component", "API", "System", "Domain", "Resource", "Group", "User", "Location", "Template"]}
        ],
        "locations": [{"type": "file", "target": str(example_catalog_path())}],
    }
    return config
