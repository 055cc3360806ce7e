"""One pure-ASGI middleware for what every request needs, in one pass.

* a request id (the caller's `X-Request-Id` if it is sane, else a new one), echoed back
  and attached to every log line written while the request runs;
* a request body limit: `Content-Length` over the limit is refused before reading, and a
  chunked body is cut off as soon as it passes the limit;
* security headers on every response (CSP, frame-ancestors, nosniff, referrer policy,
  HSTS when served over https);
* in local mode, a Host check so a web page cannot reach the portal by DNS rebinding;
* an access log line and Prometheus metrics per request.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from greenroom.observability.context import request_id_var
from greenroom.observability.metrics import REQUEST_LATENCY

log = logging.getLogger("greenroom.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def _new_request_id() -> str:
    """Random, so an id a client sees says nothing about how many requests others made."""
    return secrets.token_hex(8)


DEFAULT_CSP = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'"
)


def security_headers(*, https: bool, csp: str = DEFAULT_CSP) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


class _BodyTooLarge(Exception):
    pass


def _json_error(status: int, name: str, message: str, method: str, path: str) -> bytes:
    return orjson.dumps(
        {
            "error": {"name": name, "message": message},
            "request": {"method": method, "url": path},
            "response": {"statusCode": status},
        }
    )


class GreenroomMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        https: bool,
        allowed_hosts: Iterable[str] | None = None,
        csp: str = DEFAULT_CSP,
        access_log: bool = True,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.headers = security_headers(https=https, csp=csp)
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts is not None else None
        self.access_log = access_log

    async def _reply(self, send: Send, status: int, body: bytes, request_id: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                    *self.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        supplied = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _REQUEST_ID.match(supplied) else _new_request_id()
        token = request_id_var.set(request_id)
        method, path = scope["method"], scope["path"]
        status_holder = [500]
        try:
            if self.allowed_hosts is not None:
                host = headers.get(b"host", b"").decode("latin-1").lower()
                if host not in self.allowed_hosts:
                    status_holder[0] = 421
                    body = _json_error(421, "NotAllowedError", "Unexpected Host header", method, path)
                    await self._reply(send, 421, body, request_id)
                    return
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                status_holder[0] = 413
                message = f"Request body is larger than the limit of {self.max_body_bytes} bytes"
                body = _json_error(413, "PayloadTooLargeError", message, method, path)
                await self._reply(send, 413, body, request_id)
                return

            received = 0
            limit = self.max_body_bytes

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise _BodyTooLarge
                return message

            extra = self.headers
            response_started = False

            async def send_wrapper(message: Message) -> None:
                nonlocal response_started
                if message["type"] == "http.response.start":
                    response_started = True
                    status_holder[0] = message["status"]
                    own = message.get("headers", [])
                    present = {k for k, _ in own}
                    message["headers"] = [
                        *own,
                        (b"x-request-id", request_id.encode()),
                        *[h for h in extra if h[0] not in present],
                    ]
                await send(message)

            try:
                await self.app(scope, limited_receive, send_wrapper)
            except _BodyTooLarge:
                status_holder[0] = 413
                if not response_started:
                    message = f"Request body is larger than the limit of {self.max_body_bytes} bytes"
                    body = _json_error(413, "PayloadTooLargeError", message, method, path)
                    await self._reply(send, 413, body, request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            REQUEST_LATENCY.labels(method, template, str(status_holder[0])).observe(elapsed)
            if self.access_log:
                state: dict[str, Any] = scope.get("state") or {}
                principal = state.get("principal")
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": path,
                        "status": status_holder[0],
                        "duration_ms": round(elapsed * 1000, 2),
                        "principal": getattr(principal, "subject", None),
                    },
                )
            request_id_var.reset(token)
