"""Local servers and recording fakes for the URL reader tests.

All traffic goes to 127.0.0.1. Addresses that must never be contacted are handed out only
by fake resolvers, and the fakes below fail the test if a connection is attempted.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class LocalServer:
    """A threaded HTTP server on 127.0.0.1 whose routes are plain functions."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    done: dict[str, threading.Event] = field(default_factory=dict)
    port: int = 0
    tls: ssl.SSLContext | None = None
    _server: http.server.ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[path] = handler
            self.done[path] = threading.Event()
            return handler

        return register

    def start(self) -> LocalServer:
        server = self

        class RequestHandler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                handler = server.routes.get(self.path)
                try:
                    if handler is None:
                        self.send_error(404)
                    else:
                        handler(self)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
                finally:
                    if self.path in server.done:
                        server.done[self.path].set()

            def log_message(self, format: str, *args: Any) -> None:
                return

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        if self.tls is not None:
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        self._server = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class FakeResolver:
    """Answers from a table and records every question; unknown names fail the test."""

    def __init__(self, table: dict[str, list[list[str]] | list[str]]) -> None:
        self.table = table
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host not in self.table:
            raise AssertionError(f"resolver asked about {host!r}, which the test did not expect")
        answers = self.table[host]
        if answers and isinstance(answers[0], list):
            # A sequence of answers, one per call (the last one repeats): DNS rebinding.
            sequence: list[list[str]] = answers  # type: ignore[assignment]
            index = min(sum(1 for h, _ in self.calls if h == host) - 1, len(sequence) - 1)
            return list(sequence[index])
        return list(answers)  # type: ignore[arg-type]


class FailingTransport(httpx.BaseTransport):
    """A transport that fails the test if the reader ever gets as far as sending."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        raise AssertionError(f"a request was sent to {request.url} although it should be refused first")


class RecordingBackend(httpcore.NetworkBackend):
    """Records every TCP connect; connects for real only to 127.0.0.1 when allowed to."""

    def __init__(self, *, connect: bool = False) -> None:
        self.connects: list[tuple[str, int]] = []
        self._connect = connect
        self._real = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        if self._connect and host == "127.0.0.1":
            return self._real.connect_tcp(host, port, timeout, local_address, socket_options)
        raise httpcore.ConnectError(f"test backend: no connection to {host}:{port}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def elapsed(start: float) -> float:
    return time.monotonic() - start


__all__ = [
    "FailingTransport",
    "FakeResolver",
    "LocalServer",
    "RecordingBackend",
    "elapsed",
    "free_port",
]
