"""Server-side sessions: the record behind every browser cookie and every user token.

A session is created at sign-in (a new id every time: rotation, so a planted cookie is never
upgraded), ends at its absolute timeout, after the idle timeout without use, or when it is
revoked (logout, "sign out everywhere", an admin). The cookie holds `<id>.<secret>`; the
database keeps only the secret's SHA-256, compared in constant time.

Lookups are cached per process for `revocationCheckInterval` seconds (default 5): a request
costs a dictionary lookup, and a revocation made by another process takes effect within that
interval (at once in the process that made it). Use of a cookie refreshes `last_seen_at` at most
once a minute, so the idle timeout is exact to a minute and reads do not write.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from greenroom.db.engine import Database
from greenroom.identity import models
from greenroom.identity.config import SessionSettings

SessionKind = Literal["user", "local-admin"]
MAX_CACHED = 50_000
PURGE_INTERVAL = 3600.0
KEEP_ENDED = 7 * 86400


class SessionError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii", errors="replace")).hexdigest()


def csrf_token_for(secret: str) -> str:
    """The CSRF token of a session: derived from its secret, so it needs no storage and
    cannot be computed by anyone who cannot read the HttpOnly session cookie."""
    digest = hmac.new(secret.encode("ascii", errors="replace"), b"greenroom-csrf", hashlib.sha256).digest()
    return digest.hex()


@dataclass(frozen=True)
class Session:
    id: str
    kind: SessionKind
    user_ref: str
    provider: str
    ownership_refs: tuple[str, ...]
    profile: dict[str, Any]
    client_ip: str | None
    user_agent: str | None
    created_at: int
    last_seen_at: int
    expires_at: int
    revoked_at: int | None = None
    revoked_reason: str | None = None
    secret_hash: str = field(default="", repr=False)

    def idle_until(self, idle_timeout: float) -> float:
        return self.last_seen_at + idle_timeout

    def state(self, now: float, idle_timeout: float | None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if idle_timeout is not None and now >= self.idle_until(idle_timeout):
            return "idle"
        return "active"

    def to_json(self, idle_timeout: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "userEntityRef": self.user_ref,
            "provider": self.provider,
            "clientIp": self.client_ip,
            "userAgent": self.user_agent,
            "createdAt": self.created_at,
            "lastSeenAt": self.last_seen_at,
            "expiresAt": int(min(self.expires_at, self.idle_until(idle_timeout))),
            "state": self.state(time.time(), idle_timeout),
            "revokedReason": self.revoked_reason,
        }


def _from_row(row: Any) -> Session:
    return Session(
        id=row.id,
        kind=row.kind,
        user_ref=row.user_ref,
        provider=row.provider,
        ownership_refs=tuple(orjson.loads(row.ownership_refs)),
        profile=orjson.loads(row.profile),
        client_ip=row.client_ip,
        user_agent=row.user_agent,
        created_at=int(row.created_at),
        last_seen_at=int(row.last_seen_at),
        expires_at=int(row.expires_at),
        revoked_at=None if row.revoked_at is None else int(row.revoked_at),
        revoked_reason=row.revoked_reason,
        secret_hash=row.secret_hash,
    )


class SessionStore:
    def __init__(
        self, database: Database, settings: SessionSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._database = database
        self.settings = settings
        self._clock = clock
        self._cache: dict[str, tuple[Session | None, float]] = {}
        self._lock = threading.Lock()
        self._last_purge = float("-inf")
        self._revoked_jtis: set[str] = set()
        self._revoked_loaded_at = float("-inf")

    # -- create -------------------------------------------------------------------------
    def create(
        self,
        *,
        kind: SessionKind,
        user_ref: str,
        provider: str,
        ownership_refs: Sequence[str],
        profile: dict[str, Any] | None = None,
        client_ip: str | None = None,
        user_agent: str | None = None,
        absolute_timeout: float | None = None,
    ) -> tuple[Session, str]:
        """A new session and the cookie value that proves it (shown once, never stored)."""
        now = int(self._clock())
        self._purge(now)
        sid = secrets.token_urlsafe(16)
        secret = secrets.token_urlsafe(32)
        lifetime = min(absolute_timeout or self.settings.absolute_timeout, self.settings.absolute_timeout)
        session = Session(
            id=sid,
            kind=kind,
            user_ref=user_ref,
            provider=provider,
            ownership_refs=tuple(ownership_refs),
            profile=dict(profile or {}),
            client_ip=client_ip,
            user_agent=(user_agent or "")[:300] or None,
            created_at=now,
            last_seen_at=now,
            expires_at=int(now + lifetime),
            secret_hash=_hash(secret),
        )
        with self._database.engine.begin() as connection:
            connection.execute(
                insert(models.sessions).values(
                    id=sid,
                    secret_hash=session.secret_hash,
                    kind=kind,
                    user_ref=user_ref,
                    provider=provider,
                    ownership_refs=orjson.dumps(list(session.ownership_refs)).decode(),
                    profile=orjson.dumps(session.profile).decode(),
                    client_ip=client_ip,
                    user_agent=session.user_agent,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=session.expires_at,
                )
            )
        self._remember(sid, session)
        return session, f"{sid}.{secret}"

    def _purge(self, now: int) -> None:
        if now - self._last_purge < PURGE_INTERVAL:
            return
        self._last_purge = now
        s = models.sessions
        with self._database.engine.begin() as connection:
            connection.execute(
                delete(s).where(or_(s.c.expires_at < now - KEEP_ENDED, s.c.revoked_at < now - KEEP_ENDED))
            )
            connection.execute(delete(models.revoked_tokens).where(models.revoked_tokens.c.expires_at < now))

    # -- lookup -------------------------------------------------------------------------
    def _remember(self, sid: str, session: Session | None) -> None:
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[sid] = (session, self._clock())

    def forget(self, sid: str) -> None:
        with self._lock:
            self._cache.pop(sid, None)

    def fetch(self, sid: str) -> Session | None:
        with self._database.engine.connect() as connection:
            row = connection.execute(select(models.sessions).where(models.sessions.c.id == sid)).first()
        session = None if row is None else _from_row(row)
        self._remember(sid, session)
        return session

    def get(self, sid: str) -> Session | None:
        """The session, from the per-process cache when it is fresh enough."""
        cached = self._cache.get(sid)
        if cached is not None and self._clock() - cached[1] < self.settings.revocation_check_interval:
            return cached[0]
        return self.fetch(sid)

    def active_for_token(self, sid: str) -> Session:
        """The session a user token names, if it still stands (revocation and absolute end)."""
        session = self.get(sid)
        if session is None:
            raise SessionError("unknown-session", "the token's session does not exist")
        state = session.state(self._clock(), None)
        if state != "active":
            raise SessionError(f"session-{state}", f"the token's session has been {state}")
        return session

    def from_cookie(self, value: str) -> tuple[Session, str]:
        """The active session a cookie proves, and the cookie's secret (for the CSRF token)."""
        sid, dot, secret = value.partition(".")
        if not dot or not sid or not secret or len(value) > 200:
            raise SessionError("malformed-cookie", "the session cookie is malformed")
        session = self.get(sid)
        if session is None or not hmac.compare_digest(session.secret_hash, _hash(secret)):
            raise SessionError("unknown-session", "the session cookie is not valid")
        now = self._clock()
        state = session.state(now, self.settings.idle_timeout)
        if state != "active":
            raise SessionError(f"session-{state}", f"the session has {'been ' if state == 'revoked' else ''}{state}"
                               if state != "idle" else "the session timed out (idle)")
        if now - session.last_seen_at >= self.settings.touch_interval:
            session = self.touch(session, now)
        return session, secret

    def touch(self, session: Session, now: float | None = None) -> Session:
        stamp = int(now if now is not None else self._clock())
        with self._database.engine.begin() as connection:
            connection.execute(
                update(models.sessions).where(models.sessions.c.id == session.id).values(last_seen_at=stamp)
            )
        touched = replace(session, last_seen_at=stamp)
        self._remember(session.id, touched)
        return touched

    def update_ownership(self, session: Session, ownership_refs: Sequence[str]) -> Session:
        refs = tuple(ownership_refs)
        if refs == session.ownership_refs:
            return session
        with self._database.engine.begin() as connection:
            connection.execute(
                update(models.sessions)
                .where(models.sessions.c.id == session.id)
                .values(ownership_refs=orjson.dumps(list(refs)).decode())
            )
        updated = replace(session, ownership_refs=refs)
        self._remember(session.id, updated)
        return updated

    # -- revoke ---------------------------------------------------------------------------
    def revoke(self, sid: str, reason: str, *, audit: Callable[[Connection], None] | None = None) -> bool:
        """`audit` records the revocation in its transaction (called only when a session ended)."""
        now = int(self._clock())
        s = models.sessions
        with self._database.engine.begin() as connection:
            result = connection.execute(
                update(s).where(s.c.id == sid, s.c.revoked_at.is_(None)).values(revoked_at=now,
                                                                                revoked_reason=reason[:200])
            )
            if audit is not None and result.rowcount:
                audit(connection)
        self.forget(sid)
        return bool(result.rowcount)

    def revoke_user(
        self, user_ref: str, reason: str, *, except_sid: str | None = None,
        audit: Callable[[Connection, list[str]], None] | None = None,
    ) -> list[str]:
        """Revoke every live session of a user (optionally keeping one); returns the ids.
        `audit` records it in the same transaction."""
        now = int(self._clock())
        s = models.sessions
        condition = and_(s.c.user_ref == user_ref, s.c.revoked_at.is_(None), s.c.expires_at > now)
        if except_sid is not None:
            condition = and_(condition, s.c.id != except_sid)
        with self._database.engine.begin() as connection:
            ids = list(connection.execute(select(s.c.id).where(condition)).scalars())
            if ids:
                connection.execute(
                    update(s).where(s.c.id.in_(ids), s.c.revoked_at.is_(None))
                    .values(revoked_at=now, revoked_reason=reason[:200])
                )
            if audit is not None:
                audit(connection, ids)
        for sid in ids:
            self.forget(sid)
        return ids

    def revoke_all(self, reason: str) -> int:
        now = int(self._clock())
        s = models.sessions
        with self._database.engine.begin() as connection:
            result = connection.execute(
                update(s).where(s.c.revoked_at.is_(None), s.c.expires_at > now)
                .values(revoked_at=now, revoked_reason=reason[:200])
            )
        with self._lock:
            self._cache.clear()
        return int(result.rowcount)

    def list(self, user_ref: str | None = None, *, include_ended: bool = False) -> list[Session]:
        now = int(self._clock())
        s = models.sessions
        stmt = select(s).order_by(s.c.created_at.desc(), s.c.id)
        if user_ref is not None:
            stmt = stmt.where(s.c.user_ref == user_ref)
        if not include_ended:
            stmt = stmt.where(
                s.c.revoked_at.is_(None), s.c.expires_at > now,
                s.c.last_seen_at > now - int(self.settings.idle_timeout),
            )
        with self._database.engine.connect() as connection:
            return [_from_row(row) for row in connection.execute(stmt.limit(1000))]

    def last_seen_by_user(self) -> dict[str, int]:
        """The latest `last_seen_at` of any session (ended ones included) per user ref: sign-ins,
        refreshes and cookie use (at most once a minute) move it; an access review reads it."""
        s = models.sessions
        with self._database.engine.connect() as connection:
            rows = connection.execute(select(s.c.user_ref, func.max(s.c.last_seen_at)).group_by(s.c.user_ref))
            return {row[0]: int(row[1]) for row in rows}

    # -- single tokens -------------------------------------------------------------------
    def revoke_token(self, jti: str, expires_at: float) -> None:
        """Revoke one token (its session stays); every process sees it within the check interval."""
        with self._database.engine.begin() as connection:
            exists = connection.execute(
                select(models.revoked_tokens.c.jti).where(models.revoked_tokens.c.jti == jti)
            ).first()
            if exists is None:
                connection.execute(insert(models.revoked_tokens).values(jti=jti, expires_at=int(expires_at)))
        self._revoked_jtis.add(jti)

    def token_revoked(self, jti: str) -> bool:
        """Whether a token was revoked on its own. The (small) set of revoked, unexpired token ids
        is reloaded at most once per check interval, so this is a set lookup per request."""
        now = self._clock()
        if now - self._revoked_loaded_at >= self.settings.revocation_check_interval:
            with self._database.engine.connect() as connection:
                rows = connection.execute(
                    select(models.revoked_tokens.c.jti).where(models.revoked_tokens.c.expires_at >= int(now))
                ).scalars()
                self._revoked_jtis = set(rows)
            self._revoked_loaded_at = now
        return jti in self._revoked_jtis
