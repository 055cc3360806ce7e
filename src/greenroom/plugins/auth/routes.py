"""`/api/auth`: Backstage's auth-backend routes, plus greenroom's session routes.

    GET  /.well-known/openid-configuration     discovery for the portal's own tokens
    GET  /.well-known/jwks.json                the public keys user tokens are signed with
    GET  /v1/userinfo                          {claims: {sub, ent}, userEntityRef, ownershipEntityRefs}
    GET  /:provider/start?env=&origin=&scope=&flow=popup|redirect&redirectUrl=
    GET|POST /:provider/handler/frame          the identity provider's callback
    GET|POST /:provider/refresh                X-Requested-With: XMLHttpRequest; a fresh token
    POST /:provider/logout                     X-Requested-With: XMLHttpRequest; ends the session
    GET  /:provider/metadata                   SAML service provider metadata
    GET  /local/login?token=                   local mode's one-time login link
    GET  /v1/sessions                          the caller's own sessions
    DELETE /v1/sessions                        sign out everywhere
    DELETE /v1/sessions/:id                    end one of the caller's own sessions
    GET  /v1/admin/sessions?user=              any user's sessions      (auth.session.read)
    DELETE /v1/admin/sessions?user=            revoke a user's sessions (auth.session.delete)
    DELETE /v1/admin/sessions/:id              revoke one session       (auth.session.delete)

Sign-in routes are public by nature (they are how one gets a credential) and protect
themselves: a rate limit and lockout per client address, lockout per identity, single-use
state bound to the browser by a cookie, and return URLs limited to the portal's origins.
"""

from __future__ import annotations

import contextlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from greenroom.audit import PluginAuditor
from greenroom.errors import AuthenticationError, InputError, NotAllowedError, NotFoundError
from greenroom.identity.attempts import AttemptError
from greenroom.identity.ratelimit import TooManyRequestsError
from greenroom.identity.redirects import RedirectError, safe_origin, safe_return_url
from greenroom.identity.service import LOCAL_ADMIN_REF, CredentialError, IdentityService
from greenroom.identity.sessions import Session
from greenroom.kernel import PluginRouter
from greenroom.plugins.auth.frames import error_page, frame_page
from greenroom.plugins.auth.permissions import SESSION_DELETE, SESSION_READ
from greenroom.plugins.auth.providers import LoadedProvider
from greenroom.plugins.auth.providers.base import ProviderIdentity, SignInError, StartContext
from greenroom.plugins.auth.resolvers import CatalogUsers

ATTEMPT_COOKIE_AGE = 600
_SCOPE = re.compile(r"^[\w:./ -]{0,500}$")
_INTERNAL_PROFILE_KEYS = ("inCatalog",)


@dataclass
class AuthState:
    identity: IdentityService
    providers: dict[str, LoadedProvider]
    users: CatalogUsers
    local_mode: bool
    audit: PluginAuditor | None = None

    def operation(self, request: Request, event_id: str, **fields: Any) -> Any:
        """An audited change by this request (a no-op context without an auditor)."""
        if self.audit is None:
            return contextlib.nullcontext()
        return self.audit.operation(event_id, request=request, **fields)

    def provider(self, provider_id: str) -> LoadedProvider:
        loaded = self.providers.get(provider_id)
        if loaded is None:
            raise NotFoundError(f"Unknown auth provider '{provider_id}'")
        return loaded


def _require_xhr(request: Request) -> None:
    if request.headers.get("x-requested-with") != "XMLHttpRequest":
        raise AuthenticationError("Invalid X-Requested-With header")


def _public_profile(session: Session) -> dict[str, Any]:
    return {k: v for k, v in session.profile.items() if k not in _INTERNAL_PROFILE_KEYS}


def _attempt_cookie(provider_id: str) -> str:
    return f"{provider_id}-nonce"


def _browser_state(request: Request, provider: str, params: Mapping[str, str]) -> str:
    """The state of the response, which must be the attempt this browser started (its cookie)."""
    nonce = params.get("RelayState") if provider == "saml" else params.get("state")
    if not nonce:
        raise SignInError("missing-state", "the sign-in response carries no state")
    cookie = request.cookies.get(_attempt_cookie(provider))
    if not cookie or not hmac.compare_digest(cookie.encode(), nonce.encode()):
        raise SignInError("bad-state", "the sign-in response does not belong to a sign-in this browser started")
    return nonce


