"""A real OpenID Connect provider for the tests, built on authlib's authorization server.

It serves discovery, JWKS, authorize, token and userinfo over real HTTP on 127.0.0.1, runs
authlib's authorization code grant with the OpenID Connect extension (nonce required) and
PKCE (required, S256), and keeps codes single use. The authorize endpoint signs in
`idp.user` without a login page (the tests are the browser). `idp.tamper` rewrites the ID
token the token endpoint returns, to play a misbehaving or hostile provider.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.plugins.auth.servers import Served

# authlib refuses plain http outside this switch; the provider only ever listens on 127.0.0.1.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    user: dict[str, Any]
    auth_time: int
    amr: list[str] | None = None
    acr: str | None = None
    used: bool = False

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str] | None:
        return self.amr


class _Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: Any, data: dict[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(data)
        self._data = data

    @property
    def args(self) -> dict[str, str]:
        return self._data

    @property
    def form(self) -> dict[str, str]:
        return self._data


@dataclass
class OidcIdp:
    """The provider; `start()` serves it, `stop()` ends it."""

    name: str = "idp"
    user: dict[str, Any] = field(default_factory=lambda: {
        "sub": "alice-sub-1", "email": "alice@example.com", "email_verified": True, "name": "Alice Example",
        "preferred_username": "alice",
    })
    amr: list[str] | None = None
    acr: str | None = None
    tamper: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
    codes: dict[str, AuthCode] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"{self.name}-key-1"
        pem = self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        self.jose_key = RSAKey.import_key(pem, {"kid": self.kid, "use": "sig", "alg": "RS256"})
        self.clients: dict[str, Client] = {}
        self.served: Served | None = None
        self.server = self._authorization_server()

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> OidcIdp:
        app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
            Route("/userinfo", self.userinfo),
        ])
        self.served = Served(app)
        return self

    def stop(self) -> None:
        if self.served:
            self.served.stop()

    @property
    def issuer(self) -> str:
        assert self.served is not None
        return self.served.url

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def register_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = Client(client_id, client_secret, [redirect_uri])

    # -- signing helpers the attack tests use -------------------------------------------
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, claims: dict[str, Any], *, kid: str | None = None, key: Any = None, alg: str = "RS256") -> str:
        return jwt.encode(claims, key if key is not None else self.private_key, algorithm=alg,
                          headers={"kid": kid or self.kid})

    # -- authlib wiring ---------------------------------------------------------------
    def _authorization_server(self) -> AuthorizationServer:
        idp = self

        class Server(AuthorizationServer):
            def query_client(self, client_id: str) -> Client | None:
                return idp.clients.get(client_id)

            def save_token(self, token: dict[str, Any], request: Any) -> None:
                return None

            def create_oauth2_request(self, request: Any) -> Any:
                return request

            def create_json_request(self, request: Any) -> Any:
                return request

            def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
                return status, body, headers

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                return None

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, request: Any) -> None:
                data = request.payload.data
                idp.codes[code] = AuthCode(
                    code=code, client_id=request.client.get_client_id(), redirect_uri=data.get("redirect_uri"),
                    scope=data.get("scope", ""), nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"), code_challenge_method=data.get("code_challenge_method"),
                    user=dict(request.user), auth_time=int(time.time()), amr=idp.amr, acr=idp.acr,
                )

            def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
                found = idp.codes.get(code)
                if found and found.client_id == client.get_client_id() and not found.used:
                    return found
                return None

            def delete_authorization_code(self, authorization_code: AuthCode) -> None:
                authorization_code.used = True  # a second redemption is invalid_grant

            def authenticate_user(self, authorization_code: AuthCode) -> dict[str, Any]:
                return authorization_code.user

        class OpenIdExtension(OpenIDCode):
            def resolve_client_private_key(self, client: Client) -> Any:
                return idp.jose_key

            def get_client_algorithm(self, client: Client) -> str:
                return "RS256"

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": idp.issuer, "aud": [client.get_client_id()], "exp": int(time.time()) + 300}

            def get_encode_header(self, client: Client) -> dict[str, Any]:
                return {"alg": "RS256", "kid": idp.kid}

            def exists_nonce(self, nonce: str, request: Any) -> bool:
                return any(c.nonce == nonce for c in idp.codes.values())

            def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
                return UserInfo(**user)

        server = Server()
        server.register_grant(CodeGrant, [OpenIdExtension(require_nonce=True), CodeChallenge(required=True)])
        server.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_kw: secrets.token_urlsafe(24)))
        return server

    # -- endpoints ----------------------------------------------------------------------
    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        })

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.jose_key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        data = dict(request.query_params)
        oauth_request = _Request("GET", str(request.url), request.headers, data)
        try:
            grant = self.server.get_consent_grant(oauth_request, end_user=self.user)
        except Exception as exc:
            return JSONResponse({"error": getattr(exc, "error", "invalid_request")}, status_code=400)
        status, body, headers = self.server.create_authorization_response(oauth_request, grant_user=self.user,
                                                                          grant=grant)
        location = dict(headers).get("Location")
        if status == 302 and location:
            return RedirectResponse(location, status_code=302)
        return JSONResponse(body, status_code=status)

    async def token(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        self.token_requests.append(form)
        oauth_request = _Request("POST", str(request.url), request.headers, form)
        status, body, _headers = self.server.create_token_response(oauth_request)
        if status == 200 and self.tamper is not None and "id_token" in body:
            claims = jwt.decode(body["id_token"], options={"verify_signature": False})
            header = jwt.get_unverified_header(body["id_token"])
            body = {**body, "id_token": self.tamper(claims, header)}
        return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})

    async def userinfo(self, request: Request) -> Response:
        return JSONResponse(self.user)


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` JWT."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def authorize_query(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url).query))


__all__ = ["OidcIdp", "authorize_query", "unsigned", "urlencode"]
