"""The background side of the audit trail, one thread per process: forwarding to the
configured sinks, periodic signed checkpoints and retention. Requests never wait for it."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from greenroom.audit.checkpoints import write_checkpoint
from greenroom.audit.forwarding import Forwarder, sinks_from
from greenroom.audit.retention import prune

if TYPE_CHECKING:
    from greenroom.audit.service import AuditService

log = logging.getLogger("greenroom.audit")


class AuditWorker:
    def __init__(self, service: AuditService) -> None:
        self.service = service
        settings = service.settings
        self.forwarder = Forwarder(service.store, sinks_from(settings.forwarding), settings.forwarding,
                                   batch_size=settings.forwarding.webhook.batchSize
                                   if settings.forwarding.webhook else 100)
        self.interval = settings.forwarding.pollInterval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_checkpoint = time.monotonic()
        self._last_prune = 0.0

    @property
    def has_work(self) -> bool:
        s = self.service.settings
        return bool(self.forwarder.sinks) or (self.service.signer is not None and s.signing.checkpointInterval > 0) \
            or s.retention.days is not None

    def start(self) -> None:
        if self._thread is not None or not self.has_work:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="audit-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.forwarder.close()

    def tick(self) -> None:
        """One round of everything that is due."""
        settings = self.service.settings
        if self.forwarder.sinks:
            self.forwarder.deliver_all()
        interval = settings.signing.checkpointInterval
        if self.service.signer is not None and interval > 0 and time.monotonic() - self._last_checkpoint >= interval:
            write_checkpoint(self.service)
            self._last_checkpoint = time.monotonic()
        if settings.retention.days is not None and time.monotonic() - self._last_prune >= settings.retention.interval:
            self._last_prune = time.monotonic()
            prune(self.service)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the thread: try again next round
                log.exception("audit background work failed; retrying")
            self._wake.wait(self.interval)
            self._wake.clear()
