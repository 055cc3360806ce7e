"""Request parsing with the checks and messages of Backstage's OpenAPI-validated router."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.requests import Request

from greenroom.errors import InputError


class Params:
    """Query parameters of one request, checked against what the route declares."""

    def __init__(self, request: Request, allowed: Iterable[str]) -> None:
        self._items = request.query_params.multi_items()
        allowed_set = set(allowed)
        for name, value in self._items:
            if name not in allowed_set:
                raise InputError(f"Unknown query parameter '{name}'")
            if value == "":
                raise InputError(f"Empty value found for query parameter '{name}'")

    def all(self, name: str) -> list[str]:
        return [v for k, v in self._items if k == name]

    def one(self, name: str) -> str | None:
        values = self.all(name)
        return values[-1] if values else None

    def split(self, name: str) -> list[str] | None:
        """Comma-joined params (`fields`, `fullTextFilterFields`), de-duplicated in order."""
        values = self.all(name)
        if not values:
            return None
        out: dict[str, None] = {}
        for value in values:
            for raw in value.split(","):
                part = raw.strip()
                if part:
                    out[part] = None
        return list(out)

    def integer(self, name: str) -> int | None:
        raw = self.one(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise InputError(f"request/query/{name} must be integer") from None
        if value < 0:
            raise InputError(f"request/query/{name} must be >= 0")
        return value


async def json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type")
    if content_type is None or content_type.split(";")[0].strip().lower() != "application/json":
        media = content_type.split(";")[0].strip() if content_type else "undefined"
        raise InputError(f"unsupported media type {media}")
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"Invalid JSON body: {exc}") from None


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError("request/body must be object")
    return body


def check_fields(fields: list[str] | None) -> list[str] | None:
    for field in fields or []:
        if "[" in field:
            raise InputError(f'Invalid field "{field}", array type fields are not supported')
    return fields
