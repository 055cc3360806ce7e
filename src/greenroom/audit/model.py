"""The audit event: Backstage's auditor fields plus what a tamper-evident trail needs.

Backstage's auditor service (`@backstage/backend-plugin-api` `AuditorService`) writes events
with `eventId` (kebab-case, e.g. `entity-mutate`), `severityLevel` (low/medium/high/critical),
`actor` (`actorId`, `ip`, `hostname`, `userAgent`), `request` (`url`, `method`), `meta`,
`status` (initiated/succeeded/failed), `plugin` and `error`. greenroom keeps those names and
adds, for every stored event: a unique `id`, a `sequence` number, a `timestamp`, the `action`
(Backstage's `meta.actionType`: create, update, delete, ...), the `target` it acted on, the
`requestId`, `actor.type`, and the hash chain (`prevHash`, `hash`).

The hash of an event is SHA-256 (hashlib) over a canonical JSON serialization (sorted keys,
no whitespace, UTF-8) of every stored field except the hash itself, including the previous
event's hash: changing, removing or reordering any stored event changes every hash after it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

import orjson

Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["initiated", "succeeded", "failed"]
ActorType = Literal["user", "service", "local-admin", "system", "anonymous", "cli"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
STATUSES: tuple[Status, ...] = ("initiated", "succeeded", "failed")
GENESIS_HASH = "0" * 64
HASH_DOMAIN = b"greenroom-audit-v1\n"
MAX_META_BYTES = 32 * 1024
MAX_TEXT = {"actor_id": 600, "ip": 64, "hostname": 255, "user_agent": 300, "url": 2000, "method": 16,
            "request_id": 128, "target": 1000, "event_id": 100, "action": 64, "plugin": 64, "error": 4000}


def canonical_bytes(value: Any) -> bytes:
    """The one serialization hashes are computed over: sorted keys, no spaces, UTF-8, no NaN."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # integers beyond 64 bits: the standard library's form
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode()


def canonical_json(value: Any) -> str:
    return canonical_bytes(value).decode()


MAX_META_DEPTH = 254  # orjson's own limit: the fast path below and `_jsonable` agree on it
# Plain JSON values only: dataclasses, datetimes and subclasses of dict, list, str and int (whose
# own methods orjson would bypass) raise, and take the slow path.
_PLAIN = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
          | orjson.OPT_PASSTHROUGH_SUBCLASS)


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Plain JSON: other types (and NaN/Infinity) become strings, keys become strings, enums
    their values."""
    if depth > MAX_META_DEPTH:
        return "[too deep]"
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_jsonable(v, depth + 1) for v in items]
    return str(value)


def meta_text(meta: Mapping[str, Any] | None) -> str:
    """`meta` as stored: canonical JSON; values JSON cannot carry become strings; huge ones are cut."""
    if not meta:
        return "{}"
    try:
        # The common case, serialized as it is. A `null` in it may have been NaN (orjson writes
        # null, `_jsonable` a string), and anything but plain JSON raises: both go the long way.
        data = orjson.dumps(meta, option=_PLAIN)
        if b"null" in data:
            data = canonical_bytes(_jsonable(meta))
    except (TypeError, orjson.JSONEncodeError):
        data = canonical_bytes(_jsonable(meta))
    if len(data) > MAX_META_BYTES:
        return canonical_json({"truncated": True, "bytes": len(data)})
    return data.decode()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a user (entity ref), a service (`external:<subject>`), the system, or the CLI."""

    actor_id: str | None = None
    type: ActorType | None = None
    ip: str | None = None
    hostname: str | None = None
    user_agent: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"actorId": self.actor_id, "type": self.type, "ip": self.ip, "hostname": self.hostname,
                "userAgent": self.user_agent}


SYSTEM_ACTOR = Actor(actor_id="greenroom:system", type="system")


def cli_actor() -> Actor:
    """The operator at a terminal: `cli:<login name>`."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return Actor(actor_id=f"cli:{user}", type="cli", hostname=socket.gethostname())


@dataclass(frozen=True, slots=True)
class RequestInfo:
    url: str
    method: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What a caller records; the store adds id, sequence, timestamp and hashes."""

    event_id: str
    status: Status = "succeeded"
    severity: Severity = "low"
    plugin: str = "core"
    actor: Actor = SYSTEM_ACTOR
    action: str | None = None
    target: str | None = None
    request: RequestInfo | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"audit status must be one of {', '.join(STATUSES)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"audit severity must be one of {', '.join(SEVERITIES)}")
        if not self.event_id:
            raise ValueError("audit events need an eventId")


