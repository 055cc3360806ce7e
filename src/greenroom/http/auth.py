"""Who is calling: a user token or session, a service credential, or nobody.

A request is authenticated by, in this order:

1. a greenroom **user token** (`Authorization: Bearer <ES256 JWT, typ vnd.backstage.user>`),
   verified against the portal's keys in memory and checked against its server-side session
   (cached, see `greenroom.identity.sessions`); or, without an Authorization header, the
   **session cookie** of a browser sign-in (a state-changing request must also carry the
   session's CSRF token and, when it sends one, an allowed `Origin`);
2. a **service credential** from `backend.auth.externalAccess`, in Backstage's formats:

       backend:
         auth:
           externalAccess:
             - type: static
               options: { token: ${CI_TOKEN}, subject: ci }
               accessRestrictions: [{ plugin: catalog, permission: catalog.entity.read }]
             - type: legacy
               options: { secret: ${LEGACY_KEY}, subject: old-backend }   # base64 HS256 key
             - type: jwks
               options:
                 url: https://issuer.example.com/.well-known/jwks.json
                 issuer: https://issuer.example.com
                 audience: greenroom            # required here, unlike Backstage
                 algorithm: RS256               # or a list; never HS* or none
                 subjectPrefix: deploy-bot

3. nothing: the anonymous principal, which the guard answers with 401.

Local mode has no credential-less admin any more: the local admin signs in through the
one-time login link `greenroom serve` prints, and is then a session like any other.

A presented credential that is not valid is a 401 in every mode, even where the route would
be allowed without one. Static tokens are compared in constant time against every configured
token, are never logged, and must be at least 16 characters with no whitespace. Forged or
unknown credentials count towards the client address's lockout (`auth.lockout`); a locked
address gets 429 for every credentialed request until the lock expires.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from greenroom.errors import ConfigError
from greenroom.identity.audit import Auditor
from greenroom.identity.jwks import ASYMMETRIC_ALGORITHMS, RemoteJwks, TokenError, unverified_header, verify_jwt
from greenroom.identity.outbound import Outbound, check_url
from greenroom.identity.service import CredentialError, IdentityService
from greenroom.permissions.principal import ANONYMOUS, AccessRestriction, Principal

log = logging.getLogger("greenroom.auth")
MIN_STATIC_TOKEN_LENGTH = 16
LOCAL_ADMIN = Principal(type="local-admin", subject="user:default/local-admin", credential="local")


@dataclass(frozen=True)
class _StaticToken:
    token: bytes
    principal: Principal


@dataclass(frozen=True)
class _LegacyKey:
    key: bytes
    principal: Principal


@dataclass(frozen=True)
class _JwksIssuer:
    issuers: tuple[str, ...]
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    subject_prefix: str
    restrictions: tuple[AccessRestriction, ...]
    keys: RemoteJwks


def _restrictions(entry: Mapping[str, Any], path: str) -> tuple[AccessRestriction, ...]:
    out = []
    for i, item in enumerate(entry.get("accessRestrictions") or []):
        plugin = item.get("plugin")
        if not isinstance(plugin, str) or not plugin:
            raise ConfigError("accessRestrictions entries need a plugin", path=f"{path}.accessRestrictions[{i}]")
        permission = item.get("permission")
        names = [permission] if isinstance(permission, str) else list(permission or [])
        out.append(AccessRestriction(plugin=plugin, permissions=frozenset(names) if names else None))
    return tuple(out)


def _strings(value: Any, path: str, *, required: bool) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    if not all(isinstance(i, str) and i for i in items) or (required and not items):
        raise ConfigError("expected a non-empty string or list of strings", path=path)
    return tuple(items)


class Authenticator:
    def __init__(
        self,
        external_access: Sequence[Mapping[str, Any]],
        *,
        local_mode: bool,
        identity: IdentityService | None = None,
        production: bool = False,
        outbound: Outbound | None = None,
    ) -> None:
        self.local_mode = local_mode
        self.identity = identity
        self._auditor = identity.auditor if identity is not None else Auditor()
        self._outbound = outbound or (identity.outbound if identity is not None else None)
        self._static: list[_StaticToken] = []
        self._legacy: list[_LegacyKey] = []
        self._jwks: list[_JwksIssuer] = []
        for i, entry in enumerate(external_access):
            path = f"backend.auth.externalAccess[{i}]"
            kind = entry.get("type")
            options = entry.get("options") or {}
            restrictions = _restrictions(entry, path)
            if kind == "static":
                self._static.append(self._static_entry(options, restrictions, path))
            elif kind == "legacy":
                self._legacy.append(self._legacy_entry(options, restrictions, path))
            elif kind == "jwks":
                self._jwks.append(self._jwks_entry(options, restrictions, path, production))
            else:
                raise ConfigError(f"unknown externalAccess type '{kind}'", path=f"{path}.type")

    @staticmethod
    def _static_entry(
        options: Mapping[str, Any], restrictions: tuple[AccessRestriction, ...], path: str
    ) -> _StaticToken:
        token = options.get("token")
        subject = options.get("subject")
        if not isinstance(token, str) or not token:
            raise ConfigError("static access needs options.token", path=f"{path}.options.token")
        if len(token) < MIN_STATIC_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise ConfigError(
                f"static tokens must be at least {MIN_STATIC_TOKEN_LENGTH} characters without whitespace",
                path=f"{path}.options.token",
            )
        if not isinstance(subject, str) or not subject:
            raise ConfigError("static access needs options.subject", path=f"{path}.options.subject")
        principal = Principal(
            type="service", subject=f"external:{subject}", restrictions=restrictions, credential="static"
        )
        return _StaticToken(token=token.encode(), principal=principal)

    @staticmethod
    def _legacy_entry(options: Mapping[str, Any], restrictions: tuple[AccessRestriction, ...], path: str) -> _LegacyKey:
        secret = options.get("secret")
        subject = options.get("subject")
        if not isinstance(secret, str) or not secret:
            raise ConfigError("legacy access needs options.secret", path=f"{path}.options.secret")
        try:
            key = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError("legacy secret must be base64", path=f"{path}.options.secret") from exc
        if len(key) < 16:
            raise ConfigError("legacy secret must decode to at least 16 bytes", path=f"{path}.options.secret")
        if not isinstance(subject, str) or not subject:
            raise ConfigError("legacy access needs options.subject", path=f"{path}.options.subject")
        principal = Principal(
            type="service", subject=f"external:{subject}", restrictions=restrictions, credential="legacy"
        )
        return _LegacyKey(key=key, principal=principal)

    def _jwks_entry(
        self, options: Mapping[str, Any], restrictions: tuple[AccessRestriction, ...], path: str, production: bool
    ) -> _JwksIssuer:
        url = options.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError("jwks access needs options.url", path=f"{path}.options.url")
        check_url(url, production=production, path=f"{path}.options.url")
        issuers = _strings(options.get("issuer"), f"{path}.options.issuer", required=True)
        audiences = _strings(options.get("audience"), f"{path}.options.audience", required=True)
        algorithms = _strings(options.get("algorithm") or options.get("algorithms") or ["RS256", "ES256"],
                              f"{path}.options.algorithm", required=True)
        bad = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad:
            raise ConfigError(f"algorithm {bad[0]} is not allowed (asymmetric algorithms only, never none or HS*)",
                              path=f"{path}.options.algorithm")
        prefix = options.get("subjectPrefix") or ""
        if not isinstance(prefix, str):
            raise ConfigError("subjectPrefix must be a string", path=f"{path}.options.subjectPrefix")
        if self._outbound is None:
            self._outbound = Outbound()
        return _JwksIssuer(issuers=issuers, audiences=audiences, algorithms=algorithms, subject_prefix=prefix,
                           restrictions=restrictions, keys=RemoteJwks(url, self._outbound))

    @property
    def has_credentials(self) -> bool:
        return bool(self._static or self._legacy or self._jwks)

    # -- service credentials --------------------------------------------------------------
    def _service_token(self, token: str) -> Principal | None:
        supplied = token.encode()
        match: Principal | None = None
        for entry in self._static:  # every entry is compared, so timing does not tell which matched
            if hmac.compare_digest(entry.token, supplied):
                match = entry.principal
        if match is not None:
            return match
        if token.count(".") != 2:
            return None
        if self._jwks:
            principal = self._jwks_token(token)
            if principal is not None:
                return principal
        if self._legacy:
            import jwt  # only deployments with legacy keys pay for importing it

            for legacy in self._legacy:
                try:
                    claims = jwt.decode(
                        token, legacy.key, algorithms=["HS256"], options={"require": ["exp", "sub"]}
                    )
                except jwt.PyJWTError:
                    continue
                if claims.get("sub") == "backstage-server":
                    return legacy.principal
        return None

    def _jwks_token(self, token: str) -> Principal | None:
        import jwt

        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return None
        for entry in self._jwks:
            if issuer not in entry.issuers:
                continue
            try:
                claims = verify_jwt(token, keys=entry.keys, algorithms=entry.algorithms, issuer=entry.issuers,
                                    audience=entry.audiences)
            except TokenError as exc:
                raise CredentialError(f"Invalid token: {exc.message}", reason=exc.reason,
                                      counts=exc.reason != "expired") from None
            subject = str(claims["sub"])
            name = f"{entry.subject_prefix}:{subject}" if entry.subject_prefix else subject
            return Principal(type="service", subject=f"external:{name}", restrictions=entry.restrictions,
                             credential="jwks")
        return None

    # -- the request ----------------------------------------------------------------------
    def _from_bearer(self, token: str, address: str | None = None) -> Principal:
        if self.identity is not None and self.identity.knows_token(token):
            return self.identity.principal_from_token(token)
        if self.identity is not None and token.count(".") == 2:
            try:
                header = unverified_header(token)
            except TokenError:
                header = {}
            if self.identity.tokens.is_ours(header):
                return self.identity.principal_from_token(token, header)
        principal = self._service_token(token)
        if principal is None:
            raise CredentialError("Invalid or expired token", reason="unknown-token", counts=True)
        self._auditor.emit("auth-service-token", "succeeded", actor_id=principal.subject, ip=address,
                           meta={"credential": principal.credential})
        return principal

    def __call__(self, request: Request) -> Principal:
        cached = getattr(request.state, "principal", None)
        if isinstance(cached, Principal):
            return cached
        header = request.headers.get("authorization")
        cookie = self.identity.session_cookie(request) if self.identity is not None else None
        if header is None and cookie is None:
            request.state.principal = ANONYMOUS
            return ANONYMOUS
        identity = self.identity
        address = identity.client_address(request) if identity is not None else None
        if identity is not None:
            identity.brute_force.check_address(address)
        try:
            if header is not None:
                principal = self._from_bearer(_bearer(header), address)
            else:
                assert identity is not None
                assert cookie is not None
                principal = identity.principal_from_cookie(request, cookie)
        except CredentialError as exc:
            if identity is not None and exc.counts:
                identity.brute_force.record_failure(address=address)
            raise
        request.state.principal = principal
        return principal


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise CredentialError("Authorization header must be a Bearer token", reason="bad-header", counts=False)
    return token.strip()
