"""GitHub OAuth2 (github.com or GitHub Enterprise Server).

    auth:
      providers:
        github:
          production:
            clientId: ${AUTH_GITHUB_CLIENT_ID}
            clientSecret: ${AUTH_GITHUB_CLIENT_SECRET}
            callbackUrl: https://portal.example.com/api/auth/github/handler/frame   # default
            enterpriseInstanceUrl: https://ghe.example.com    # GitHub Enterprise Server (Backstage key)
            additionalScopes: []
            allowedOrganizations: [acme]     # greenroom: sign-in only for active members of these orgs
            signIn:
              resolvers:
                - resolver: usernameMatchingUserEntityName
                - resolver: userIdMatchingUserEntityAnnotation     # github.com/user-id
                - resolver: emailMatchingUserEntityProfileEmail   # verified addresses only

The code is exchanged with PKCE and `state`; the user comes from `GET /user`, email
addresses from `GET /user/emails`, of which only `verified: true` ones are ever matched (the
primary one first), and with `allowedOrganizations` the user must have an `active`
membership (`GET /user/memberships/orgs/{org}`) in one of them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request

from greenroom.errors import ConfigError
from greenroom.identity.outbound import Outbound, OutboundError
from greenroom.identity.service import IdentityService
from greenroom.plugins.auth.providers.base import (
    ProviderIdentity,
    ProviderSettings,
    RedirectProvider,
    SignInError,
    StartContext,
)
from greenroom.plugins.auth.providers.oidc import _pkce_pair

GITHUB = "https://github.com"
GITHUB_API = "https://api.github.com"


class GithubProvider(RedirectProvider):
    resolvers = {
        "usernameMatchingUserEntityName": None,
        "userIdMatchingUserEntityAnnotation": "github.com/user-id",
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
    }

    def __init__(self, settings: ProviderSettings, identity: IdentityService, outbound: Outbound) -> None:
        super().__init__(settings, identity, outbound)
        self.client_id = settings.text("clientId", required=True) or ""
        self.client_secret = settings.text("clientSecret", required=True) or ""
        base = settings.url("enterpriseInstanceUrl", production=self.production)
        self.web_url = (base or GITHUB).rstrip("/")
        self.api_url = f"{self.web_url}/api/v3" if base else GITHUB_API
        self.organizations = [o.lower() for o in settings.texts("allowedOrganizations")]
        scopes = ["read:user", "user:email", *(["read:org"] if self.organizations else []),
                  *settings.texts("additionalScopes")]
        self.scope = " ".join(dict.fromkeys(scopes))
        for org in self.organizations:
            if not org or "/" in org or "?" in org:
                raise ConfigError(f"not an organization name: {org!r}", path=f"{settings.path}.allowedOrganizations")

    def start(self, ctx: StartContext) -> str:
        verifier, challenge = _pkce_pair()
        ctx.attempt["codeVerifier"] = verifier
        params = {
            "client_id": self.client_id,
            "redirect_uri": ctx.callback_url,
            "scope": " ".join(dict.fromkeys([*self.scope.split(), *(ctx.scope or "").split()])),
            "state": ctx.state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "allow_signup": "false",
        }
        return f"{self.web_url}/login/oauth/authorize?{urlencode(params)}"

    def _api(self, path: str, token: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28"}
        try:
            status, body, _ = self.outbound.request("GET", f"{self.api_url}{path}", headers=headers)
        except OutboundError as exc:
            raise SignInError("idp-unavailable", f"could not reach GitHub: {exc.message}", status=502) from exc
        import orjson

        try:
            return status, orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return status, None

    def handle(
        self, request: Request, params: Mapping[str, str], attempt: dict[str, Any]  # noqa: ARG002
    ) -> ProviderIdentity:
        if params.get("error"):
            raise SignInError("idp-error", f"GitHub refused the sign-in: {params['error'][:100]}")
        code = params.get("code")
        if not code or len(code) > 512:
            raise SignInError("missing-code", "GitHub's response carries no authorization code")
        if not self.identity.replay.first_use(f"github-code:{self.id}", code, until=time.time() + 3600):
            raise SignInError("replayed-code", "this authorization code was already used")
        data = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code": code,
            "redirect_uri": str(attempt.get("callbackUrl") or self.callback_url()),
            "code_verifier": str(attempt.get("codeVerifier") or ""),
        }
        try:
            status, body = self.outbound.post_form(f"{self.web_url}/login/oauth/access_token", data)
        except OutboundError as exc:
            raise SignInError("token-exchange-failed", f"could not redeem the code: {exc.message}", status=502) from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if status != 200 or not isinstance(token, str) or not token:
            error = body.get("error") if isinstance(body, dict) else None
            raise SignInError("token-exchange-failed", f"GitHub did not redeem the authorization code ({error})")
        status, user = self._api("/user", token)
        if status != 200 or not isinstance(user, dict) or not isinstance(user.get("login"), str):
            raise SignInError("idp-error", f"GitHub did not return the user ({status})")
        login, user_id = str(user["login"]), str(user.get("id") or "")
        subject = f"{self.id}:{user_id or login}"
        if self.organizations:
            self._check_membership(token, subject)
        status, emails = self._api("/user/emails", token)
        verified = []
        if status == 200 and isinstance(emails, list):
            verified = [e for e in emails if isinstance(e, dict) and e.get("verified") is True
                        and isinstance(e.get("email"), str)]
            verified.sort(key=lambda e: not e.get("primary"))
        email = str(verified[0]["email"]) if verified else None
        return ProviderIdentity(
            provider=self.id,
            subject=user_id or login,
            email=email,
            display_name=user.get("name") if isinstance(user.get("name"), str) else login,
            picture=user.get("avatar_url") if isinstance(user.get("avatar_url"), str) else None,
            username=login,
            user_id=user_id or None,
            claims={"login": login, "id": user_id, "verifiedEmails": [e["email"] for e in verified]},
        )

    def _check_membership(self, token: str, subject: str) -> None:
        for org in self.organizations:
            status, membership = self._api(f"/user/memberships/orgs/{quote(org, safe='')}", token)
            if status == 200 and isinstance(membership, dict) and membership.get("state") == "active":
                return
        raise SignInError(
            "not-in-organization",
            f"Sign-in refused: the GitHub account is not an active member of {', '.join(self.organizations)}",
            status=403, identity=subject,
        )

    def provider_info(self, identity: ProviderIdentity) -> dict[str, Any]:  # noqa: ARG002
        return {"scope": self.scope}
