"""Durations in config, written the ways Backstage accepts them.

    { hours: 1, minutes: 30 }     HumanDuration object
    PT1H30M                       ISO 8601
    1h30m, 90 minutes, 2 days     ms-style strings

A bare number is refused: Backstage reads it as milliseconds in some places and seconds in
others, and a security timeout must not depend on which one the operator had in mind.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from greenroom.errors import ConfigError

_UNITS = {
    "years": 365 * 86400.0,
    "months": 30 * 86400.0,
    "weeks": 7 * 86400.0,
    "days": 86400.0,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
    "milliseconds": 0.001,
}
_ALIASES = {
    "y": "years", "yr": "years", "yrs": "years", "year": "years", "years": "years",
    "mo": "months", "month": "months", "months": "months",
    "w": "weeks", "week": "weeks", "weeks": "weeks",
    "d": "days", "day": "days", "days": "days",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "ms": "milliseconds", "msec": "milliseconds", "millisecond": "milliseconds", "milliseconds": "milliseconds",
}
_ISO = re.compile(
    r"^P(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?(?:(?P<weeks>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)")


def parse_duration(value: Any, *, path: str) -> timedelta:
    """A config duration as a timedelta; a ConfigError naming `path` otherwise."""
    seconds: float
    if isinstance(value, dict):
        seconds = 0.0
        for key, amount in value.items():
            unit = _ALIASES.get(str(key))
            if unit is None or isinstance(amount, bool) or not isinstance(amount, int | float):
                raise ConfigError(f"not a duration: unknown unit or amount '{key}: {amount}'", path=path)
            seconds += float(amount) * _UNITS[unit]
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        match = _ISO.match(text)
        if match and text != "P" and not text.endswith("T"):
            seconds = sum(float(v) * _UNITS[k] for k, v in match.groupdict().items() if v)
        else:
            parts = _PART.findall(text)
            if not parts or _PART.sub("", text).replace(",", "").strip():
                raise ConfigError(f"not a duration: '{text}' (use e.g. 1h, 30m, PT1H or {{hours: 1}})", path=path)
            seconds = 0.0
            for amount, raw_unit in parts:
                unit = _ALIASES.get(raw_unit.lower())
                if unit is None:
                    raise ConfigError(f"not a duration: unknown unit '{raw_unit}'", path=path)
                seconds += float(amount) * _UNITS[unit]
    else:
        raise ConfigError(
            "a duration must be an object like {minutes: 30}, an ISO 8601 string like PT30M or a string like 30m",
            path=path,
        )
    if seconds <= 0:
        raise ConfigError("a duration must be longer than zero", path=path)
    return timedelta(seconds=seconds)
