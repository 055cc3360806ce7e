"""Would `new URL(value)` succeed? The check behind Backstage's `CommonValidatorFunctions.isValidUrl`.

Node parses URLs with the WHATWG URL Standard, which accepts far more than "http(s) links":
`javascript:alert(1)`, `mailto:x` and `foo:` are all valid, while `//host/path` (no scheme, no base),
`http://` (special scheme without a host), `http://a:99999` (port out of range),
`http://1.2.3.999` (a host ending in a number that is not an IPv4 address) and hosts with forbidden
code points are not. This module decides validity only; it never builds the parsed URL.

The state machine is the standard's, reduced to the branches that can fail. Internationalised
hosts are mapped with UTS #46 (the `idna` package's tables) and checked the way Node's parser
checks them; Unicode table versions may differ between the two for code points assigned recently.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

import idna
import idna.idnadata
from idna.intranges import intranges_contain

# The shape nearly every real link has: http(s), an ASCII host whose last label starts with a
# letter (so it cannot "end in a number"), an optional short port, printable ASCII after it.
_FAST_URL = re.compile(
    r"https?://"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?"
    r"(?::[0-9]{0,4})?"
    r"(?:[/?#][\x21-\x7e]*)?"
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_LEADING_TRAILING = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_FORBIDDEN_HOST = frozenset("\x00\t\n\r #/:<>?@[\\]^|")
_FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | frozenset(chr(c) for c in range(0x20)) | {"%", "\x7f"}
_WINDOWS_DRIVE = re.compile(r"[A-Za-z][:|]")
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")


def is_valid_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if _FAST_URL.fullmatch(value) and "xn--" not in value.lower():
        return True
    return _parses(value)


def _parses(raw: str) -> bool:
    text = _TAB_OR_NEWLINE.sub("", raw.strip(_LEADING_TRAILING))
    scheme_match = _SCHEME.match(text)
    if scheme_match is None:
        # No scheme and no base URL to resolve against.
        return False
    scheme = scheme_match.group()[:-1].lower()
    rest = text[scheme_match.end() :]
    if scheme == "file":
        return _file_ok(rest)
    if scheme in _SPECIAL_SCHEMES:
        # Special schemes skip any run of slashes (either kind) before the authority.
        rest = rest.lstrip("/\\")
        end = _first_of(rest, "/\\?#")
        return _authority_ok(rest[:end], special=True)
    if rest.startswith("//"):
        rest = rest[2:]
        end = _first_of(rest, "/?#")
        return _authority_ok(rest[:end], special=False)
    # A path or an opaque path: every code point is either kept or percent-encoded.
    return True


def _first_of(text: str, stops: str) -> int:
    for index, char in enumerate(text):
        if char in stops:
            return index
    return len(text)


def _file_ok(rest: str) -> bool:
    if len(rest) < 2 or rest[0] not in "/\\" or rest[1] not in "/\\":
        return True
    rest = rest[2:]
    host = rest[: _first_of(rest, "/\\?#")]
    if _WINDOWS_DRIVE.fullmatch(host) or host == "":
        return True
    return _host_ok(host, special=True)


def _authority_ok(authority: str, *, special: bool) -> bool:
    at = authority.rfind("@")
    hostport = authority if at == -1 else authority[at + 1 :]
    if at != -1 and hostport == "":
        return False
    inside_brackets = False
    for index, char in enumerate(hostport):
        if char == "[":
            inside_brackets = True
        elif char == "]":
            inside_brackets = False
        elif char == ":" and not inside_brackets:
            host, port = hostport[:index], hostport[index + 1 :]
            if host == "":
                return False
            if not _host_ok(host, special=special):
                return False
            return port == "" or (all(char in _DIGITS for char in port) and int(port) <= 65535)
    if hostport == "":
        return not special
    return _host_ok(hostport, special=special)


def _host_ok(host: str, *, special: bool) -> bool:
    if host.startswith("["):
        return host.endswith("]") and _ipv6_ok(host[1:-1])
    if not special:
        return not any(char in _FORBIDDEN_HOST for char in host)
    domain = unquote_to_bytes(host).decode("utf-8", "replace")
    ascii_domain = _domain_to_ascii(domain)
    if ascii_domain is None:
        return False
    if _ends_in_number(ascii_domain):
        return _ipv4_ok(ascii_domain)
    return True


def _domain_to_ascii(domain: str) -> str | None:
    labels = domain.split(".")
    if domain.isascii() and not any(label.lower().startswith("xn--") for label in labels):
        result = domain.lower()
    else:
        result_or_none = _uts46_to_ascii(domain)
        if result_or_none is None:
            return None
        result = result_or_none
    if result == "" or any(char in _FORBIDDEN_DOMAIN for char in result):
        return None
    return result


def _uts46_to_ascii(domain: str) -> str | None:
    """UTS #46 ToASCII as Node's URL parser (Ada 2.9) runs it for `new URL`.

    Non-transitional mapping without STD3 rules, hyphen checks or DNS length limits. Only
    non-ASCII labels and the decoded form of `xn--` labels go through the label validity checks;
    plain ASCII labels are taken as they are.
    """
    try:
        mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
    except idna.IDNAError:
        return None
    out: list[str] = []
    for label in mapped.split("."):
        if label.startswith("xn--"):
            if not label.isascii():
                return None
            try:
                decoded = label[4:].encode("ascii").decode("punycode")
                # The decoded label must already be mapped and normalised, and not be empty.
                if not decoded or idna.uts46_remap(decoded, std3_rules=False, transitional=False) != decoded:
                    return None
            except (UnicodeError, ValueError, idna.IDNAError):
                return None
            if not _label_ok(decoded):
                return None
            out.append(label)
        elif label.isascii():
            out.append(label)
        else:
            if not _label_ok(label):
                return None
            out.append("xn--" + label.encode("punycode").decode("ascii"))
    return ".".join(out)


_ZWNJ = "\u200c"
_ZWJ = "\u200d"
_VIRAMA = 9  # canonical combining class of viramas
_LTR_ALLOWED = frozenset({"L", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"})
_RTL_ALLOWED = frozenset({"R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"})


def _label_ok(label: str) -> bool:
    """Ada's label validity: no leading mark, its reading of ContextJ, its reading of the Bidi rule.

    Where Ada departs from UTS #46 this follows Ada, since Node's verdict is what Backstage gives:
    a joiner after a virama makes the whole label valid at once; a ZWNJ needs a left- or
    dual-joining letter anywhere before it and a right- or dual-joining one anywhere after it;
    the Bidi rule applies per label and only to labels holding R, AL or AN characters; a label
    starting with anything but L is checked as right-to-left, and a left-to-right label's last
    non-NSM character is not checked.
    """
    if not label:
        return True
    if unicodedata.category(label[0]).startswith("M"):
        return False
    for index, char in enumerate(label):
        if char in (_ZWNJ, _ZWJ):
            if index > 0 and unicodedata.combining(label[index - 1]) == _VIRAMA:
                return True
            if char == _ZWJ or index == 0 or index == len(label) - 1:
                return False
            return any(_joining_type(c) in ("L", "D") for c in label[:index]) and any(
                _joining_type(c) in ("R", "D") for c in label[index + 1 :]
            )
    classes = [unicodedata.bidirectional(char) for char in label]
    last = len(classes) - 1
    while last >= 0 and classes[last] == "NSM":
        last -= 1
    if last < 0:
        return False
    if not any(cls in ("R", "AL", "AN") for cls in classes):
        return True
    if classes[0] == "L":
        return all(cls in _LTR_ALLOWED for cls in classes[:last])
    if "EN" in classes[: last + 1] and "AN" in classes[: last + 1]:
        return False
    return all(cls in _RTL_ALLOWED for cls in classes[: last + 1]) and classes[last] in ("R", "AL", "AN", "EN")


def _joining_type(char: str) -> str | None:
    """Unicode's Joining_Type of a character (from `idna`'s tables), None when it has none."""
    code_point = ord(char)
    for joining_type in ("D", "L", "R"):
        if intranges_contain(code_point, _JOINING_TYPES.get(joining_type, ())):
            return joining_type
    return None


_JOINING_TYPES: dict[str, tuple[int, ...]] = dict(idna.idnadata.joining_types)


def _ends_in_number(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and all(char in _DIGITS for char in last):
        return True
    # Otherwise only a hexadecimal "0x..." part parses as an IPv4 number.
    return _ipv4_number(last) is not None


def _ipv4_number(part: str) -> int | None:
    if part == "":
        return None
    radix = 10
    if len(part) >= 2 and part[:2].lower() == "0x":
        part, radix = part[2:], 16
    elif len(part) >= 2 and part[0] == "0":
        part, radix = part[1:], 8
    if part == "":
        return 0
    allowed = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}[radix]
    if any(char not in allowed for char in part):
        return None
    return int(part, radix)


def _ipv4_ok(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        return False
    numbers: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return False
        numbers.append(number)
    if any(number > 255 for number in numbers[:-1]):
        return False
    limit: int = 256 ** (5 - len(numbers))
    return numbers[-1] < limit


def _ipv6_ok(text: str) -> bool:
    """The URL Standard's IPv6 parser, reduced to accept/reject."""
    piece_index = 0
    compress = False
    pointer = 0
    length = len(text)
    if text.startswith(":"):
        if not text.startswith("::"):
            return False
        pointer = 2
        piece_index = 1
        compress = True
    while pointer < length:
        if piece_index == 8:
            return False
        if text[pointer] == ":":
            if compress:
                return False
            pointer += 1
            piece_index += 1
            compress = True
            continue
        value_length = 0
        while value_length < 4 and pointer < length and text[pointer] in _HEX:
            pointer += 1
            value_length += 1
        if pointer < length and text[pointer] == ".":
            if value_length == 0 or piece_index > 6:
                return False
            numbers_seen = _embedded_ipv4_numbers(text[pointer - value_length :])
            if numbers_seen != 4:
                return False
            piece_index += 2
            break
        if pointer < length and text[pointer] == ":":
            pointer += 1
            if pointer >= length:
                return False
        elif pointer < length:
            return False
        piece_index += 1
    return compress or piece_index == 8


def _embedded_ipv4_numbers(text: str) -> int:
    """How many dotted decimal numbers the tail holds; -1 when it is malformed."""
    numbers_seen = 0
    pointer = 0
    length = len(text)
    while pointer < length:
        if numbers_seen > 0:
            if text[pointer] == "." and numbers_seen < 4:
                pointer += 1
            else:
                return -1
        if pointer >= length or text[pointer] not in _DIGITS:
            return -1
        value: int | None = None
        while pointer < length and text[pointer] in _DIGITS:
            digit = ord(text[pointer]) - 48
            if value is None:
                value = digit
            elif value == 0:
                return -1
            else:
                value = value * 10 + digit
            if value > 255:
                return -1
            pointer += 1
        numbers_seen += 1
    return numbers_seen
