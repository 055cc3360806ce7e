"""Identity core tests: a migrated database (SQLite and PostgreSQL) and a clock the tests move."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from greenroom.config import load_config
from greenroom.db.engine import Database
from greenroom.db.migrate import upgrade
from greenroom.identity import MIGRATIONS, IdentityService, MemoryAuditSink
from greenroom.identity.audit import Auditor
from greenroom.identity.config import IdentitySettings, LockoutSettings, RateLimitSettings, SessionSettings


class Clock:
    """Starts at the real time: PyJWT checks `exp`/`iat` against the real clock."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def database(database_config: dict[str, Any]) -> Iterator[Database]:
    config = load_config([], defaults={"backend": {"database": database_config}}, env={})
    db = Database.from_config(config)
    upgrade(db, [MIGRATIONS])
    yield db
    db.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def settings(**overrides: Any) -> IdentitySettings:
    base = IdentitySettings(
        base_url="https://portal.example.com",
        session=SessionSettings(idle_timeout=3600, absolute_timeout=12 * 3600, revocation_check_interval=5,
                                touch_interval=60),
        lockout=LockoutSettings(enabled=True, max_attempts=3, address_max_attempts=5, window=600, duration=900),
        rate_limit=RateLimitSettings(sign_in_limit=10, sign_in_window=60),
        allowed_origins=("https://portal.example.com",),
    )
    return replace(base, **overrides)


@pytest.fixture
def make_identity(database: Database, clock: Clock) -> Callable[..., IdentityService]:
    def build(db: Database | None = None, **overrides: Any) -> IdentityService:
        audit = MemoryAuditSink()
        service = IdentityService(db or database, settings(**overrides), auditor=Auditor([audit]), clock=clock)
        service.test_audit = audit  # type: ignore[attr-defined]
        return service

    return build
