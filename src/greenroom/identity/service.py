"""The identity service: what the authenticator, the auth plugin and the CLI share.

It owns the signing keys, user tokens, sessions, sign-in attempts, the replay cache,
brute-force state and the audit interface, and turns a verified token or session cookie
into a `Principal`. Plugins reach it through the `IDENTITY` service ref.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from greenroom.db.engine import Database
from greenroom.errors import AuthenticationError, NotAllowedError
from greenroom.identity.attempts import AttemptError, AttemptStore, ReplayCache
from greenroom.identity.audit import Auditor
from greenroom.identity.config import IdentitySettings
from greenroom.identity.jwks import TokenError
from greenroom.identity.keys import KeyStore
from greenroom.identity.outbound import Outbound
from greenroom.identity.ratelimit import BruteForceGuard, counter_store
from greenroom.identity.redirects import normalised_origins
from greenroom.identity.sessions import Session, SessionError, SessionKind, SessionStore, csrf_token_for
from greenroom.identity.tokens import IssuedToken, TokenService, VerifiedToken
from greenroom.kernel.services import ServiceRef
from greenroom.permissions.principal import AccessRestriction, Principal

log = logging.getLogger("greenroom.identity")
LOCAL_ADMIN_REF = "user:default/local-admin"
LOCAL_LOGIN_TTL = 300.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
MAX_TOKEN_CACHE = 20_000


class CredentialError(AuthenticationError):
    """A presented credential was refused (always 401).

    `counts` says whether it counts towards the address lockout: a forged or unknown
    credential does, an expired or revoked one (a normal client's stale state) does not.
    """

    def __init__(self, message: str, *, reason: str, counts: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.counts = counts


# Refusal reasons that a well-behaved client can run into; everything else smells of guessing.
_BENIGN = frozenset({"expired"})


@dataclass(frozen=True)
class SignInResult:
    session: Session
    cookie: str
    token: IssuedToken


class IdentityService:
    def __init__(
        self,
        database: Database,
        settings: IdentitySettings,
        *,
        auditor: Auditor | None = None,
        clock: Callable[[], float] = time.time,
        outbound: Outbound | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.auditor = auditor or Auditor()
        self.clock = clock
        self.outbound = outbound or Outbound()
        self.keys = KeyStore(database, rotation=settings.key_rotation, token_lifetime=settings.token_lifetime,
                             clock=clock)
        self.tokens = TokenService(self.keys, issuer=settings.issuer, lifetime=settings.token_lifetime, clock=clock)
        self.sessions = SessionStore(database, settings.session, clock=clock)
        self.attempts = AttemptStore(database, clock=clock)
        self.replay = ReplayCache(database, clock=clock)
        self.brute_force = BruteForceGuard(
            counter_store(settings.rate_limit, database),
            lockout=settings.lockout,
            rate_limit=settings.rate_limit,
            clock=clock,
            on_lockout=self._locked_out,
        )
        self.allowed_origins = normalised_origins(settings.allowed_origins)
        self._verified: dict[str, VerifiedToken] = {}
        self._principals: dict[str, tuple[Session, Principal]] = {}
        self._verified_lock = threading.Lock()
        secure = settings.secure_cookies
        self.session_cookie_name = "__Host-greenroom-session" if secure else "greenroom-session"
        self.csrf_cookie_name = "__Host-greenroom-csrf" if secure else "greenroom-csrf"
        if not secure:
            log.warning(
                "session cookies are sent without the Secure flag: local mode on plain http (loopback only)",
                extra={"baseUrl": settings.base_url},
            )

    # -- the caller -----------------------------------------------------------------------
    def client_address(self, request: Request) -> str | None:
        """The client's address; behind a trusted proxy, the last untrusted X-Forwarded-For hop."""
        peer = request.client.host if request.client else None
        if peer is None or not self.settings.trusted_proxies or not self._trusted(peer):
            return peer
        forwarded = request.headers.get("x-forwarded-for", "")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not self._trusted(hop):
                return hop
        return peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.settings.trusted_proxies)

    def is_trusted_proxy(self, request: Request, networks: Sequence[Any]) -> bool:
        peer = request.client.host if request.client else None
        if peer is None:
            return False
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    # -- principals ------------------------------------------------------------------------
    @staticmethod
    def principal_for(
        session: Session, credential: str, *, target_plugin: str | None = None, acting_plugin: str | None = None
    ) -> Principal:
        restrictions = (AccessRestriction(plugin=target_plugin),) if target_plugin else ()
        attributes = {"sid": session.id, "provider": session.provider}
        if acting_plugin:
            attributes["actingPlugin"] = acting_plugin
        if session.kind == "local-admin":
            return Principal(type="local-admin", subject=LOCAL_ADMIN_REF, credential=credential,
                             restrictions=restrictions, attributes=attributes)
        return Principal(
            type="user",
            subject=session.user_ref,
            ownership_refs=session.ownership_refs,
            restrictions=restrictions,
            credential=credential,
            attributes=attributes,
        )

    def verify_user_token(self, token: str, header: dict[str, Any] | None = None) -> tuple[VerifiedToken, Session]:
        """A user token and the session behind it; CredentialError when either is not good."""
        now = self.clock()
        verified = self._verified.get(token)
        if verified is None:
            try:
                verified = self.tokens.verify(token, header)
            except TokenError as exc:
                raise CredentialError(f"Invalid user token: {exc.message}", reason=exc.reason,
                                      counts=exc.reason not in _BENIGN) from None
            with self._verified_lock:
                if len(self._verified) >= MAX_TOKEN_CACHE:
                    self._verified.clear()
                self._verified[token] = verified
        elif verified.expires_at + 60 <= now:  # the same leeway PyJWT allowed
            self._verified.pop(token, None)
            self._principals.pop(token, None)
            raise CredentialError("Invalid user token: the token has expired", reason="expired", counts=False)
        try:
            session = self.sessions.active_for_token(verified.session_id)
        except SessionError as exc:
            benign = exc.reason != "unknown-session"
            raise CredentialError(f"Invalid user token: {exc.message}", reason=exc.reason, counts=not benign) from None
        if session.user_ref != verified.subject:
            raise CredentialError("Invalid user token: subject does not match its session", reason="mismatch",
                                  counts=True)
        if self.sessions.token_revoked(verified.jti):
            raise CredentialError("Invalid user token: the token has been revoked", reason="token-revoked",
                                  counts=False)
        return verified, session

    def knows_token(self, token: str) -> bool:
        """True for a user token this process has verified before (skips parsing its header)."""
        return token in self._verified

    def principal_from_token(self, token: str, header: dict[str, Any] | None = None) -> Principal:
        verified, session = self.verify_user_token(token, header)
        cached = self._principals.get(token)
        if cached is not None and cached[0] is session:  # the same session record: the same principal
            return cached[1]
        principal = self.principal_for(session, "user-token", target_plugin=verified.target_plugin,
                                       acting_plugin=verified.acting_plugin)
        with self._verified_lock:
            if len(self._principals) >= MAX_TOKEN_CACHE:
                self._principals.clear()
            self._principals[token] = (session, principal)
        return principal

    def session_cookie(self, request: Request) -> str | None:
        return request.cookies.get(self.session_cookie_name)

    def session_from_cookie(self, value: str) -> tuple[Session, str]:
        try:
            return self.sessions.from_cookie(value)
        except SessionError as exc:
            counts = exc.reason in ("unknown-session", "malformed-cookie")
            raise CredentialError(f"Invalid session: {exc.message}", reason=exc.reason, counts=counts) from None

    def principal_from_cookie(self, request: Request, value: str) -> Principal:
        session, secret = self.session_from_cookie(value)
        if request.method not in SAFE_METHODS:
            self.check_csrf(request, secret)
        return self.principal_for(session, "session")

    def check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin.lower().rstrip("/") not in self.allowed_origins:
            raise NotAllowedError("Cross-origin request refused")

    def check_csrf(self, request: Request, secret: str) -> None:
        """State-changing requests authenticated by cookie need the session's CSRF token: in the
        X-CSRF-Token header (scripts), or in the `csrf_token` field of an HTML form, which a page
        handler puts on `request.state.csrf_form_token` after reading the form of this request."""
        self.check_origin(request)
        supplied = request.headers.get(CSRF_HEADER, "") or getattr(request.state, "csrf_form_token", None) or ""
        if not isinstance(supplied, str) or not supplied or not hmac.compare_digest(
            supplied.encode(), csrf_token_for(secret).encode()
        ):
            raise NotAllowedError(
                "Missing or invalid CSRF token (send the greenroom-csrf cookie value in X-CSRF-Token)"
            )

    def csrf_token(self, request: Request) -> str | None:
        """The CSRF token of the request's session cookie (for a page to put in its forms)."""
        cookie = self.session_cookie(request)
        if cookie is None:
            return None
        try:
            _session, secret = self.sessions.from_cookie(cookie)
        except SessionError:
            return None
        return csrf_token_for(secret)

    def current_session(self, request: Request) -> Session | None:
        """The live session behind the request's cookie, if any."""
        cookie = self.session_cookie(request)
        if cookie is None:
            return None
        try:
            return self.sessions.from_cookie(cookie)[0]
        except SessionError:
            return None

    def revoke_own_session(self, request: Request, user_ref: str, session_id: str) -> bool:
        """Revoke one of the caller's own sessions; False when `session_id` is not one of theirs."""
        if session_id not in {s.id for s in self.sessions.list(user_ref)}:
            return False
        if not self.sessions.revoke(session_id, "revoked by its user"):
            return False
        self.auditor.emit("auth-session-revoke", "succeeded", request=request, actor_id=user_ref,
                          ip=self.client_address(request), meta={"sessionId": session_id, "scope": "own"})
        return True

    # -- sessions ---------------------------------------------------------------------------
    def establish_session(
        self,
        request: Request,
        *,
        kind: SessionKind,
        user_ref: str,
        ownership_refs: Sequence[str],
        provider: str,
        profile: dict[str, Any] | None = None,
        absolute_timeout: float | None = None,
    ) -> SignInResult:
        """A fresh session for a sign-in; a session cookie the browser already had is revoked."""
        old = self.session_cookie(request)
        if old:
            sid = old.partition(".")[0]
            if sid and self.sessions.revoke(sid, "replaced by a new sign-in"):
                self.auditor.emit("auth-session-revoke", "succeeded", request=request,
                                  ip=self.client_address(request), meta={"sessionId": sid, "reason": "rotated"})
        session, cookie = self.sessions.create(
            kind=kind,
            user_ref=user_ref,
            provider=provider,
            ownership_refs=ownership_refs,
            profile=profile,
            client_ip=self.client_address(request),
            user_agent=request.headers.get("user-agent"),
            absolute_timeout=absolute_timeout,
        )
        token = self.issue_token(session)
        return SignInResult(session=session, cookie=cookie, token=token)

    def issue_token(self, session: Session) -> IssuedToken:
        not_after = min(float(session.expires_at), session.idle_until(self.settings.session.idle_timeout))
        return self.tokens.issue(subject=session.user_ref, session_id=session.id, not_after=not_after)

    def on_behalf_of(self, principal: Principal, *, acting_plugin: str, target_plugin: str) -> str:
        """A five-minute token for `acting_plugin` to call `target_plugin` as the user."""
        sid = principal.attributes.get("sid")
        if principal.type not in ("user", "local-admin") or not sid:
            raise NotAllowedError("on-behalf-of tokens are issued for signed-in users only")
        session = self.sessions.active_for_token(sid)
        issued = self.tokens.issue(subject=session.user_ref, session_id=session.id, not_after=session.expires_at,
                                   target_plugin=target_plugin, acting_plugin=acting_plugin)
        self.auditor.emit("auth-token-issue", "succeeded", actor_id=session.user_ref,
                          meta={"actingPlugin": acting_plugin, "targetPlugin": target_plugin, "jti": issued.jti})
        return issued.token

    def set_session_cookies(self, response: Response, result: SignInResult | tuple[Session, str]) -> None:
        session, cookie = (result.session, result.cookie) if isinstance(result, SignInResult) else result
        secure = self.settings.secure_cookies
        max_age = max(1, int(session.expires_at - self.clock()))
        response.set_cookie(self.session_cookie_name, cookie, max_age=max_age, path="/", secure=secure,
                            httponly=True, samesite="lax")
        secret = cookie.partition(".")[2]
        response.set_cookie(self.csrf_cookie_name, csrf_token_for(secret), max_age=max_age, path="/",
                            secure=secure, httponly=False, samesite="strict")

    def clear_session_cookies(self, response: Response) -> None:
        secure = self.settings.secure_cookies
        for name, httponly in ((self.session_cookie_name, True), (self.csrf_cookie_name, False)):
            response.delete_cookie(name, path="/", secure=secure, httponly=httponly,
                                   samesite="lax" if httponly else "strict")

    def backstage_identity(self, session: Session, token: IssuedToken) -> dict[str, Any]:
        """`backstageIdentity` as Backstage's auth backend answers it."""
        return {
            "token": token.token,
            "expiresInSeconds": max(0, int(token.expires_at - self.clock())),
            "identity": {
                "type": "user",
                "userEntityRef": session.user_ref,
                "ownershipEntityRefs": list(session.ownership_refs),
            },
        }

    # -- local mode ------------------------------------------------------------------------
    def issue_local_login(self) -> str:
        """A one-time URL that signs the browser in as the local admin (local mode only)."""
        if not self.settings.local_mode:
            raise NotAllowedError("the local login exists only in local mode")
        nonce = self.attempts.create("local", {"purpose": "local-login"}, ttl=LOCAL_LOGIN_TTL)
        return f"{self.settings.base_url}/api/auth/local/login?token={nonce}"

    def consume_local_login(self, nonce: str | None) -> None:
        if not self.settings.local_mode:
            raise NotAllowedError("the local login exists only in local mode")
        try:
            self.attempts.consume("local", nonce)
        except AttemptError as exc:
            raise CredentialError(f"Login link refused: {exc.message}", reason=exc.reason, counts=True) from None

    # -- audit hooks ------------------------------------------------------------------------
    def _locked_out(self, key: str, until: float) -> None:
        kind, _, value = key.partition(":")
        self.auditor.emit(
            "auth-lockout", "succeeded", severity="high",
            ip=value if kind == "addr" else None,
            actor_id=value if kind == "id" else None,
            meta={"scope": "address" if kind == "addr" else "identity", "lockedUntil": int(until)},
        )


IDENTITY: ServiceRef[IdentityService] = ServiceRef(
    "core.identity", IdentityService, "user tokens, sessions, sign-in attempts and brute-force protection"
)
