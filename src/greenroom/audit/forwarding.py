"""Forwarding the trail to a syslog server (RFC 5424) and to a webhook, from a durable outbox.

The trail itself is the outbox: each sink has a cursor row (`audit_sink_cursors`) holding
the last sequence number it delivered. A background worker sends the events after the
cursor in order and moves the cursor only when the sink accepted them, so nothing is lost
while a sink is down (the events wait in the database and are retried with exponential
backoff) and no request ever waits for a sink. Delivery is at least once: a receiver
de-duplicates by `id` or `sequence`. Several processes share the work through a short lease
on the cursor row.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from sqlalchemy import and_, or_, select, update

from greenroom.audit import tables
from greenroom.audit.model import StoredEvent, iso_time
from greenroom.audit.settings import ForwardingSettings, SyslogSettings, WebhookSettings
from greenroom.audit.store import AuditQuery, AuditStore

log = logging.getLogger("greenroom.audit")
LEASE_SECONDS = 60
SYSLOG_SEVERITY = {"low": 6, "medium": 5, "high": 4, "critical": 2}  # informational, notice, warning, crit
# 32473 is the private enterprise number reserved for documentation (RFC 5612).
SD_ID = "greenroom@32473"
MAX_UDP_PAYLOAD = 60_000


class Sink(Protocol):
    name: str

    def send(self, events: Sequence[StoredEvent]) -> None:
        """Deliver every event or raise: the cursor moves only past events that were sent."""
        ...

    def close(self) -> None: ...


def _printable(text: str, limit: int) -> str:
    cleaned = "".join(c if "!" <= c <= "~" else "_" for c in text)
    return cleaned[:limit] or "-"


def _sd_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_message(event: StoredEvent, *, app_name: str, hostname: str, facility: int, procid: int) -> bytes:
    """One RFC 5424 message: header, structured data naming the event, the event as JSON."""
    pri = facility * 8 + SYSLOG_SEVERITY.get(event.severity, 6)
    sd = (f'[{SD_ID} id="{_sd_value(event.id)}" seq="{event.seq}" status="{_sd_value(event.status)}" '
          f'hash="{event.hash}"]')
    header = (f"<{pri}>1 {iso_time(event.time_us)} {_printable(hostname, 255)} {_printable(app_name, 48)} "
              f"{procid} {_printable(event.event_id, 32)} {sd} ")
    body = orjson.dumps(event.to_json())
    if len(body) > MAX_UDP_PAYLOAD:
        short = event.to_json()
        short["meta"] = {"truncated": True, "bytes": len(event.meta)}
        body = orjson.dumps(short)
    return header.encode() + b"\xef\xbb\xbf" + body


class SyslogSink:
    """RFC 5424 over UDP (RFC 5426, one message per datagram) or TCP (RFC 6587 octet counting)."""

    def __init__(self, settings: SyslogSettings) -> None:
        self.name = "syslog"
        self.settings = settings
        self.hostname = socket.gethostname()
        self._socket: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self._socket is None:
            kind = socket.SOCK_DGRAM if self.settings.protocol == "udp" else socket.SOCK_STREAM
            info = socket.getaddrinfo(self.settings.host, self.settings.port, type=kind)[0]
            sock = socket.socket(info[0], kind)
            sock.settimeout(self.settings.timeout)
            try:
                sock.connect(info[4])  # a connected UDP socket reports ICMP "port unreachable"
            except OSError:
                sock.close()
                raise
            self._socket = sock
        return self._socket

    def send(self, events: Sequence[StoredEvent]) -> None:
        try:
            sock = self._connect()
            for event in events:
                message = syslog_message(event, app_name=self.settings.appName, hostname=self.hostname,
                                         facility=self.settings.facility, procid=os.getpid())
                if self.settings.protocol == "udp":
                    sock.send(message)
                else:
                    sock.sendall(str(len(message)).encode() + b" " + message)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class WebhookSink:
    """HTTP POST of `{"events": [...]}` batches; any status but 2xx is a failure to retry."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.name = "webhook"
        self.settings = settings
        self._client: Any = None

    def send(self, events: Sequence[StoredEvent]) -> None:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.settings.timeout, follow_redirects=False)
        body = orjson.dumps({"events": [e.to_json() for e in events]})
        headers = {"content-type": "application/json", "user-agent": "greenroom-audit",
                   **self.settings.headers}
        response = self._client.post(self.settings.url, content=body, headers=headers)
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"webhook answered HTTP {response.status_code}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def sinks_from(settings: ForwardingSettings) -> list[Sink]:
    out: list[Sink] = []
    if settings.syslog is not None:
        out.append(SyslogSink(settings.syslog))
    if settings.webhook is not None:
        out.append(WebhookSink(settings.webhook))
    return out


