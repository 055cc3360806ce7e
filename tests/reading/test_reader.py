"""UrlReader against real loopback servers: reads, redirects, limits and SSRF refusals."""

from __future__ import annotations

import gzip
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from greenroom.errors import ConfigError, InputError, NotFoundError, PayloadTooLargeError
from greenroom.reading import (
    ConnectPin,
    NotModifiedError,
    PinnedTransport,
    UrlNotAllowedError,
    UrlReader,
    UrlReadError,
    UrlReadTimeoutError,
)
from greenroom.reading.transport import PIN_EXTENSION

from .support import (
    FailingTransport,
    FakeResolver,
    LocalServer,
    RecordingBackend,
    elapsed,
    free_port,
    make_tls_contexts,
    redirect,
    respond,
)

MakeReader = Callable[..., UrlReader]
PUBLIC_IP = "93.184.215.14"
MIB = 1024 * 1024


def base(server: LocalServer) -> str:
    return f"http://allowed.test:{server.port}"


# --- successful reads ------------------------------------------------------------------------


def test_read_returns_body_etag_content_type_and_final_url(
    local_server: LocalServer, make_reader: MakeReader
) -> None:
    @local_server.route("/catalog-info.yaml")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 200, b"kind: Component\n", {"ETag": '"v1"', "Content-Type": "text/yaml"})

    result = make_reader(local_server).read(f"{base(local_server)}/catalog-info.yaml")

    assert result.data == b"kind: Component\n"
    assert result.etag == '"v1"'
    assert result.content_type == "text/yaml"
    assert result.url == f"{base(local_server)}/catalog-info.yaml"
    seen = local_server.requests[0].headers
    assert seen["host"] == f"allowed.test:{local_server.port}"  # the name, not the pinned IP
    assert "authorization" not in seen
    assert "cookie" not in seen
    assert seen["user-agent"] == "greenroom-url-reader"


def test_read_sends_the_canonical_url_it_checked(local_server: LocalServer, make_reader: MakeReader) -> None:
    @local_server.route("/a/c.yaml")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 200, b"ok")

    result = make_reader(local_server).read(f"http://ALLOWED.test.:{local_server.port}/a/./b/../c.yaml#x")
    assert result.data == b"ok"
    assert local_server.requests[0].path == "/a/c.yaml"


def test_conditional_read_not_modified(local_server: LocalServer, make_reader: MakeReader) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            respond(h, 304, headers={"ETag": '"v1"'})
        else:
            respond(h, 200, b"body", {"ETag": '"v1"'})

    reader = make_reader(local_server)
    assert reader.read(f"{base(local_server)}/x").etag == '"v1"'
    with pytest.raises(NotModifiedError):
        reader.read(f"{base(local_server)}/x", etag='"v1"')
    assert reader.read(f"{base(local_server)}/x", etag='"v0"').data == b"body"


def test_gzip_body_is_decoded(local_server: LocalServer, make_reader: MakeReader) -> None:
    @local_server.route("/z")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 200, gzip.compress(b"a" * 1000), {"Content-Encoding": "gzip"})

    assert make_reader(local_server).read(f"{base(local_server)}/z").data == b"a" * 1000


