"""Times given by people (CLI options, query parameters) as microseconds since the epoch."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from greenroom.errors import InputError

_RELATIVE = re.compile(r"^(\d{1,9})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str, *, name: str, now: datetime | None = None) -> int:
    """ISO 8601 (`2026-01-31`, `2026-01-31T12:00:00Z`, with an offset) or relative to now
    (`30m`, `12h`, `7d`, `2w` ago). Times without a zone are UTC."""
    text = value.strip()
    match = _RELATIVE.match(text)
    try:
        if match:
            moment = (now or datetime.now(UTC)) - timedelta(**{_UNITS[match[2]]: int(match[1])})
        else:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1_000_000)
    except (ValueError, OverflowError, IndexError):
        raise InputError(f"{name}: '{value}' is not an ISO 8601 time (2026-01-31, 2026-01-31T12:00:00Z) "
                         "or a relative time (30m, 12h, 7d)") from None
