"""Safe, bounded YAML loading for everything greenroom reads from outside.

Config files, catalog descriptors and policy files all come through here. Three things are
different from a plain `yaml.safe_load`:

* Scalars resolve like YAML 1.2's core schema, which is what Backstage's `yaml` package
  uses: `yes`/`no`/`on`/`off` stay strings and dates stay strings, so an entity reads the
  same in greenroom as in Backstage.
* Input is bounded: a byte limit, libyaml's nesting limit (1000), and an alias-expansion
  limit that stops "billion laughs" documents before anything walks the expanded tree.
* Errors are `YamlError` (an `InputError`) naming the source, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from greenroom.errors import InputError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# How many nodes a document may have once every alias is expanded, as a multiple of the
# nodes written out plus a floor. A legitimate file repeats an anchor a few times; a bomb
# multiplies it a billion-fold.
ALIAS_EXPANSION_FACTOR = 10
ALIAS_EXPANSION_FLOOR = 10_000


class YamlError(InputError):
    """A document that could not be read; the message says where and why."""

    name = "InputError"

    def __init__(self, message: str, *, source: str, line: int | None = None) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.reason = message


class _Yaml12Loader(yaml.CSafeLoader):  # type: ignore[misc]
    """libyaml's parser with YAML 1.2 core-schema scalar resolution."""


_Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        "tag:yaml.org,2002:int",
        r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
        "-+0123456789",
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_yaml12_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = str(loader.construct_scalar(node))
    if value.startswith("0o"):
        return int(value[2:], 8)
    if value.startswith("0x"):
        return int(value[2:], 16)
    return int(value)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_yaml12_int)
# Merge keys (`<<`) are a YAML 1.1 feature the `yaml` npm package does not apply by default.
_Yaml12Loader.add_constructor("tag:yaml.org,2002:merge", _Yaml12Loader.construct_yaml_str)


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document and the 1-based line it starts on."""

    value: Any
    line: int


def _check_alias_expansion(node: yaml.Node, *, source: str) -> None:
    """Refuse documents whose aliases expand to far more nodes than were written."""
    sizes: dict[int, int] = {}
    written = 0

    def size(n: yaml.Node) -> int:
        nonlocal written
        key = id(n)
        if key in sizes:
            return sizes[key]
        written += 1
        sizes[key] = 1  # breaks recursive aliases while this node is being measured
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(child) for child in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        sizes[key] = total
        return total

    expanded = size(node)
    limit = max(ALIAS_EXPANSION_FLOOR, written * ALIAS_EXPANSION_FACTOR)
    if expanded > limit:
        raise YamlError(
            f"document expands to {expanded} nodes through aliases from {written} written "
            f"(limit {limit}); refusing a possible 'billion laughs' document",
            source=source,
            line=node.start_mark.line + 1,
        )


def _decode(data: str | bytes, *, source: str, max_bytes: int) -> str:
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise YamlError(f"document is {size} bytes, more than the limit of {max_bytes}", source=source)
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise YamlError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", source=source) from exc
    return data


def iter_nodes(
    data: str | bytes, *, source: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[tuple[yaml.Node, _Yaml12Loader]]:
    """Yield each document's composed node (for callers that need per-key positions)."""
    text = _decode(data, source=source, max_bytes=max_bytes)
    may_alias = "*" in text
    loader = _Yaml12Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if may_alias:
                _check_alias_expansion(node, source=source)
            yield node, loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        col = f", column {mark.column + 1}" if mark is not None else ""
        raise YamlError(f"{problem}{col}", source=source, line=line) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), source=source) from exc
    finally:
        loader.dispose()


def load_all(data: str | bytes, *, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Document]:
    """Every document of a multi-document stream, with the line each starts on."""
    docs: list[Document] = []
    for node, loader in iter_nodes(data, source=source, max_bytes=max_bytes):
        try:
            value = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise YamlError(str(exc), source=source, line=node.start_mark.line + 1) from exc
        docs.append(Document(value=value, line=node.start_mark.line + 1))
    return docs


def load_one(data: str | bytes, *, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """A single-document stream's value (None for an empty stream)."""
    docs = load_all(data, source=source, max_bytes=max_bytes)
    if len(docs) > 1:
        raise YamlError(
            f"expected one YAML document, found {len(docs)}", source=source, line=docs[1].line
        )
    return docs[0].value if docs else None
