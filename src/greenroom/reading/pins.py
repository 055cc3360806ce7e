"""The vetted-address record a read attaches to each request (kept free of httpx so the
reading package can be imported without loading an HTTP client)."""

from __future__ import annotations

from dataclasses import dataclass

PIN_EXTENSION = "greenroom.connect_pin"


@dataclass(frozen=True, slots=True)
class ConnectPin:
    """Where a request may connect: the vetted addresses of `host`:`port`, until `deadline`.

    `deadline` is a `time.monotonic()` value, or None for no overall limit.
    """

    host: str
    port: int
    addresses: tuple[str, ...]
    deadline: float | None = None
