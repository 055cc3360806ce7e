"""The loaded configuration: read-only data that knows where each value came from."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from greenroom.errors import ConfigError

T = TypeVar("T")
REDACTED = "[REDACTED]"
# Values shorter than this are not redacted by value in free text: replacing every "temp"
# or "7007" in a log line would hide more than it protects. Such values are still
# redacted wherever the config itself is shown, because that works by key.
MIN_REDACTABLE_LENGTH = 8
# `scheme://user:password@host`: the password of a URL (e.g. a database connection string).
_URL_PASSWORD = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^@\s]+)@")


def _url_password(value: str) -> str | None:
    match = _URL_PASSWORD.match(value)
    return match.group(2) if match else None
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value was written: a file and a 1-based line (None for the environment)."""

    source: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


def split_path(path: str) -> list[str | int]:
    """`a.b[2].c` -> ['a', 'b', 2, 'c']."""
    parts: list[str | int] = []
    for piece in filter(None, path.split(".")):
        name, *indexes = _INDEX.split(piece)
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes if i)
    return parts


def _lookup(data: Any, parts: Iterable[str | int]) -> Any:
    node = data
    for part in parts:
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


class Config:
    """Merged configuration with typed getters whose errors name the key and its file/line."""

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        origins: Mapping[str, Origin] | None = None,
        secret_paths: frozenset[str] = frozenset(),
        reference_paths: frozenset[str] = frozenset(),
        unresolved: Mapping[str, str] | None = None,
        sources: tuple[str, ...] = (),
        credential_paths: frozenset[str] | None = None,
    ) -> None:
        self._data = copy.deepcopy(dict(data))
        self._origins = dict(origins or {})
        self.secret_paths = secret_paths
        # Credentials are the secrets a plugin must declare to read: values under a
        # secret-named key or from a secret store. A value that is secret only because it came
        # from the environment or a file (a base URL, a client id, a CA bundle) is redacted
        # wherever config is shown or logged, but the plugin whose config it is may read it.
        self.credential_paths = secret_paths if credential_paths is None else credential_paths
        self.reference_paths = reference_paths
        self.unresolved = dict(unresolved or {})
        self.sources = sources
        self._secret_values = frozenset(self._collect_secret_values())

    # -- reading -----------------------------------------------------------------------
    def get(self, path: str, default: Any = None) -> Any:
        value = _lookup(self._data, split_path(path))
        return default if value is None else copy.deepcopy(value)

    def has(self, path: str) -> bool:
        return _lookup(self._data, split_path(path)) is not None

    def origin(self, path: str) -> Origin | None:
        """The file and line of `path`, or of its nearest ancestor that has one."""
        parts = path
        while parts:
            if parts in self._origins:
                return self._origins[parts]
            parts = parts.rsplit(".", 1)[0] if "." in parts else ""
        return None

    def where(self, path: str) -> str:
        origin = self.origin(path)
        return f" (at {origin})" if origin else ""

    def _typed(self, path: str, kinds: type | tuple[type, ...], wanted: str, default: Any, required: bool) -> Any:
        value = self.get(path)
        if value is None:
            if required:
                raise ConfigError(f"missing required config value{self.where(path)}", path=path)
            return default
        if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
            raise ConfigError(f"expected {wanted}, got boolean{self.where(path)}", path=path)
        if not isinstance(value, kinds):
            raise ConfigError(f"expected {wanted}, got {type(value).__name__}{self.where(path)}", path=path)
        return value

    def get_str(self, path: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._typed(path, str, "a string", default, required)
        return value if isinstance(value, str) or value is None else str(value)

    def get_bool(self, path: str, default: bool = False) -> bool:
        return bool(self._typed(path, bool, "a boolean", default, False))

    def get_int(self, path: str, default: int | None = None, *, required: bool = False) -> int | None:
        value = self._typed(path, int, "an integer", default, required)
        return None if value is None else int(value)

    def get_number(self, path: str, default: float | None = None) -> float | None:
        value = self._typed(path, (int, float), "a number", default, False)
        return None if value is None else float(value)

    def get_list(self, path: str) -> list[Any]:
        value = self._typed(path, list, "a list", [], False)
        return list(value)

    def get_mapping(self, path: str) -> dict[str, Any]:
        value = self._typed(path, dict, "an object", {}, False)
        return dict(value)

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    # -- secrets -----------------------------------------------------------------------
    def is_secret(self, path: str) -> bool:
        """Redacted wherever config is shown or logged."""
        return _covered(path, self.secret_paths)

    def is_credential(self, path: str) -> bool:
        """A secret a plugin gets only by declaring it (see `credential_paths`)."""
        return _covered(path, self.credential_paths)

    def _collect_secret_values(self) -> Iterable[str]:
        for leaf in _leaves(self._data):  # passwords written into URLs (database connections)
            if isinstance(leaf, str):
                password = _url_password(leaf)
                if password is not None and len(password) >= 4:
                    yield password
        for path in self.secret_paths:
            value = _lookup(self._data, split_path(path))
            for leaf in _leaves(value):
                if isinstance(leaf, str) and len(leaf) >= MIN_REDACTABLE_LENGTH:
                    yield leaf
                    stripped = leaf.strip()
                    if stripped != leaf and len(stripped) >= MIN_REDACTABLE_LENGTH:
                        yield stripped

    @property
    def secret_values(self) -> frozenset[str]:
        return self._secret_values

    def redacted(self) -> dict[str, Any]:
        """A copy safe to show: every secret value replaced by a marker."""

        def walk(value: Any, path: str) -> Any:
            if self.is_secret(path) and not isinstance(value, dict):
                return REDACTED
            if isinstance(value, dict):
                return {k: walk(v, f"{path}.{k}" if path else k) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v, f"{path}[{i}]") for i, v in enumerate(value)]
            if isinstance(value, str) and _url_password(value) is not None:
                return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", value)
            return value

        result: dict[str, Any] = walk(self._data, "")
        return result

    def redact_text(self, text: str) -> str:
        for secret in sorted(self._secret_values, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    # -- derived configs ---------------------------------------------------------------
    def with_values(self, values: Mapping[str, Any]) -> Config:
        """A copy with dotted keys set (used for command-line overrides).

        A value under a secret-named key is a secret like one loaded from a file, and the
        keys below a replaced path no longer point at the file that set them.
        """
        from greenroom.config.loader import SECRET_KEY_PATTERN

        data = self.as_dict()
        origins = dict(self._origins)
        secret_paths = set(self.secret_paths)
        credential_paths = set(self.credential_paths)
        for path, value in values.items():
            parts = [p for p in split_path(path) if isinstance(p, str)]
            if not parts or "[" in path:
                raise ConfigError("overrides take dotted object keys, not list indexes", path=path)
            node = data
            for part in parts[:-1]:
                nxt = node.get(part)
                if not isinstance(nxt, dict):
                    nxt = {}
                    node[part] = nxt
                node = nxt
            node[parts[-1]] = value
            for known in [p for p in origins if p.startswith((path + ".", path + "["))]:
                del origins[known]
            origins[path] = Origin("command line", None)
            named = set(_secret_named(value, path, SECRET_KEY_PATTERN))
            secret_paths.update(named)
            credential_paths.update(named)
        return Config(
            data,
            origins=origins,
            secret_paths=frozenset(secret_paths),
            reference_paths=self.reference_paths,
            unresolved=self.unresolved,
            sources=self.sources,
            credential_paths=frozenset(credential_paths),
        )


def _covered(path: str, prefixes: frozenset[str]) -> bool:
    return any(path == p or path.startswith((p + ".", p + "[")) for p in prefixes)


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield value


def _secret_named(value: Any, path: str, pattern: re.Pattern[str]) -> Iterable[str]:
    """Paths at or below `path` whose key name says secret (as the loader marks them)."""
    key = path.rsplit(".", 1)[-1]
    if pattern.search(key) and not isinstance(value, dict | bool):
        yield path
    if isinstance(value, dict):
        for child, item in value.items():
            yield from _secret_named(item, f"{path}.{child}", pattern)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                for child, sub in item.items():
                    yield from _secret_named(sub, f"{path}[{i}].{child}", pattern)
