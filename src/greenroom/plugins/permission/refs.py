"""Entity references as RHDH's RBAC plugin accepts them: full form only, with its name rules."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[a-zA-Z0-9]+([._-][a-zA-Z0-9]+)*$")
_NAMESPACE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MEMBER_KINDS = ("user", "group")
ALL_KINDS = ("user", "group", "role")


def ref_problem(ref: object, *, kinds: tuple[str, ...] = ALL_KINDS) -> str | None:
    """Why `ref` is not a full `<kind>:<namespace>/<name>` reference of one of `kinds` (None if it is).

    The messages are RHDH's, so an operator sees the same words in either product.
    """
    if not isinstance(ref, str) or not ref:
        return "'entityReference' must not be empty"
    kind, colon, rest = ref.partition(":")
    namespace, slash, name = rest.partition("/")
    if not colon or not slash or not kind or not namespace or not name or "/" in name or ":" in rest:
        return (f"entity reference '{ref}' does not match the required format [<kind>:][<namespace>/]<name>. "
                "Provide, please, full entity reference.")
    if kind not in kinds:
        if kinds == ("role",):
            return f'Unsupported kind {kind}. Supported value should be "role"'
        supported = ", ".join(f'"{k}"' for k in kinds)
        return f"Unsupported kind {kind}. List supported values [{supported}]"
    if not _NAME.match(name) or len(name) > 63:
        return (f"The name '{name}' in the entity reference must be a string that is sequences of [a-zA-Z0-9] "
                "separated by any of [-_.], at most 63 characters in total")
    if not _NAMESPACE.match(namespace) or len(namespace) > 63:
        return (f"The namespace '{namespace}' in the entity reference must be a string that is sequences of "
                "[a-z0-9] separated by [-], at most 63 characters in total")
    return None
