"""JSON log lines, one per event, with every known secret value redacted.

The redactor knows the values of every secret config key (loaded from `$env`, `$file`,
`${VAR}`, Vault or AWS, or written under a secret-named key) and replaces them wherever they
would appear: in the message, in extra fields and in exception text.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from greenroom.observability.context import request_id_var

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self._redact = redact or (lambda s: s)

    def _clean(self, value: Any) -> Any:
        """Redact before JSON encoding: a secret holding `"`, `\\` or a newline would no
        longer be found in the encoded line, where it appears escaped."""
        if isinstance(value, str):
            return self._redact(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {self._redact(str(k)): self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(v) for v in value]
        return self._redact(str(value))

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            payload["requestId"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        text = orjson.dumps(self._clean(payload)).decode()
        return self._redact(text)


class TextFormatter(JsonFormatter):
    """Human-readable lines for a terminal, with the same redaction."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        tail = " ".join(f"{k}={v}" for k, v in extras.items())
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}" + (f" {tail}" if tail else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self._redact(line)


def configure_logging(
    *,
    level: str = "INFO",
    json_format: bool = True,
    redact: Callable[[str], str] | None = None,
    stream: TextIO | None = None,
) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if json_format else TextFormatter(redact))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").propagate = True
