"""Rate limiting and lockout shared by several processes, in the database (SQLite and PostgreSQL)
and in Redis (127.0.0.1:6379)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from greenroom.identity.config import LockoutSettings, RateLimitSettings
from greenroom.identity.ratelimit import (
    LOCK_CACHE_SECONDS,
    BruteForceGuard,
    CounterStore,
    DatabaseCounters,
    RedisCounters,
    TooManyRequestsError,
)

LOCKOUT = LockoutSettings(enabled=True, max_attempts=3, address_max_attempts=5, window=600, duration=900)
RATE = RateLimitSettings(sign_in_limit=4, sign_in_window=60)


@pytest.fixture(params=["database", "redis"])
def store_factory(request: pytest.FixtureRequest, database) -> Callable[[], CounterStore]:
    """Each call is another process's view of the same shared store."""
    if request.param == "database":
        return lambda: DatabaseCounters(database)
    prefix = f"greenroom-test:{uuid.uuid4().hex}:"
    return lambda: RedisCounters("redis://127.0.0.1:6379/0", prefix=prefix)


def _guards(store_factory, clock, events=None):
    def guard():
        return BruteForceGuard(store_factory(), lockout=LOCKOUT, rate_limit=RATE, clock=clock,
                               on_lockout=(lambda key, until: events.append(key)) if events is not None else None)

    return guard(), guard()


def test_rate_limit_is_shared_between_processes(store_factory, clock):
    one, two = _guards(store_factory, clock)
    for guard in (one, two, one, two):
        guard.check_rate("signin", "203.0.113.7")
    with pytest.raises(TooManyRequestsError):
        one.check_rate("signin", "203.0.113.7")
    two.check_rate("signin", "198.51.100.1")  # another address has its own budget
    clock.advance(61)
    one.check_rate("signin", "203.0.113.7")  # a new window


def test_identity_lockout_is_shared_between_processes(store_factory, clock):
    events: list[str] = []
    one, two = _guards(store_factory, clock, events)
    one.record_failure(address="203.0.113.7", identity="oidc:alice")
    two.record_failure(address="203.0.113.8", identity="oidc:alice")
    one.check_identity("oidc:alice")
    two.record_failure(address="203.0.113.9", identity="oidc:alice")  # the third failure locks
    for guard in (one, two):
        clock.advance(LOCK_CACHE_SECONDS + 0.1)  # past any cached "not locked" answer
        with pytest.raises(TooManyRequestsError, match="locked"):
            guard.check_identity("oidc:alice")
    one.check_identity("oidc:bob")
    assert events == ["id:oidc:alice"]
    clock.advance(LOCKOUT.duration + 1)
    one.check_identity("oidc:alice")


def test_address_lockout_is_shared_between_processes(store_factory, clock):
    one, two = _guards(store_factory, clock)
    for i in range(5):
        (one if i % 2 else two).record_failure(address="203.0.113.7")
    with pytest.raises(TooManyRequestsError):
        one.check_address("203.0.113.7")  # this process set the lock: at once
    clock.advance(LOCK_CACHE_SECONDS + 0.1)
    with pytest.raises(TooManyRequestsError):
        two.check_address("203.0.113.7")
    one.check_address("203.0.113.99")


def test_success_clears_failures_but_not_a_lock(store_factory, clock):
    one, _two = _guards(store_factory, clock)
    one.record_failure(address=None, identity="oidc:carol")
    one.record_failure(address=None, identity="oidc:carol")
    one.record_success("oidc:carol")
    one.record_failure(address=None, identity="oidc:carol")
    one.check_identity("oidc:carol")  # only one failure since the success


def test_lockout_can_be_disabled_outside_production(store_factory, clock):
    from dataclasses import replace

    guard = BruteForceGuard(store_factory(), lockout=replace(LOCKOUT, enabled=False), rate_limit=RATE, clock=clock)
    for _ in range(10):
        guard.record_failure(address="203.0.113.7", identity="oidc:x")
    guard.check_address("203.0.113.7")
    guard.check_identity("oidc:x")
