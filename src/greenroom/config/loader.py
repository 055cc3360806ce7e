"""Read Backstage-style `app-config*.yaml` files into one `Config`.

Semantics follow Backstage's config loader:

* Files are merged in order; a later file overrides an earlier one. Objects merge key by
  key, arrays and scalars are replaced whole, and `null` removes the key (so a production
  overlay can switch off something the base file configured, e.g. `auth.providers.guest: null`).
* `${VAR}` inside strings is replaced with the environment variable (trimmed); if any
  variable in a string is unset, the whole value is unset. `$${VAR}` is a literal `${VAR}`.
* `{$env: VAR}`, `{$file: path}` and `{$include: path[#dotted.key]}` are replaced by the
  variable, the file's text, or the parsed YAML/JSON file (or part of it). Paths are
  relative to the file that names them. Includes may nest, up to a depth limit, and may
  not form a cycle.
* `APP_CONFIG_<key_path>` environment variables override keys (`_` separates path parts;
  the value is parsed as JSON and falls back to a string; an empty value is ignored and
  `null` is refused, as in Backstage).

greenroom adds secret references resolved from a secret store (see `secrets.py`):
`{$vault: {path: ..., key: ...}}` and `{$awsSecret: {secretId: ..., key: ...}}`.

Every value remembers where it came from (file and line) and whether it is a secret (it
came from `$env`, `$file`, `${VAR}` or a secret store, or sits under a key whose name says
secret), so errors can point at the right line and secrets can be redacted everywhere.
Of those, the ones under a secret-named key or from a secret store are also credentials
(`credential_paths`): a plugin reads them only by declaring them.
`reference_paths` are the values that are not literals of a config file: those from `$env`,
`$file`, `${VAR}` or a secret store (an `$include`d file is config like any other, so its
literals stay literals).

Input is bounded: each file's size, nesting depth, `$include` depth and the number of
included files, so a hostile or broken file fails with a clear error instead of exhausting
memory or the stack.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from greenroom.config.model import Config, Origin, split_path
from greenroom.config.secrets import SecretRef, SecretResolver
from greenroom.errors import ConfigError
from greenroom.yamlsafe import YamlError, iter_nodes

MAX_CONFIG_BYTES = 2 * 1024 * 1024
MAX_INCLUDE_DEPTH = 32
MAX_INCLUDED_FILES = 256
# Deeper than any real config; keeps every recursive walk (merge, copy, redaction) far from
# Python's recursion limit.
MAX_CONFIG_DEPTH = 64
_ENV_KEY_PART = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$", re.IGNORECASE)
_SUBSTITUTION = re.compile(r"(\$?\$\{[^{}]*\})")
_PARAMETER = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+=?])(?P<word>.*))?$")
_SECRET_STORE_KEYS = {"$vault", "$awsSecret"}
_REFERENCE_KEYS = {"$env", "$file", "$include"} | _SECRET_STORE_KEYS

# A literal under one of these key names is a secret even when written inline, so it is
# redacted like one (and the posture audit flags it as a literal secret).
SECRET_KEY_PATTERN = re.compile(
    r"^(?!.*(?:url|uri|endpoint|file|path|name|type|header|(?<!secret)id)$)"
    r".*(?:secret|password|passwd|token|apikey|api_key|privatekey|private_key|accesskey|access_key"
    r"|signingkey|^keys?$|^auth$|^authorization$|^credentials$|^cert(?:ificate)?$)",
    re.IGNORECASE,
)


@dataclass
class _Value:
    """A config value with its provenance, before merging flattens it."""

    value: Any
    origin: Origin


@dataclass
class _LoadState:
    env: Mapping[str, str]
    secret_resolver: SecretResolver | None
    resolve_secrets: bool
    strict_files: bool = True
    included: int = 0
    origins: dict[str, Origin] = field(default_factory=dict)
    secret_paths: set[str] = field(default_factory=set)
    credential_paths: set[str] = field(default_factory=set)
    reference_paths: set[str] = field(default_factory=set)
    unresolved: dict[str, str] = field(default_factory=dict)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _scalar(node: yaml.ScalarNode, loader: Any) -> Any:
    return loader.construct_object(node, deep=True)


def _node_to_python(
    node: yaml.Node, loader: Any, *, source: str, path: str, origins: dict[str, Origin], depth: int = 0
) -> Any:
    """Convert a composed node to plain data, recording each key's line."""
    if depth > MAX_CONFIG_DEPTH:
        # Also what stops a recursive alias (`a: &x [*x]`), which is infinitely deep.
        raise ConfigError(
            f"{source}:{node.start_mark.line + 1}: config nested more than {MAX_CONFIG_DEPTH} levels deep",
            path=path or None,
        )
    origins[path] = Origin(source, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, loader) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise ConfigError(
                    f"{source}:{key_node.start_mark.line + 1}: config keys must be strings", path=path or None
                )
            if key in out:
                raise ConfigError(
                    f"{source}:{key_node.start_mark.line + 1}: duplicate key '{key}'", path=_join(path, key)
                )
            child = _join(path, key)
            out[key] = _node_to_python(
                value_node, loader, source=source, path=child, origins=origins, depth=depth + 1
            )
            origins[child] = Origin(source, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _node_to_python(item, loader, source=source, path=_join(path, i), origins=origins, depth=depth + 1)
            for i, item in enumerate(node.value)
        ]
    return _scalar(node, loader)  # type: ignore[arg-type]


