"""`backend.reading.allow`: which hosts, ports and paths the backend may read.

Matching follows Backstage's `FetchUrlReader` (see the package docstring for the exact
rules and the few places greenroom is stricter).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from greenroom.errors import ConfigError, GreenroomError
from greenroom.reading.errors import UrlNotAllowedError
from greenroom.reading.urls import DEFAULT_PORTS, HttpUrl, canonical_host, normalize_path

logger = logging.getLogger(__name__)

ALLOW_KEY = "backend.reading.allow"
READING_KEYS = frozenset({"allow", "maxBytes", "timeoutSeconds"})
ENTRY_KEYS = frozenset({"host", "paths", "dangerouslyAllowPrivateAddresses"})
_PORT_SPEC = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")

# How far an entry got in matching a URL; the furthest failure explains a refusal best.
_STAGE_HOST, _STAGE_PORT, _STAGE_PATH, _STAGE_AMBIGUOUS = range(4)


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One item of `backend.reading.allow`, parsed and canonicalised."""

    index: int
    pattern: str
    host: str
    wildcard: bool
    ports: tuple[int, int] | None
    paths: tuple[str, ...] | None
    allow_private_addresses: bool

    @property
    def label(self) -> str:
        return f"{ALLOW_KEY}[{self.index}] (host '{self.pattern}')"

    def matches_host(self, host: str) -> bool:
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host

    def matches_port(self, url: HttpUrl) -> bool:
        if self.ports is None:
            return url.port is None
        low, high = self.ports
        return low <= url.effective_port <= high

    def matches_path(self, path: str) -> bool:
        return self.paths is None or any(path.startswith(prefix) for prefix in self.paths)


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer for one URL."""

    allowed: bool
    reason: str
    rule: str
    entries: tuple[AllowEntry, ...] = ()

    @property
    def allow_private_addresses(self) -> bool:
        return any(entry.allow_private_addresses for entry in self.entries)


class ReadingPolicy:
    """The allow-list. An empty list allows nothing: greenroom reads no remote host by default."""

    def __init__(self, entries: Sequence[AllowEntry] = ()) -> None:
        self.entries: tuple[AllowEntry, ...] = tuple(entries)

    @classmethod
    def from_config(cls, reading: Mapping[str, Any] | None) -> ReadingPolicy:
        """Build the policy from the `backend.reading` subtree of the app config."""
        if reading is None:
            return cls()
        if not isinstance(reading, Mapping):
            raise ConfigError("must be an object", path="backend.reading")
        unknown = sorted(set(reading) - READING_KEYS)
        if unknown:
            raise ConfigError(f"unknown keys {unknown}", path="backend.reading")
        raw_entries = reading.get("allow")
        if raw_entries is None:
            return cls()
        if isinstance(raw_entries, str | bytes) or not isinstance(raw_entries, Sequence):
            raise ConfigError("must be a list", path=ALLOW_KEY)
        entries = [_parse_entry(index, raw) for index, raw in enumerate(raw_entries)]
        for entry in entries:
            if entry.allow_private_addresses:
                logger.warning(
                    "%s sets dangerouslyAllowPrivateAddresses: reads through it may reach "
                    "loopback and private networks",
                    entry.label,
                )
        return cls(entries)

    def evaluate(self, url: HttpUrl) -> Decision:
        """Whether `url` is allowed, and by which entries (or why not)."""
        if not self.entries:
            return Decision(
                False,
                f"{ALLOW_KEY} is empty, so no remote host may be read",
                rule="empty-allow-list",
            )
        matching: list[AllowEntry] = []
        best_stage, best_entry = -1, self.entries[0]
        for entry in self.entries:
            stage = _match_stage(entry, url)
            if stage is None:
                matching.append(entry)
            elif stage > best_stage:
                best_stage, best_entry = stage, entry
        if matching:
            return Decision(True, f"allowed by {matching[0].label}", rule="allowed", entries=tuple(matching))
        return _refusal(best_stage, best_entry, url)

    def require(self, url: HttpUrl) -> Decision:
        """`evaluate`, raising `UrlNotAllowedError` on refusal."""
        decision = self.evaluate(url)
        if not decision.allowed:
            if decision.rule in ("host", "empty-allow-list"):  # Backstage's wording, for clients and operators
                message = (
                    f"Reading from '{url.redacted()}' is not allowed. You may need to configure an integration "
                    "for the target host, or add it to the configured list of allowed hosts at "
                    "'backend.reading.allow'"
                )
            else:
                message = f"Reading from '{url.redacted()}' is not allowed: {decision.reason}"
            raise UrlNotAllowedError(message, rule=decision.rule)
        return decision


def _match_stage(entry: AllowEntry, url: HttpUrl) -> int | None:
    """None on a match, else the stage at which `entry` stopped matching."""
    if not entry.matches_host(url.host):
        return _STAGE_HOST
    if not entry.matches_port(url):
        return _STAGE_PORT
    if entry.paths is not None and url.ambiguous_path is not None:
        return _STAGE_AMBIGUOUS
    if not entry.matches_path(url.path):
        return _STAGE_PATH
    return None


def _refusal(stage: int, entry: AllowEntry, url: HttpUrl) -> Decision:
    if stage == _STAGE_PORT:
        allowed = (
            f"ports {entry.ports[0]}-{entry.ports[1]}"
            if entry.ports and entry.ports[0] != entry.ports[1]
            else f"port {entry.ports[0]}"
            if entry.ports
            else f"only the default port {DEFAULT_PORTS[url.scheme]} for {url.scheme}"
        )
        return Decision(
            False,
            f"port {url.effective_port} is not allowed for this host ({entry.label} allows {allowed})",
            rule="port",
        )
    if stage == _STAGE_AMBIGUOUS:
        return Decision(
            False,
            f"{url.ambiguous_path}, which {entry.label} cannot check against its paths",
            rule="ambiguous-path",
        )
    if stage == _STAGE_PATH:
        return Decision(
            False,
            f"path '{url.path}' is outside the paths of {entry.label}",
            rule="path",
        )
    return Decision(
        False,
        f"host '{url.host}' matches no entry in {ALLOW_KEY}",
        rule="host",
    )


def _parse_entry(index: int, raw: object) -> AllowEntry:
    where = f"{ALLOW_KEY}[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigError("must be an object with a 'host'", path=where)
    unknown = sorted(set(raw) - ENTRY_KEYS)
    if unknown:
        raise ConfigError(f"unknown keys {unknown}", path=where)
    pattern = raw.get("host")
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError("must be a non-empty string", path=f"{where}.host")
    host_text, port_text = _split_host_pattern(pattern, f"{where}.host")
    wildcard = host_text.startswith("*.")
    if wildcard:
        host_text = host_text[2:]
    if "*" in host_text:
        raise ConfigError(
            "only a leading '*.' wildcard is supported (e.g. '*.example.com')", path=f"{where}.host"
        )
    try:
        host = canonical_host(host_text)
    except GreenroomError as exc:
        raise ConfigError(f"invalid host: {exc.message}", path=f"{where}.host") from exc
    if wildcard and (":" in host or host.replace(".", "").isdigit()):
        raise ConfigError("a wildcard cannot be combined with an IP address", path=f"{where}.host")
    ports = _parse_ports(port_text, f"{where}.host") if port_text is not None else None
    allow_private = raw.get("dangerouslyAllowPrivateAddresses", False)
    if not isinstance(allow_private, bool):
        raise ConfigError("must be true or false", path=f"{where}.dangerouslyAllowPrivateAddresses")
    return AllowEntry(
        index=index,
        pattern=pattern,
        host=host,
        wildcard=wildcard,
        ports=ports,
        paths=_parse_paths(raw.get("paths"), f"{where}.paths"),
        allow_private_addresses=allow_private,
    )


def _split_host_pattern(pattern: str, where: str) -> tuple[str, str | None]:
    if pattern.startswith("["):
        close = pattern.find("]")
        if close < 0:
            raise ConfigError("malformed IPv6 address", path=where)
        rest = pattern[close + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigError("malformed host", path=where)
        return pattern[: close + 1], rest[1:] if rest else None
    if pattern.count(":") > 1:
        raise ConfigError("IPv6 addresses must be written in brackets, e.g. '[::1]:8080'", path=where)
    host, colon, port = pattern.partition(":")
    return host, port if colon else None


def _parse_ports(text: str, where: str) -> tuple[int, int]:
    match = _PORT_SPEC.fullmatch(text)
    if match is None:
        raise ConfigError(f"port must be a number or a range like 8000-8999, not '{text}'", path=where)
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if not 1 <= low <= high <= 65535:
        raise ConfigError(f"port range is not valid: '{text}'", path=where)
    return (low, high)


def _parse_paths(raw: object, where: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise ConfigError("must be a list of paths", path=where)
    paths: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not item.startswith("/"):
            raise ConfigError("must be a path starting with '/'", path=f"{where}[{i}]")
        try:
            path, ambiguous = normalize_path(item)
        except GreenroomError as exc:
            raise ConfigError(f"invalid path: {exc.message}", path=f"{where}[{i}]") from exc
        if ambiguous is not None:
            raise ConfigError(f"invalid path: {ambiguous}", path=f"{where}[{i}]")
        paths.append(path)
    return tuple(paths)
