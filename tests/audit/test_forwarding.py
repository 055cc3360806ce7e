"""Forwarding to syslog (RFC 5424 over UDP and TCP) and a webhook: from a durable outbox, in the
background, retried while the receiver is down, nothing lost."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from greenroom.audit import Actor
from greenroom.audit.forwarding import Forwarder, cursor_status, sinks_from
from tests.audit.conftest import trail
from tests.conftest import BENCH_TOKEN, free_port

RFC5424 = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (?P<host>\S+) (?P<app>\S+) (?P<pid>\d+) "
    rb"(?P<msgid>\S+) \[greenroom@32473 id=\"(?P<id>[0-9a-f-]+)\" seq=\"(?P<seq>\d+)\" status=\"(?P<status>\w+)\" "
    rb"hash=\"(?P<hash>[0-9a-f]{64})\"\] \xef\xbb\xbf(?P<msg>\{.*\})$", re.DOTALL)


class UdpListener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]

    def receive(self, count: int) -> list[bytes]:
        return [self.sock.recv(65535) for _ in range(count)]


class TcpListener:
    """Reads RFC 6587 octet-counted frames."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen()
        self.port = self.server.getsockname()[1]
        self.frames: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            buffer = b""
            with conn:
                while chunk := conn.recv(65536):
                    buffer += chunk
                    while b" " in buffer:
                        length, _, rest = buffer.partition(b" ")
                        if len(rest) < int(length):
                            break
                        self.frames.append(rest[: int(length)])
                        buffer = rest[int(length):]

    def close(self) -> None:
        self.server.close()


class Webhook:
    """A local HTTP receiver that fails the first `failures` posts, optionally after a delay."""

    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.batches: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.failures = failures
        self.delay = delay
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                time.sleep(hook.delay)
                if hook.failures > 0:
                    hook.failures -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                hook.batches.append(json.loads(body))
                hook.headers.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for batch in self.batches for e in batch["events"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _record(portal, count: int, start: int = 0) -> None:
    audit = portal.auditor.for_plugin("demo")
    for i in range(start, start + count):
        audit.log("thing-mutate", actor=Actor("user:default/alice", "user"), target=f"t:{i}", severity="high")


def _forwarder(portal) -> Forwarder:
    settings = portal.auditor.settings.forwarding
    return Forwarder(portal.auditor.store, sinks_from(settings), settings, batch_size=10)


def test_syslog_udp_messages_are_rfc5424_with_the_event(make_portal):
    listener = UdpListener()
    portal = make_portal({"audit": {"forwarding": {"syslog": {"host": "127.0.0.1", "port": listener.port}}}})
    _record(portal, 3)
    forwarder = _forwarder(portal)
    assert forwarder.deliver_all() == 3
    stored = trail(portal, order="asc")
    for raw, event in zip(listener.receive(3), stored, strict=True):
        match = RFC5424.match(raw)
        assert match, raw[:200]
        assert int(match["pri"]) == 13 * 8 + 4  # facility log audit, severity warning (high)
        assert match["msgid"] == b"thing-mutate"
        assert int(match["seq"]) == event.seq
        assert match["id"].decode() == event.id
        assert json.loads(match["msg"])["hash"] == event.hash
    assert cursor_status(portal.auditor.store)[0]["deliveredSeq"] == stored[-1].seq
    forwarder.close()


def test_syslog_tcp_unreachable_keeps_events_and_retries(make_portal):
    port = free_port()
    portal = make_portal({"audit": {"forwarding": {"syslog": {"host": "127.0.0.1", "port": port,
                                                              "protocol": "tcp", "timeout": 1}}}})
    _record(portal, 25)
    forwarder = _forwarder(portal)
    assert forwarder.deliver_all() == 0  # nobody listens
    [cursor] = cursor_status(portal.auditor.store)
    assert (cursor["deliveredSeq"], cursor["attempts"]) == (0, 1)
    assert "ConnectionRefused" in cursor["lastError"]
    assert forwarder.deliver_all() == 0  # not due yet: backing off
    listener = TcpListener(port)
    try:
        deadline = time.monotonic() + 15
        while len(listener.frames) < 25 and time.monotonic() < deadline:
            forwarder.deliver_all()
            time.sleep(0.2)
        seqs = [int(RFC5424.match(f)["seq"]) for f in listener.frames]
        assert seqs == [e.seq for e in trail(portal, order="asc")]  # every event, in order, once
        assert cursor_status(portal.auditor.store)[0]["attempts"] == 0
    finally:
        listener.close()
        forwarder.close()


def test_webhook_failures_are_retried_and_nothing_is_lost(make_portal):
    hook = Webhook(failures=2)
    portal = make_portal({"audit": {"forwarding": {"webhook": {"url": hook.url, "batchSize": 10,
                                                               "headers": {"Authorization": "Bearer hook-secret"}}}}})
    try:
        _record(portal, 23)
        forwarder = _forwarder(portal)
        deadline = time.monotonic() + 20
        while len(hook.events) < 23 and time.monotonic() < deadline:
            forwarder.deliver_all()
            time.sleep(0.2)
        assert [e["sequence"] for e in hook.events] == [e.seq for e in trail(portal, order="asc")]
        assert [len(b["events"]) for b in hook.batches] == [10, 10, 3]
        assert hook.headers[0]["Authorization"] == "Bearer hook-secret"
        assert hook.events[0]["eventId"] == "thing-mutate"
        forwarder.close()
    finally:
        hook.close()


def test_an_unreachable_webhook_never_blocks_a_request(make_portal, live_server, catalog_files):
    hook = Webhook(delay=4.0)
    portal = make_portal({"audit": {"forwarding": {"webhook": {"url": hook.url, "timeout": 10},
                                                   "pollInterval": 0.1}},
                          "catalog": {"locations": [{"type": "file", "target": str(catalog_files)}]}})
    server = live_server(portal.app)
    try:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
                              trust_env=False, timeout=30)
        deadline = time.monotonic() + 20
        while client.get("/api/catalog/entities/by-name/component/default/c0").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        uid = client.get("/api/catalog/entities/by-name/component/default/c0").json()["metadata"]["uid"]
        time.sleep(0.5)  # the worker is now waiting on the slow receiver
        started = time.monotonic()
        assert client.delete(f"/api/catalog/entities/by-uid/{uid}").status_code == 204
        assert time.monotonic() - started < 2.0
        deadline = time.monotonic() + 30
        while not any(e["eventId"] == "entity-mutate" and e["action"] == "delete" for e in hook.events):
            assert time.monotonic() < deadline, "the delete never reached the webhook"
            time.sleep(0.2)
    finally:
        hook.close()


@pytest.fixture
def catalog_files(tmp_path):
    path = tmp_path / "catalog" / "all.yaml"
    path.parent.mkdir()
    path.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: c0\n"
                    "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("forwarding", "message"), [
    ({"syslog": {"host": "", "port": 514}}, "audit.forwarding.syslog.host"),
    ({"syslog": {"host": "h", "port": 70000}}, "audit.forwarding.syslog.port"),
    ({"syslog": {"host": "h", "protocol": "tls"}}, "audit.forwarding.syslog.protocol"),
    ({"webhook": {"url": "ftp://x"}}, "audit.forwarding.webhook.url"),
    ({"webhook": {"url": "https://x", "batchSize": 0}}, "audit.forwarding.webhook.batchSize"),
    ({"kafka": {}}, "audit.forwarding.kafka"),
])
def test_bad_forwarding_config_is_refused_at_start(make_portal, forwarding, message):
    from greenroom.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        make_portal({"audit": {"forwarding": forwarding}})
