"""How JavaScript would render or compare a JSON value.

Backstage builds its error messages with template literals (`String(value)`) and
`JSON.stringify`, trims with `String.prototype.trim` and sorts with the default `Array.prototype.sort`
comparison. Matching its messages and entity output byte for byte needs the same rules, which differ
from Python's `str`, `json.dumps`, `str.strip` and `sorted` at the edges (floats, nested lists,
Unicode whitespace, astral characters). Only error paths and sorting use this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

# The characters ECMAScript's `trim` removes: WhiteSpace and LineTerminator.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness: unlike Python, empty arrays and objects are truthy."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return not math.isnan(value) and value != 0
    return True


def js_trim(value: str) -> str:
    return value.strip(JS_WHITESPACE)


def js_number(value: float) -> str:
    """`String(n)` for a JavaScript number (ECMAScript Number::toString, radix 10)."""
    if isinstance(value, int) and abs(value) <= _MAX_SAFE_INTEGER:
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr gives the shortest round-tripping digits, as ECMAScript requires; only the layout differs.
    _, digit_tuple, exponent = Decimal(repr(abs(number))).as_tuple()
    digits = "".join(map(str, digit_tuple))
    stripped = digits.rstrip("0")
    exponent = int(exponent) + len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = exponent + k  # the value is digits * 10**(n - k)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    exp = n - 1
    exp_str = f"e+{exp}" if exp >= 0 else f"e-{-exp}"
    if k == 1:
        return sign + digits + exp_str
    return sign + digits[0] + "." + digits[1:] + exp_str


_MAX_SAFE_INTEGER = 2**53 - 1


def js_string(value: Any) -> str:
    """`String(value)` / `${value}` for a JSON-like value."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, Sequence):
        # Array.prototype.join renders null and undefined elements as empty strings.
        return ",".join("" if item is None else js_string(item) for item in value)
    return str(value)


def _json_string(value: str) -> str:
    out = ['"']
    for char in value:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif code < 0x20:
            out.append(_SHORT_ESCAPES.get(char) or f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            # Well-formed JSON.stringify escapes lone surrogates.
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def js_json_stringify(value: Any) -> str:
    """`JSON.stringify(value)` without indentation, keys in insertion order."""
    if isinstance(value, str):
        return _json_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "null"
        return js_number(value)
    if isinstance(value, Mapping):
        members = (f"{_json_string(str(key))}:{js_json_stringify(value[key])}" for key in js_key_order(value))
        return "{" + ",".join(members) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(js_json_stringify(item) for item in value) + "]"
    return _json_string(str(value))


def _is_array_index(key: str) -> bool:
    return key.isdigit() and key.isascii() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def js_key_order(mapping: Iterable[str]) -> list[str]:
    """The order JavaScript enumerates an object's keys in (`Object.keys`, `for...in`, JSON).

    Keys that are array indices ("0", "17", ...) come first in numeric order, then the other keys
    in insertion order. Python dicts keep insertion order only, so error paths that report "the
    first" offending key go through this.
    """
    keys = [str(key) for key in mapping]
    indices = [key for key in keys if _is_array_index(key)]
    if not indices:
        return keys
    indices.sort(key=int)
    return indices + [key for key in keys if not _is_array_index(key)]


def js_sort_key(value: str) -> bytes:
    """Sort key matching JavaScript's default sort, which compares UTF-16 code units.

    Code point order (Python's) and UTF-16 order disagree once a string holds characters beyond
    the Basic Multilingual Plane: U+1F600 sorts before U+FFFF in JavaScript.
    """
    return value.encode("utf-16-be", "surrogatepass")
