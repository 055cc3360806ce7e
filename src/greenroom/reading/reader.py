"""`UrlReader`: read one URL, with the allow-list, address vetting, redirects and limits."""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenroom.errors import ConfigError, InputError, NotFoundError, PayloadTooLargeError
from greenroom.reading.addresses import parse_ip, refusal
from greenroom.reading.errors import NotModifiedError, UrlNotAllowedError, UrlReadError, UrlReadTimeoutError
from greenroom.reading.hosting import translate
from greenroom.reading.pins import PIN_EXTENSION, ConnectPin
from greenroom.reading.policy import ReadingPolicy

if TYPE_CHECKING:
    import httpx
from greenroom.reading.urls import HttpUrl, parse_url

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], list[str]]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_TIMEOUT_S = 10.0
MAX_REDIRECTS = 5
MAX_CONFIG_BYTES = 1024 * 1024 * 1024
MAX_CONFIG_TIMEOUT_S = 300.0
USER_AGENT = "greenroom-url-reader"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DNS_THREADS = 8


@dataclass(frozen=True, slots=True)
class ReadResult:
    """The body of a successful read. `url` is the final URL after redirects."""

    data: bytes
    url: str
    etag: str | None
    content_type: str | None


@dataclass(frozen=True, slots=True)
class _Target:
    url: HttpUrl
    allow_private_addresses: bool


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver: every TCP address of `host`, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class UrlReader:
    """Reads URLs allowed by a `ReadingPolicy`. Thread-safe; one instance serves a process.

    For each request (the first and every redirect hop) the reader: parses the URL into
    canonical form; checks it against the allow-list (for the first URL: the URL as given,
    then its raw-content translation, which is implied by the original being allowed);
    resolves the host once and refuses the request if any address is loopback, private,
    link-local or otherwise special (unless an allow entry that matched lets private
    addresses through); then connects to those vetted addresses only.
    """

    def __init__(
        self,
        policy: ReadingPolicy,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        """`resolver(host, port)` returns IP address strings (default: the system resolver).

        `transport` defaults to `PinnedTransport`; a replacement (tests, an outbound proxy)
        receives every request with a `ConnectPin` under `PIN_EXTENSION` and must connect
        only to its addresses, or DNS-rebinding protection is lost.
        """
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ValueError("max_bytes must be a positive integer")
        if not timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        if max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        self._policy = policy
        self._max_bytes = max_bytes
        self._timeout_s = float(timeout_s)
        self._resolver: Resolver = resolver if resolver is not None else system_resolver
        self._given_transport = transport
        self._max_redirects = max_redirects

    @property
    def _transport(self) -> httpx.BaseTransport:
        """The pinned transport, built on first read (importing httpx costs start-up time)."""
        if self._given_transport is None:
            from greenroom.reading.transport import PinnedTransport

            self._given_transport = PinnedTransport()
        return self._given_transport

    @classmethod
    def from_config(cls, reading: Mapping[str, Any] | None, **overrides: Any) -> UrlReader:
        """Build a reader from the `backend.reading` subtree (`allow`, `maxBytes`, `timeoutSeconds`).

        Keyword overrides (`resolver`, `transport`, ...) are passed to the constructor.
        """
        policy = ReadingPolicy.from_config(reading)
        settings = reading or {}
        max_bytes = settings.get("maxBytes", DEFAULT_MAX_BYTES)
        if (
            isinstance(max_bytes, bool)
            or not isinstance(max_bytes, int)
            or not 0 < max_bytes <= MAX_CONFIG_BYTES
        ):
            raise ConfigError(
                f"must be a whole number of bytes between 1 and {MAX_CONFIG_BYTES}",
                path="backend.reading.maxBytes",
            )
        timeout = settings.get("timeoutSeconds", DEFAULT_TIMEOUT_S)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= MAX_CONFIG_TIMEOUT_S
        ):
            raise ConfigError(
                f"must be a number of seconds greater than 0 and at most {MAX_CONFIG_TIMEOUT_S:g}",
                path="backend.reading.timeoutSeconds",
            )
        return cls(policy, max_bytes=max_bytes, timeout_s=float(timeout), **overrides)

    @property
    def policy(self) -> ReadingPolicy:
        return self._policy

    def check(self, url: str) -> None:
        """Raise unless `url` may be read: the same checks as `read`, with DNS as the only I/O.

        Redirects cannot be known without a request, so `read` may still refuse a hop.
        """
        deadline = time.monotonic() + self._timeout_s
        target = self._first_target(url)
        self._vetted_addresses(target, deadline)

    def read(self, url: str, *, etag: str | None = None) -> ReadResult:
        """Fetch `url` and return its body.

        With `etag`, the request is conditional and `NotModifiedError` means "unchanged".
        Raises `UrlNotAllowedError` (policy), `NotFoundError` (404), `PayloadTooLargeError`
        (over `max_bytes`), `UrlReadTimeoutError` (over `timeout_s` in total) or
        `UrlReadError` (any other failure).
        """
        import httpx

        deadline = time.monotonic() + self._timeout_s
        target = self._first_target(url)
        seen: set[str] = set()
        for _hop in range(self._max_redirects + 1):
            seen.add(str(target.url))
            addresses = self._vetted_addresses(target, deadline)
            response = self._send(target.url, addresses, deadline, etag)
            try:
                if response.status_code in _REDIRECT_STATUSES:
                    target = self._redirect_target(target.url, response)
                    if str(target.url) in seen:
                        raise UrlReadError(
                            f"Redirect loop while reading '{parse_url(url).redacted()}' "
                            f"(at '{target.url.redacted()}')"
                        )
                    continue
                return self._result(target.url, response, deadline, etag)
            except httpx.TimeoutException as exc:
                raise self._timeout(target.url, exc) from exc
            except httpx.HTTPError as exc:
                raise UrlReadError(
                    f"Could not read '{target.url.redacted()}': {_describe(exc)}", cause=exc
                ) from exc
            finally:
                response.close()
        raise UrlReadError(
            f"Too many redirects (more than {self._max_redirects}) "
            f"while reading '{parse_url(url).redacted()}'"
        )

    # --- the steps -------------------------------------------------------------------------

    def _first_target(self, url: str) -> _Target:
        original = parse_url(url)
        decision = self._policy.require(original)
        translation = translate(original)
        if not translation.changed:
            return _Target(original, decision.allow_private_addresses)
        # The translation is a fixed rewrite of an allowed URL (same repository, the host's
        # raw-content endpoint), so it inherits the original's allowance; an entry that
        # names the translated URL itself also counts.
        direct = self._policy.evaluate(translation.target)
        allow_private = direct.allow_private_addresses if direct.allowed else decision.allow_private_addresses
        return _Target(translation.target, allow_private)

    def _redirect_target(self, current: HttpUrl, response: httpx.Response) -> _Target:
        import httpx

        location = response.headers.get("location")
        if not location:
            raise UrlReadError(
                f"Could not read '{current.redacted()}': redirect without a Location header",
                status=response.status_code,
            )
        try:
            joined = str(httpx.URL(str(current)).join(location))
        except (httpx.InvalidURL, ValueError) as exc:
            raise UrlReadError(
                f"Could not read '{current.redacted()}': malformed redirect Location", cause=exc
            ) from exc
        try:
            next_url = parse_url(joined)
            _refuse_downgrade(current, next_url)
            decision = self._policy.require(next_url)
        except UrlNotAllowedError as exc:
            raise UrlNotAllowedError(
                f"Redirect from '{current.redacted()}' refused: {exc.message}", rule=exc.rule, cause=exc
            ) from exc
        except InputError as exc:
            # A malformed Location is the server's fault, not the caller's.
            raise UrlReadError(
                f"Could not read '{current.redacted()}': unusable redirect Location ({exc.message})",
                cause=exc,
            ) from exc
        return _Target(next_url, decision.allow_private_addresses)

    def _vetted_addresses(self, target: _Target, deadline: float) -> tuple[str, ...]:
        url = target.url
        answers = [url.host] if url.is_ip_literal else self._resolve(url, deadline)
        addresses: list[str] = []
        for answer in answers:
            try:
                address = parse_ip(answer)
            except ValueError as exc:
                raise UrlReadError(
                    f"Could not resolve '{url.host}': resolver returned a non-address"
                ) from exc
            verdict = refusal(address, allow_private=target.allow_private_addresses)
            if verdict is not None:
                hint = (
                    "no configuration allows it"
                    if verdict.never
                    else "set dangerouslyAllowPrivateAddresses on its backend.reading.allow entry to allow it"
                )
                raise UrlNotAllowedError(
                    f"Reading from '{url.redacted()}' is not allowed: '{url.host}' resolves to "
                    f"{verdict.address}, a {verdict.reason} address; {hint}",
                    rule="blocked-address" if verdict.never else "private-address",
                )
            if str(address) not in addresses:
                addresses.append(str(address))
        if not addresses:
            raise UrlReadError(f"Could not resolve '{url.host}': no addresses")
        return tuple(addresses)

    def _resolve(self, url: HttpUrl, deadline: float) -> list[str]:
        future = _dns_pool().submit(self._resolver, url.host, url.effective_port)
        try:
            answers = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise UrlReadTimeoutError(
                f"Timed out resolving '{url.host}' (limit {self._timeout_s:g}s)", cause=exc
            ) from exc
        except OSError as exc:
            raise UrlReadError(f"Could not resolve '{url.host}': {exc.strerror or exc}", cause=exc) from exc
        if isinstance(answers, str | bytes) or not isinstance(answers, list | tuple):
            raise UrlReadError(f"Could not resolve '{url.host}': resolver returned no list")
        return [str(answer) for answer in answers]

    def _send(
        self, url: HttpUrl, addresses: tuple[str, ...], deadline: float, etag: str | None
    ) -> httpx.Response:
        import httpx

        left = deadline - time.monotonic()
        if left <= 0:
            raise UrlReadTimeoutError(f"Timed out reading '{url.redacted()}' (limit {self._timeout_s:g}s)")
        headers = self._request_headers(url)
        if etag is not None:
            headers["If-None-Match"] = etag
        request = httpx.Request(
            "GET",
            str(url),
            headers=headers,
            extensions={
                "timeout": {"connect": left, "read": left, "write": left, "pool": left},
                PIN_EXTENSION: ConnectPin(url.host, url.effective_port, addresses, deadline),
            },
        )
        logger.debug("reading %s", url.redacted())
        try:
            return self._transport.handle_request(request)
        except httpx.TimeoutException as exc:
            raise self._timeout(url, exc) from exc
        except httpx.HTTPError as exc:
            raise UrlReadError(f"Could not read '{url.redacted()}': {_describe(exc)}", cause=exc) from exc

    def _request_headers(self, url: HttpUrl) -> dict[str, str]:  # noqa: ARG002 - extension point
        """Headers for one request to `url`.

        Extension point for per-host integration credentials: add them here, keyed on the
        exact origin of `url`. This runs for every hop, so a redirect to another origin
        never carries them; they must never be logged.
        """
        return {
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate;q=0.5, identity;q=0.1",
            "Connection": "close",
        }

    def _result(
        self, url: HttpUrl, response: httpx.Response, deadline: float, etag: str | None
    ) -> ReadResult:
        status = response.status_code
        if status == 304 and etag is not None:
            raise NotModifiedError(f"'{url.redacted()}' has not changed")
        if status == 404:
            raise NotFoundError(f"Could not read '{url.redacted()}': 404 Not Found")
        if not 200 <= status < 300:
            raise UrlReadError(
                f"Could not read '{url.redacted()}': {status} {response.reason_phrase}", status=status
            )
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self._max_bytes:
            raise self._too_large(url)
        decoder = _decoder(url, response.headers.get("content-encoding"), self._max_bytes)
        body = bytearray()
        received = 0
        # A transport may hand back a response it already buffered (httpx.MockTransport does).
        chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
        for chunk in chunks:
            received += len(chunk)
            if received > self._max_bytes:
                raise self._too_large(url)
            body += decoder.feed(chunk)
            if len(body) > self._max_bytes:
                raise self._too_large(url)
            if time.monotonic() > deadline:
                raise UrlReadTimeoutError(
                    f"Timed out reading '{url.redacted()}' (limit {self._timeout_s:g}s)"
                )
        body += decoder.finish()
        if len(body) > self._max_bytes:
            raise self._too_large(url)
        logger.debug("read %s: %d bytes", url.redacted(), len(body))
        return ReadResult(
            data=bytes(body),
            url=str(url),
            etag=response.headers.get("etag"),
            content_type=response.headers.get("content-type"),
        )

    def _too_large(self, url: HttpUrl) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"'{url.redacted()}' is larger than the limit of {self._max_bytes} bytes")

    def _timeout(self, url: HttpUrl, exc: Exception) -> UrlReadTimeoutError:
        return UrlReadTimeoutError(
            f"Timed out reading '{url.redacted()}' (limit {self._timeout_s:g}s)", cause=exc
        )


