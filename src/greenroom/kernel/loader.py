"""Find plugins through entry points and decide which may load.

Built-in plugins (entry points of the `greenroom` distribution itself that load code from
the `greenroom` package) load unless listed in `plugins.disabled`. Any other plugin loads
only when `plugins.allow` names it; an entry of the form `{id: x, sha256: ...}` also pins the
distribution: the SHA-256 of its installed `RECORD` file, byte for byte (what `sha256sum`
prints), must match, and every file that `RECORD` lists must still have the hash it lists
(only `RECORD` itself and `.pyc` files may go without one). `greenroom plugins list` prints
the pin to use.

When two distributions on the search path declare the same plugin id and their names
differ, that is an error; a distribution seen twice counts once (the first, as for an
import), and one that only calls itself "greenroom" never displaces a real built-in.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from greenroom.errors import ConfigError
from greenroom.kernel.manifest import Plugin

ENTRY_POINT_GROUP = "greenroom.plugins"
BUILTIN_DISTRIBUTION = "greenroom"
BUILTIN_PACKAGE = "greenroom"
# PEP 376 / the wheel spec: RECORD hashes are sha256 or stronger, never md5 or sha1.
_RECORD_HASHES = {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
log = logging.getLogger("greenroom.kernel")


@dataclass(frozen=True)
class Candidate:
    id: str
    entry_point: metadata.EntryPoint
    distribution: metadata.Distribution | None

    @property
    def builtin(self) -> bool:
        # The name alone is not enough: any wheel can call itself "greenroom" in METADATA.
        # A built-in's code also lives in the greenroom package.
        module = self.entry_point.value.split(":", 1)[0].strip()
        return (
            self.distribution is not None
            and _dist_name(self.distribution) == BUILTIN_DISTRIBUTION
            and (module == BUILTIN_PACKAGE or module.startswith(BUILTIN_PACKAGE + "."))
        )

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
    """Every `greenroom.plugins` entry point visible on `search_path` (default: sys.path).

    Remembered per path (reading every installed distribution's metadata takes tens of
    milliseconds, and start-up asks several times); a changed `sys.path` looks again.
    """
    key = (tuple(search_path) if search_path is not None else None, tuple(sys.path))
    if key not in _DISCOVERED:
        _DISCOVERED[key] = _discover(search_path)
    return list(_DISCOVERED[key])


_DISCOVERED: dict[tuple[tuple[str, ...] | None, tuple[str, ...]], list[Candidate]] = {}


def _discover(search_path: Sequence[str] | None) -> list[Candidate]:
    found: dict[str, Candidate] = {}
    dists: Iterable[metadata.Distribution] = (
        metadata.distributions(path=list(search_path)) if search_path is not None else metadata.distributions()
    )
    for dist in dists:
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP:
                continue
            candidate = Candidate(id=ep.name, entry_point=ep, distribution=dist)
            if ep.name in found:
                if found[ep.name].distribution_name != candidate.distribution_name:
                    raise ConfigError(
                        f"plugin id '{ep.name}' is claimed by both {found[ep.name].distribution_name} "
                        f"and {candidate.distribution_name}"
                    )
                if found[ep.name].builtin or not candidate.builtin:
                    continue  # the same distribution again further down the path, or an impostor
            found[ep.name] = candidate
    return sorted(found.values(), key=lambda c: (not c.builtin, c.id))


def _record_bytes(dist: metadata.Distribution) -> bytes | None:
    """The installed RECORD as it is on disk (pip writes it with CRLF line ends)."""
    # `read_text` would translate line ends, and then the pin would not be the file's hash.
    location = getattr(dist, "_path", None)  # PathDistribution: its .dist-info directory
    if isinstance(location, str | os.PathLike):
        try:
            return (Path(location) / "RECORD").read_bytes()
        except OSError:
            return None
    text = dist.read_text("RECORD")
    return None if text is None else text.encode("utf-8")


def record_sha256(dist: metadata.Distribution) -> str | None:
    record = _record_bytes(dist)
    return None if record is None else hashlib.sha256(record).hexdigest()


def _unhashed_allowed(path: str) -> bool:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name in {"RECORD", "RECORD.jws", "RECORD.p7s"} or name.endswith(".pyc")


def verify_record(dist: metadata.Distribution, record: bytes | None = None) -> list[str]:
    """Files that no longer match the hash the distribution's RECORD lists for them.

    Checked against the same RECORD bytes the pin was compared with, so a RECORD swapped
    between the two reads cannot pass. A file listed without a hash (other than RECORD and
    bytecode) or with a weak or unknown hash counts as not matching.
    """
    record = _record_bytes(dist) if record is None else record
    if record is None:
        return ["RECORD"]
    mismatched: list[str] = []
    for row in csv.reader(record.decode("utf-8", errors="replace").splitlines()):
        if not row or not row[0]:
            continue
        name, listed = row[0], (row[1] if len(row) > 1 else "")
        if not listed:
            if not _unhashed_allowed(name):
                mismatched.append(f"{name} (no hash)")
            continue
        mode, _, expected = listed.partition("=")
        if mode not in _RECORD_HASHES:
            mismatched.append(f"{name} (hash {mode})")
            continue
        try:
            digest = hashlib.new(mode, Path(str(dist.locate_file(name))).read_bytes()).digest()
        except OSError:
            mismatched.append(name)
            continue
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii") != expected:
            mismatched.append(name)
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
    record = _record_bytes(candidate.distribution)
    if record is None:
        return "distribution has no RECORD, cannot check its sha256 pin"
    actual = hashlib.sha256(record).hexdigest()
    if actual != pin:
        return f"sha256 pin mismatch: expected {pin}, installed {actual}"
    changed = verify_record(candidate.distribution, record)
    if changed:
        return f"installed files differ from the distribution's RECORD: {', '.join(changed[:5])}"
    return None


def load(candidate: Candidate) -> Plugin:
    try:
        obj = candidate.entry_point.load()
        if callable(obj) and not isinstance(obj, Plugin):
            obj = obj()
    except (ImportError, ValueError, TypeError, AttributeError) as exc:
        # A plugin that cannot even be built (a bad manifest, a missing dependency) stops
        # start-up with its name, not with a traceback from inside its module.
        raise ConfigError(f"plugin {candidate.id} ({candidate.distribution_name}) could not be loaded: {exc}") from exc
    if not isinstance(obj, Plugin):
        raise ConfigError(f"entry point {candidate.entry_point.value} is not a greenroom Plugin")
    if obj.manifest.id != candidate.id:
        raise ConfigError(
            f"entry point '{candidate.id}' loads a plugin whose manifest id is '{obj.manifest.id}'"
        )
    return obj
