"""Helpers for audit tests: user tokens (good, expired, forged) and reading the trail."""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from greenroom.audit import AuditQuery

ADMIN = "user:default/alice"
# RHDH keys: a super-user may do everything (with the RBAC plugin); admin users too (foundation policy).
ADMIN_CONFIG = {"permission": {"rbac": {"admin": {"users": [{"name": ADMIN}], "superUsers": [{"name": ADMIN}]}}}}


def user_token(portal: Any, user_ref: str) -> str:
    session, _cookie = portal.identity.sessions.create(kind="user", user_ref=user_ref, provider="test",
                                                       ownership_refs=[user_ref])
    return str(portal.identity.issue_token(session).token)


def expired_token(portal: Any, user_ref: str) -> str:
    token = user_token(portal, user_ref)
    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    key = portal.identity.keys.signing_key()
    old = {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}
    return jwt.encode(old, key.private, algorithm="ES256", headers={**header, "kid": key.kid})


def forged_token(portal: Any, user_ref: str) -> str:
    token = user_token(portal, user_ref)
    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=header)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def trail(portal: Any, **filters: Any) -> list[Any]:
    """Stored events, oldest first."""
    return list(portal.auditor.iterate(AuditQuery(**filters)))