class _Decoder:
    """Content-Encoding decoding that never produces more than `limit + 1` bytes."""

    def __init__(self, limit: int, wbits: int | None) -> None:
        self._limit = limit
        self._produced = 0
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits) if wbits is not None else None

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            return chunk
        budget = self._limit + 1 - self._produced
        try:
            out = self._zlib.decompress(chunk, budget)
        except zlib.error as exc:
            raise UrlReadError("response body is not valid compressed data", cause=exc) from exc
        # With input left over, `out` filled the whole budget: the caller sees limit + 1 bytes.
        self._produced += len(out)
        return out

    def finish(self) -> bytes:
        if self._zlib is None:
            return b""
        try:
            return self._zlib.flush(self._limit + 1)
        except zlib.error as exc:  # pragma: no cover - flush rarely fails after decompress
            raise UrlReadError("response body is not valid compressed data", cause=exc) from exc


def _decoder(url: HttpUrl, encoding: str | None, limit: int) -> _Decoder:
    codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
    if not codings or codings == ["identity"]:
        return _Decoder(limit, None)
    if codings in (["gzip"], ["x-gzip"]):
        return _Decoder(limit, 16 + zlib.MAX_WBITS)
    if codings == ["deflate"]:
        return _Decoder(limit, zlib.MAX_WBITS)
    raise UrlReadError(f"Could not read '{url.redacted()}': unsupported Content-Encoding '{encoding}'")


def _refuse_downgrade(current: HttpUrl, next_url: HttpUrl) -> None:
    if current.scheme == "https" and next_url.scheme == "http":
        raise UrlNotAllowedError(
            f"Reading from '{current.redacted()}' redirected from https to http "
            f"('{next_url.redacted()}'), which is not allowed",
            rule="redirect-downgrade",
        )


def _describe(exc: httpx.HTTPError) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


_dns_executor: concurrent.futures.ThreadPoolExecutor | None = None
_dns_lock = threading.Lock()


def _dns_pool() -> concurrent.futures.ThreadPoolExecutor:
    """Resolution runs on worker threads so that a hung resolver cannot outlast the time limit."""
    global _dns_executor  # noqa: PLW0603 - one lazily created pool per process
    with _dns_lock:
        if _dns_executor is None:
            _dns_executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=_DNS_THREADS, thread_name_prefix="greenroom-dns"
            )
        return _dns_executor