def test_ipv6_literal_read(make_reader: MakeReader) -> None:
    try:
        server = LocalServer(bind="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:

        @server.route("/x")
        def _(h: BaseHTTPRequestHandler) -> None:
            respond(h, 200, b"v6")

        reader = make_reader(
            allow=[{"host": f"[::1]:{server.port}", "dangerouslyAllowPrivateAddresses": True}],
            resolver=FakeResolver({}),
        )
        result = reader.read(f"http://[0:0:0::1]:{server.port}/x")
        assert result.data == b"v6"
        assert result.url == f"http://[::1]:{server.port}/x"
        assert server.requests[0].headers["host"] == f"[::1]:{server.port}"
    finally:
        server.stop()


# --- status codes ----------------------------------------------------------------------------


def test_missing_file_raises_not_found(local_server: LocalServer, make_reader: MakeReader) -> None:
    with pytest.raises(NotFoundError) as info:
        make_reader(local_server).read(f"{base(local_server)}/nope.yaml")
    assert info.value.status_code == 404


@pytest.mark.parametrize("status", [401, 403, 418, 500, 503])
def test_error_status_raises_read_error_without_the_body(
    local_server: LocalServer, make_reader: MakeReader, status: int
) -> None:
    @local_server.route("/err")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, status, b"SECRET-INTERNAL-STACK-TRACE")

    with pytest.raises(UrlReadError) as info:
        make_reader(local_server).read(f"{base(local_server)}/err")
    assert info.value.status == status
    assert str(status) in info.value.message
    assert "SECRET" not in info.value.message


def test_unsupported_content_encoding_refused(local_server: LocalServer, make_reader: MakeReader) -> None:
    @local_server.route("/br")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 200, b"\x00\x01", {"Content-Encoding": "br"})

    with pytest.raises(UrlReadError, match="Content-Encoding"):
        make_reader(local_server).read(f"{base(local_server)}/br")


def test_connection_refused_is_a_read_error(make_reader: MakeReader) -> None:
    port = free_port()
    reader = make_reader(allow=[{"host": f"allowed.test:{port}", "dangerouslyAllowPrivateAddresses": True}])
    with pytest.raises(UrlReadError, match="ConnectError"):
        reader.read(f"http://allowed.test:{port}/x")


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location", ["/new/file.yaml", "new/file.yaml", "./new/./file.yaml", "{base}/new/file.yaml"]
)
def test_redirect_to_allowed_path_followed(
    local_server: LocalServer, make_reader: MakeReader, location: str
) -> None:
    @local_server.route("/old.yaml")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, location.format(base=base(local_server)), 301)

    @local_server.route("/new/file.yaml")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 200, b"moved")

    resolver = FakeResolver({"allowed.test": ["127.0.0.1"]})
    result = make_reader(local_server, resolver=resolver).read(f"{base(local_server)}/old.yaml")
    assert result.data == b"moved"
    assert result.url == f"{base(local_server)}/new/file.yaml"
    assert len(resolver.calls) == 2  # every hop is resolved (once) and vetted again


def test_ssrf_redirect_to_path_outside_allowed_paths_refused(
    local_server: LocalServer, make_reader: MakeReader
) -> None:
    @local_server.route("/public/x.yaml")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, "/public/../admin/secrets")

    reader = make_reader(
        allow=[
            {
                "host": f"allowed.test:{local_server.port}",
                "paths": ["/public/"],
                "dangerouslyAllowPrivateAddresses": True,
            }
        ]
    )
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read(f"{base(local_server)}/public/x.yaml")
    assert info.value.rule == "path"
    assert [r.path for r in local_server.requests] == ["/public/x.yaml"]


def test_ssrf_redirect_to_host_outside_allow_list_refused(
    local_server: LocalServer, make_reader: MakeReader
) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, "http://evil.test/steal")

    resolver = FakeResolver({"allowed.test": ["127.0.0.1"]})  # evil.test must not even be resolved
    with pytest.raises(UrlNotAllowedError) as info:
        make_reader(local_server, resolver=resolver).read(f"{base(local_server)}/x")
    assert info.value.rule == "host"
    assert "Redirect from" in info.value.message
    assert [host for host, _ in resolver.calls] == ["allowed.test"]


