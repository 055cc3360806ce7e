"""PinnedTransport: connections go only to vetted addresses, within the deadline."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from greenroom.reading import PIN_EXTENSION, ConnectPin, PinnedTransport
from greenroom.reading.transport import UnpinnedRequestError

from .support import LocalServer, RecordingBackend, respond


def _request(url: str, pin: ConnectPin | None) -> httpx.Request:
    extensions = {PIN_EXTENSION: pin} if pin is not None else {}
    return httpx.Request("GET", url, extensions=extensions)


def test_dns_rebinding_unpinned_request_refused_without_connecting() -> None:
    backend = RecordingBackend(connect=True)
    with pytest.raises(UnpinnedRequestError):
        PinnedTransport(network_backend=backend).handle_request(_request("http://example.com/", None))
    assert backend.connects == []


@pytest.mark.parametrize(
    "url",
    ["http://other.example.com/", "http://example.com:8080/", "https://example.com/"],
)
def test_dns_rebinding_request_for_another_target_than_the_pin_refused(url: str) -> None:
    backend = RecordingBackend(connect=True)
    pin = ConnectPin("example.com", 80, ("127.0.0.1",))
    with pytest.raises(UnpinnedRequestError):
        PinnedTransport(network_backend=backend).handle_request(_request(url, pin))
    assert backend.connects == []


def test_connects_to_vetted_addresses_in_order_only(local_server: LocalServer) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 200, b"hello")

    backend = RecordingBackend(connect=True)  # refuses anything but 127.0.0.1
    pin = ConnectPin("allowed.test", local_server.port, ("2606:4700::1111", "127.0.0.1"))
    response = PinnedTransport(network_backend=backend).handle_request(
        _request(f"http://allowed.test:{local_server.port}/x", pin)
    )
    try:
        assert response.status_code == 200
        assert response.read() == b"hello"
    finally:
        response.close()
    assert backend.connects == [("2606:4700::1111", local_server.port), ("127.0.0.1", local_server.port)]
    assert local_server.requests[0].headers["host"] == f"allowed.test:{local_server.port}"


def test_expired_deadline_refuses_before_connecting() -> None:
    backend = RecordingBackend(connect=True)
    pin = ConnectPin("example.com", 80, ("127.0.0.1",), deadline=time.monotonic() - 1)
    with pytest.raises(httpx.ConnectTimeout):
        PinnedTransport(network_backend=backend).handle_request(_request("http://example.com/", pin))
    assert backend.connects == []


def test_unreachable_pinned_addresses_raise_connect_error() -> None:
    backend = RecordingBackend()
    pin = ConnectPin("example.com", 80, ("93.184.215.14", "2606:4700::1111"))
    with pytest.raises(httpx.ConnectError):
        PinnedTransport(network_backend=backend).handle_request(_request("http://example.com/", pin))
    assert backend.connects == [("93.184.215.14", 80), ("2606:4700::1111", 80)]
