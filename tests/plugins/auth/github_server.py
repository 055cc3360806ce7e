"""A local stand-in for GitHub (Enterprise Server layout) serving GitHub's documented responses.

    GET  /login/oauth/authorize          302 to redirect_uri with code and state
    POST /login/oauth/access_token       {access_token, scope, token_type} or {error: bad_verification_code}
    GET  /api/v3/user                    the authenticated user
    GET  /api/v3/user/emails             [{email, verified, primary, visibility}]
    GET  /api/v3/user/memberships/orgs/:org   {state: active|pending, role, organization} or 404

Codes are single use and bound to the PKCE challenge; API calls need the issued token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.plugins.auth.servers import Served


@dataclass
class GithubServer:
    client_id: str = "gh-client-id"
    client_secret: str = "gh-client-secret-0123456789"
    user: dict[str, Any] = field(default_factory=lambda: {
        "login": "alice", "id": 1001, "node_id": "MDQ6VXNlcjEwMDE=", "name": "Alice Example",
        "avatar_url": "https://avatars.example/u/1001", "type": "User", "email": None,
    })
    emails: list[dict[str, Any]] = field(default_factory=lambda: [
        {"email": "alice@example.com", "verified": True, "primary": True, "visibility": "public"},
    ])
    memberships: dict[str, str] = field(default_factory=dict)  # org -> state
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def start(self) -> GithubServer:
        self.served = Served(Starlette(routes=[
            Route("/login/oauth/authorize", self.authorize),
            Route("/login/oauth/access_token", self.access_token, methods=["POST"]),
            Route("/api/v3/user", self.api_user),
            Route("/api/v3/user/emails", self.api_emails),
            Route("/api/v3/user/memberships/orgs/{org}", self.api_membership),
        ]))
        return self

    def stop(self) -> None:
        self.served.stop()

    @property
    def url(self) -> str:
        return self.served.url

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id:
            return JSONResponse({"error": "invalid client"}, status_code=404)
        code = secrets.token_hex(10)
        self.codes[code] = {"redirect_uri": q["redirect_uri"], "challenge": q.get("code_challenge", ""),
                            "scope": q.get("scope", "")}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}",
                                status_code=302)

    async def access_token(self, request: Request) -> Response:
        form = await request.form()
        self.calls.append("access_token")
        code = self.codes.pop(str(form.get("code")), None)  # single use
        bad = {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.",
               "error_uri": "https://docs.github.com/apps/troubleshooting-oauth-app-access-token-request-errors"}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "incorrect_client_credentials"})
        if code is None or code["redirect_uri"] != form.get("redirect_uri"):
            return JSONResponse(bad)  # GitHub answers 200 with an error body
        verifier = str(form.get("code_verifier") or "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if code["challenge"] and digest != code["challenge"]:
            return JSONResponse(bad)
        token = f"gho_{secrets.token_hex(16)}"
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "scope": code["scope"].replace(" ", ","), "token_type": "bearer"})

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.removeprefix("Bearer ").removeprefix("token ") in self.tokens

    async def api_user(self, request: Request) -> Response:
        self.calls.append("user")
        if not self._authorized(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(self.user)

    async def api_emails(self, request: Request) -> Response:
        self.calls.append("emails")
        if not self._authorized(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse(self.emails)

    async def api_membership(self, request: Request) -> Response:
        org = request.path_params["org"]
        self.calls.append(f"membership:{org}")
        if not self._authorized(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        state = self.memberships.get(org)
        if state is None:
            return JSONResponse({"message": "Not Found",
                                 "documentation_url": "https://docs.github.com/rest/orgs/members"}, status_code=404)
        return JSONResponse({"state": state, "role": "member", "organization": {"login": org},
                             "user": {"login": self.user["login"]}})