@pytest.mark.parametrize("allow_metadata", [False, True])
def test_ssrf_redirect_to_metadata_address_refused(
    local_server: LocalServer, make_reader: MakeReader, allow_metadata: bool
) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, "http://169.254.169.254/latest/meta-data/iam/security-credentials/")

    extra = [{"host": "169.254.169.254", "dangerouslyAllowPrivateAddresses": True}] if allow_metadata else []
    backend = RecordingBackend(connect=True)
    reader = make_reader(local_server, allow=extra, transport=PinnedTransport(network_backend=backend))
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read(f"{base(local_server)}/x")
    # Not in the allow-list: refused by it; even listed with the dangerous flag: still refused.
    assert info.value.rule == ("blocked-address" if allow_metadata else "host")
    assert backend.connects == [("127.0.0.1", local_server.port)]


def test_ssrf_redirect_to_private_address_refused(
    local_server: LocalServer, canary_server: LocalServer, make_reader: MakeReader
) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, f"http://internal.corp.test:{canary_server.port}/admin")

    resolver = FakeResolver({"allowed.test": ["127.0.0.1"], "internal.corp.test": ["127.0.0.1"]})
    reader = make_reader(
        local_server, allow=[{"host": f"*.corp.test:{canary_server.port}"}], resolver=resolver
    )
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read(f"{base(local_server)}/x")
    assert info.value.rule == "private-address"
    assert "dangerouslyAllowPrivateAddresses" in info.value.message
    # canary_server's fixture asserts that it received nothing.


def test_ssrf_redirect_to_private_ip_literal_refused(
    local_server: LocalServer, make_reader: MakeReader
) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, "http://10.0.0.1/")

    backend = RecordingBackend(connect=True)
    reader = make_reader(
        local_server, allow=[{"host": "10.0.0.1"}], transport=PinnedTransport(network_backend=backend)
    )
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read(f"{base(local_server)}/x")
    assert info.value.rule == "private-address"
    assert backend.connects == [("127.0.0.1", local_server.port)]


@pytest.mark.parametrize(
    ("location", "rule"),
    [
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "scheme"),
        ("http://user:s3cr3tpw@allowed.test/", "credentials"),
    ],
)
def test_ssrf_redirect_to_other_scheme_or_credentials_refused(
    local_server: LocalServer, make_reader: MakeReader, location: str, rule: str
) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, location)

    with pytest.raises(UrlNotAllowedError) as info:
        make_reader(local_server).read(f"{base(local_server)}/x")
    assert info.value.rule == rule
    assert "s3cr3tpw" not in info.value.message


def test_redirect_loop_detected(local_server: LocalServer, make_reader: MakeReader) -> None:
    @local_server.route("/a")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, "/b")

    @local_server.route("/b")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, "/a")

    with pytest.raises(UrlReadError, match="loop"):
        make_reader(local_server).read(f"{base(local_server)}/a")
    assert [r.path for r in local_server.requests] == ["/a", "/b"]


def test_too_many_redirects_refused(local_server: LocalServer, make_reader: MakeReader) -> None:
    for i in range(10):

        @local_server.route(f"/r{i}")
        def _(h: BaseHTTPRequestHandler, i: int = i) -> None:
            redirect(h, f"/r{i + 1}")

    with pytest.raises(UrlReadError, match="Too many redirects"):
        make_reader(local_server).read(f"{base(local_server)}/r0")
    assert len(local_server.requests) == 6  # the first request and 5 redirects


@pytest.mark.parametrize("location", ["http://exa mple.com/", "http://[::1/", "http://example.com:99999/"])
def test_malformed_redirect_location_is_a_read_error(
    local_server: LocalServer, make_reader: MakeReader, location: str
) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        redirect(h, location)

    with pytest.raises(UrlReadError, match="Location"):
        make_reader(local_server).read(f"{base(local_server)}/x")


def test_redirect_without_location_is_a_read_error(
    local_server: LocalServer, make_reader: MakeReader
) -> None:
    @local_server.route("/x")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 302)

    with pytest.raises(UrlReadError, match="Location"):
        make_reader(local_server).read(f"{base(local_server)}/x")


