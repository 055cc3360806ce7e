"""Who is calling: service credentials from `backend.auth.externalAccess`, or local mode.

Backstage's formats are accepted unchanged:

    backend:
      auth:
        externalAccess:
          - type: static
            options: { token: ${CI_TOKEN}, subject: ci }
            accessRestrictions: [{ plugin: catalog, permission: catalog.entity.read }]
          - type: legacy
            options: { secret: ${LEGACY_KEY}, subject: old-backend }   # base64 HS256 key

Static tokens are compared in constant time against every configured token, are never
logged, and must be at least 16 characters with no whitespace: a shorter one stops start-up.
Legacy tokens are JWTs signed HS256 with the shared key, `sub: backstage-server`, with `exp`.
`jwks` entries are not supported yet: they are refused at start-up rather than ignored.

Local mode (zero-config, loopback only) treats a request without credentials from a
loopback address as the local admin. A request that presents a credential must present a
valid one in every mode.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from greenroom.errors import AuthenticationError, ConfigError
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


class Authenticator:
    def __init__(self, external_access: Sequence[Mapping[str, Any]], *, local_mode: bool) -> None:
        self.local_mode = local_mode
        self._static: list[_StaticToken] = []
        self._legacy: list[_LegacyKey] = []
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
                raise ConfigError("externalAccess type 'jwks' is not supported yet; remove it", path=f"{path}.type")
            else:
                raise ConfigError(f"unknown externalAccess type '{kind}'", path=f"{path}.type")

    @staticmethod
    def _static_entry(options: Mapping[str, Any], restrictions: tuple[AccessRestriction, ...], path: str) -> _StaticToken:
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

    @property
    def has_credentials(self) -> bool:
        return bool(self._static or self._legacy)

    def _from_token(self, token: str) -> Principal:
        supplied = token.encode()
        match: Principal | None = None
        for entry in self._static:  # every entry is compared, so timing does not tell which matched
            if hmac.compare_digest(entry.token, supplied):
                match = entry.principal
        if match is not None:
            return match
        if token.count(".") == 2 and self._legacy:
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
        raise AuthenticationError("Invalid or expired token")

    def __call__(self, request: Request) -> Principal:
        cached = getattr(request.state, "principal", None)
        if isinstance(cached, Principal):
            return cached
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError("Authorization header must be a Bearer token")
            principal = self._from_token(token.strip())
        elif self.local_mode and _is_loopback(request):
            principal = LOCAL_ADMIN
        else:
            principal = ANONYMOUS
        request.state.principal = principal
        return principal


def _is_loopback(request: Request) -> bool:
    client = request.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False
