"""Turning untrusted entity text into links: only http, https and mailto URLs become links.

Anything else (`javascript:`, `data:`, relative or protocol-relative URLs, URLs with
whitespace or control characters that browsers strip before reading the scheme) is shown as
text. Autoescaping then takes care of quotes and angle brackets inside an accepted URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
MAX_URL_LENGTH = 2048


def safe_href(value: Any) -> str | None:
    """`value` when it is an absolute http(s) or mailto URL that is safe to put in an href."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c == "\\" or c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return None
    if scheme in ("http", "https") and (not parts.netloc or not url.lower().startswith(f"{scheme}://")):
        return None
    if scheme == "mailto" and not parts.path:
        return None
    return url


def local_path(value: Any, default: str = "/") -> str:
    """A path on this portal to send the browser back to (`next=`), never another site."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if any(ord(c) < 0x21 or c == "\\" for c in value) or len(value) > MAX_URL_LENGTH:
        return default
    return value


def segment(value: str) -> str:
    """One URL path segment, percent-encoded."""
    return quote(value, safe="")