def register(router: PluginRouter, state: AuthState) -> None:
    identity = state.identity

    # -- the portal's own tokens --------------------------------------------------------
    @router.get("/.well-known/openid-configuration", public=True)
    def openid_configuration() -> JSONResponse:
        issuer = identity.settings.issuer
        return JSONResponse({
            "issuer": issuer,
            "token_endpoint": f"{issuer}/v1/token",
            "userinfo_endpoint": f"{issuer}/v1/userinfo",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "scopes_supported": ["openid"],
            "token_endpoint_auth_methods_supported": [],
            "claims_supported": ["sub"],
            "grant_types_supported": [],
        })

    @router.get("/.well-known/jwks.json", public=True)
    def jwks() -> JSONResponse:
        return JSONResponse({"keys": identity.keys.jwks()}, headers={"cache-control": "public, max-age=60"})

    @router.get("/v1/userinfo", public=True)
    def userinfo(request: Request) -> JSONResponse:
        header = request.headers.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("No token provided")
        _verified, session = identity.verify_user_token(token.strip())
        refs = list(session.ownership_refs)
        return JSONResponse({
            "claims": {"sub": session.user_ref, "ent": refs},
            "userEntityRef": session.user_ref,
            "ownershipEntityRefs": refs,
        })

    # -- the caller's own sessions --------------------------------------------------------
    def current_session(request: Request) -> Session:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError("Authorization header must be a Bearer token")
            return identity.verify_user_token(token.strip())[1]
        cookie = identity.session_cookie(request)
        if cookie is None:
            raise AuthenticationError("Missing credentials")
        session, secret = identity.session_from_cookie(cookie)
        if request.method not in ("GET", "HEAD"):
            identity.check_csrf(request, secret)
        return session

    @router.get("/v1/sessions", public=True)
    def own_sessions(request: Request) -> JSONResponse:
        session = current_session(request)
        idle = identity.settings.session.idle_timeout
        items = [{**s.to_json(idle), "current": s.id == session.id} for s in identity.sessions.list(session.user_ref)]
        return JSONResponse({"items": items})

    @router.delete("/v1/sessions/{session_id}", public=True)
    def revoke_own_session(request: Request, session_id: str) -> Response:
        session = current_session(request)
        if not identity.revoke_own_session(request, session.user_ref, session_id):
            raise NotFoundError(f"No active session {session_id} of yours")
        response = Response(status_code=204)
        if session_id == session.id:
            identity.clear_session_cookies(response)
        return response

    @router.delete("/v1/sessions", public=True)
    def sign_out_everywhere(request: Request) -> JSONResponse:
        session = current_session(request)
        revoked = identity.sessions.revoke_user(session.user_ref, "signed out everywhere")
        identity.auditor.emit("auth-logout", "succeeded", request=request, actor_id=session.user_ref,
                              ip=identity.client_address(request), severity="medium",
                              meta={"scope": "everywhere", "sessions": len(revoked)})
        response = JSONResponse({"revoked": len(revoked)})
        identity.clear_session_cookies(response)
        return response

    # -- administration -------------------------------------------------------------------
    @router.get("/v1/admin/sessions", permission=SESSION_READ)
    def admin_sessions(
        request: Request, user: str | None = None, includeEnded: bool = False  # noqa: ARG001 - the guard reads it
    ) -> JSONResponse:
        idle = identity.settings.session.idle_timeout
        items = [s.to_json(idle) for s in identity.sessions.list(user, include_ended=includeEnded)]
        return JSONResponse({"items": items})

    @router.delete("/v1/admin/sessions", permission=SESSION_DELETE)
    def admin_revoke_user(request: Request, user: str) -> JSONResponse:
        actor = request.state.principal.subject
        with state.operation(request, "auth-session-revoke", action="session-revoke", target=user,
                             meta={"userEntityRef": user}) as op:
            def audit(connection: Any, ids: list[str]) -> None:
                op.record(connection, meta={"sessions": ids})

            revoked = identity.sessions.revoke_user(user, f"revoked by {actor}", audit=audit if op else None)
        return JSONResponse({"revoked": len(revoked)})

    @router.delete("/v1/admin/sessions/{session_id}", permission=SESSION_DELETE)
    def admin_revoke_one(request: Request, session_id: str) -> Response:
        actor = request.state.principal.subject
        with state.operation(request, "auth-session-revoke", action="session-revoke", target=session_id,
                             meta={"sessionId": session_id}) as op:
            if not identity.sessions.revoke(session_id, f"revoked by {actor}",
                                            audit=op.record if op else None):
                raise NotFoundError(f"No active session {session_id}")
        return Response(status_code=204)

    # -- local mode -----------------------------------------------------------------------
    @router.get("/local/login", public=True)
    def local_login(request: Request, token: str | None = None) -> Response:
        if not state.local_mode:
            raise NotFoundError("Unknown auth provider 'local'")
        address = identity.client_address(request)
        identity.brute_force.check_address(address)
        identity.brute_force.check_rate("signin", address)
        try:
            identity.consume_local_login(token)
        except CredentialError as exc:
            identity.brute_force.record_failure(address=address)
            identity.auditor.emit("auth-local-login", "failed", request=request, ip=address, severity="medium",
                                  meta={"reason": exc.reason}, error=exc.message)
            raise
        result = identity.establish_session(request, kind="local-admin", user_ref=LOCAL_ADMIN_REF,
                                            ownership_refs=[LOCAL_ADMIN_REF], provider="local")
        identity.auditor.emit("auth-local-login", "succeeded", request=request, actor_id=LOCAL_ADMIN_REF, ip=address,
                              meta={"sessionId": result.session.id})
        response = HTMLResponse(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>greenroom</title>"
            "<meta http-equiv=\"refresh\" content=\"1; url=/\"></head><body>"
            "<p>Signed in to greenroom as the local admin. This link cannot be used again.</p>"
            "<p><a href=\"/\">Continue to the portal</a></p></body></html>",
            headers={"cache-control": "no-store"},
        )
        identity.set_session_cookies(response, result)
        return response

    # -- providers ----------------------------------------------------------------------
    @router.get("/{provider}/start", public=True)
    def start(request: Request, provider: str) -> Response:
        loaded = state.provider(provider)
        redirect = loaded.redirect
        if redirect is None:
            raise NotFoundError(f"Provider '{provider}' signs in through its proxy; call /refresh")
        address = identity.client_address(request)
        identity.brute_force.check_address(address)
        identity.brute_force.check_rate("signin", address)
        query = request.query_params
        env = query.get("env")
        if env and redirect.settings.env is not None and env != redirect.settings.env:
            raise InputError(f"No configuration available for the '{env}' environment of this provider")
        flow = query.get("flow") or "popup"
        if flow not in ("popup", "redirect"):
            raise InputError("flow must be popup or redirect")
        try:
            origin = safe_origin(query["origin"], identity.allowed_origins) if query.get("origin") else (
                identity.settings.app_origin)
            redirect_url = None
            if flow == "redirect":
                redirect_url = safe_return_url(query.get("redirectUrl") or "", identity.allowed_origins)
        except RedirectError as exc:
            identity.auditor.emit("auth-sign-in", "failed", request=request, ip=address, severity="medium",
                                  meta={"provider": provider, "reason": "open-redirect"}, error=str(exc))
            raise InputError(f"Refused return address: {exc}") from None
        scope = query.get("scope")
        if scope is not None and not _SCOPE.match(scope):
            raise InputError("Invalid scope")
        nonce = identity.attempts.new_nonce()
        attempt: dict[str, Any] = {"flow": flow, "origin": origin, "redirectUrl": redirect_url,
                                   "callbackUrl": redirect.callback_url()}
        try:
            url = redirect.start(StartContext(state=nonce, callback_url=redirect.callback_url(), scope=scope,
                                              attempt=attempt))
        except SignInError as exc:
            return JSONResponse({"error": {"name": "AuthenticationError", "message": exc.message}},
                                status_code=exc.status)
        identity.attempts.create(provider, attempt, nonce=nonce)
        response = RedirectResponse(url, status_code=302, headers={"cache-control": "no-store"})
        secure = identity.settings.secure_cookies
        samesite = "none" if redirect.cross_site_callback and secure else "lax"
        response.set_cookie(_attempt_cookie(provider), nonce, max_age=ATTEMPT_COOKIE_AGE,
                            path=f"/api/auth/{provider}/handler", secure=secure, httponly=True,
                            samesite=samesite)  # type: ignore[arg-type]
        return response

    def finish_sign_in(request: Request, provider: str, params: Mapping[str, str]) -> Response:
        loaded = state.provider(provider)
        redirect = loaded.redirect
        if redirect is None:
            raise NotFoundError(f"Provider '{provider}' has no handler")
        address = identity.client_address(request)
        origin = identity.settings.app_origin
        who: str | None = None
        try:
            identity.brute_force.check_address(address)
            identity.brute_force.check_rate("signin", address)
            nonce = _browser_state(request, provider, params)
            try:
                attempt = identity.attempts.consume(provider, nonce)
            except AttemptError as exc:
                raise SignInError(exc.reason, exc.message) from None
            origin = str(attempt.get("origin") or origin)
            found = redirect.handle(request, params, attempt)
            who = found.lockout_key
            response = complete(request, loaded, found, attempt)
        except SignInError as exc:
            identity.brute_force.record_failure(address=address, identity=exc.identity or who)
            identity.auditor.emit("auth-sign-in", "failed", request=request, ip=address, actor_id=who,
                                  severity="medium", meta={"provider": provider, "reason": exc.reason},
                                  error=exc.message)
            name = "NotAllowedError" if exc.status == 403 else "AuthenticationError"
            response = error_page(name, exc.message, origin, status=exc.status)
        except TooManyRequestsError as exc:
            identity.auditor.emit("auth-sign-in", "failed", request=request, ip=address, actor_id=who,
                                  severity="medium", meta={"provider": provider, "reason": "rate-limited"},
                                  error=exc.message)
            response = error_page(exc.name, exc.message, origin, status=429)
        response.delete_cookie(_attempt_cookie(provider), path=f"/api/auth/{provider}/handler",
                               secure=identity.settings.secure_cookies, httponly=True)
        return response

    def complete(request: Request, loaded: LoadedProvider, found: ProviderIdentity, attempt: dict[str, Any]
                 ) -> Response:
        provider = loaded.provider
        identity.brute_force.check_identity(found.lockout_key)
        resolved = state.users.resolve(found, loaded.resolvers, provider.resolvers)
        result = identity.establish_session(
            request, kind="user", user_ref=resolved.user_ref, ownership_refs=resolved.ownership_refs,
            provider=provider.id, profile={**found.profile(), "inCatalog": resolved.in_catalog},
            absolute_timeout=provider.settings.session_duration,
        )
        identity.brute_force.record_success(found.lockout_key)
        identity.auditor.emit("auth-sign-in", "succeeded", request=request, actor_id=resolved.user_ref,
                              ip=identity.client_address(request),
                              meta={"provider": provider.id, "resolver": resolved.resolver,
                                    "sessionId": result.session.id, "inCatalog": resolved.in_catalog})
        payload = {
            "profile": found.profile(),
            "providerInfo": provider.provider_info(found),
            "backstageIdentity": identity.backstage_identity(result.session, result.token),
        }
        response: Response
        if attempt.get("flow") == "redirect" and attempt.get("redirectUrl"):
            response = RedirectResponse(str(attempt["redirectUrl"]), status_code=302,
                                        headers={"cache-control": "no-store"})
        else:
            response = frame_page({"type": "authorization_response", "response": payload},
                                  str(attempt.get("origin") or identity.settings.app_origin))
        identity.set_session_cookies(response, result)
        return response

    @router.get("/{provider}/handler/frame", public=True)
    async def handler_get(request: Request, provider: str) -> Response:
        return await run_in_threadpool(finish_sign_in, request, provider, dict(request.query_params))

    @router.post("/{provider}/handler/frame", public=True)
    async def handler_post(request: Request, provider: str) -> Response:
        form = await request.form(max_files=0, max_fields=20)
        params = {**dict(request.query_params), **{k: v for k, v in form.items() if isinstance(v, str)}}
        return await run_in_threadpool(finish_sign_in, request, provider, params)

    def refresh(request: Request, provider: str) -> JSONResponse:
        _require_xhr(request)
        address = identity.client_address(request)
        identity.brute_force.check_address(address)
        identity.brute_force.check_rate("refresh", address)
        if provider == "local" and state.local_mode:
            return refresh_session(request, "local", None)
        loaded = state.provider(provider)
        proxy = loaded.proxy
        if proxy is None:
            return refresh_session(request, provider, loaded)
        try:
            found = proxy.authenticate(request)
            identity.brute_force.check_identity(found.lockout_key)
            resolved = state.users.resolve(found, loaded.resolvers, proxy.resolvers)
        except SignInError as exc:
            identity.brute_force.record_failure(address=address, identity=exc.identity)
            identity.auditor.emit("auth-sign-in", "failed", request=request, ip=address, severity="medium",
                                  meta={"provider": provider, "reason": exc.reason}, error=exc.message)
            if exc.status == 403:
                raise NotAllowedError(exc.message) from None
            raise AuthenticationError(exc.message) from None
        session = reuse_session(request, provider, resolved.user_ref)
        new_cookie = None
        if session is None:
            result = identity.establish_session(
                request, kind="user", user_ref=resolved.user_ref, ownership_refs=resolved.ownership_refs,
                provider=provider, profile={**found.profile(), "inCatalog": resolved.in_catalog},
                absolute_timeout=proxy.settings.session_duration,
            )
            session, token, new_cookie = result.session, result.token, result
            identity.auditor.emit("auth-sign-in", "succeeded", request=request, actor_id=resolved.user_ref,
                                  ip=address, meta={"provider": provider, "resolver": resolved.resolver,
                                                    "sessionId": session.id})
        else:
            session = identity.sessions.update_ownership(session, resolved.ownership_refs)
            token = identity.issue_token(session)
        response = JSONResponse({
            "profile": found.profile(),
            "providerInfo": proxy.provider_info(found),
            "backstageIdentity": identity.backstage_identity(session, token),
        }, headers={"cache-control": "no-store"})
        if new_cookie is not None:
            identity.set_session_cookies(response, new_cookie)
        return response

    def reuse_session(request: Request, provider: str, user_ref: str) -> Session | None:
        cookie = identity.session_cookie(request)
        if cookie is None:
            return None
        try:
            session, _secret = identity.sessions.from_cookie(cookie)
        except Exception:  # noqa: BLE001 - any unusable cookie just means a new session
            return None
        return session if session.provider == provider and session.user_ref == user_ref else None

    def refresh_session(request: Request, provider: str, loaded: LoadedProvider | None) -> JSONResponse:
        cookie = identity.session_cookie(request)
        if cookie is None:
            raise AuthenticationError("Missing session cookie; sign in first")
        session, _secret = identity.session_from_cookie(cookie)
        if session.provider != provider:
            raise AuthenticationError(f"The session was not started through '{provider}'")
        if session.kind == "user" and session.profile.get("inCatalog", True):
            user = state.users.user_still_exists(session.user_ref)
            if user is None:
                identity.sessions.revoke(session.id, "user no longer in the catalog")
                identity.auditor.emit("auth-refresh", "failed", request=request, actor_id=session.user_ref,
                                      ip=identity.client_address(request), meta={"reason": "no-catalog-user"})
                raise AuthenticationError("Sign-in refused: the user is no longer in the catalog")
            session = identity.sessions.update_ownership(session, state.users.ownership_refs(user))
        token = identity.issue_token(session)
        identity.auditor.emit("auth-refresh", "succeeded", request=request, actor_id=session.user_ref,
                              ip=identity.client_address(request),
                              meta={"provider": provider, "sessionId": session.id, "jti": token.jti})
        info = loaded.provider.provider_info(ProviderIdentity(provider=provider, subject=session.user_ref)) if (
            loaded) else {}
        return JSONResponse({
            "profile": _public_profile(session),
            "providerInfo": info,
            "backstageIdentity": identity.backstage_identity(session, token),
        }, headers={"cache-control": "no-store"})

    router.get("/{provider}/refresh", public=True)(refresh)
    router.post("/{provider}/refresh", public=True)(refresh)

    @router.post("/{provider}/logout", public=True)
    def logout(request: Request, provider: str) -> Response:
        _require_xhr(request)
        identity.check_origin(request)
        if provider != "local":
            state.provider(provider)
        ended: Session | None = None
        cookie = identity.session_cookie(request)
        header = request.headers.get("authorization") or ""
        try:
            if cookie is not None:
                ended = identity.sessions.from_cookie(cookie)[0]
            elif header.lower().startswith("bearer "):
                ended = identity.verify_user_token(header[7:].strip())[1]
        except Exception:  # noqa: BLE001 - logging out with a dead credential is a no-op
            ended = None
        if ended is not None:
            identity.sessions.revoke(ended.id, "logout")
            identity.auditor.emit("auth-logout", "succeeded", request=request, actor_id=ended.user_ref,
                                  ip=identity.client_address(request),
                                  meta={"provider": provider, "sessionId": ended.id})
        response = Response(status_code=200)
        identity.clear_session_cookies(response)
        return response

    @router.get("/{provider}/metadata", public=True)
    def metadata(provider: str) -> Response:
        redirect = state.provider(provider).redirect
        document = redirect.metadata() if redirect is not None else None
        if document is None:
            raise NotFoundError(f"Provider '{provider}' has no metadata")
        return document
