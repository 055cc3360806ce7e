"""Per-request context that log lines pick up without anyone passing it around."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("greenroom_request_id", default=None)
