"""JWT verification with pinned algorithms, required audience and issuer, and cached key sets.

Every JWT greenroom accepts from outside (OIDC ID tokens, `externalAccess` `jwks` tokens,
Cloudflare Access assertions) goes through `verify_jwt`:

* the header's `alg` must be in the caller's allow-list, which never contains `none` or an
  HMAC algorithm, so `alg: none` and "HS256 signed with the RSA public key" are refused
  before any key is looked at; the key is then used with that one algorithm only, and its
  type must fit it;
* the key comes from a `RemoteJwks`: fetched with timeouts, cached, refetched when a token
  names an unknown `kid` at most once per `min_refresh` seconds (so random kids cannot make
  the portal hammer the IdP), and a `kid` that is still unknown is refused;
* `exp`, `iat`, `iss`, `aud` (and whatever else the caller lists) are required; `nbf` is
  honoured; clock skew is bounded by `leeway`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from greenroom.identity.outbound import Outbound, OutboundError
from greenroom.lazy import LazyModule

if TYPE_CHECKING:
    import jwt
else:
    jwt = LazyModule("jwt")

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_LEEWAY = 60


class TokenError(Exception):
    """A token was refused; `reason` is a short machine-readable cause for logs and audit."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


KeyLookup = Callable[[str | None, str], Any]


def unverified_header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("malformed", "the token is not a well-formed JWT") from exc
    return header


def verify_jwt(
    token: str,
    *,
    keys: KeyLookup,
    algorithms: Sequence[str],
    issuer: str | Sequence[str],
    audience: str | Sequence[str],
    require: Sequence[str] = ("exp", "iat", "iss", "aud", "sub"),
    leeway: float = DEFAULT_LEEWAY,
) -> dict[str, Any]:
    header = unverified_header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in ASYMMETRIC_ALGORITHMS:
        raise TokenError("alg-not-allowed", f"signing algorithm {alg!r} is not allowed")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenError("malformed", "kid must be a string")
    key = keys(kid, alg)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=list(audience) if not isinstance(audience, str) else audience,
            issuer=issuer if isinstance(issuer, str) else list(issuer),
            leeway=leeway,
            options={"require": list(require), "verify_signature": True},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("expired", "the token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenError("not-yet-valid", "the token is not valid yet") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("wrong-audience", "the token is for another audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("wrong-issuer", "the token is from another issuer") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("missing-claim", f"the token lacks the '{exc.claim}' claim") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("bad-signature", "the token signature does not verify") from exc
    except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError) as exc:
        raise TokenError("alg-not-allowed", "the key does not fit the token's algorithm") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("malformed", f"the token is not valid: {type(exc).__name__}") from exc
    iat = claims.get("iat")
    if isinstance(iat, int | float) and iat > time.time() + leeway:
        raise TokenError("not-yet-valid", "the token was issued in the future")
    return claims


def _key_fits(jwk: jwt.PyJWK, alg: str) -> bool:
    declared = jwk._jwk_data.get("alg")
    if declared is not None and declared != alg:
        return False
    if jwk._jwk_data.get("use") not in (None, "sig"):
        return False
    kty = jwk._jwk_data.get("kty")
    if alg.startswith(("RS", "PS")):
        return bool(kty == "RSA")
    if alg.startswith("ES"):
        curve = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
        return bool(kty == "EC" and jwk._jwk_data.get("crv") == curve)
    return bool(kty == "OKP")


class RemoteJwks:
    """A JWKS document fetched from an issuer and cached."""

    def __init__(
        self,
        url: str,
        outbound: Outbound,
        *,
        ttl: float = 3600.0,
        min_refresh: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._outbound = outbound
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._clock = clock
        self._keys: list[jwt.PyJWK] = []
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        self._fetched_at = self._clock()
        try:
            document = self._outbound.get_json(self.url)
        except OutboundError as exc:
            raise TokenError("jwks-unavailable", f"could not fetch signing keys: {exc.message}") from exc
        raw = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(raw, list):
            raise TokenError("jwks-unavailable", "the JWKS document has no 'keys' list")
        keys = []
        for item in raw:
            if not isinstance(item, dict) or item.get("kty") == "oct":
                continue  # a symmetric key in a public key set is never used
            try:
                keys.append(jwt.PyJWK(item))
            except jwt.PyJWTError:
                continue  # keys of a type this process cannot use are skipped, not fatal
        self._keys = keys

    def _find(self, kid: str | None, alg: str) -> Any:
        candidates = [k for k in self._keys if _key_fits(k, alg)]
        if kid is None:
            return candidates[0].key if len(candidates) == 1 else None
        for key in candidates:
            if key.key_id == kid:
                return key.key
        return None

    def __call__(self, kid: str | None, alg: str) -> Any:
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at > self._ttl:
                self._refresh()
            key = self._find(kid, alg)
            if key is None and now - (self._fetched_at or 0) >= self._min_refresh:
                self._refresh()  # the issuer may have rotated its keys
                key = self._find(kid, alg)
        if key is None:
            raise TokenError("unknown-kid", f"no signing key with kid {kid!r} for {alg}")
        return key
