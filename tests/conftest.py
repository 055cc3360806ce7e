"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL is the server at 127.0.0.1:5432 (trust auth, database `test`), or
`GREENROOM_TEST_PG_URL`. Each test gets its own schema, dropped afterwards, so tests can run
in parallel. If PostgreSQL is unreachable the PostgreSQL variants fail: they are never
silently skipped.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
import yaml
from sqlalchemy import create_engine, text

from greenroom.app import Portal, create_portal
from greenroom.config import load_config
from greenroom.config.defaults import base_defaults

PG_URL = os.environ.get("GREENROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_TOKEN = "test-static-token-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures"
REAL_WORLD = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real-world"


def _sqlalchemy_pg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema; yields a connection URL whose search_path points at it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_sqlalchemy_pg(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {PG_URL} is not usable for tests: {exc}")
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`backend.database` for SQLite (a file in tmp) and for PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        yield {"client": "better-sqlite3", "connection": str(tmp_path / "greenroom.sqlite")}
    else:
        with postgres_schema() as url:
            yield {"client": "pg", "connection": url}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def token_config() -> dict[str, Any]:
    return {
        "backend": {
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": BENCH_TOKEN, "subject": "tests"}},
                ]
            }
        }
    }


@pytest.fixture
def make_portal(tmp_path: Path, database_config: dict[str, Any]) -> Iterator[Callable[..., Portal]]:
    """Build a portal from a config dict (written to a file, loaded like a real one)."""
    portals: list[Portal] = []

    def build(extra: dict[str, Any] | None = None, **kwargs: Any) -> Portal:
        config = deep_merge(token_config(), {"backend": {"database": database_config}})
        config = deep_merge(config, {"catalog": {"processingInterval": False}})
        config = deep_merge(config, extra or {})
        file = tmp_path / f"app-config-{len(portals)}.yaml"
        file.write_text(yaml.safe_dump(config), encoding="utf-8")
        loaded = load_config([file], defaults=base_defaults(), env={})
        portal = create_portal(loaded, **kwargs)
        portals.append(portal)
        return portal

    yield build
    for portal in portals:
        portal.database.dispose()


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {BENCH_TOKEN}"}


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False,
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def client(self, **kwargs: Any) -> httpx.Client:
        headers = kwargs.pop("headers", auth_headers())
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        server = LiveServer(app).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def plain_config() -> Callable[..., Any]:
    """Load a config from a dict without touching the environment."""

    def build(data: dict[str, Any], env: dict[str, str] | None = None) -> Any:
        return load_config([], defaults=data, env=env or {})

    return build
