"""Errors as Backstage's backend sends them.

    {"error": {"name": "NotFoundError", "message": "..."},
     "request": {"method": "GET", "url": "/entities/by-name/component/default/x"},
     "response": {"statusCode": 404}}

`request.url` is the path below the plugin's mount, as Express reports it in Backstage.
Unexpected exceptions become a 500 whose message says nothing about internals.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from greenroom.errors import GreenroomError

log = logging.getLogger("greenroom.http")
_PLUGIN_MOUNT = re.compile(r"^/api/[^/]+")
_HTTP_NAMES = {
    400: "InputError",
    401: "AuthenticationError",
    403: "NotAllowedError",
    404: "NotFoundError",
    405: "NotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "InputError",
    429: "TooManyRequestsError",
}


def _relative_url(request: Request) -> str:
    path = request.url.path
    match = _PLUGIN_MOUNT.match(path)
    relative = path[match.end() :] or "/" if match else path
    return relative + (f"?{request.url.query}" if request.url.query else "")


def error_body(request: Request, status: int, name: str, message: str, extra: dict[str, Any] | None = None) -> bytes:
    error: dict[str, Any] = {"name": name, "message": message}
    if extra:
        error.update(extra)
    return orjson.dumps(
        {
            "error": error,
            "request": {"method": request.method, "url": _relative_url(request)},
            "response": {"statusCode": status},
        }
    )


def error_response(request: Request, status: int, name: str, message: str, **extra: Any) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(
        error_body(request, status, name, message, extra or None),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


async def greenroom_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GreenroomError)
    if exc.status_code >= 500:
        log.error("request failed", exc_info=exc, extra={"error_name": exc.name})
        return error_response(request, exc.status_code, exc.name, "An internal error occurred")
    return error_response(request, exc.status_code, exc.name, exc.message)


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return error_response(request, 400, "InputError", "; ".join(parts) or "Invalid request")


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    name = _HTTP_NAMES.get(exc.status_code, "Error")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"Not found: {request.method} {request.url.path}"
    return error_response(request, exc.status_code, name, message)


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return error_response(request, 500, "Error", "An internal error occurred")


def wants_html(request: Request) -> bool:
    """A browser navigating to a page (not an API client): HTML accepted, outside `/api/`."""
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")


def with_error_pages(handler: Any, pages: Any) -> Any:
    """`handler`, answering browsers with `pages.render(...)` (an `ERROR_PAGES` provider) when it
    has a page for the error; API clients keep Backstage's JSON error body."""
    if pages is None:
        return handler

    async def handle(request: Request, exc: Exception) -> Response:
        response: Response = await handler(request, exc)
        if not wants_html(request):
            return response
        error = orjson.loads(bytes(response.body)).get("error", {})
        page: Response | None = pages.render(request, response.status_code, str(error.get("name", "Error")),
                                             str(error.get("message", "")))
        return response if page is None else page

    return handle
