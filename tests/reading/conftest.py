"""Fixtures for the URL reader tests; the fakes themselves live in `support.py`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from greenroom.reading import ReadingPolicy, UrlReader

from .support import FakeResolver, LocalServer


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    server = LocalServer().start()
    yield server
    server.stop()


@pytest.fixture
def canary_server() -> Iterator[LocalServer]:
    """A loopback listener that must receive nothing."""
    server = LocalServer().start()
    yield server
    server.stop()
    assert server.requests == [], "the canary listener was contacted"


@pytest.fixture
def make_reader() -> Callable[..., UrlReader]:
    """A reader for `allowed.test:<port>` (resolving to 127.0.0.1) plus any extra entries."""

    def make(
        server: LocalServer | None = None,
        *,
        allow: list[dict[str, Any]] | None = None,
        resolver: FakeResolver | None = None,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> UrlReader:
        entries = list(allow or [])
        if server is not None:
            entries.insert(
                0, {"host": f"allowed.test:{server.port}", "dangerouslyAllowPrivateAddresses": True}
            )
        if resolver is None:
            resolver = FakeResolver({"allowed.test": ["127.0.0.1"]})
        return UrlReader(
            ReadingPolicy.from_config({"allow": entries}),
            resolver=resolver,
            transport=transport,
            **kwargs,
        )

    return make
