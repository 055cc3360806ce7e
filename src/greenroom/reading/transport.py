"""An httpx transport that connects only to addresses the reader has already vetted.

The reader resolves a host once, checks every address, and attaches the result to the
request as a `ConnectPin` (extension `PIN_EXTENSION`). This transport then opens the TCP
connection to those addresses only, never resolving the name again, so a DNS answer that
changes between check and connect (DNS rebinding) cannot redirect it. The URL keeps the
host name, so the `Host` header, TLS SNI and certificate verification all use the name.

A request without a pin is refused: nothing reaches the network unvetted. Each request
gets its own single-connection pool, closed with the response, so a connection opened
(and TLS-verified) for one name is never reused for another.

Every socket read and write is also capped by the pin's deadline, so a server that
trickles headers or body one byte at a time cannot stretch a read past the total limit.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from greenroom.reading.pins import PIN_EXTENSION, ConnectPin

_DEFAULT_PORTS = {"http": 80, "https": 443}

_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    # Most specific first.
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


class UnpinnedRequestError(httpx.TransportError):
    """A request reached the transport without vetted addresses, or for another host."""


@contextlib.contextmanager
def _mapped_exceptions() -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise _map(exc) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
        raise _map(exc) from exc


def _map(exc: Exception) -> httpx.TransportError:
    for source, target in _EXCEPTIONS:
        if isinstance(exc, source):
            return target(str(exc))
    return httpx.TransportError(str(exc))  # pragma: no cover - every httpcore error is listed


def _capped(
    timeout: float | None, deadline: float | None, error: type[httpcore.TimeoutException]
) -> float | None:
    """`timeout`, shortened to the time left before `deadline`; raises `error` once past it."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the total time limit for this read was reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Caps every socket operation's timeout by the time left until the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float | None) -> None:
        self._inner = inner
        self._deadline = deadline

    def _cap(self, timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
        return _capped(timeout, self._deadline, error)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        upgraded = self._inner.start_tls(
            ssl_context, server_hostname, self._cap(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(upgraded, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the pin's addresses, in order, whatever host name httpcore asks for."""

    def __init__(self, pin: ConnectPin, inner: httpcore.NetworkBackend) -> None:
        self._pin = pin
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if host != self._pin.host or port != self._pin.port:
            raise httpcore.ConnectError("connection target differs from the vetted target")
        if not self._pin.addresses:
            raise httpcore.ConnectError("no vetted address to connect to")
        last_error: httpcore.ConnectError | None = None
        for address in self._pin.addresses:
            capped = _capped(timeout, self._pin.deadline, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(
                    address, port, timeout=capped, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            return _DeadlineStream(stream, self._pin.deadline)
        assert last_error is not None
        raise last_error

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _PoolResponseStream(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response, pool: httpcore.ConnectionPool) -> None:
        self._response = response
        self._pool = pool

    def __iter__(self) -> Iterator[bytes]:
        with _mapped_exceptions():
            yield from self._response.iter_stream()

    def close(self) -> None:
        try:
            with _mapped_exceptions():
                self._response.close()
        finally:
            self._pool.close()


class PinnedTransport(httpx.BaseTransport):
    """The reader's transport: HTTP/1.1 to pinned addresses only, one connection per request.

    `network_backend` is for tests (to observe where connections go without opening them);
    `ssl_context` defaults to httpx's verified context (certifi roots, TLS 1.2+).
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        # The verified context is built on first use: loading the CA bundle costs ~20 ms, and
        # most processes never read a URL in their first second.
        self._ssl_context = ssl_context
        self._backend = network_backend if network_backend is not None else httpcore.SyncBackend()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pin = request.extensions.get(PIN_EXTENSION)
        if not isinstance(pin, ConnectPin):
            raise UnpinnedRequestError("refusing a request whose target was not vetted", request=request)
        port = request.url.port or _DEFAULT_PORTS.get(request.url.scheme)
        if request.url.host != pin.host or port != pin.port:
            raise UnpinnedRequestError("request URL differs from the vetted target", request=request)
        assert isinstance(request.stream, httpx.SyncByteStream)
        pool = httpcore.ConnectionPool(
            ssl_context=self.ssl_context,
            max_connections=1,
            retries=0,
            http1=True,
            http2=False,
            network_backend=_PinnedBackend(pin, self._backend),
        )
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=pin.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions={"timeout": request.extensions.get("timeout", {})},
        )
        try:
            with _mapped_exceptions():
                response = pool.handle_request(core_request)
        except BaseException:
            pool.close()
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_PoolResponseStream(response, pool),
            extensions=response.extensions,
        )
