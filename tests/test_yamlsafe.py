"""Bounded, YAML-1.2 loading of everything greenroom reads from outside (`greenroom.yamlsafe`)."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from greenroom.errors import InputError
from greenroom.yamlsafe import (
    ALIAS_EXPANSION_FLOOR,
    YamlError,
    iter_nodes,
    load_all,
    load_one,
)


def billion_laughs(levels: int = 9, fanout: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]")
    return "\n".join(lines) + "\n"


# -- YAML 1.2 core schema, as Backstage's `yaml` package reads it ----------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("2024-01-01", "2024-01-01"),
        ("12:30:00", "12:30:00"),
        ("0o17", 15),
        ("0x1f", 31),
        ("017", 17),
        ("1_000", "1_000"),
        ("-42", -42),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("", None),
        ("'123'", "123"),
    ],
)
def test_scalars_resolve_like_yaml_1_2_core_schema(text: str, expected: object) -> None:
    value = load_one(f"v: {text}\n", source="t.yaml")["v"]
    assert value == expected
    assert type(value) is type(expected)


def test_infinity_and_nan_are_floats() -> None:
    value = load_one("a: .inf\nb: -.inf\nc: .nan\n", source="t.yaml")
    assert value["a"] == float("inf")
    assert value["b"] == float("-inf")
    assert value["c"] != value["c"]


def test_merge_keys_are_not_applied() -> None:
    value = load_one("base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n", source="t.yaml")
    assert value["child"] == {"<<": {"x": 1}, "y": 2}


def test_byte_order_mark_is_ignored() -> None:
    assert load_one("\ufeffa: 1\n".encode(), source="t.yaml") == {"a": 1}


def test_multi_document_stream_with_start_lines() -> None:
    docs = load_all("a: 1\n---\nb: 2\n---\n# comment\nc: 3\n", source="t.yaml")
    assert [d.value for d in docs] == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert [d.line for d in docs] == [1, 3, 6]


def test_empty_stream_is_no_documents() -> None:
    assert load_all("", source="t.yaml") == []
    assert load_one("# only a comment\n", source="t.yaml") is None


def test_load_one_refuses_several_documents_naming_the_second() -> None:
    with pytest.raises(YamlError, match=r"t\.yaml:3: expected one YAML document, found 2"):
        load_one("a: 1\n---\nb: 2\n", source="t.yaml")


# -- errors name the source, line and column ------------------------------------------------


def test_syntax_error_names_source_line_and_column() -> None:
    with pytest.raises(YamlError) as info:
        load_one("a: 1\nb:\n\tc: 2\n", source="conf/app.yaml")
    assert str(info.value).startswith("conf/app.yaml:3: ")
    assert "column 1" in str(info.value)
    assert info.value.line == 3
    assert info.value.source == "conf/app.yaml"
    assert isinstance(info.value, InputError)
    assert info.value.status_code == 400


def test_invalid_utf8_is_refused_with_its_offset() -> None:
    with pytest.raises(YamlError, match=r"t\.yaml: not valid UTF-8 \(invalid start byte at byte 3\)"):
        load_one(b"a: \xff\xfe\n", source="t.yaml")


def test_control_characters_are_refused() -> None:
    with pytest.raises(YamlError, match="control characters are not allowed"):
        load_one("a: \x00\n", source="t.yaml")


def test_python_tags_do_not_construct_objects() -> None:
    """Code execution through `!!python/object` (unsafe loaders) is impossible."""
    with pytest.raises(YamlError, match="could not determine a constructor"):
        load_one("a: !!python/object/apply:os.system ['true']\n", source="t.yaml")


def test_unknown_local_tags_are_refused() -> None:
    with pytest.raises(YamlError, match=r"t\.yaml:1: could not determine a constructor for the tag '!secret'"):
        load_one("a: !secret x\n", source="t.yaml")


# -- duplicate keys (parser differential) ---------------------------------------------------


def test_duplicate_keys_are_refused_not_last_one_wins() -> None:
    """A reviewer reads the first `owner`, a last-wins parser would use the second."""
    text = "metadata:\n  name: a\nspec:\n  owner: team-a\n  type: service\n  owner: attacker\n"
    with pytest.raises(YamlError) as info:
        load_all(text, source="catalog-info.yaml")
    assert "duplicate key 'owner'" in str(info.value)
    assert info.value.line == 6


def test_duplicate_keys_compare_values_like_backstage() -> None:
    with pytest.raises(YamlError, match="duplicate key '1'"):
        load_one("1: a\n01: b\n", source="t.yaml")
    # a string and a number are different keys
    assert load_one("'1': a\n1: b\n", source="t.yaml") == {"1": "a", 1: "b"}


def test_same_key_in_different_mappings_is_fine() -> None:
    assert load_one("a: {x: 1}\nb: {x: 2}\n", source="t.yaml") == {"a": {"x": 1}, "b": {"x": 2}}


def test_unhashable_key_is_refused() -> None:
    with pytest.raises(YamlError, match="unhashable key"):
        load_one("? [a, b]\n: 1\n", source="t.yaml")


# -- denial of service ----------------------------------------------------------------------


def test_billion_laughs_is_refused_quickly_with_bounded_memory() -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(YamlError, match="billion laughs") as info:
            load_one(billion_laughs(), source="bomb.yaml")
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 20 * 1024 * 1024
    assert info.value.source == "bomb.yaml"
    assert "expands to" in str(info.value)


def test_billion_laughs_through_mapping_values_is_refused() -> None:
    text = "a: &a {x: 1, y: 1, z: 1, w: 1}\n"
    prev = "a"
    for name in "bcdefghijk":
        text += f"{name}: &{name} {{p: *{prev}, q: *{prev}, r: *{prev}, s: *{prev}}}\n"
        prev = name
    with pytest.raises(YamlError, match="billion laughs"):
        load_one(text, source="t.yaml")


def test_moderate_alias_reuse_is_allowed() -> None:
    text = "defaults: &d {retries: 3, timeout: 10}\n" + "".join(f"s{i}: *d\n" for i in range(50))
    value = load_one(text, source="t.yaml")
    assert value["s49"] == {"retries": 3, "timeout": 10}


def test_alias_expansion_floor_allows_small_documents() -> None:
    # fewer expanded nodes than the floor, even though the ratio is high
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [" + ", ".join(["*a"] * 200) + "]\n"
    assert ALIAS_EXPANSION_FLOOR > 200 * 11
    assert len(load_one(text, source="t.yaml")["b"]) == 200


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x {b: *x}\n", "a: &x [1, {b: [*x]}]\n"])
def test_recursive_alias_is_refused(text: str) -> None:
    """A self-referencing document would send every consumer into endless recursion."""
    with pytest.raises(YamlError, match="recursive document"):
        load_one(text, source="t.yaml")


def test_size_limit_is_checked_before_parsing() -> None:
    data = b"a: '" + b"x" * (1024 * 1024) + b"'\n"
    started = time.monotonic()
    with pytest.raises(YamlError, match=r"t\.yaml: document is \d+ bytes, more than the limit of 1000"):
        load_one(data, source="t.yaml", max_bytes=1000)
    assert time.monotonic() - started < 0.5


def test_size_limit_counts_utf8_bytes_of_text() -> None:
    with pytest.raises(YamlError, match="more than the limit of 10"):
        load_one("a: éééé\n", source="t.yaml", max_bytes=10)
    assert load_one("a: éé\n", source="t.yaml", max_bytes=10) == {"a": "éé"}


def test_nesting_beyond_libyaml_limit_is_refused() -> None:
    with pytest.raises(YamlError, match="exceeded maximum nesting depth"):
        load_one("a: " + "[" * 5000 + "]" * 5000 + "\n", source="t.yaml")


def test_deep_nesting_with_aliases_does_not_overflow_the_stack() -> None:
    """The alias check walks iteratively: 900 levels plus an alias must not raise RecursionError."""
    depth = 900
    text = "x: &x 1\ny: *x\na: " + "[" * depth + "]" * depth + "\n"
    value = load_one(text, source="t.yaml")
    node = value["a"]
    levels = 0
    while node:
        node = node[0]
        levels += 1
    assert levels == depth - 1


def test_iter_nodes_yields_composed_nodes_with_positions() -> None:
    nodes = list(iter_nodes("a: 1\n---\nb:\n  c: 2\n", source="t.yaml"))
    assert len(nodes) == 2
    node, _loader = nodes[1]
    assert node.start_mark.line == 2
    key, value = node.value[0]
    assert key.value == "b"
    assert value.value[0][0].start_mark.line == 3
