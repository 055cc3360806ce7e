"""JavaScript renderings used in Backstage's messages and output (values checked against Node 20)."""

from __future__ import annotations

from typing import Any

import pytest

from greenroom.plugins.catalog.model.jsvalues import (
    js_json_stringify,
    js_key_order,
    js_number,
    js_sort_key,
    js_string,
    js_trim,
    js_truthy,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1.5e22, "1.5e+22"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (123.456, "123.456"),
        (100.0, "100"),
        (2**60, "1152921504606847000"),
        (-3.5, "-3.5"),
        (0.000001234, "0.000001234"),
        (5, "5"),
        (1e20, "100000000000000000000"),
        (-0.0, "0"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_js_number(value: float, text: str) -> None:
    assert js_number(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("s", "s"),
        (None, "null"),
        (True, "true"),
        (2.0, "2"),
        ({"a": 1}, "[object Object]"),
        (["a", None, 1, ["b", "c"]], "a,,1,b,c"),
        ([], ""),
    ],
)
def test_js_string(value: Any, text: str) -> None:
    assert js_string(value) == text


def test_js_json_stringify() -> None:
    value = {"b": [1.0, None, True], "a": 'q"\n\x01', "10": {}, "2": "x"}
    # Integer-like keys first in numeric order, floats as JavaScript prints them, compact separators.
    assert js_json_stringify(value) == '{"2":"x","10":{},"b":[1,null,true],"a":"q\\"\\n\\u0001"}'
    assert js_json_stringify("é\u2028") == '"é\u2028"'


def test_js_key_order() -> None:
    assert js_key_order({"b": 1, "1": 2, "01": 3, "0": 4, "4294967295": 5, "a": 6}) == [
        "0",
        "1",
        "b",
        "01",
        "4294967295",
        "a",
    ]
    keys = ["z", "y"]
    assert js_key_order(keys) == keys


def test_js_trim_uses_javascript_whitespace() -> None:
    assert js_trim("\ufeff\u3000 x \u00a0") == "x"
    assert js_trim("\x1c") == "\x1c"


def test_js_sort_key_compares_utf16_code_units() -> None:
    assert sorted(["\uffff", "\U0001f600", "b"], key=js_sort_key) == ["b", "\U0001f600", "\uffff"]


@pytest.mark.parametrize(
    ("value", "truthy"),
    [("", False), ("0", True), (0, False), (0.0, False), (float("nan"), False), (None, False), (False, False),
     ([], True), ({}, True), (1, True)],
)  # fmt: skip
def test_js_truthy(value: Any, truthy: bool) -> None:
    assert js_truthy(value) is truthy
