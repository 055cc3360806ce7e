"""Local servers and recording fakes for the URL reader tests.

All traffic goes to 127.0.0.1. Addresses that must never be contacted are handed out only
by fake resolvers, and the fakes below fail the test if a connection is attempted.
"""

from __future__ import annotations

import datetime
import http.server
import os
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


class _IPv6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


@dataclass
class LocalServer:
    """A threaded HTTP server on 127.0.0.1 whose routes are plain functions."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    done: dict[str, threading.Event] = field(default_factory=dict)
    port: int = 0
    bind: str = "127.0.0.1"
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

        server_class = _IPv6Server if ":" in self.bind else http.server.ThreadingHTTPServer
        httpd = server_class((self.bind, 0), RequestHandler)
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


def make_tls_contexts(tmp_dir: str, hostname: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throw-away CA and a server certificate for `hostname`: (server context, client context)."""
    # cryptography is not a declared test dependency: callers importorskip it first.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "greenroom test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = os.path.join(tmp_dir, "ca.pem")
    cert_path = os.path.join(tmp_dir, "server.pem")
    key_path = os.path.join(tmp_dir, "server.key")
    with open(ca_path, "wb") as f:
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as f:
        f.write(leaf_cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            leaf_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=ca_path)
    return server, client


def respond(
    h: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    """Send a complete response with a Content-Length."""
    h.send_response(status)
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def redirect(h: http.server.BaseHTTPRequestHandler, location: str, status: int = 302) -> None:
    respond(h, status, headers={"Location": location})
