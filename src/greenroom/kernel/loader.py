"""Find plugins through entry points and decide which may load.

Built-in plugins (entry points of the `greenroom` distribution itself) load unless listed
in `plugins.disabled`. Any other distribution's plugin loads only when `plugins.allow`
names it; an entry of the form `{id: x, sha256: ...}` also pins the distribution: the
SHA-256 of its installed `RECORD` file must match, and every file that `RECORD` lists with
a hash must still have that hash on disk. `greenroom plugins list` prints the pin to use.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from greenroom.errors import ConfigError
from greenroom.kernel.manifest import Plugin

ENTRY_POINT_GROUP = "greenroom.plugins"
BUILTIN_DISTRIBUTION = "greenroom"
log = logging.getLogger("greenroom.kernel")


@dataclass(frozen=True)
class Candidate:
    id: str
    entry_point: metadata.EntryPoint
    distribution: metadata.Distribution | None

    @property
    def builtin(self) -> bool:
        return self.distribution is not None and _dist_name(self.distribution) == BUILTIN_DISTRIBUTION

    @property
    def distribution_name(self) -> str:
        return _dist_name(self.distribution) if self.distribution else "?"


@dataclass(frozen=True)
class Refusal:
    id: str
    distribution: str
    reason: str


def _dist_name(dist: metadata.Distribution) -> str:
    return str(dist.metadata["Name"]).lower().replace("_", "-")


def discover(search_path: Sequence[str] | None = None) -> list[Candidate]:
    """Every `greenroom.plugins` entry point visible on `search_path` (default: sys.path)."""
    found: dict[str, Candidate] = {}
    dists: Iterable[metadata.Distribution] = (
        metadata.distributions(path=list(search_path)) if search_path is not None else metadata.distributions()
    )
    for dist in dists:
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP:
                continue
            if ep.name in found and found[ep.name].distribution_name != _dist_name(dist):
                raise ConfigError(
                    f"plugin id '{ep.name}' is claimed by both {found[ep.name].distribution_name} "
                    f"and {_dist_name(dist)}"
                )
            found[ep.name] = Candidate(id=ep.name, entry_point=ep, distribution=dist)
    return sorted(found.values(), key=lambda c: (not c.builtin, c.id))


def record_sha256(dist: metadata.Distribution) -> str | None:
    record = dist.read_text("RECORD")
    if record is None:
        return None
    return hashlib.sha256(record.encode("utf-8")).hexdigest()


def verify_record(dist: metadata.Distribution) -> list[str]:
    """Files whose content no longer matches the hash in the distribution's RECORD."""
    mismatched: list[str] = []
    for file in dist.files or []:
        if file.hash is None or file.hash.mode != "sha256":
            continue
        path = Path(str(file.locate()))
        try:
            digest = hashlib.sha256(path.read_bytes()).digest()
        except OSError:
            mismatched.append(str(file))
            continue
        expected = file.hash.value
        actual = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        if actual != expected:
            mismatched.append(str(file))
    return mismatched


def _allow_entries(plugins_config: dict[str, Any]) -> dict[str, str | None]:
    entries: dict[str, str | None] = {}
    for entry in plugins_config.get("allow", []) or []:
        if isinstance(entry, str):
            entries[entry] = None
        elif isinstance(entry, dict):
            entries[str(entry["id"])] = (entry.get("sha256") or None) and str(entry["sha256"]).lower()
    return entries


def select(candidates: Sequence[Candidate], plugins_config: dict[str, Any]) -> tuple[list[Candidate], list[Refusal]]:
    """Split candidates into those allowed to load and those refused (with the reason)."""
    allow = _allow_entries(plugins_config)
    disabled = set(plugins_config.get("disabled", []) or [])
    chosen: list[Candidate] = []
    refused: list[Refusal] = []
    for candidate in candidates:
        if candidate.id in disabled:
            refused.append(Refusal(candidate.id, candidate.distribution_name, "disabled in plugins.disabled"))
            continue
        if candidate.builtin and candidate.id not in allow:
            chosen.append(candidate)
            continue
        if candidate.id not in allow:
            refused.append(Refusal(candidate.id, candidate.distribution_name, "not listed in plugins.allow"))
            continue
        pin = allow[candidate.id]
        if pin is not None:
            problem = _pin_problem(candidate, pin)
            if problem:
                refused.append(Refusal(candidate.id, candidate.distribution_name, problem))
                continue
        chosen.append(candidate)
    missing = set(allow) - {c.id for c in candidates}
    for plugin_id in sorted(missing):
        refused.append(Refusal(plugin_id, "?", "listed in plugins.allow but not installed"))
    return chosen, refused


def _pin_problem(candidate: Candidate, pin: str) -> str | None:
    if candidate.distribution is None:
        return "distribution unknown, cannot check its sha256 pin"
    actual = record_sha256(candidate.distribution)
    if actual is None:
        return "distribution has no RECORD, cannot check its sha256 pin"
    if actual != pin:
        return f"sha256 pin mismatch: expected {pin}, installed {actual}"
    changed = verify_record(candidate.distribution)
    if changed:
        return f"installed files differ from the distribution's RECORD: {', '.join(changed[:5])}"
    return None


def load(candidate: Candidate) -> Plugin:
    obj = candidate.entry_point.load()
    if callable(obj) and not isinstance(obj, Plugin):
        obj = obj()
    if not isinstance(obj, Plugin):
        raise ConfigError(f"entry point {candidate.entry_point.value} is not a greenroom Plugin")
    if obj.manifest.id != candidate.id:
        raise ConfigError(
            f"entry point '{candidate.id}' loads a plugin whose manifest id is '{obj.manifest.id}'"
        )
    return obj
