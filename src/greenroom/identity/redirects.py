"""Where a sign-in may send the browser back to: only the portal's own origins.

Return URLs (`redirectUrl` for the redirect flow, `origin` for the popup flow) must be
absolute http(s) URLs whose origin is the app, the backend or one of
`auth.experimentalExtraAllowedOrigins`, compared after parsing (never by prefix), with no
credentials, no backslashes or control characters that browsers read differently from
parsers (`https://portal\\@evil`), and no scheme-relative tricks (`//evil`, `/\\evil`).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


class RedirectError(ValueError):
    pass


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def normalised_origins(origins: Iterable[str]) -> frozenset[str]:
    return frozenset(_origin(o) for o in origins)


def safe_return_url(url: str, allowed_origins: frozenset[str]) -> str:
    """`url` when it stays on an allowed origin; RedirectError otherwise."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise RedirectError("the return URL is empty or too long")
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in url):
        raise RedirectError("the return URL contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise RedirectError("the return URL is malformed") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RedirectError("the return URL must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise RedirectError("the return URL must not carry credentials")
    if _origin(url) not in allowed_origins:
        raise RedirectError("the return URL is not on an allowed origin")
    return url


def safe_origin(origin: str, allowed_origins: frozenset[str]) -> str:
    """A popup's `origin` parameter: exactly an allowed origin."""
    safe_return_url(origin, allowed_origins)
    parts = urlsplit(origin)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise RedirectError("the origin must be scheme://host[:port] only")
    return _origin(origin)