def test_ssrf_redirect_https_to_http_downgrade_refused(make_reader: MakeReader) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(302, headers={"Location": "http://files.example.com/x"})

    reader = make_reader(
        allow=[{"host": "files.example.com"}, {"host": "files.example.com:80"}],
        resolver=FakeResolver({"files.example.com": [PUBLIC_IP]}),
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read("https://files.example.com/x")
    assert info.value.rule == "redirect-downgrade"
    assert len(sent) == 1


# --- refused before any connection -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allow", "rule"),
    [
        ("http://169.254.169.254/latest/meta-data/", [], "host"),
        (
            "http://169.254.169.254/latest/meta-data/",
            [{"host": "169.254.169.254", "dangerouslyAllowPrivateAddresses": True}],
            "blocked-address",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/",
            [{"host": "[fd00:ec2::254]", "dangerouslyAllowPrivateAddresses": True}],
            "blocked-address",
        ),
        (
            "http://[::ffff:169.254.169.254]/latest/meta-data/",
            [{"host": "[::ffff:a9fe:a9fe]", "dangerouslyAllowPrivateAddresses": True}],
            "blocked-address",
        ),
        ("http://0251.0376.0251.0376/", [{"host": "169.254.169.254"}], "blocked-address"),
    ],
)
def test_ssrf_metadata_address_refused_before_connect(
    make_reader: MakeReader, url: str, allow: list[dict[str, Any]], rule: str
) -> None:
    resolver, transport = FakeResolver({}), FailingTransport()
    reader = make_reader(allow=allow or [{"host": "example.com"}], resolver=resolver, transport=transport)
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read(url)
    assert info.value.rule == rule
    assert transport.requests == []
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("answers", "rule"),
    [
        (["169.254.169.254"], "blocked-address"),
        (["fd00:ec2::254"], "blocked-address"),
        (["::ffff:169.254.169.254"], "blocked-address"),
        (["10.0.0.1"], "private-address"),
        (["127.0.0.1"], "private-address"),
        (["::1"], "private-address"),
        (["::ffff:127.0.0.1"], "private-address"),
        (["192.168.0.10"], "private-address"),
        (["100.64.1.1"], "private-address"),
        (["fd12::1"], "private-address"),
        ([PUBLIC_IP, "10.0.0.1"], "private-address"),  # any bad answer refuses the host
        (["0.0.0.0"], "blocked-address"),
    ],
)
def test_ssrf_host_resolving_to_internal_address_refused_before_connect(
    make_reader: MakeReader, answers: list[str], rule: str
) -> None:
    resolver, transport = FakeResolver({"wiki.corp.test": answers}), FailingTransport()
    reader = make_reader(allow=[{"host": "*.corp.test"}], resolver=resolver, transport=transport)
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read("https://wiki.corp.test/catalog-info.yaml")
    assert info.value.rule == rule
    assert transport.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://10.1/",  # WHATWG shorthand of 10.0.0.1
        "http://0xa000001/",
        "http://167772161/",
    ],
)
def test_ssrf_private_ip_literal_refused_before_connect(make_reader: MakeReader, url: str) -> None:
    transport = FailingTransport()
    reader = make_reader(allow=[{"host": "10.0.0.1"}], resolver=FakeResolver({}), transport=transport)
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read(url)
    assert info.value.rule == "private-address"
    assert transport.requests == []


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://evil.example.net/catalog-info.yaml", "host"),
        ("https://example.com.evil.net/x", "host"),
        ("https://example.com:22/x", "port"),
        ("http://example.com:8080/x", "port"),
        ("file:///etc/passwd", "scheme"),
        ("FILE:///etc/passwd", "scheme"),
        ("ftp://example.com/x", "scheme"),
        ("https://admin:hunter2@example.com/x", "credentials"),
        ("http://localhost/", "host"),
        ("http://127.0.0.1/", "host"),
        ("http://[::1]/", "host"),
    ],
)
def test_ssrf_target_outside_allow_list_refused_before_dns(
    make_reader: MakeReader, url: str, rule: str
) -> None:
    resolver, transport = FakeResolver({}), FailingTransport()
    reader = make_reader(allow=[{"host": "example.com"}], resolver=resolver, transport=transport)
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read(url)
    assert info.value.rule == rule
    assert resolver.calls == []
    assert transport.requests == []
    assert "hunter2" not in info.value.message


