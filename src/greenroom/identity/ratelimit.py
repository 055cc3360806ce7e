"""Rate limiting and lockout, shared by every process through the database or Redis.

* **Rate limits** count requests per key in fixed windows (`signin:addr:<ip>`): sign-in
  and token endpoints allow `auth.rateLimit.signIn.limit` per window per client address.
* **Lockout** counts failures per key in a sliding-enough fixed window (`auth.lockout.window`):
  `maxAttempts` failed sign-ins of one identity lock that identity's sign-in, and
  `addressMaxAttempts` failures of any kind from one address (bad tokens, bad cookies, failed
  sign-ins) lock that address out of every credentialed request, for `auth.lockout.duration`.

Checking a lock on every credentialed request would be a store round trip per request, so
each process remembers a lock answer for `LOCK_CACHE_SECONDS`: a lock set by another process
takes effect here within that time, one set by this process at once.

Both stores keep the same keys; pick with `auth.rateLimit.store.type` (`database`, the
default, or `redis` with `connection: redis://host:6379/0`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import delete, select

from greenroom.db.engine import Database
from greenroom.errors import GreenroomError
from greenroom.identity import models
from greenroom.identity.config import LockoutSettings, RateLimitSettings

LOCK_CACHE_SECONDS = 2.0


class TooManyRequestsError(GreenroomError):
    name = "TooManyRequestsError"
    status_code = 429


class CounterStore(Protocol):
    def hit(self, key: str, window: float, now: float) -> int: ...

    def count(self, key: str, window: float, now: float) -> int: ...

    def lock(self, key: str, until: float) -> None: ...

    def locked_until(self, key: str, now: float) -> float | None: ...

    def clear(self, key: str, window: float, now: float) -> None: ...


def _window_start(window: float, now: float) -> int:
    return int(now // window * window)


class DatabaseCounters:
    """Counters and locks in `identity_counters` / `identity_locks` (upserts, one statement each)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._dialect = database.dialect
        self._last_purge = float("-inf")

    def _insert(self, table: Any) -> Any:
        # The dialect's own module only (the PostgreSQL one costs 20 ms of start-up on SQLite).
        if self._dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    def hit(self, key: str, window: float, now: float) -> int:
        c = models.counters
        start = _window_start(window, now)
        stmt = self._insert(c).values(key=key, window_start=start, count=1, expires_at=int(start + window))
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.c.key, c.c.window_start], set_={"count": c.c.count + 1}
        ).returning(c.c.count)
        with self._database.engine.begin() as connection:
            if now - self._last_purge > 60:
                self._last_purge = now
                connection.execute(delete(c).where(c.c.expires_at < int(now)))
            return int(connection.execute(stmt).scalar_one())

    def count(self, key: str, window: float, now: float) -> int:
        c = models.counters
        with self._database.engine.connect() as connection:
            value = connection.execute(
                select(c.c.count).where(c.c.key == key, c.c.window_start == _window_start(window, now))
            ).scalar()
        return int(value or 0)

    def lock(self, key: str, until: float) -> None:
        lk = models.locks
        stmt = self._insert(lk).values(key=key, locked_until=int(until))
        stmt = stmt.on_conflict_do_update(index_elements=[lk.c.key], set_={"locked_until": int(until)})
        with self._database.engine.begin() as connection:
            connection.execute(stmt)

    def locked_until(self, key: str, now: float) -> float | None:
        lk = models.locks
        with self._database.engine.connect() as connection:
            until = connection.execute(select(lk.c.locked_until).where(lk.c.key == key)).scalar()
        return float(until) if until is not None and until > now else None

    def clear(self, key: str, window: float, now: float) -> None:  # noqa: ARG002 - every window goes
        c = models.counters
        with self._database.engine.begin() as connection:
            connection.execute(delete(c).where(c.c.key == key))
            connection.execute(delete(models.locks).where(models.locks.c.key == key))


