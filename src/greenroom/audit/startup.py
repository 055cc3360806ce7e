"""At start-up: record the loaded plugin set and the configuration when they changed.

Policy files the configuration names (RBAC CSV and conditional policies) are compared by
digest, so a policy edited while the server was down is recorded at the next start.

The configuration is compared in its redacted form (what `greenroom config print` shows), so
the trail names every key that was added, removed or changed, and never a secret value; a
changed secret *value* is not detected (its key, and whether it is set, are).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from greenroom import __version__
from greenroom.audit import tables
from greenroom.audit.model import SYSTEM_ACTOR, AuditEvent, canonical_json
from greenroom.audit.service import AuditService
from greenroom.config.model import Config

MAX_CHANGED_KEYS = 200
# Files the configuration names and the portal reads at run time: a change to one while the
# server was down shows at the next start as a changed key `files.<config key>`.
WATCHED_FILES = ("permission.rbac.policies-csv-file", "permission.rbac.conditionalPoliciesFile")


def _file_digests(config: Config) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in WATCHED_FILES:
        name = config.get(key)
        if not isinstance(name, str) or not name:
            continue
        try:
            with open(name, "rb") as handle:
                out[key] = "sha256:" + hashlib.sha256(handle.read()).hexdigest()
        except OSError as exc:
            out[key] = f"unreadable: {type(exc).__name__}"
    return out


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_leaves(item, f"{path}.{key}" if path else str(key)))
        return out or ({path: {}} if path else {})
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(_leaves(item, f"{path}[{index}]"))
        return out or ({path: []} if path else {})
    return {path: value}


def changed_keys(before: Any, after: Any) -> list[str]:
    old, new = _leaves(before), _leaves(after)
    return sorted(k for k in old.keys() | new.keys() if old.get(k, ...) != new.get(k, ...))


def _state(connection: Connection, key: str) -> str | None:
    s = tables.state
    row = connection.execute(select(s.c.value).where(s.c.key == key)).first()
    return None if row is None else str(row.value)


def _put_state(connection: Connection, key: str, value: str) -> None:
    s = tables.state
    if connection.execute(update(s).where(s.c.key == key).values(value=value)).rowcount == 0:
        connection.execute(s.insert().values(key=key, value=value))


def record_start(service: AuditService, config: Config, plugins: Sequence[Any]) -> list[str]:
    """Append `config-change` / `plugin-change` events when either differs from the last start."""
    redacted = config.redacted()
    files = _file_digests(config)
    if files:
        redacted = {**redacted, "files": files}
    config_text = canonical_json(orjson.loads(orjson.dumps(redacted, default=str)))
    fingerprint = hashlib.sha256(config_text.encode()).hexdigest()
    plugin_set = sorted(({"id": p.id, "version": p.manifest.version} for p in plugins), key=lambda p: p["id"])
    plugins_text = canonical_json(plugin_set)
    recorded: list[str] = []
    with service.database.engine.begin() as connection:
        h = tables.head
        connection.execute(update(h).where(h.c.id == 1).values(seq=h.c.seq))  # serialise concurrent starts
        events: list[AuditEvent] = []
        previous_config = _state(connection, "config")
        if previous_config != config_text:
            before = orjson.loads(previous_config) if previous_config else {}
            keys = changed_keys(before, redacted)
            events.append(AuditEvent(
                event_id="config-change", severity="high" if previous_config else "medium", action="update",
                target="app-config", actor=SYSTEM_ACTOR,
                meta={"fingerprint": fingerprint, "firstStart": previous_config is None, "version": __version__,
                      "changedKeys": keys[:MAX_CHANGED_KEYS], "changedKeyCount": len(keys)},
            ))
            _put_state(connection, "config", config_text)
        previous_plugins = _state(connection, "plugins")
        if previous_plugins != plugins_text:
            old = {p["id"]: p["version"] for p in orjson.loads(previous_plugins)} if previous_plugins else {}
            new = {p["id"]: p["version"] for p in plugin_set}
            events.append(AuditEvent(
                event_id="plugin-change", severity="high" if previous_plugins else "medium", action="update",
                target="plugins", actor=SYSTEM_ACTOR,
                meta={"plugins": plugin_set, "added": sorted(new.keys() - old.keys()),
                      "removed": sorted(old.keys() - new.keys()),
                      "upgraded": sorted(k for k in new.keys() & old.keys() if new[k] != old[k]),
                      "firstStart": previous_plugins is None},
            ))
            _put_state(connection, "plugins", plugins_text)
        if events and service.enabled:
            service.store.append(connection, events)
            recorded = [e.event_id for e in events]
    return recorded
