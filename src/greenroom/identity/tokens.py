"""User tokens: ES256 JWTs in Backstage's identity-token shape.

Header `{alg: ES256, kid, typ: vnd.backstage.user}`; claims `iss` (the portal's
`/api/auth` URL), `sub` (the user entity ref), `aud: backstage`, `iat`, `exp` (at most an hour,
never past the session's end), `jti` and `sid` (the server-side session the token belongs
to, so logout and revocation end it). There is no `ent` claim: ownership refs come from
`/api/auth/v1/userinfo` and from the session record, so a user in hundreds of groups never
gets a token too large for a header.

On-behalf-of tokens (a plugin calling another plugin for a user) are the same with
`aud: greenroom-plugin:<target>`, an `act: {sub: plugin:<source>}` claim and a five-minute
life; they are accepted only for the target plugin.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenroom.identity.config import TOKEN_AUDIENCE
from greenroom.identity.jwks import DEFAULT_LEEWAY, TokenError, unverified_header
from greenroom.identity.keys import ALGORITHM, KeyStore
from greenroom.lazy import LazyModule

if TYPE_CHECKING:
    import jwt
else:
    jwt = LazyModule("jwt")

USER_TOKEN_TYPE = "vnd.backstage.user"  # noqa: S105 - a JWT type, not a secret
OBO_AUDIENCE_PREFIX = "greenroom-plugin:"
OBO_LIFETIME = 300.0
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti", "sid"]


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: float
    jti: str


@dataclass(frozen=True)
class VerifiedToken:
    subject: str
    session_id: str
    jti: str
    expires_at: float
    target_plugin: str | None
    acting_plugin: str | None


class TokenService:
    def __init__(
        self,
        keys: KeyStore,
        *,
        issuer: str,
        lifetime: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.lifetime = lifetime
        self._clock = clock

    def issue(
        self,
        *,
        subject: str,
        session_id: str,
        not_after: float,
        target_plugin: str | None = None,
        acting_plugin: str | None = None,
    ) -> IssuedToken:
        now = self._clock()
        life = OBO_LIFETIME if target_plugin else self.lifetime
        expires = min(now + life, not_after)
        if expires <= now:
            raise TokenError("expired", "the session has ended")
        key = self.keys.signing_key()
        jti = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": OBO_AUDIENCE_PREFIX + target_plugin if target_plugin else TOKEN_AUDIENCE,
            "iat": int(now),
            "exp": int(expires),
            "jti": jti,
            "sid": session_id,
        }
        if acting_plugin:
            claims["act"] = {"sub": f"plugin:{acting_plugin}"}
        token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": USER_TOKEN_TYPE})
        return IssuedToken(token=token, expires_at=float(int(expires)), jti=jti)

    def is_ours(self, header: dict[str, Any]) -> bool:
        return header.get("typ") == USER_TOKEN_TYPE

    def verify(self, token: str, header: dict[str, Any] | None = None) -> VerifiedToken:
        header = header if header is not None else unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise TokenError("alg-not-allowed", f"user tokens are {ALGORITHM}; got {header.get('alg')!r}")
        kid = header.get("kid")
        key = self.keys.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenError("unknown-kid", "the token was signed by a key this portal does not know")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                leeway=DEFAULT_LEEWAY,
                options={"require": _REQUIRED, "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("expired", "the token has expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenError("wrong-issuer", "the token is from another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenError("bad-signature", "the token signature does not verify") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError("missing-claim", f"the token lacks the '{exc.claim}' claim") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenError("not-yet-valid", "the token is not valid yet") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("malformed", f"the token is not valid: {type(exc).__name__}") from exc
        audience = claims["aud"]
        target: str | None = None
        if isinstance(audience, str) and audience.startswith(OBO_AUDIENCE_PREFIX):
            target = audience[len(OBO_AUDIENCE_PREFIX):]
        elif audience != TOKEN_AUDIENCE and not (isinstance(audience, list) and audience == [TOKEN_AUDIENCE]):
            raise TokenError("wrong-audience", "the token is for another audience")
        act = claims.get("act")
        acting = act.get("sub") if isinstance(act, dict) and isinstance(act.get("sub"), str) else None
        if target is not None and acting is None:
            raise TokenError("malformed", "an on-behalf-of token must name the acting plugin")
        for name in ("sub", "sid", "jti"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise TokenError("malformed", f"the '{name}' claim must be a string")
        return VerifiedToken(
            subject=claims["sub"],
            session_id=claims["sid"],
            jti=claims["jti"],
            expires_at=float(claims["exp"]),
            target_plugin=target,
            acting_plugin=acting.removeprefix("plugin:") if acting else None,
        )