@dataclass(slots=True)
class StoredEvent:
    """One row of the trail, as stored and hashed (treat it as read-only: it is not frozen only
    because a frozen dataclass of 21 fields costs 1.6 us more to build, with every change)."""

    seq: int
    id: str
    time_us: int
    event_id: str
    action: str | None
    status: str
    severity: str
    plugin: str
    actor_id: str | None
    actor_type: str | None
    ip: str | None
    hostname: str | None
    user_agent: str | None
    request_url: str | None
    request_method: str | None
    request_id: str | None
    target: str | None
    meta: str
    error: str | None
    prev_hash: str
    hash: str

    @classmethod
    def build(cls, event: AuditEvent, *, seq: int, id: str, time_us: int, prev_hash: str) -> StoredEvent:
        """The stored form of `event` at position `seq` after `prev_hash` (runs with every change:
        texts are cut only when too long, and the object is built from the hashed row)."""
        request, actor = event.request, event.actor
        url, method, request_id = (request.url, request.method, request.request_id) if request else (None, None, None)
        row: tuple[Any, ...] = (
            seq, id, time_us, event.event_id, event.action, event.status, event.severity, event.plugin,
            actor.actor_id, actor.type, actor.ip, actor.hostname, actor.user_agent, url, method, request_id,
            event.target, meta_text(event.meta), event.error, prev_hash)
        for index, limit in _LIMITS:
            value = row[index]
            if value is not None and len(value) > limit:
                row = (*row[:index], value[:limit], *row[index + 1:])
        fields = dict(zip(_HASHED, row, strict=True))
        return cls(*row, hashlib.sha256(HASH_DOMAIN + canonical_bytes(fields)).hexdigest())  # type: ignore[call-arg]

    @classmethod
    def from_row(cls, row: Any) -> StoredEvent:
        return cls(**{name: getattr(row, name) for name in cls.__slots__})

    def hashed_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if name != "hash"}

    def computed_hash(self) -> str:
        return content_hash(self.hashed_fields())

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.time_us / 1_000_000, UTC)

    def to_json(self) -> dict[str, Any]:
        """The wire form (API, export, forwarding): Backstage's field names plus greenroom's."""
        out: dict[str, Any] = {
            "isAuditEvent": True,
            "id": self.id,
            "sequence": self.seq,
            "timestamp": iso_time(self.time_us),
            "eventId": self.event_id,
            "action": self.action,
            "status": self.status,
            "severityLevel": self.severity,
            "plugin": self.plugin,
            "actor": {"actorId": self.actor_id, "type": self.actor_type, "ip": self.ip, "hostname": self.hostname,
                      "userAgent": self.user_agent},
            "target": self.target,
            "requestId": self.request_id,
            "meta": json.loads(self.meta),
            "prevHash": self.prev_hash,
            "hash": self.hash,
        }
        if self.request_url is not None:
            out["request"] = {"url": self.request_url, "method": self.request_method}
        if self.error is not None:
            out["error"] = self.error
        return out


_HASHED = tuple(name for name in StoredEvent.__slots__ if name != "hash")
# (position in `_HASHED`, longest text stored) of every text a caller supplies
_LIMITS = tuple((_HASHED.index(column), MAX_TEXT[key]) for column, key in (
    ("event_id", "event_id"), ("action", "action"), ("plugin", "plugin"), ("actor_id", "actor_id"), ("ip", "ip"),
    ("hostname", "hostname"), ("user_agent", "user_agent"), ("request_url", "url"), ("request_method", "method"),
    ("request_id", "request_id"), ("target", "target"), ("error", "error")))


def content_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(HASH_DOMAIN + canonical_bytes(dict(fields))).hexdigest()


def iso_time(time_us: int) -> str:
    stamp = datetime.fromtimestamp(time_us / 1_000_000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_us % 1_000_000:06d}Z"
