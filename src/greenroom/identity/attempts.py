"""Single-use records: sign-in attempts (OAuth state, SAML request ids, one-time login links)
and a replay cache (authorization codes, SAML assertion ids).

An attempt is created when a sign-in starts and consumed by the callback, exactly once: the
row is claimed with `UPDATE ... WHERE used_at IS NULL`, so two processes racing on the same
state cannot both win, and a second use is told apart from an unknown or expired one. Only
the SHA-256 of the nonce the browser carries is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from greenroom.db.engine import Database
from greenroom.identity import models

ATTEMPT_TTL = 600.0


class AttemptError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", errors="replace")).hexdigest()


class AttemptStore:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._database = database
        self._clock = clock

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(32)

    def create(
        self, provider: str, data: dict[str, Any], *, ttl: float = ATTEMPT_TTL, nonce: str | None = None
    ) -> str:
        """Store an attempt; returns the nonce the browser carries (in state and a cookie)."""
        now = int(self._clock())
        nonce = nonce or self.new_nonce()
        with self._database.engine.begin() as connection:
            connection.execute(delete(models.attempts).where(models.attempts.c.expires_at < now - 3600))
            connection.execute(
                insert(models.attempts).values(
                    id=_digest(nonce), provider=provider, data=orjson.dumps(data).decode(),
                    created_at=now, expires_at=int(now + ttl),
                )
            )
        return nonce

    def consume(self, provider: str, nonce: str | None) -> dict[str, Any]:
        """The attempt's data, claimed for good; AttemptError says why it cannot be used."""
        if not nonce:
            raise AttemptError("missing-state", "the sign-in response carries no state")
        if len(nonce) > 200:
            raise AttemptError("bad-state", "the state does not belong to a sign-in started here")
        now = int(self._clock())
        a = models.attempts
        key = _digest(nonce)
        with self._database.engine.begin() as connection:
            row = connection.execute(select(a.c.provider, a.c.data, a.c.expires_at, a.c.used_at)
                                     .where(a.c.id == key)).first()
            if row is None or row.provider != provider:
                raise AttemptError("bad-state", "the state does not belong to a sign-in started here")
            if row.used_at is not None:
                raise AttemptError("replayed-state", "this sign-in response was already used")
            if row.expires_at <= now:
                raise AttemptError("expired-state", "the sign-in took too long; start again")
            claimed = connection.execute(
                update(a).where(a.c.id == key, a.c.used_at.is_(None)).values(used_at=now)
            ).rowcount
        if claimed != 1:
            raise AttemptError("replayed-state", "this sign-in response was already used")
        data: dict[str, Any] = orjson.loads(row.data)
        return data


class ReplayCache:
    """Remembers values that must be seen once (until they would expire anyway)."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._database = database
        self._clock = clock

    def first_use(self, namespace: str, value: str, *, until: float) -> bool:
        """True the first time (namespace, value) is seen; False on every replay."""
        now = int(self._clock())
        key = f"{namespace}:{_digest(value)}"
        try:
            with self._database.engine.begin() as connection:
                connection.execute(delete(models.replay).where(models.replay.c.expires_at < now))
                connection.execute(insert(models.replay).values(key=key, expires_at=int(max(until, now + 60))))
        except IntegrityError:
            return False
        return True