def test_ssrf_empty_allow_list_refuses_every_read(make_reader: MakeReader) -> None:
    resolver, transport = FakeResolver({}), FailingTransport()
    reader = UrlReader.from_config(None, resolver=resolver, transport=transport)
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read("https://github.com/o/r/blob/main/catalog-info.yaml")
    assert info.value.rule == "empty-allow-list"
    assert resolver.calls == []


@pytest.mark.parametrize("url", ["not a url", "https://exa mple.com/", "https://example.com\\@evil.com/"])
def test_malformed_url_is_an_input_error(make_reader: MakeReader, url: str) -> None:
    with pytest.raises(InputError):
        make_reader(allow=[{"host": "example.com"}], transport=FailingTransport()).read(url)


def test_check_does_no_network_io_beyond_dns(make_reader: MakeReader) -> None:
    resolver, transport = FakeResolver({"example.com": [PUBLIC_IP]}), FailingTransport()
    reader = make_reader(allow=[{"host": "example.com"}], resolver=resolver, transport=transport)
    reader.check("https://example.com/catalog-info.yaml")
    assert resolver.calls == [("example.com", 443)]
    with pytest.raises(UrlNotAllowedError):
        reader.check("https://example.org/catalog-info.yaml")
    assert transport.requests == []


# --- DNS rebinding ---------------------------------------------------------------------------


def test_dns_rebinding_connection_goes_to_the_vetted_address(make_reader: MakeReader) -> None:
    resolver = FakeResolver({"rebind.example.com": [[PUBLIC_IP], ["127.0.0.1"]]})
    backend = RecordingBackend()  # records and refuses: nothing leaves the machine
    reader = make_reader(
        allow=[{"host": "rebind.example.com"}],
        resolver=resolver,
        transport=PinnedTransport(network_backend=backend),
    )
    with pytest.raises(UrlReadError):
        reader.read("http://rebind.example.com/x")
    assert resolver.calls == [("rebind.example.com", 80)]  # resolved exactly once
    assert backend.connects == [(PUBLIC_IP, 80)]  # to the address that was vetted


def test_dns_rebinding_between_check_and_read_refused(make_reader: MakeReader) -> None:
    resolver = FakeResolver({"rebind.example.com": [[PUBLIC_IP], ["127.0.0.1"]]})
    transport = FailingTransport()
    reader = make_reader(allow=[{"host": "rebind.example.com"}], resolver=resolver, transport=transport)
    reader.check("https://rebind.example.com/x")  # a dry run is no ticket for later
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read("https://rebind.example.com/x")
    assert info.value.rule == "private-address"
    assert transport.requests == []


def test_dns_rebinding_pin_travels_with_every_request(make_reader: MakeReader) -> None:
    pins: list[ConnectPin] = []

    def handler(request: httpx.Request) -> httpx.Response:
        pins.append(request.extensions[PIN_EXTENSION])
        return httpx.Response(200, content=b"ok")

    resolver = FakeResolver({"files.example.com": [PUBLIC_IP, "2606:4700::1111"]})
    reader = make_reader(
        allow=[{"host": "files.example.com"}], resolver=resolver, transport=httpx.MockTransport(handler)
    )
    reader.read("https://files.example.com/x")
    assert pins[0].host == "files.example.com"
    assert pins[0].port == 443
    assert pins[0].addresses == (PUBLIC_IP, "2606:4700::1111")
    assert pins[0].deadline is not None


# --- GitHub / GitLab translation -------------------------------------------------------------


def _recording_mock() -> tuple[list[httpx.Request], httpx.MockTransport]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b"kind: Component\n")

    return sent, httpx.MockTransport(handler)


