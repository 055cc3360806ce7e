"""Backend URL reading: how greenroom fetches catalog files and other remote content.

Everything the backend reads on a user's behalf (catalog `url` locations, relative
targets, `$text` references) goes through `UrlReader`. It reads only what the operator
allowed, and never reaches the backend's own network unless told to, loudly.

Configuration (`backend.reading`)
=================================

.. code-block:: yaml

    backend:
      reading:
        allow:
          - host: github.com                 # also covers blob URLs read via raw.githubusercontent.com
            paths: [/my-org/]
          - host: '*.corp.example.com'       # any subdomain, not corp.example.com itself
          - host: gitlab.internal:8443       # only port 8443; a range like 8000-8999 also works
            dangerouslyAllowPrivateAddresses: true   # it resolves to 10.x: see below
        maxBytes: 10485760                   # default 10 MiB
        timeoutSeconds: 10                   # default 10; the whole read, redirects included

`allow` (list, default empty)
    **With no entries nothing remote can be read.** Backstage's plain fetch reader behaves
    the same, but Backstage also reads hosts configured under `integrations` (github.com by
    default); greenroom has no integration readers yet, so GitHub and GitLab hosts must be
    listed here too. Each entry has:

    `host` (required)
        Matching is Backstage's `FetchUrlReader`: `example.com` matches exactly that host;
        `*.example.com` matches any subdomain at any depth but not `example.com`; no other
        wildcard is accepted (`prod.*.example.com` is a config error, where Backstage
        silently never matches). Hosts are compared case-insensitively, with a trailing dot
        removed and internationalised names in their `xn--` form, the same way URLs are
        canonicalised. IP literals are matched as addresses (`127.1` is `127.0.0.1`); write
        IPv6 in brackets: `[2001:db8::1]:8080`.

        `:port` or `:low-high` restricts the port. Without one, only the scheme's default
        port is allowed (80 for http, 443 for https), so `http://example.com:443/` needs an
        explicit port: this is Backstage's rule.

    `paths` (optional list)
        The canonical URL path must start with one of these strings (Backstage's plain
        string-prefix rule): `/my-org/` allows `/my-org/repo/...` but not `/my-org-evil`;
        `/my-org` (no trailing slash) also allows `/my-org-evil/...`, so end prefixes with
        `/`. Omitted means every path; an empty list means none. Before matching, the URL
        path is canonicalised: percent-escapes of unreserved characters are decoded
        (`%2e%2e` is `..`), repeated slashes collapse, and `.`/`..` segments are resolved,
        so `/my-org/../secret` is `/secret`. Paths with a percent-encoded `/` or `\\`, or a
        `..;` segment, mean different things to different servers and are refused by any
        entry that has `paths`.

    `dangerouslyAllowPrivateAddresses` (bool, default false; greenroom only)
        greenroom resolves every host and refuses to connect when any address is loopback,
        private (RFC 1918, fc00::/7), CGNAT, documentation, benchmarking or another
        special-purpose range, including IPv4-mapped/NAT64/6to4 IPv6 forms of those. Set
        this on an entry that must reach such a host (an internal git server, a local dev
        server). It is logged as a warning at start-up. Link-local addresses (where cloud
        metadata lives: 169.254.169.254, fe80::/10), fd00:ec2::254, other known metadata
        addresses, multicast, unspecified and reserved ranges stay refused even so.

`maxBytes` (integer, default 10485760)
    Largest body read, after content decoding (gzip and deflate are decoded with the same
    bound, so a compression bomb stops at the limit). A larger `Content-Length` is refused
    at once; a body without one is streamed and cut off at the limit.

`timeoutSeconds` (number, default 10, at most 300)
    Limit for the whole read: DNS, connect, TLS, every redirect hop and the body. It is
    enforced on every socket operation, so a server trickling bytes cannot stretch it.

Other unknown keys under `backend.reading` or in an entry are config errors, so a typo in
a security setting fails loudly instead of silently.

What a read does
================

1. The URL is parsed strictly and put in canonical form; that canonical form is what is
   checked and what is sent. Only `http` and `https` are read (`file:`, `ftp:`,
   `gopher:`, ... are refused); URLs with `user:password@`, backslashes, control
   characters, percent-encoded hosts or IPv6 zone ids are refused.
2. The URL must be allowed by `allow`. GitHub and GitLab "view file" URLs are then
   translated to their raw-content URLs (`github.com/o/r/blob/<ref>/<path>` to
   `raw.githubusercontent.com/o/r/<ref>/<path>`, GitLab `/-/blob/` and `/-/tree/` to
   `/-/raw/`). The translated URL is implied by the original: allowing `github.com` (with
   its `paths`) is enough to read blob URLs; raw.githubusercontent.com need not be listed.
3. The host is resolved once; every address is vetted as above; the connection goes only
   to those addresses (no second lookup, so DNS rebinding cannot redirect it), with the
   host name kept for `Host`, TLS SNI and certificate verification. Proxy environment
   variables and `.netrc` are ignored.
4. Redirects (301/302/303/307/308) are followed by hand, at most 5. Every hop must be
   allowed by `allow` as written (the translation allowance does not extend to
   redirects), is resolved and vetted again, must not downgrade https to http, and must
   not loop.
5. 404 raises `NotFoundError`; other non-2xx statuses raise `UrlReadError` with the status;
   error bodies are never read. Response bodies and request headers are never logged;
   URLs in messages and logs have their query string elided.

Errors: `UrlNotAllowedError` (a `NotAllowedError`, 403; `.rule` names the refusing rule),
`NotFoundError` (404), `PayloadTooLargeError` (413), `UrlReadTimeoutError` (504),
`UrlReadError` (502), `NotModifiedError` (for `read(url, etag=...)`), `InputError` for
malformed URLs.

Relative targets: `resolve_relative(base, target)` resolves `./x.yaml`, `../x.yaml` and
`/x.yaml` (from the repository root, as in Backstage) and refuses results on another
origin or outside the base's repository tree.

Not yet: per-host integration credentials. `UrlReader._request_headers` is the single
place to add them; it runs per hop, so a cross-origin redirect never carries them.
"""

from greenroom.reading.errors import NotModifiedError, UrlNotAllowedError, UrlReadError, UrlReadTimeoutError
from greenroom.reading.hosting import translate_url
from greenroom.reading.pins import PIN_EXTENSION, ConnectPin
from greenroom.reading.policy import AllowEntry, Decision, ReadingPolicy
from greenroom.reading.reader import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT_S,
    ReadResult,
    Resolver,
    UrlReader,
    system_resolver,
)
from greenroom.reading.relative import resolve_relative
from greenroom.reading.urls import HttpUrl, parse_url

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT_S",
    "PIN_EXTENSION",
    "AllowEntry",
    "ConnectPin",
    "Decision",
    "HttpUrl",
    "NotModifiedError",
    "PinnedTransport",
    "ReadResult",
    "ReadingPolicy",
    "Resolver",
    "UrlNotAllowedError",
    "UrlReadError",
    "UrlReadTimeoutError",
    "UrlReader",
    "parse_url",
    "resolve_relative",
    "system_resolver",
    "translate_url",
]


def __getattr__(name: str) -> object:
    # The transport pulls in httpx; load it only for callers that ask for it.
    if name == "PinnedTransport":
        from greenroom.reading.transport import PinnedTransport

        return PinnedTransport
    raise AttributeError(f"module 'greenroom.reading' has no attribute {name!r}")
