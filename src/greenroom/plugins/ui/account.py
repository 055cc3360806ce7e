"""Signing in and out, the viewer's profile and their sessions.

The sign-in page lists only the providers the auth plugin has configured (its `SIGN_IN`
service) and links each to the provider's full-page redirect flow, which comes back to the
page the viewer wanted. Signing out and revoking sessions are forms with the session's CSRF
token; a session can only be revoked by its own user here (admins use the API or CLI).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from greenroom.errors import AuthenticationError, NotFoundError
from greenroom.kernel import PluginRouter
from greenroom.plugins.ui.entities import parse_ref
from greenroom.plugins.ui.links import local_path
from greenroom.plugins.ui.web import NO_STORE, Ui, Viewer

NOTICES = {"revoked": "The session is revoked: it can no longer be used."}


@dataclass(frozen=True)
class Option:
    id: str
    title: str
    kind: str
    url: str


def sign_in_page(ui: Ui, request: Request) -> Response:
    next_path = local_path(request.query_params.get("next"))
    try:
        principal = ui.services.authenticate(request)
    except AuthenticationError:
        principal = None
    if principal is not None and principal.is_authenticated:
        return RedirectResponse(next_path, status_code=303, headers=NO_STORE)
    options = []
    directory = ui.services.sign_in
    if directory is not None:
        for option in directory.options():
            url = directory.start_url(option.id, next_path) if option.kind == "redirect" else (
                directory.refresh_url(option.id))
            options.append(Option(option.id, option.title, option.kind, url))
    return ui.render(request, "sign_in.html", viewer=None, options=options, next=next_path, error=None)


def _signed_out(ui: Ui) -> Response:
    response = RedirectResponse("/sign-in", status_code=303, headers=NO_STORE)
    ui.services.identity.clear_session_cookies(response)
    return response


def sign_out(ui: Ui, request: Request, viewer: Viewer) -> Response:  # noqa: ARG001 - signed in
    identity = ui.services.identity
    session = identity.current_session(request)
    if session is not None:
        identity.sessions.revoke(session.id, "logout")
        identity.auditor.emit("auth-logout", "succeeded", request=request, actor_id=session.user_ref,
                              ip=identity.client_address(request), meta={"provider": session.provider,
                                                                         "sessionId": session.id, "via": "ui"})
    return _signed_out(ui)


@dataclass(frozen=True)
class SessionRow:
    id: str
    provider: str
    client_ip: str | None
    user_agent: str | None
    created_at: int
    last_seen_at: int
    current: bool


def settings_page(ui: Ui, request: Request, viewer: Viewer) -> Response:
    identity = ui.services.identity
    current = identity.current_session(request)
    sessions = []
    if viewer.principal.type in ("user", "local-admin"):
        for s in identity.sessions.list(viewer.subject):
            sessions.append(SessionRow(s.id, s.provider, s.client_ip, s.user_agent, s.created_at, s.last_seen_at,
                                       current is not None and s.id == current.id))
    ref = parse_ref(viewer.subject)
    user_path = None
    if ref is not None and ref.kind.lower() == "user" and viewer.principal.type == "user":
        user_path = ref.path
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return ui.render(request, "settings.html", viewer=viewer, section="settings", sessions=sessions,
                     user_path=user_path, notice=notice)


def revoke_session(ui: Ui, request: Request, viewer: Viewer, session_id: str) -> Response:
    identity = ui.services.identity
    current = identity.current_session(request)
    if not identity.revoke_own_session(request, viewer.subject, session_id):
        raise NotFoundError("No active session of yours with that id")
    if current is not None and current.id == session_id:
        return _signed_out(ui)
    return RedirectResponse("/settings?notice=revoked", status_code=303, headers=NO_STORE)


def revoke_all(ui: Ui, request: Request, viewer: Viewer) -> Response:
    identity = ui.services.identity
    revoked = identity.sessions.revoke_user(viewer.subject, "signed out everywhere")
    identity.auditor.emit("auth-logout", "succeeded", request=request, actor_id=viewer.subject,
                          ip=identity.client_address(request), severity="medium",
                          meta={"scope": "everywhere", "sessions": len(revoked), "via": "ui"})
    return _signed_out(ui)


def register(routers: Mapping[str, PluginRouter], ui: Ui) -> None:
    @routers["/sign-in"].get("", public=True, include_in_schema=False)
    def sign_in(request: Request) -> Response:
        return sign_in_page(ui, request)

    @routers["/sign-out"].post("", public=True, include_in_schema=False)
    async def sign_out_form(request: Request) -> Response:
        return await ui.run_form(request, lambda viewer, _form: sign_out(ui, request, viewer))

    settings = routers["/settings"]

    @settings.get("", public=True, include_in_schema=False)
    async def profile(request: Request) -> Response:
        return await ui.run(request, lambda viewer: settings_page(ui, request, viewer))

    @settings.post("/sessions/{session_id}/revoke", public=True, include_in_schema=False)
    async def revoke_one(request: Request, session_id: str) -> Response:
        return await ui.run_form(request, lambda viewer, _form: revoke_session(ui, request, viewer, session_id))

    @settings.post("/sessions/revoke-all", public=True, include_in_schema=False)
    async def revoke_everywhere(request: Request) -> Response:
        return await ui.run_form(request, lambda viewer, _form: revoke_all(ui, request, viewer))
