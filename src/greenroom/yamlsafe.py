"""Safe, bounded YAML loading for everything greenroom reads from outside.

Config files, catalog descriptors and policy files all come through here. Three things are
different from a plain `yaml.safe_load`:

* Scalars resolve like YAML 1.2's core schema, which is what Backstage's `yaml` package
  uses: `yes`/`no`/`on`/`off` stay strings and dates stay strings, so an entity reads the
  same in greenroom as in Backstage.
* Input is bounded: a byte limit, libyaml's nesting limit (1000), and an alias-expansion
  limit that stops "billion laughs" documents before anything walks the expanded tree. An
  alias inside its own anchor (a recursive document) is refused: nothing downstream could
  walk it.
* A mapping with the same key twice is an error, as in Backstage's `yaml` package (whose
  `uniqueKeys` default refuses it): a reader must not see one value and greenroom use another.
* Errors are `YamlError` (an `InputError`) naming the source, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
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

    def __init__(
        self, message: str, *, source: str, line: int | None = None, column: int | None = None,
        problem: str | None = None,
    ) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.column = column
        self.reason = message
        self.problem = problem or message


class _Yaml12Loader(yaml.CSafeLoader):
    """libyaml's parser with YAML 1.2 core-schema scalar resolution and unique keys."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {type(node).__name__}", node.start_mark
            )
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
                )
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"duplicate key '{key}'", key_node.start_mark
                )
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


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


def _fast_resolve(_self: Any, kind: type, value: Any, implicit: Any) -> str:
    """The implicit resolvers above, without PyYAML's generic path machinery.

    libyaml calls this from C for every node, so it is a large share of parsing time. The
    answer is the same as `Resolver.resolve` for the resolvers this loader has (no path
    resolvers, no custom tags).
    """
    if kind is yaml.ScalarNode:
        if implicit[0]:
            for tag, regexp in _IMPLICIT.get(value[:1], ()):
                if regexp.match(value):
                    return tag
        return "tag:yaml.org,2002:str"
    if kind is yaml.SequenceNode:
        return "tag:yaml.org,2002:seq"
    return "tag:yaml.org,2002:map"


def _no_path_resolvers(_self: Any, *_args: Any) -> None:
    return None


_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [(tag, regexp) for tag, regexp in resolvers]
    for first, resolvers in _Yaml12Loader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.resolve = _fast_resolve  # type: ignore[method-assign]
