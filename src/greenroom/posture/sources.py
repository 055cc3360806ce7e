"""Turn the files a user points the audit at into app-config files the config loader reads.

Real deployments keep their Backstage config in more shapes than a bare `app-config.yaml`:

* a Kubernetes ConfigMap (or Secret) whose `data` holds `app-config*.yaml` text;
* Helm values that wrap it under `appConfig` (old contrib chart), `backstage.appConfig`
  (the official chart) or `upstream.backstage.appConfig` (Red Hat Developer Hub's chart);
* a plain app-config that uses syntax the loader does not take: the pre-1.0 `$secret: {env:
  NAME}` references, or keys that begin with `$` but are data (Backstage treats an object as a
  reference only for `$env`, `$file` and `$include`; the demo's extension filters use `$not`).

For those, a normalized copy is written to a scratch directory with the same line numbers as
the original (the embedded text is padded with blank lines, a wrapped subtree is dedented in
place, rewrites never add or remove a line), so a finding's `file:line` can be mapped back to
the file the user gave. Relative `$file`/`$include` paths in a copy are made absolute against
the original file's directory. The parts of a wrapper outside the app-config (the rest of the
Helm values) are kept as `OuterTree`s: they too can hold literal secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from greenroom.config.loader import MAX_CONFIG_BYTES
from greenroom.posture.model import Problem
from greenroom.yamlsafe import YamlError, iter_nodes

REFERENCE_KEYS = frozenset({"$env", "$file", "$include", "$vault", "$awsSecret"})
_LEGACY_SECRET = {"env": "$env", "file": "$file", "data": "$include"}
_HELM_PATHS = (("appConfig",), ("backstage", "appConfig"), ("upstream", "backstage", "appConfig"))
_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
# Cheap tests that decide whether a file needs parsing here before the loader reads it:
# a wrapper's top-level keys, or a `$key` that is not one of the loader's references.
_WRAPPER_HINT = re.compile(r"^(?:kind|appConfig|backstage|upstream)\s*:", re.MULTILINE)
_UNUSUAL_DOLLAR_KEY = re.compile(r"[\s{,\"']\$(?!(?:env|file|include|vault|awsSecret)\b)[A-Za-z_]")


class AuditInputError(Exception):
    """The input cannot be audited (unreadable, too large, not YAML, an include cycle...)."""


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """One app-config document and where it really lives."""

    path: Path
    shape: str
    detail: str
    load_path: Path
    fixed_line: int | None = None

    def describe(self) -> str:
        return str(self.path) if self.shape == "app-config" else f"{self.path} ({self.shape}: {self.detail})"


@dataclass(frozen=True, slots=True)
class OuterTree:
    """Wrapper data outside the app-config, with the line of each dotted key."""

    file: str
    data: Any
    lines: dict[str, int]


@dataclass
class Prepared:
    sources: list[ConfigSource] = field(default_factory=list)
    outer: list[OuterTree] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def original_of(self, load_path: str) -> tuple[str, int | None] | None:
        """(original file, fixed line or None for the same line) for a loader source path."""
        for source in self.sources:
            if str(source.load_path) == load_path and source.load_path != source.path:
                return str(source.path), source.fixed_line
        return None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def parse_nodes(text: str | bytes, source: str) -> list[yaml.Node]:
    try:
        return [node for node, _loader in iter_nodes(text, source=source, max_bytes=MAX_CONFIG_BYTES)]
    except YamlError as exc:
        raise AuditInputError(str(exc)) from exc


def _child(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _scalar(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) else None


def node_data(node: yaml.Node, path: str = "", lines: dict[str, int] | None = None) -> Any:
    """Plain data from a node (scalars as YAML 1.2 would read them), recording key lines."""
    if lines is not None:
        lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            child = _join(path, str(key))
            if lines is not None:
                lines[child] = key_node.start_mark.line + 1
            out[str(key)] = node_data(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [node_data(item, _join(path, i), lines) for i, item in enumerate(node.value)]
    value = node.value
    if isinstance(node, yaml.ScalarNode) and node.style is None:
        if value in ("", "~", "null", "Null", "NULL"):
            return None
        if value in ("true", "True", "TRUE"):
            return True
        if value in ("false", "False", "FALSE"):
            return False
    return value


# -- rewriting text without moving lines -------------------------------------------------


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, char in enumerate(text):
        if char == "\n":
            starts.append(i + 1)
    return starts


def _mapping_nodes(node: yaml.Node) -> Iterator[yaml.MappingNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            yield current
            for key_node, value_node in current.value:
                stack.extend((key_node, value_node))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _span_replacement(text: str, start: int, end: int, replacement: str) -> str:
    """`replacement`, followed by the newlines and final indentation of text[start:end]."""
    span = text[start:end]
    newlines = span.count("\n")
    # What follows the span starts where the span's last line ends: keep that column.
    indent = " " * len(span.rsplit("\n", 1)[-1]) if newlines else ""
    return replacement + "\n" * newlines + indent


def rewrite(
    text: str, *, source: str, base_dir: Path | None, nodes: list[yaml.Node] | None = None
) -> tuple[str, list[str]]:
    """Rewrite legacy references and data `$` keys; make relative includes absolute.

    Returns the new text (same number of lines) and notes about what was rewritten.
    `nodes` are the text's parsed documents when the caller has them already.
    """
    if nodes is None:
        nodes = parse_nodes(text, source)
    edits: list[tuple[int, int, str]] = []
    notes: set[str] = set()
    for root in nodes:
        for mapping in _mapping_nodes(root):
            keys = [k.value for k, _ in mapping.value if isinstance(k, yaml.ScalarNode)]
            if keys == ["$secret"]:
                inner = mapping.value[0][1]
                kind = next((k for k in _LEGACY_SECRET if _child(inner, k)), None)
                found = _child(inner, kind) if kind else None
                target = _scalar(found[1]) if found else None
                if kind and target is not None:
                    ref_key = _LEGACY_SECRET[kind]
                    if ref_key != "$env" and base_dir is not None:
                        target = str((base_dir / target).resolve()) if not Path(target).is_absolute() else target
                    replacement = json.dumps({ref_key: target})
                    edits.append(
                        (
                            mapping.start_mark.index,
                            mapping.end_mark.index,
                            _span_replacement(text, mapping.start_mark.index, mapping.end_mark.index, replacement),
                        )
                    )
                    notes.add("legacy `$secret` references were read as `$env`/`$file`/`$include`")
                    continue
            for key_node, value_node in mapping.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = key_node.value
                if key in ("$file", "$include") and base_dir is not None:
                    value = _scalar(value_node)
                    if value and not Path(value.split("#", 1)[0]).is_absolute() and "\n" not in value:
                        file_part, hash_mark, rest = value.partition("#")
                        absolute = str((base_dir / file_part).resolve()) + hash_mark + rest
                        edits.append((value_node.start_mark.index, value_node.end_mark.index, json.dumps(absolute)))
                elif key.startswith("$") and key not in REFERENCE_KEYS and key != "$secret":
                    edits.append(
                        (key_node.start_mark.index, key_node.end_mark.index, json.dumps(f"_{key}"))
                    )
                    notes.add("keys that begin with '$' but are not references were read as data")
    edits.sort(reverse=True)
    out = text
    last_start = len(text) + 1
    for start, end, replacement in edits:
        if end > last_start:  # nested inside an edit already applied
            continue
        out = out[:start] + replacement + out[end:]
        last_start = start
    return out, sorted(notes)


# -- shapes --------------------------------------------------------------------------------


def _subtree_text(text: str, node: yaml.Node) -> str:
    """The text of `node`, dedented, padded with blank lines so it keeps its line numbers."""
    lines = text.split("\n")
    start, end = node.start_mark, node.end_mark
    column = start.column
    out = [""] * start.line
    last = end.line if end.column > 0 else end.line - 1
    for number in range(start.line, min(last, len(lines) - 1) + 1):
        line = lines[number]
        if number == start.line:
            piece = line[column:]
        else:
            stripped = len(line) - len(line.lstrip(" "))
            if not line.strip():
                piece = ""
            elif stripped < column:
                piece = "" if line.lstrip().startswith("#") else line.lstrip(" ")
            else:
                piece = line[column:]
        if number == end.line:
            piece = piece[: max(0, end.column - column)]
        out.append(piece)
    return "\n".join(out) + "\n"


def _embedded_documents(root: yaml.Node, source: str) -> Iterator[tuple[str, str, int | None, int]]:
    """(entry name, text, padding lines or None, key line) of app-config entries in a ConfigMap/Secret."""
    kind_entry = _child(root, "kind")
    kind = _scalar(kind_entry[1]) if kind_entry else None
    for section in ("data", "stringData"):
        found = _child(root, section)
        if found is None or not isinstance(found[1], yaml.MappingNode):
            continue
        for key_node, value_node in found[1].value:
            name = _scalar(key_node) or ""
            raw = _scalar(value_node)
            if raw is None or not name.endswith(_CONFIG_SUFFIXES):
                continue
            key_line = key_node.start_mark.line + 1
            if kind == "Secret" and section == "data":
                try:
                    text = base64.b64decode(raw, validate=False).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError) as exc:
                    raise AuditInputError(f"{source}:{key_line}: Secret entry '{name}' is not base64 UTF-8") from exc
                yield name, text, None, key_line
            elif isinstance(value_node, yaml.ScalarNode) and value_node.style == "|":
                yield name, raw, value_node.start_mark.line + 1, key_line
            else:
                yield name, raw, None, key_line


def _helm_subtree(root: yaml.Node) -> tuple[str, yaml.Node] | None:
    for path in _HELM_PATHS:
        node: yaml.Node | None = root
        for part in path:
            found = _child(node, part) if node is not None else None
            node = found[1] if found else None
        if isinstance(node, yaml.MappingNode):
            return ".".join(path), node
    return None


def _outer_without(root: yaml.Node, dotted: str, file: str) -> OuterTree:
    lines: dict[str, int] = {}
    data = node_data(root, "", lines)
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(parts[-1], None)
    prefix = dotted + "."
    return OuterTree(file=file, data=data, lines={k: v for k, v in lines.items() if not k.startswith(prefix)})


class _Writer:
    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.count = 0

    def write(self, original: Path, text: str, suffix: str = "") -> Path:
        self.count += 1
        target = self.scratch / f"{self.count:03d}-{original.stem}{suffix}.yaml"
        target.write_text(text, encoding="utf-8")
        return target


def _read(file: Path) -> str:
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise AuditInputError(f"cannot read config file {file}: {exc.strerror}") from exc
    if size > MAX_CONFIG_BYTES:
        raise AuditInputError(f"{file}: document is {size} bytes, more than the limit of {MAX_CONFIG_BYTES}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise AuditInputError(f"cannot read config file {file}: {exc.strerror}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AuditInputError(f"{file}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc


def prepare(files: Sequence[Path], scratch: Path) -> Prepared:
    """Work out the shape of each file and produce loader-ready app-config files."""
    prepared = Prepared()
    writer = _Writer(scratch)
    for given in files:
        file = Path(given).resolve()
        text = _read(file)
        if not _WRAPPER_HINT.search(text) and not _UNUSUAL_DOLLAR_KEY.search(text):
            # A plain app-config (the usual case): the loader reads it as it is.
            prepared.sources.append(ConfigSource(path=file, shape="app-config", detail="", load_path=file))
            continue
        roots = parse_nodes(text, str(file))
        embedded = [(root, list(_embedded_documents(root, str(file)))) for root in roots]
        if any(entries for _root, entries in embedded):
            for _root, entries in embedded:
                for name, inner, padding, key_line in entries:
                    inner_nodes = parse_nodes(inner, f"{file} (data['{name}'])")
                    if not inner_nodes or not isinstance(inner_nodes[0], yaml.MappingNode):
                        continue
                    rewritten, notes = rewrite(
                        inner, source=f"{file} (data['{name}'])", base_dir=file.parent, nodes=inner_nodes
                    )
                    for note in notes:
                        prepared.problems.append(Problem("note", note, str(file)))
                    body = "\n" * padding + rewritten if padding is not None else rewritten
                    load_path = writer.write(file, body, "-" + Path(name).stem)
                    prepared.sources.append(
                        ConfigSource(
                            path=file,
                            shape="configmap",
                            detail=f"data['{name}']",
                            load_path=load_path,
                            fixed_line=None if padding is not None else key_line,
                        )
                    )
            continue
        helm = _helm_subtree(roots[0]) if len(roots) == 1 else None
        if helm is not None:
            dotted, node = helm
            subtree = _subtree_text(text, node)
            rewritten, notes = rewrite(subtree, source=f"{file} ({dotted})", base_dir=file.parent)
            for note in notes:
                prepared.problems.append(Problem("note", note, str(file)))
            prepared.sources.append(
                ConfigSource(path=file, shape="helm-values", detail=dotted, load_path=writer.write(file, rewritten))
            )
            prepared.outer.append(_outer_without(roots[0], dotted, str(file)))
            continue
        rewritten, notes = rewrite(text, source=str(file), base_dir=None, nodes=roots)
        if rewritten != text:  # the copy lives elsewhere: its relative includes must still work
            rewritten, notes = rewrite(text, source=str(file), base_dir=file.parent, nodes=roots)
        for note in notes:
            prepared.problems.append(Problem("note", note, str(file)))
        load_path = writer.write(file, rewritten) if rewritten != text else file
        prepared.sources.append(ConfigSource(path=file, shape="app-config", detail="", load_path=load_path))
    return prepared