def _read_bounded(file: Path, limit: int) -> bytes:
    """At most `limit + 1` bytes: enough to tell an oversized file without reading all of it."""
    with file.open("rb") as handle:
        return handle.read(limit + 1)


def _read_yaml_file(file: Path, *, origins: dict[str, Origin], path: str) -> Any:
    source = str(file)
    try:
        data = _read_bounded(file, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {source}: {exc.strerror}", path=path or None) from exc
    try:
        nodes = list(iter_nodes(data, source=source, max_bytes=MAX_CONFIG_BYTES))
    except YamlError as exc:
        raise ConfigError(str(exc), path=path or None) from exc
    if not nodes:
        return {}
    if len(nodes) > 1:
        raise ConfigError(f"{source}: a config file must hold one YAML document", path=path or None)
    node, loader = nodes[0]
    depth = len(split_path(path))  # an included file sits below the key that includes it
    return _node_to_python(node, loader, source=source, path=path, origins=origins, depth=depth)


def _substitute(text: str, env: Mapping[str, str]) -> str | None:
    """`${VAR}` substitution with Backstage's rules; None when a variable is unset."""
    parts = _SUBSTITUTION.split(text)
    if len(parts) == 1:
        return text
    for i in range(1, len(parts), 2):
        part = parts[i]
        if part.startswith("$$"):
            parts[i] = part[1:]
            continue
        resolved = _parameter(part[2:-1].strip(), env)
        if resolved is None:
            return None
        parts[i] = resolved
    return "".join(parts)


def _parameter(expression: str, env: Mapping[str, str]) -> str | None:
    """Shell-style parameter expansion: NAME, NAME:-word, NAME-word, NAME:+word, NAME+word."""
    match = _PARAMETER.match(expression)
    if match is None:
        return None
    name, op, word = match["name"], match["op"], match["word"] or ""
    raw = env.get(name)
    value = raw.strip() if raw is not None else None
    if op is None:
        return value
    if op == ":-":
        return value if value else word
    if op == "-":
        return value if value is not None else word
    if op == ":+":
        return word if value else ""
    if op == "+":
        return word if value is not None else ""
    return value


class _Transformer:
    """Applies substitutions and `$` references to one file's data."""

    def __init__(self, state: _LoadState) -> None:
        self.state = state

    def transform(self, value: Any, *, path: str, base_dir: Path, stack: tuple[Path, ...]) -> Any:
        if isinstance(value, str):
            substituted = _substitute(value, self.state.env)
            if substituted != value:
                self.state.reference_paths.add(path)
                self.state.secret_paths.add(path)
                if substituted is None:
                    self.state.unresolved[path] = value
            return substituted
        if isinstance(value, list):
            items = []
            for i, item in enumerate(value):
                out = self.transform(item, path=_join(path, i), base_dir=base_dir, stack=stack)
                if out is not None:
                    items.append(out)
            return items
        if isinstance(value, dict):
            # Only greenroom's reference keys are special; other `$` keys (filter operators like
            # `$in` in plugin config, the long-gone `$secret`) are plain data, as in Backstage.
            ref_keys = [k for k in value if k in _REFERENCE_KEYS]
            if ref_keys:
                return self._reference(value, ref_keys, path=path, base_dir=base_dir, stack=stack)
            result: dict[str, Any] = {}
            for key, item in value.items():
                child = _join(path, key)
                out = self.transform(item, path=child, base_dir=base_dir, stack=stack)
                if out is not None:
                    result[key] = out
            return result
        return value

    def _reference(
        self,
        value: dict[str, Any],
        ref_keys: list[str],
        *,
        path: str,
        base_dir: Path,
        stack: tuple[Path, ...],
    ) -> Any:
        key = ref_keys[0]
        if len(value) != 1:
            raise ConfigError(f"{key} should not have adjacent keys", path=path)
        arg = value[key]
        if key in _SECRET_STORE_KEYS:
            return self._secret_store(key, arg, path=path)
        if not isinstance(arg, str):
            raise ConfigError(f"{key} value is not a string", path=path)
        if key == "$include":
            return self._include(arg, path=path, base_dir=base_dir, stack=stack)
        self.state.reference_paths.add(path)
        self.state.secret_paths.add(path)
        if key == "$env":
            raw = self.state.env.get(arg)
            if raw is None:
                self.state.unresolved[path] = f"$env: {arg}"
                return None
            return raw.strip()
        file = (base_dir / arg).resolve()
        try:
            data = _read_bounded(file, MAX_CONFIG_BYTES)
        except OSError as exc:
            if not self.state.strict_files:
                self.state.unresolved[path] = f"$file: {arg}"
                return f"<unresolved file: {arg}>"
            raise ConfigError(f"failed to read file {arg}, {exc.strerror}", path=path) from exc
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"file {arg} is larger than the limit of {MAX_CONFIG_BYTES} bytes", path=path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"file {arg} is not valid UTF-8", path=path) from exc

    def _include(self, arg: str, *, path: str, base_dir: Path, stack: tuple[Path, ...]) -> Any:
        file_part, _, data_path = arg.partition("#")
        file = (base_dir / file_part).resolve()
        if file.suffix not in {".yaml", ".yml", ".json"}:
            raise ConfigError(f"no configuration parser available for included file {file_part}", path=path)
        if file in stack:
            chain = " -> ".join(str(p) for p in (*stack, file))
            raise ConfigError(f"cyclic $include: {chain}", path=path)
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(f"$include nested more than {MAX_INCLUDE_DEPTH} deep", path=path)
        self.state.included += 1
        if self.state.included > MAX_INCLUDED_FILES:
            raise ConfigError(f"more than {MAX_INCLUDED_FILES} files included", path=path)
        if not self.state.strict_files and not file.exists():
            self.state.unresolved[path] = f"$include: {arg}"
            return None
        included = _read_yaml_file(file, origins=self.state.origins, path=path)
        for part in filter(None, data_path.split(".")):
            if not isinstance(included, dict):
                raise ConfigError(f"value at '{part}' in included file {file_part} is not an object", path=path)
            included = included.get(part)
        return self.transform(included, path=path, base_dir=file.parent, stack=(*stack, file))

    def _secret_store(self, key: str, arg: Any, *, path: str) -> Any:
        self.state.secret_paths.add(path)
        self.state.credential_paths.add(path)
        self.state.reference_paths.add(path)
        ref = SecretRef.parse(key, arg, path=path)
        if not self.state.resolve_secrets:
            self.state.unresolved[path] = ref.describe()
            return ref.placeholder()
        if self.state.secret_resolver is None:
            raise ConfigError(f"{key} reference but no secret store is configured", path=path)
        return self.state.secret_resolver.resolve(ref)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
        return merged
    return override


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith("APP_CONFIG_"):
            continue
        if not raw:
            continue
        parts = name[len("APP_CONFIG_") :].split("_")
        if not all(_ENV_KEY_PART.match(part) for part in parts) or len(parts) > MAX_CONFIG_DEPTH:
            raise ConfigError(f"invalid environment override {name}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if value is None:
            raise ConfigError(f"environment override {name} may not be null")
        node = overrides
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment override {name} conflicts with another override")
        node[parts[-1]] = value
    return overrides


def load_config(
    files: Sequence[str | Path] = (),
    *,
    defaults: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    secret_resolver: SecretResolver | None = None,
    resolve_secrets: bool = True,
    secret_resolver_factory: Callable[[Config], SecretResolver | None] | None = None,
    strict_files: bool = True,
) -> Config:
    """Load, transform and merge config files (later files win) into a `Config`.

    `defaults` sit below every file. Secret-store references are resolved with
    `secret_resolver`, or with the one `secret_resolver_factory` builds from the config
    itself (so the store's own address can be configured); with `resolve_secrets=False`
    they stay unresolved placeholders, which is what the posture audit wants. With
    `strict_files=False` a `$file` or `$include` that does not exist (a secret mounted only in
    production, say) is recorded in `Config.unresolved` instead of failing the load.
    """
    environ = dict(os.environ if env is None else env)
    state = _LoadState(
        env=environ, secret_resolver=secret_resolver, resolve_secrets=resolve_secrets, strict_files=strict_files
    )
    merged: Any = _drop_nulls(dict(defaults or {}))
    sources: list[str] = []
    raw_files: list[tuple[Path, Any]] = []
    for name in files:
        file = Path(name).resolve()
        sources.append(str(file))
        raw_files.append((file, _read_yaml_file(file, origins=state.origins, path="")))

    if resolve_secrets and secret_resolver is None and secret_resolver_factory is not None:
        # A first pass without secret stores tells us how to reach the secret store.
        bootstrap = load_config(files, defaults=defaults, env=environ, resolve_secrets=False)
        state.secret_resolver = secret_resolver_factory(bootstrap)

    transformer = _Transformer(state)
    for file, data in raw_files:
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: expected an object at the config root")
        transformed = transformer.transform(data, path="", base_dir=file.parent, stack=(file,))
        merged = _merge(merged, _restore_nulls(data, transformed))

    overrides = _env_overrides(environ)
    if overrides:
        merged = _merge(merged, overrides)
        for dotted in _leaf_paths(overrides):
            state.origins[dotted] = Origin("environment (APP_CONFIG_*)", None)
    merged = _drop_nulls(merged)
    _mark_secret_keys(merged, "", state)
    return Config(
        merged,
        origins=state.origins,
        secret_paths=frozenset(state.secret_paths),
        credential_paths=frozenset(state.credential_paths),
        reference_paths=frozenset(state.reference_paths),
        unresolved=dict(state.unresolved),
        sources=tuple(sources),
    )


def _restore_nulls(raw: Any, transformed: Any) -> Any:
    """Keep explicit `null`s of a file so that merging can remove earlier keys."""
    if isinstance(raw, dict) and isinstance(transformed, dict):
        out = dict(transformed)
        for key, value in raw.items():
            if value is None:
                out[key] = None
            elif key in out:
                out[key] = _restore_nulls(value, out[key])
        return out
    return transformed


def _leaf_paths(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaf_paths(v, _join(prefix, k))]
    return [prefix]


def _mark_secret_keys(value: Any, path: str, state: _LoadState) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            child = _join(path, key)
            if SECRET_KEY_PATTERN.search(key) and not isinstance(item, dict | bool):
                state.secret_paths.add(child)
                state.credential_paths.add(child)
            _mark_secret_keys(item, child, state)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _mark_secret_keys(item, _join(path, i), state)