_Yaml12Loader.descend_resolver = _no_path_resolvers  # type: ignore[method-assign,assignment]
_Yaml12Loader.ascend_resolver = _no_path_resolvers  # type: ignore[method-assign,assignment]
_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_yaml12_int)
# Merge keys (`<<`) are a YAML 1.1 feature the `yaml` npm package does not apply by default.
_Yaml12Loader.add_constructor("tag:yaml.org,2002:merge", _Yaml12Loader.construct_yaml_str)  # type: ignore[type-var]


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document and the 1-based line it starts on."""

    value: Any
    line: int


def _check_alias_expansion(node: yaml.Node, *, source: str) -> None:
    """Refuse recursive documents and those whose aliases expand to far more nodes than written.

    The walk is iterative (libyaml allows 1000 levels of nesting, more than Python's stack),
    and each node is measured once, so a bomb costs as much to check as it took to write.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        children: list[yaml.Node] = []
        if isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        elif isinstance(current, yaml.MappingNode):
            children = [n for pair in current.value for n in pair]
        if children_done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlError(
                "an alias refers to a node that contains it (a recursive document)",
                source=source,
                line=current.start_mark.line + 1,
            )
        on_path.add(key)
        stack.append((current, True))
        for child in children:
            if id(child) in on_path:
                raise YamlError(
                    "an alias refers to a node that contains it (a recursive document)",
                    source=source,
                    line=child.start_mark.line + 1,
                )
            if id(child) not in sizes:
                stack.append((child, False))
    written = len(sizes)
    expanded = sizes[id(node)]
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
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source=source) from exc
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.YAMLError, *, source: str, line: int | None = None) -> YamlError:
    """A YamlError naming the line and column libyaml or the constructor pointed at."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None:
            return YamlError(f"{problem}, column {mark.column + 1}", source=source, line=mark.line + 1,
                             column=mark.column + 1, problem=problem)
        return YamlError(problem, source=source, line=line)
    return YamlError(str(exc), source=source, line=line)


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SPECIAL_FLOATS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}


def _scalar(node: yaml.ScalarNode, loader: Any) -> Any:
    tag, value = node.tag, node.value
    if tag == _STR:
        return value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value.lower() == "true"
    if tag == _INT:
        return _construct_yaml12_int(loader, node)
    if tag == _FLOAT:
        lowered = value.lower()
        return _SPECIAL_FLOATS[lowered] if lowered in _SPECIAL_FLOATS else float(value)
    return loader.construct_object(node, deep=True)


def _construct(root: yaml.Node, loader: Any) -> Any:
    """Plain data from a composed node, for the core-schema tags; unusual tags go the slow way.

    The same result as the loader's constructor for everything greenroom reads, several
    times faster. Iterative, so libyaml's 1000 levels of nesting never meet Python's
    recursion limit. Aliases share the object built for their anchor, as PyYAML does.
    """
    memo: dict[int, Any] = {}
    out: list[Any] = [None]
    stack: list[tuple[yaml.Node, Any, Any]] = [(root, out, 0)]
    scalar_node, sequence_node, mapping_node = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode
    while stack:
        node, target, slot = stack.pop()
        node_type = type(node)
        if node_type is scalar_node:
            target[slot] = _scalar(node, loader)  # type: ignore[arg-type]  # scalars are never shared by aliases worth memoizing
            continue
        node_id = id(node)
        if node_id in memo:
            target[slot] = memo[node_id]
        elif node_type is sequence_node and node.tag == _SEQ:
            items: list[Any] = [None] * len(node.value)
            memo[node_id] = target[slot] = items
            stack.extend((child, items, i) for i, child in reversed(list(enumerate(node.value))))
        elif node_type is mapping_node and node.tag == _MAP:
            mapping: dict[Any, Any] = {}
            memo[node_id] = target[slot] = mapping
            pending = []
            for key_node, value_node in node.value:
                key = (_scalar(key_node, loader) if type(key_node) is scalar_node
                       else loader.construct_object(key_node, deep=True))
                if type(key) is not str and not _hashable(key):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
                    )
                if key in mapping:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, f"duplicate key '{key}'",
                        key_node.start_mark,
                    )
                mapping[key] = None
                pending.append((value_node, mapping, key))
            stack.extend(reversed(pending))
        else:
            target[slot] = loader.construct_object(node, deep=True)
    return out[0]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def iter_all(data: str | bytes, *, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Document]:
    """Documents one at a time, so a large stream is never held as data all at once."""
    for node, loader in iter_nodes(data, source=source, max_bytes=max_bytes):
        try:
            value = _construct(node, loader)
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, source=source, line=node.start_mark.line + 1) from exc
        except RecursionError as exc:
            raise YamlError("document is nested too deeply", source=source, line=node.start_mark.line + 1) from exc
        yield Document(value=value, line=node.start_mark.line + 1)


def load_all(data: str | bytes, *, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Document]:
    """Every document of a multi-document stream, with the line each starts on."""
    return list(iter_all(data, source=source, max_bytes=max_bytes))


def load_one(data: str | bytes, *, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """A single-document stream's value (None for an empty stream)."""
    docs = load_all(data, source=source, max_bytes=max_bytes)
    if len(docs) > 1:
        raise YamlError(
            f"expected one YAML document, found {len(docs)}", source=source, line=docs[1].line
        )
    return docs[0].value if docs else None