class Forwarder:
    """Moves each sink's cursor forward; call `deliver` repeatedly (the worker does)."""

    def __init__(self, store: AuditStore, sinks: Sequence[Sink], settings: ForwardingSettings,
                 *, batch_size: int = 100) -> None:
        self.store = store
        self.sinks = list(sinks)
        self.settings = settings
        self.batch_size = batch_size
        self.owner = uuid.uuid4().hex[:16]

    def _claim(self, sink: Sink, now: int) -> tuple[int, int] | None:
        """Take the sink's lease; returns (delivered_seq, attempts) or None when not due or taken."""
        c = tables.sink_cursors
        with self.store.database.engine.begin() as connection:
            row = connection.execute(select(c).where(c.c.sink == sink.name)).first()
            if row is None:
                connection.execute(c.insert().values(sink=sink.name, delivered_seq=0, attempts=0, last_error=None,
                                                     next_attempt_at=0, leased_by=None, leased_until=0,
                                                     updated_at=now))
                row = connection.execute(select(c).where(c.c.sink == sink.name)).first()
            assert row is not None
            if row.next_attempt_at > now:
                return None
            taken = connection.execute(
                update(c).where(
                    c.c.sink == sink.name,
                    or_(c.c.leased_by.is_(None), c.c.leased_by == self.owner, c.c.leased_until <= now),
                ).values(leased_by=self.owner, leased_until=now + LEASE_SECONDS)
            )
            if taken.rowcount == 0:
                return None
            return int(row.delivered_seq), int(row.attempts)

    def _finish(self, sink: Sink, values: dict[str, Any]) -> None:
        c = tables.sink_cursors
        with self.store.database.engine.begin() as connection:
            connection.execute(
                update(c).where(and_(c.c.sink == sink.name, c.c.leased_by == self.owner))
                .values(leased_by=None, leased_until=0, updated_at=int(time.time()), **values)
            )

    def deliver(self, sink: Sink) -> int:
        """Send the next batch to `sink`; returns how many events it accepted."""
        now = int(time.time())
        claimed = self._claim(sink, now)
        if claimed is None:
            return 0
        delivered, attempts = claimed
        page = self.store.query(AuditQuery(order="asc"), limit=self.batch_size, after_seq=delivered)
        if not page.items:
            self._finish(sink, {})
            return 0
        try:
            sink.send(page.items)
        except Exception as exc:  # noqa: BLE001 - any failure: keep the events, retry later
            attempts += 1
            delay = min(self.settings.maxRetryDelay, 2.0 ** min(attempts, 20))
            message = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("audit forwarding failed; events are kept and retried",
                        extra={"sink": sink.name, "attempts": attempts, "retryInSeconds": delay, "error": message,
                               "pendingFrom": delivered + 1})
            self._finish(sink, {"attempts": attempts, "last_error": message, "next_attempt_at": now + int(delay)})
            return 0
        self._finish(sink, {"delivered_seq": page.items[-1].seq, "attempts": 0, "last_error": None,
                            "next_attempt_at": 0})
        return len(page.items)

    def deliver_all(self) -> int:
        """Each sink until it is caught up or fails (the worker's tick)."""
        total = 0
        for sink in self.sinks:
            while True:
                sent = self.deliver(sink)
                total += sent
                if sent < self.batch_size:
                    break
        return total

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def cursor_status(store: AuditStore) -> list[dict[str, Any]]:
    """Each sink's delivery state (for `greenroom audit-log status` and retention)."""
    c = tables.sink_cursors
    with store.database.engine.connect() as connection:
        return [
            {"sink": r.sink, "deliveredSeq": int(r.delivered_seq), "attempts": int(r.attempts),
             "lastError": r.last_error, "nextAttemptAt": int(r.next_attempt_at)}
            for r in connection.execute(select(c).order_by(c.c.sink))
        ]
