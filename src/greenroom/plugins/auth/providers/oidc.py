"""OpenID Connect (`oidc`); the Google, Okta and Microsoft Entra ID presets build on it.

    auth:
      providers:
        oidc:
          production:
            metadataUrl: https://idp.example.com/.well-known/openid-configuration
            clientId: ${AUTH_OIDC_CLIENT_ID}
            clientSecret: ${AUTH_OIDC_CLIENT_SECRET}
            callbackUrl: https://portal.example.com/api/auth/oidc/handler/frame   # default
            scope: openid profile email                                          # default
            additionalScopes: [groups]
            prompt: login
            tokenEndpointAuthMethod: client_secret_basic   # or client_secret_post
            tokenSignedResponseAlg: RS256                  # allow-list; default RS256/ES256/PS256
            requireMfa: true                               # amr/acr must show a second factor
            mfaAcrValues: [...]                            # acr values that count as MFA
            sessionDuration: { hours: 8 }
            signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }

The flow is the authorization code flow with PKCE (S256), `state` (single use, bound to the
browser by a cookie) and `nonce`. The discovery document's `issuer` must match the
`metadataUrl` it was fetched from (mix-up protection); its endpoints must be https. The ID
token is verified against the issuer's JWKS with an algorithm allow-list (never `none` or
HS*), for `aud` = the client id (and `azp` when there are several audiences), the discovery
issuer, `exp`/`iat`/`nbf`, and the attempt's nonce. An authorization code is accepted once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request

from greenroom.errors import ConfigError
from greenroom.identity.jwks import ASYMMETRIC_ALGORITHMS, RemoteJwks, TokenError, verify_jwt
from greenroom.identity.outbound import Outbound, OutboundError, check_url
from greenroom.identity.service import IdentityService
from greenroom.plugins.auth.providers.base import (
    ProviderIdentity,
    ProviderSettings,
    RedirectProvider,
    SignInError,
    StartContext,
)

DISCOVERY_TTL = 3600.0
DEFAULT_ALGORITHMS = ("RS256", "ES256", "PS256")
# amr values (RFC 8176) that by themselves say several factors were used.
MFA_AMR = frozenset({"mfa", "mca"})
# Factors: two different ones in `amr` also make MFA.
FACTOR_AMR = frozenset({"pwd", "otp", "hwk", "swk", "sms", "tel", "fpt", "face", "iris", "retina", "vbm", "sc",
                        "pin", "kba", "pop", "wia"})
DEFAULT_MFA_ACR = (
    "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
    "http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical",
    "https://refeds.org/profile/mfa",
    "urn:okta:loa:2fa:any",
    "urn:okta:loa:2fa:any:ifpossible",
    "phr",
    "phrh",
)


def mfa_shown(claims: Mapping[str, Any], acr_values: tuple[str, ...]) -> bool:
    amr = claims.get("amr")
    methods = {str(m).lower() for m in amr} if isinstance(amr, list) else set()
    if methods & MFA_AMR or len(methods & FACTOR_AMR) >= 2:
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in acr_values


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class OidcProvider(RedirectProvider):
    shows_mfa = True
    resolvers = {
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
        "emailMatchingUserEntityAnnotation": None,
    }
    default_scope = "openid profile email"

    def __init__(self, settings: ProviderSettings, identity: IdentityService, outbound: Outbound) -> None:
        super().__init__(settings, identity, outbound)
        self.client_id = settings.text("clientId", required=True) or ""
        self.client_secret = settings.text("clientSecret", required=True) or ""
        self.metadata_url = check_url(self.discovery_url(), production=self.production,
                                      path=f"{settings.path}.metadataUrl")
        self.scope = settings.text("scope") or self.default_scope
        extra = settings.texts("additionalScopes")
        if "openid" not in self.scope.split():
            raise ConfigError("the scope must include 'openid'", path=f"{settings.path}.scope")
        self.scope = " ".join(dict.fromkeys([*self.scope.split(), *extra]))
        self.prompt = settings.text("prompt")
        self.auth_method = settings.text("tokenEndpointAuthMethod") or "client_secret_basic"
        if self.auth_method not in ("client_secret_basic", "client_secret_post"):
            raise ConfigError("use client_secret_basic or client_secret_post",
                              path=f"{settings.path}.tokenEndpointAuthMethod")
        algorithms = settings.texts("tokenSignedResponseAlg") or list(DEFAULT_ALGORITHMS)
        bad = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad:
            raise ConfigError(f"ID tokens signed with {bad[0]} are not accepted (asymmetric algorithms only)",
                              path=f"{settings.path}.tokenSignedResponseAlg")
        self.algorithms = tuple(algorithms)
        if not settings.flag("pkce", True):
            raise ConfigError("PKCE cannot be switched off", path=f"{settings.path}.pkce")
        self.mfa_acr = tuple(settings.texts("mfaAcrValues")) or DEFAULT_MFA_ACR
        self._usable_algorithms = self.algorithms
        self._discovery: dict[str, Any] | None = None
        self._discovered_at = 0.0
        self._jwks: RemoteJwks | None = None
        self._lock = threading.Lock()

    # -- configuration ------------------------------------------------------------------
    def discovery_url(self) -> str:
        return self.settings.text("metadataUrl", required=True) or ""

    def extra_authorize_params(self) -> dict[str, str]:
        return {}

    def issuer_matches(self, issuer: str) -> bool:
        """OIDC Discovery: the issuer is the metadata URL without the well-known suffix."""
        expected = self.metadata_url.removesuffix("/.well-known/openid-configuration")
        return issuer.rstrip("/") == expected.rstrip("/")

    def discovery(self) -> dict[str, Any]:
        with self._lock:
            if self._discovery is not None and time.monotonic() - self._discovered_at < DISCOVERY_TTL:
                return self._discovery
            try:
                document = self.outbound.get_json(self.metadata_url)
            except OutboundError as exc:
                raise SignInError("idp-unavailable", f"could not read the identity provider's configuration: "
                                  f"{exc.message}", status=502) from exc
            if not isinstance(document, dict):
                raise SignInError("idp-misconfigured", "the discovery document is not an object", status=502)
            issuer = document.get("issuer")
            if not isinstance(issuer, str) or not self.issuer_matches(issuer):
                raise SignInError("idp-misconfigured", "the discovery document's issuer does not match metadataUrl",
                                  status=502)
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                value = document.get(key)
                try:
                    check_url(str(value), production=self.production, path=key)
                except ConfigError as exc:
                    raise SignInError("idp-misconfigured", f"the discovery document's {key} is not usable",
                                      status=502) from exc
            supported = document.get("id_token_signing_alg_values_supported")
            if isinstance(supported, list):
                usable = tuple(a for a in self.algorithms if a in supported)
                self._usable_algorithms = usable or self.algorithms
            else:
                self._usable_algorithms = self.algorithms
            self._discovery = document
            self._discovered_at = time.monotonic()
            if self._jwks is None or self._jwks.url != document["jwks_uri"]:
                self._jwks = RemoteJwks(str(document["jwks_uri"]), self.outbound)
            return document

    # -- the flow ----------------------------------------------------------------------
    def start(self, ctx: StartContext) -> str:
        document = self.discovery()
        verifier, challenge = _pkce_pair()
        nonce = secrets.token_urlsafe(24)
        ctx.attempt.update({"codeVerifier": verifier, "nonce": nonce})
        scope = " ".join(dict.fromkeys([*self.scope.split(), *(ctx.scope or "").split()]))
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": ctx.callback_url,
            "scope": scope,
            "state": ctx.state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **self.extra_authorize_params(),
        }
        if self.prompt:
            params["prompt"] = self.prompt
        endpoint = str(document["authorization_endpoint"])
        separator = "&" if urlsplit(endpoint).query else "?"
        return f"{endpoint}{separator}{urlencode(params)}"

    def handle(
        self, request: Request, params: Mapping[str, str], attempt: dict[str, Any]  # noqa: ARG002
    ) -> ProviderIdentity:
        error = params.get("error")
        if error:
            description = params.get("error_description") or ""
            raise SignInError("idp-error", f"the identity provider refused the sign-in: {error[:100]} "
                              f"{description[:200]}".strip())
        code = params.get("code")
        if not code or len(code) > 2048:
            raise SignInError("missing-code", "the identity provider's response carries no authorization code")
        if not self.identity.replay.first_use(f"oidc-code:{self.id}", code, until=time.time() + 3600):
            raise SignInError("replayed-code", "this authorization code was already used")
        document = self.discovery()
        tokens = self._exchange(document, code, str(attempt.get("codeVerifier") or ""), attempt.get("callbackUrl"))
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SignInError("missing-id-token", "the identity provider returned no ID token")
        claims = self._verify_id_token(document, id_token, str(attempt.get("nonce") or ""))
        if (self.settings.require_mfa or self.identity.settings.require_mfa) and not mfa_shown(claims, self.mfa_acr):
            raise SignInError(
                "mfa-required",
                "Sign-in refused: this portal requires multi-factor authentication and the identity provider's "
                f"token does not show it (amr={claims.get('amr')!r}, acr={claims.get('acr')!r})",
                status=403, identity=f"{self.id}:{claims['sub']}",
            )
        return self.identity_from_claims(claims)

    def _exchange(self, document: Mapping[str, Any], code: str, verifier: str, callback: Any) -> dict[str, Any]:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": str(callback or self.callback_url()),
            "code_verifier": verifier,
        }
        auth = None
        if self.auth_method == "client_secret_basic":
            auth = (self.client_id, self.client_secret)
        else:
            data.update({"client_id": self.client_id, "client_secret": self.client_secret})
        try:
            status, body = self.outbound.post_form(str(document["token_endpoint"]), data, auth=auth)
        except OutboundError as exc:
            raise SignInError("token-exchange-failed", f"could not redeem the authorization code: {exc.message}",
                              status=502) from exc
        if status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise SignInError("token-exchange-failed",
                              f"the identity provider did not redeem the authorization code ({status} {error})")
        return body

    def _verify_id_token(self, document: Mapping[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
        assert self._jwks is not None
        try:
            claims = verify_jwt(
                id_token,
                keys=self._jwks,
                algorithms=self._usable_algorithms,
                issuer=str(document["issuer"]),
                audience=self.client_id,
                require=("exp", "iat", "iss", "aud", "sub", "nonce"),
            )
        except TokenError as exc:
            raise SignInError(f"id-token-{exc.reason}", f"the ID token was refused: {exc.message}") from None
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise SignInError("id-token-wrong-audience", "the ID token is for several audiences and not authorized "
                              "for this client (azp)")
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(str(claims["nonce"]), nonce):
            raise SignInError("nonce-mismatch", "the ID token's nonce does not match this sign-in")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise SignInError("id-token-malformed", "the ID token has no subject")
        return claims

    def identity_from_claims(self, claims: Mapping[str, Any]) -> ProviderIdentity:
        email = claims.get("email")
        verified = claims.get("email_verified")
        usable = isinstance(email, str) and "@" in email and verified is not False and verified != "false"
        return ProviderIdentity(
            provider=self.id,
            subject=str(claims["sub"]),
            email=email if usable and isinstance(email, str) else None,
            display_name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            picture=claims.get("picture") if isinstance(claims.get("picture"), str) else None,
            username=claims.get("preferred_username") if isinstance(claims.get("preferred_username"), str) else None,
            user_id=str(claims.get("oid") or claims["sub"]),
            claims=dict(claims),
        )

    def provider_info(self, identity: ProviderIdentity) -> dict[str, Any]:  # noqa: ARG002
        return {"scope": self.scope}
