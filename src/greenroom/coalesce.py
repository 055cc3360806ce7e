"""Folding events that could arrive at line rate into one per key and interval, with a count."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Coalescer:
    """At most one event per key per interval; the next one says how many were folded into it.

    Used for events that an unauthenticated caller or every request could otherwise produce
    at line rate (missing credentials, service-token use): the trail keeps the fact and a
    count without letting anyone fill the database.
    """

    def __init__(self, interval: float, *, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        self._seen: dict[Any, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def admit(self, key: Any) -> int | None:
        """None: fold this one in; otherwise record it, with this many folded since the last."""
        now = self._clock()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last[0] < self.interval:
                self._seen[key] = (last[0], last[1] + 1)
                return None
            if len(self._seen) >= self.max_keys:
                self._seen.clear()
            self._seen[key] = (now, 0)
            return last[1] if last is not None else 0