def test_github_blob_url_read_from_raw_host_when_github_is_allowed(make_reader: MakeReader) -> None:
    sent, transport = _recording_mock()
    resolver = FakeResolver({"raw.githubusercontent.com": ["185.199.108.133"]})
    reader = make_reader(
        allow=[{"host": "github.com", "paths": ["/my-org/"]}], resolver=resolver, transport=transport
    )
    result = reader.read("https://github.com/my-org/svc/blob/main/catalog-info.yaml")
    assert str(sent[0].url) == "https://raw.githubusercontent.com/my-org/svc/main/catalog-info.yaml"
    assert result.url == "https://raw.githubusercontent.com/my-org/svc/main/catalog-info.yaml"
    assert [host for host, _ in resolver.calls] == ["raw.githubusercontent.com"]


def test_gitlab_blob_url_read_from_raw_path(make_reader: MakeReader) -> None:
    sent, transport = _recording_mock()
    reader = make_reader(
        allow=[{"host": "gitlab.example.com", "paths": ["/team/svc/-/blob/main/"]}],
        resolver=FakeResolver({"gitlab.example.com": [PUBLIC_IP]}),
        transport=transport,
    )
    reader.read("https://gitlab.example.com/team/svc/-/blob/main/catalog-info.yaml")
    assert str(sent[0].url) == "https://gitlab.example.com/team/svc/-/raw/main/catalog-info.yaml"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/other-org/svc/blob/main/catalog-info.yaml",
        "https://github.com/my-org/svc/blob/main/../../../../other-org/svc/blob/main/x.yaml",
        "https://github.com/my-org/svc/blob/main/%2e%2e/%2e%2e/%2e%2e/%2e%2e/other-org/svc/blob/main/x.yaml",
        "https://github.com/my-org%2F..%2Fother-org/svc/blob/main/x.yaml",
    ],
)
def test_path_traversal_github_blob_outside_allowed_paths_refused(make_reader: MakeReader, url: str) -> None:
    resolver, transport = FakeResolver({}), FailingTransport()
    reader = make_reader(
        allow=[{"host": "github.com", "paths": ["/my-org/"]}], resolver=resolver, transport=transport
    )
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read(url)
    assert info.value.rule in ("path", "ambiguous-path")
    assert resolver.calls == []


def test_ssrf_redirect_from_translated_host_needs_its_own_allow_entry(make_reader: MakeReader) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            301, headers={"Location": "https://raw.githubusercontent.com/other-org/x/main/y"}
        )

    reader = make_reader(
        allow=[{"host": "github.com", "paths": ["/my-org/"]}],
        resolver=FakeResolver({"raw.githubusercontent.com": ["185.199.108.133"]}),
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(UrlNotAllowedError) as info:
        reader.read("https://github.com/my-org/svc/blob/main/catalog-info.yaml")
    assert info.value.rule == "host"
    assert len(sent) == 1


# --- resource exhaustion ---------------------------------------------------------------------


def _stream_forever(total: int, *, content_length: bool) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        if content_length:
            h.send_header("Content-Length", str(total))
        h.end_headers()
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < total:
                h.wfile.write(chunk)
                sent += len(chunk)
        finally:
            h.server.bytes_sent[h.path] = sent  # type: ignore[attr-defined]

    return handler


@pytest.fixture
def counting_server(local_server: LocalServer) -> LocalServer:
    local_server._server.bytes_sent = local_server.bytes_sent  # type: ignore[union-attr]
    return local_server


@pytest.mark.parametrize("content_length", [False, True])
def test_resource_exhaustion_huge_body_cut_off_at_max_bytes(
    counting_server: LocalServer, make_reader: MakeReader, content_length: bool
) -> None:
    total = 50 * MIB
    counting_server.route("/huge")(_stream_forever(total, content_length=content_length))
    reader = make_reader(counting_server, max_bytes=1 * MIB)

    with pytest.raises(PayloadTooLargeError) as info:
        reader.read(f"{base(counting_server)}/huge")
    assert info.value.status_code == 413
    assert counting_server.done["/huge"].wait(10)
    # The server stopped early: the reader closed the connection instead of draining 50 MB.
    assert counting_server.bytes_sent["/huge"] < total // 2


def test_resource_exhaustion_gzip_bomb_cut_off(local_server: LocalServer, make_reader: MakeReader) -> None:
    bomb = gzip.compress(b"\0" * (50 * MIB))

    @local_server.route("/bomb")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 200, bomb, {"Content-Encoding": "gzip"})

    assert len(bomb) < MIB
    with pytest.raises(PayloadTooLargeError):
        make_reader(local_server, max_bytes=MIB).read(f"{base(local_server)}/bomb")