class RedisCounters:
    """The same counters in Redis: INCR with an expiry per window, locks as keys with a TTL."""

    def __init__(self, url: str, *, prefix: str = "greenroom:identity:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._prefix = prefix

    def hit(self, key: str, window: float, now: float) -> int:
        name = f"{self._prefix}c:{key}:{_window_start(window, now)}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, int(window) + 1)
        count, _ = pipe.execute()
        return int(count)

    def count(self, key: str, window: float, now: float) -> int:
        value = self._redis.get(f"{self._prefix}c:{key}:{_window_start(window, now)}")
        return int(value) if value is not None else 0

    def lock(self, key: str, until: float) -> None:
        ttl_ms = max(1, int((until - time.time()) * 1000))
        self._redis.set(f"{self._prefix}l:{key}", str(until), px=ttl_ms)

    def locked_until(self, key: str, now: float) -> float | None:
        value = self._redis.get(f"{self._prefix}l:{key}")
        if value is None:
            return None
        until = float(value)
        return until if until > now else None

    def clear(self, key: str, window: float, now: float) -> None:
        self._redis.delete(f"{self._prefix}c:{key}:{_window_start(window, now)}", f"{self._prefix}l:{key}")


LockoutCallback = Callable[[str, float], None]


class BruteForceGuard:
    def __init__(
        self,
        store: CounterStore,
        *,
        lockout: LockoutSettings,
        rate_limit: RateLimitSettings,
        clock: Callable[[], float] = time.time,
        on_lockout: LockoutCallback | None = None,
    ) -> None:
        self.store = store
        self.lockout = lockout
        self.rate_limit = rate_limit
        self._clock = clock
        self._on_lockout = on_lockout
        self._lock_cache: dict[str, tuple[float | None, float]] = {}
        self._mutex = threading.Lock()

    # -- rate limits ----------------------------------------------------------------------
    def check_rate(self, scope: str, address: str | None) -> None:
        """Count one sign-in/token request from `address`; 429 once over the limit."""
        if address is None:
            return
        count = self.store.hit(f"rate:{scope}:{address}", self.rate_limit.sign_in_window, self._clock())
        if count > self.rate_limit.sign_in_limit:
            raise TooManyRequestsError(
                f"Too many sign-in requests from this address; try again in {int(self.rate_limit.sign_in_window)} "
                "seconds"
            )

    # -- lockout ---------------------------------------------------------------------------
    def _locked(self, key: str) -> float | None:
        now = self._clock()
        cached = self._lock_cache.get(key)
        if cached is not None and now - cached[1] < LOCK_CACHE_SECONDS:
            until = cached[0]
        else:
            until = self.store.locked_until(key, now)
            with self._mutex:
                if len(self._lock_cache) > 100_000:
                    self._lock_cache.clear()
                self._lock_cache[key] = (until, now)
        return until if until is not None and until > now else None

    def check_address(self, address: str | None) -> None:
        if address is None or not self.lockout.enabled:
            return
        until = self._locked(f"addr:{address}")
        if until is not None:
            raise TooManyRequestsError(
                f"Too many failed attempts from this address; locked for {int(until - self._clock()) + 1} seconds"
            )

    def check_identity(self, identity: str | None) -> None:
        if identity is None or not self.lockout.enabled:
            return
        until = self._locked(f"id:{identity.lower()}")
        if until is not None:
            raise TooManyRequestsError(
                f"Sign-in for this account is locked after repeated failures; try again in "
                f"{int(until - self._clock()) + 1} seconds"
            )

    def record_failure(self, *, address: str | None, identity: str | None = None) -> None:
        if not self.lockout.enabled:
            return
        now = self._clock()
        for key, limit in ((f"addr:{address}", self.lockout.address_max_attempts) if address else (None, 0),
                           (f"id:{identity.lower()}", self.lockout.max_attempts) if identity else (None, 0)):
            if key is None:
                continue
            failures = self.store.hit(f"fail:{key}", self.lockout.window, now)
            if failures >= limit:
                until = now + self.lockout.duration
                self.store.lock(key, until)
                with self._mutex:
                    self._lock_cache[key] = (until, now)
                if failures == limit and self._on_lockout is not None:
                    self._on_lockout(key, until)

    def record_success(self, identity: str | None) -> None:
        """A successful sign-in clears that identity's failure count (not a lock in force)."""
        if identity is None or not self.lockout.enabled:
            return
        key = f"id:{identity.lower()}"
        if self._locked(key) is None:
            self.store.clear(f"fail:{key}", self.lockout.window, self._clock())


def counter_store(settings: RateLimitSettings, database: Database) -> CounterStore:
    if settings.store == "redis":
        assert settings.redis_url is not None
        return RedisCounters(settings.redis_url, prefix=settings.redis_prefix)
    return DatabaseCounters(database)
