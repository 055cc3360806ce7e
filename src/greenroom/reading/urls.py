"""Strict parsing and canonical form of the http(s) URLs the reader may fetch.

The reader checks a URL and then sends exactly the canonical form it checked, so there is
no gap between "what the allow-list saw" and "what the server receives". Anything that
different URL parsers read differently (backslashes, tabs, userinfo, percent-encoded
hosts, numeric IPv4 shorthands) is either canonicalised the way a browser would or refused.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

import idna

from greenroom.errors import InputError
from greenroom.reading.errors import UrlNotAllowedError

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 8192

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_HEX = frozenset("0123456789abcdefABCDEF")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_PATH_CHARS = _UNRESERVED | _SUB_DELIMS | frozenset(":@/")
_QUERY_CHARS = _PATH_CHARS | frozenset("?")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
# Percent-encoded separators: a server may decode them and see a different path.
_ENCODED_SEPARATORS = ("%2F", "%5C")


@dataclass(frozen=True, slots=True)
class HttpUrl:
    """A canonical absolute http(s) URL without userinfo or fragment.

    `host` is lower-case ASCII (IDNA) without a trailing dot, a dotted-quad IPv4 address,
    or a compressed IPv6 address (without brackets). `path` has no dot segments and no
    empty segments. `ambiguous_path` says why the path could mean something else to the
    server (percent-encoded `/` or `\\`, `..;` segments); allow entries restricted to paths
    refuse such URLs.
    """

    scheme: str
    host: str
    port: int | None
    path: str
    query: str
    ambiguous_path: str | None = None

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    @property
    def is_ip_literal(self) -> bool:
        return _ip_or_none(self.host) is not None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is None or self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.effective_port)

    def with_path(self, path: str) -> HttpUrl:
        return parse_url(f"{self.scheme}://{self.netloc}{path}" + (f"?{self.query}" if self.query else ""))

    def with_query(self, query: str) -> HttpUrl:
        return replace(self, query=query)

    def redacted(self) -> str:
        """The URL for messages and logs: the query (which may hold secrets) is elided."""
        return f"{self.scheme}://{self.netloc}{self.path}" + ("?…" if self.query else "")

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}" + (f"?{self.query}" if self.query else "")


def parse_url(url: str) -> HttpUrl:
    """Parse and canonicalise an absolute http(s) URL.

    Raises `UrlNotAllowedError` for other schemes and for userinfo, `InputError` for
    anything malformed or ambiguous.
    """
    if not isinstance(url, str):
        raise InputError("URL must be a string")
    if len(url) > MAX_URL_LENGTH:
        raise InputError(f"URL is longer than {MAX_URL_LENGTH} characters")
    _refuse_ambiguous_characters(url)
    scheme_match = _SCHEME.match(url)
    if scheme_match is None:
        raise InputError("URL must be absolute, with an http or https scheme")
    scheme = scheme_match.group()[:-1].lower()
    if scheme not in DEFAULT_PORTS:
        raise UrlNotAllowedError(
            f"Reading a '{scheme}:' URL is not allowed; only http and https can be read",
            rule="scheme",
        )
    rest = url[scheme_match.end() :]
    if not rest.startswith("//"):
        raise InputError("URL must have the form scheme://host/path")
    rest = rest[2:]
    rest, _, _fragment = rest.partition("#")
    authority_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, rest = rest[:authority_end], rest[authority_end:]
    raw_path, has_query, raw_query = rest.partition("?")
    if "@" in authority:
        # The message must not echo the URL: it contains the credentials.
        raise UrlNotAllowedError("URLs with credentials (user:password@) are not allowed", rule="credentials")
    host, port = _parse_authority(authority, scheme)
    path, ambiguous = normalize_path(raw_path or "/")
    query = _normalize_component(raw_query, _QUERY_CHARS, "query") if has_query else ""
    return HttpUrl(scheme, host, port, path, query, ambiguous)


def normalize_path(raw: str) -> tuple[str, str | None]:
    """Canonical path and, if the server might read it differently, why.

    Percent-escapes of unreserved characters are decoded (so `%2e%2e` is `..`), other
    escapes are upper-cased, runs of `/` collapse to one, and `.`/`..` segments are
    resolved without climbing above the root. A trailing slash is kept.
    """
    if not raw.startswith("/"):
        raise InputError("URL path must start with '/'")
    text = _normalize_component(raw, _PATH_CHARS, "path")
    ambiguous: str | None = None
    if any(sep in text for sep in _ENCODED_SEPARATORS):
        ambiguous = "the path contains a percent-encoded '/' or '\\'"
    segments = text.split("/")[1:]
    output: list[str] = []
    trailing_slash = False
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment.split(";", 1)[0] in (".", "..") and ";" in segment:
            ambiguous = "the path contains a '..;' or '.;' segment"
        if segment == "..":
            if output:
                output.pop()
            trailing_slash = last
        elif segment in (".", ""):
            trailing_slash = last
        else:
            output.append(segment)
            trailing_slash = False
    path = "/" + "/".join(output)
    if trailing_slash and output:
        path += "/"
    return path, ambiguous


def canonical_host(raw: str) -> str:
    """Canonical form of a host name or IP literal as it appears in a URL authority."""
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise InputError("malformed IPv6 address in URL")
        inner = raw[1:-1]
        if "%" in inner:
            raise InputError("IPv6 zone identifiers are not allowed in URLs")
        try:
            return ipaddress.IPv6Address(inner).compressed
        except ValueError as exc:
            raise InputError("malformed IPv6 address in URL", cause=exc) from exc
    if not raw:
        raise InputError("URL has no host")
    if "%" in raw:
        raise InputError("percent-encoded host names are not allowed")
    host = raw[:-1] if raw.endswith(".") else raw
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InputError("host name is not a valid internationalised domain name", cause=exc) from exc
    host = host.lower()
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return _parse_ipv4(labels)
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InputError("host name contains characters that are not allowed")
    return host


def _parse_authority(authority: str, scheme: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise InputError("malformed IPv6 address in URL")
        raw_host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise InputError("malformed URL authority")
        raw_port = after[1:] if after else None
    else:
        if authority.count(":") > 1:
            raise InputError("malformed URL authority")
        raw_host, colon, port_text = authority.partition(":")
        raw_port = port_text if colon else None
    host = canonical_host(raw_host)
    port: int | None = None
    if raw_port is not None:
        if not raw_port.isdigit() or not raw_port.isascii() or len(raw_port) > 5:
            raise InputError("URL port must be a number between 1 and 65535")
        port = int(raw_port)
        if not 1 <= port <= 65535:
            raise InputError("URL port must be a number between 1 and 65535")
        if port == DEFAULT_PORTS[scheme]:
            port = None
    return host, port


def _parse_ipv4(labels: list[str]) -> str:
    """The WHATWG IPv4 parser: `127.1`, `0x7f.0.0.1` and `2130706433` are all 127.0.0.1."""
    if len(labels) > 4 or any(label == "" for label in labels):
        raise InputError("host looks like a malformed IPv4 address")
    numbers: list[int] = []
    for label in labels:
        try:
            if label.startswith("0x"):
                numbers.append(int(label[2:] or "0", 16))
            elif len(label) > 1 and label.startswith("0"):
                numbers.append(int(label, 8))
            else:
                numbers.append(int(label, 10))
        except ValueError as exc:
            raise InputError("host looks like a malformed IPv4 address", cause=exc) from exc
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise InputError("host looks like a malformed IPv4 address")
    value = numbers[-1]
    for position, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - position))
    return str(ipaddress.IPv4Address(value))


def _normalize_component(text: str, allowed: frozenset[str], what: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            escape = text[i + 1 : i + 3]
            if len(escape) != 2 or not set(escape) <= _HEX:
                raise InputError(f"URL {what} contains a malformed percent-escape")
            decoded = chr(int(escape, 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + escape.upper())
            i += 3
            continue
        if char in allowed:
            out.append(char)
        else:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
        i += 1
    return "".join(out)


def _refuse_ambiguous_characters(url: str) -> None:
    if url != url.strip():
        raise InputError("URL must not start or end with whitespace")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise InputError("URL must not contain control characters")
    if "\\" in url:
        raise InputError("URL must not contain backslashes")


def _ip_or_none(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
