"""What a check sees: the merged config, where each key was written, and the optional inputs.

The config is loaded without the auditor's environment, so a `${VAR}` that the deployment
fills in is *unresolved* here: the key is absent from the merged data but recorded in
`Config.unresolved`. Checks ask `is_reference` (did this value come from the environment, a
file or a secret store?) rather than looking at the value, and treat unresolved values as
unknown rather than as missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from greenroom.config.model import Config, split_path
from greenroom.config.secrets import UNRESOLVED_PREFIX
from greenroom.posture.model import Flavor, Location
from greenroom.posture.osv import Advisory
from greenroom.posture.packages import Inventory, PythonPlugin
from greenroom.posture.sources import ConfigSource, OuterTree

_UNRESOLVED_FILE = "<unresolved file: "
_DEFAULT_SUBSTITUTION = re.compile(r"\$\{\s*[A-Za-z_][A-Za-z0-9_]*\s*:?[-=]")
MAX_RAW_LINE_FILE = 2 * 1024 * 1024


def lookup(data: Any, path: str) -> Any:
    node = data
    for part in split_path(path):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        if node is None:
            return None
    return node


def _under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith((prefix + ".", prefix + "["))


def _prefixes(path: str) -> list[str]:
    """`a.b[0].c` -> ['a', 'a.b', 'a.b[0]', 'a.b[0].c']: the path and each ancestor."""
    out = []
    for index, char in enumerate(path):
        if char in ".[" and index:
            out.append(path[:index])
    out.append(path)
    return out


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


@dataclass
class AuditContext:
    config: Config
    flavor: Flavor
    production: bool
    production_reason: str = ""
    sources: tuple[ConfigSource, ...] = ()
    outer: tuple[OuterTree, ...] = ()
    inventory: Inventory | None = None
    advisories: list[Advisory] | None = None
    publish_dates: dict[str, date] | None = None
    installed_plugins: list[PythonPlugin] | None = None
    today: date = field(default_factory=date.today)
    secret_values: set[str] = field(default_factory=set)
    _data: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lines: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False)
    _references: frozenset[str] | None = field(default=None, init=False, repr=False)
    _all_leaves: list[tuple[str, str, Any]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._data = self.config.as_dict()

    # -- values ---------------------------------------------------------------------------
    @property
    def data(self) -> dict[str, Any]:
        return self._data

    def get(self, path: str, default: Any = None) -> Any:
        value = lookup(self._data, path)
        return default if value is None else value

    def mapping(self, path: str) -> dict[str, Any]:
        value = self.get(path)
        return value if isinstance(value, dict) else {}

    def items(self, path: str) -> list[Any]:
        value = self.get(path)
        return value if isinstance(value, list) else []

    def text(self, path: str) -> str | None:
        value = self.get(path)
        return value if isinstance(value, str) and not self.is_placeholder_value(value) else None

    def unresolved(self, path: str) -> str | None:
        """The reference text (`${VAR}`, `$env: X`...) when `path` came from one not resolved here."""
        return self.config.unresolved.get(path)

    def unresolved_under(self, path: str) -> dict[str, str]:
        return {p: t for p, t in self.config.unresolved.items() if _under(p, path)}

    def present(self, path: str) -> bool:
        """The key is configured: with a value, or with a reference this audit cannot resolve."""
        return lookup(self._data, path) is not None or bool(self.unresolved_under(path))

    @staticmethod
    def is_placeholder_value(value: Any) -> bool:
        return isinstance(value, str) and value.startswith((UNRESOLVED_PREFIX, _UNRESOLVED_FILE))

    def is_reference(self, path: str) -> bool:
        """The value at `path` comes from the environment, a file or a secret store."""
        if self.is_placeholder_value(self.get(path)):
            return True
        if self._references is None:
            self._references = frozenset({*self.config.reference_paths, *self.config.unresolved} - {""})
        if not any(prefix in self._references for prefix in _prefixes(path)):
            return False
        # The loader records references per key, not per file: a later file may have
        # replaced `${VAR}` with a literal. The line the final value was written on tells.
        return not (path in self._references and self.get(path) is not None and self._literal_on_line(path))

    def _literal_on_line(self, path: str) -> bool:
        key = path.rsplit(".", 1)[-1]
        line = self.raw_line(self.location(path))
        if line is None or "[" in key:
            return False
        match = re.match(rf"^\s*(?:-\s+)?[\"']?{re.escape(key)}[\"']?\s*:\s*(?P<value>[^#]*?)\s*(?:#.*)?$", line)
        if match is None:
            return False
        value = match["value"]
        return bool(value) and not value.startswith(("|", ">", "{", "&", "*")) and "$" not in value

    def from_default(self, path: str) -> bool:
        """A `${VAR:-fallback}` whose fallback is what the config holds without the environment."""
        if path not in self.config.reference_paths or path in self.config.unresolved:
            return False
        location = self.location(path)
        line = self.raw_line(location)
        return bool(line and _DEFAULT_SUBSTITUTION.search(line))

    def leaves(self, root: str = "") -> Iterator[tuple[str, str, Any]]:
        """(path, key name, value) of every scalar under `root` (list items take their list's key)."""
        if not root:
            if self._all_leaves is None:
                self._all_leaves = list(self._walk_leaves(""))
            yield from self._all_leaves
            return
        yield from self._walk_leaves(root)

    def _walk_leaves(self, root: str) -> Iterator[tuple[str, str, Any]]:

        def walk(value: Any, path: str, key: str) -> Iterator[tuple[str, str, Any]]:
            if isinstance(value, dict):
                for k, v in value.items():
                    yield from walk(v, join(path, k), str(k))
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    yield from walk(v, join(path, i), key)
            elif value is not None:
                yield path, key, value

        start = self.get(root) if root else self._data
        yield from walk(start, root, root.rsplit(".", 1)[-1] if root else "")

    def listen_host(self) -> str | None:
        """The interface the backend binds to ('' for all), or None when a reference decides it."""
        listen = self.get("backend.listen")
        if isinstance(listen, str):
            return listen.rpartition(":")[0].strip("[]")
        if isinstance(listen, dict):
            if self.unresolved("backend.listen.host"):
                return None
            configured = listen.get("host")
            return str(configured) if configured is not None else ""
        if self.unresolved("backend.listen"):
            return None
        return "127.0.0.1" if self.flavor == "greenroom" else ""

    # -- places -----------------------------------------------------------------------------
    def _remap(self, source: str, line: int | None) -> tuple[str, int | None]:
        for candidate in self.sources:
            if str(candidate.load_path) == source:
                return str(candidate.path), candidate.fixed_line or line
        return source, line

    def location(self, path: str | None) -> Location:
        """File and line of `path` (or of its nearest configured ancestor, or of the first file)."""
        if path:
            origin = self.config.origin(path)
            if origin is not None and origin.line is not None:
                file, line = self._remap(origin.source, origin.line)
                return Location(file=file, line=line, key=path)
            if origin is not None:
                return Location(file=origin.source, line=None, key=path)
        first = self.sources[0] if self.sources else None
        if first is not None:
            return Location(file=str(first.path), line=1, key=path)
        if self.config.sources:
            return Location(file=self.config.sources[0], line=1, key=path)
        return Location(file=None, line=None, key=path)

    def files(self) -> list[str]:
        """Every file whose text the config came from (the given files and included ones)."""
        seen: list[str] = []
        for given in self.sources:
            if str(given.path) not in seen:
                seen.append(str(given.path))
        loaded = list(self.config.sources)
        for path in (*(p for p, _k, _v in self.leaves()), *self.config.unresolved):
            origin = self.config.origin(path)
            if origin is not None and origin.line is not None and origin.source not in loaded:
                loaded.append(origin.source)
        for name in loaded:
            mapped, _ = self._remap(name, None)
            if mapped not in seen:
                seen.append(mapped)
        return seen

    def file_lines(self, file: str) -> list[str]:
        if file not in self._lines:
            try:
                path = Path(file)
                if path.stat().st_size > MAX_RAW_LINE_FILE:
                    self._lines[file] = []
                else:
                    self._lines[file] = path.read_text(encoding="utf-8-sig").splitlines()
            except (OSError, UnicodeDecodeError):
                self._lines[file] = []
        return self._lines[file]

    def raw_line(self, location: Location) -> str | None:
        if not location.file or not location.line:
            return None
        lines = self.file_lines(location.file)
        return lines[location.line - 1] if 0 < location.line <= len(lines) else None

    # -- convenience -------------------------------------------------------------------------
    def remember_secret(self, value: Any) -> None:
        """A literal secret seen by a check: any text about to be shown is scrubbed of it."""
        text = str(value).strip()
        if len(text) >= 6:
            self.secret_values.add(text)

    def redact_text(self, text: str) -> str:
        text = self.config.redact_text(text)
        for secret in sorted(self.secret_values, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "[REDACTED]")
        return text
