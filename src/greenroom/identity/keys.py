"""The portal's own ES256 signing keys: rotated, public halves in the database.

Each process generates its signing key in memory and publishes the public JWK to
`identity_signing_keys`; it signs with it until `rotationInterval` passes, then makes a new
one. Private keys never leave the process (as in Backstage's database key store), so a
database dump cannot mint tokens; the public keys are what every process (and anyone reading
`/api/auth/.well-known/jwks.json`) verifies with. A public key stays published until every
token it signed has expired.

Verification never touches the database for a known `kid`: public keys are held in memory,
and an unknown `kid` reloads them at most once a second (a new process started elsewhere).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, insert, select

from greenroom.db.engine import Database
from greenroom.identity import models

ALGORITHM = "ES256"
RELOAD_INTERVAL = 1.0


def _b64(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def public_jwk(key: ec.EllipticCurvePublicKey, kid: str) -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x), "y": _b64(numbers.y), "kid": kid,
            "alg": ALGORITHM, "use": "sig"}


def _public_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    def number(name: str) -> int:
        raw = str(jwk[name])
        return int.from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), "big")

    return ec.EllipticCurvePublicNumbers(number("x"), number("y"), ec.SECP256R1()).public_key()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey
    created_at: float


class KeyStore:
    def __init__(
        self,
        database: Database,
        *,
        rotation: float,
        token_lifetime: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database = database
        self._rotation = rotation
        self._token_lifetime = token_lifetime
        self._clock = clock
        self._current: SigningKey | None = None
        self._public: dict[str, tuple[ec.EllipticCurvePublicKey, int]] = {}
        self._last_reload = float("-inf")
        self._jwks_cache: tuple[float, list[dict[str, Any]]] | None = None
        self._lock = threading.Lock()

    def signing_key(self) -> SigningKey:
        current = self._current
        now = self._clock()
        if current is not None and now - current.created_at < self._rotation:
            return current
        with self._lock:
            current = self._current
            if current is not None and now - current.created_at < self._rotation:
                return current
            return self._rotate(now)

    def _rotate(self, now: float) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        kid = secrets.token_urlsafe(16)
        # Published until the last token it can sign (issued just before rotation) has expired.
        expires = int(now + self._rotation + self._token_lifetime + 60)
        jwk = public_jwk(private.public_key(), kid)
        with self._database.engine.begin() as connection:
            connection.execute(delete(models.signing_keys).where(models.signing_keys.c.expires_at < int(now)))
            connection.execute(
                insert(models.signing_keys).values(
                    kid=kid, alg=ALGORITHM, public_jwk=json.dumps(jwk), created_at=int(now), expires_at=expires
                )
            )
        self._public[kid] = (private.public_key(), expires)
        self._current = SigningKey(kid=kid, private=private, created_at=now)
        self._jwks_cache = None
        return self._current

    def _reload(self, now: float) -> None:
        with self._database.engine.connect() as connection:
            rows = connection.execute(
                select(models.signing_keys.c.kid, models.signing_keys.c.public_jwk, models.signing_keys.c.expires_at)
                .where(models.signing_keys.c.alg == ALGORITHM, models.signing_keys.c.expires_at >= int(now))
            ).all()
        self._public = {row.kid: (_public_from_jwk(json.loads(row.public_jwk)), int(row.expires_at)) for row in rows}
        self._last_reload = now

    def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        """The public key for `kid`, from memory; an unknown kid reloads at most once a second."""
        found = self._public.get(kid)
        now = self._clock()
        if found is None:
            with self._lock:
                found = self._public.get(kid)
                if found is None and now - self._last_reload >= RELOAD_INTERVAL:
                    self._reload(now)
                    found = self._public.get(kid)
        if found is None or found[1] < now:
            return None
        return found[0]

    def jwks(self) -> list[dict[str, Any]]:
        """Every published, unexpired public key (cached for a few seconds)."""
        now = self._clock()
        cached = self._jwks_cache
        if cached is not None and now - cached[0] < 5:
            return cached[1]
        with self._database.engine.connect() as connection:
            rows = connection.execute(
                select(models.signing_keys.c.public_jwk)
                .where(models.signing_keys.c.expires_at >= int(now))
                .order_by(models.signing_keys.c.created_at.desc())
            ).scalars().all()
        keys = [json.loads(row) for row in rows]
        self._jwks_cache = (now, keys)
        return keys