def test_body_of_exactly_max_bytes_is_accepted(local_server: LocalServer, make_reader: MakeReader) -> None:
    @local_server.route("/edge")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 200, b"a" * 1000)

    assert len(make_reader(local_server, max_bytes=1000).read(f"{base(local_server)}/edge").data) == 1000
    with pytest.raises(PayloadTooLargeError):
        make_reader(local_server, max_bytes=999).read(f"{base(local_server)}/edge")


def _sleep_handler(stop: threading.Event, seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(h: BaseHTTPRequestHandler) -> None:
        stop.wait(seconds)
        respond(h, 200, b"late")

    return handler


@pytest.fixture
def stop_event() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_resource_exhaustion_slow_response_times_out(
    local_server: LocalServer, make_reader: MakeReader, stop_event: threading.Event
) -> None:
    local_server.route("/slow")(_sleep_handler(stop_event, 5))
    start = time.monotonic()
    with pytest.raises(UrlReadTimeoutError) as info:
        make_reader(local_server, timeout_s=0.5).read(f"{base(local_server)}/slow")
    assert elapsed(start) < 2
    assert info.value.status_code == 504


def test_resource_exhaustion_trickled_body_hits_total_timeout(
    local_server: LocalServer, make_reader: MakeReader, stop_event: threading.Event
) -> None:
    @local_server.route("/drip")
    def _(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()
        for _ in range(200):  # bounded: at most 10 s
            if stop_event.wait(0.05):
                return
            h.wfile.write(b"x")
            h.wfile.flush()

    start = time.monotonic()
    with pytest.raises(UrlReadTimeoutError):
        make_reader(local_server, timeout_s=0.5).read(f"{base(local_server)}/drip")
    assert elapsed(start) < 2


def test_resource_exhaustion_trickled_headers_hit_total_timeout(
    local_server: LocalServer, make_reader: MakeReader, stop_event: threading.Event
) -> None:
    @local_server.route("/slowloris")
    def _(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        h.wfile.flush()
        for _ in range(200):  # bounded: at most 10 s
            if stop_event.wait(0.05):
                return
            h.wfile.write(b"a")
            h.wfile.flush()

    start = time.monotonic()
    with pytest.raises(UrlReadTimeoutError):
        make_reader(local_server, timeout_s=0.5).read(f"{base(local_server)}/slowloris")
    assert elapsed(start) < 2


def test_resource_exhaustion_slow_dns_times_out(make_reader: MakeReader) -> None:
    release = threading.Event()

    def slow_resolver(host: str, port: int) -> list[str]:
        release.wait(5)
        return [PUBLIC_IP]

    reader = make_reader(allow=[{"host": "example.com"}], transport=FailingTransport(), timeout_s=0.3)
    reader._resolver = slow_resolver
    start = time.monotonic()
    try:
        with pytest.raises(UrlReadTimeoutError, match="resolving"):
            reader.read("https://example.com/x")
    finally:
        release.set()
    assert elapsed(start) < 1.5


def test_resolver_failure_is_a_read_error(make_reader: MakeReader) -> None:
    def failing(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    reader = make_reader(allow=[{"host": "example.com"}], transport=FailingTransport())
    reader._resolver = failing
    with pytest.raises(UrlReadError, match="resolve"):
        reader.read("https://example.com/x")


# --- TLS with a pinned address ---------------------------------------------------------------


@pytest.fixture
def tls_server() -> Iterator[tuple[LocalServer, Any]]:
    pytest.importorskip("cryptography")
    with tempfile.TemporaryDirectory() as tmp:
        server_ctx, client_ctx = make_tls_contexts(tmp, "allowed.test")
        server = LocalServer(tls=server_ctx)

        @server.route("/secure.yaml")
        def _(h: BaseHTTPRequestHandler) -> None:
            respond(h, 200, b"over tls")

        server.start()
        yield server, client_ctx
        server.stop()


def test_tls_pinned_connection_verifies_the_host_name(
    tls_server: tuple[LocalServer, Any], make_reader: MakeReader
) -> None:
    server, client_ctx = tls_server
    reader = make_reader(
        allow=[
            {"host": f"allowed.test:{server.port}", "dangerouslyAllowPrivateAddresses": True},
            {"host": f"impostor.test:{server.port}", "dangerouslyAllowPrivateAddresses": True},
        ],
        resolver=FakeResolver({"allowed.test": ["127.0.0.1"], "impostor.test": ["127.0.0.1"]}),
        transport=PinnedTransport(ssl_context=client_ctx),
    )
    # Connected to 127.0.0.1, yet SNI and certificate checks use the name.
    assert reader.read(f"https://allowed.test:{server.port}/secure.yaml").data == b"over tls"
    with pytest.raises(UrlReadError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        reader.read(f"https://impostor.test:{server.port}/secure.yaml")


# --- configuration and logging ---------------------------------------------------------------


def test_from_config_limits() -> None:
    reader = UrlReader.from_config(
        {"allow": [{"host": "example.com"}], "maxBytes": 1234, "timeoutSeconds": 2.5}
    )
    assert reader._max_bytes == 1234
    assert reader._timeout_s == 2.5
    default = UrlReader.from_config({"allow": [{"host": "example.com"}]})
    assert default._max_bytes == 10 * MIB
    assert default._timeout_s == 10.0


@pytest.mark.parametrize(
    ("reading", "path"),
    [
        ({"maxBytes": 0}, "backend.reading.maxBytes"),
        ({"maxBytes": "10MB"}, "backend.reading.maxBytes"),
        ({"maxBytes": True}, "backend.reading.maxBytes"),
        ({"maxBytes": 10 * 1024 * MIB}, "backend.reading.maxBytes"),
        ({"timeoutSeconds": 0}, "backend.reading.timeoutSeconds"),
        ({"timeoutSeconds": -1}, "backend.reading.timeoutSeconds"),
        ({"timeoutSeconds": "10s"}, "backend.reading.timeoutSeconds"),
        ({"timeoutSeconds": 3600}, "backend.reading.timeoutSeconds"),
    ],
)
def test_from_config_rejects_bad_limits(reading: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as info:
        UrlReader.from_config(reading)
    assert info.value.path == path


def test_secrets_never_reach_logs_or_messages(
    local_server: LocalServer, make_reader: MakeReader, caplog: pytest.LogCaptureFixture
) -> None:
    @local_server.route("/x?token=QUERY-SECRET")
    def _(h: BaseHTTPRequestHandler) -> None:
        respond(h, 500, b"BODY-SECRET")

    with caplog.at_level(logging.DEBUG), pytest.raises(UrlReadError) as info:
        make_reader(local_server).read(f"{base(local_server)}/x?token=QUERY-SECRET")
    assert local_server.requests[0].path == "/x?token=QUERY-SECRET"
    for text in (caplog.text, info.value.message):
        assert "QUERY-SECRET" not in text
        assert "BODY-SECRET" not in text
