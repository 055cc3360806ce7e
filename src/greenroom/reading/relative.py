"""Resolving the relative targets of Location entities and `$text`-style references."""

from __future__ import annotations

import re

from greenroom.errors import InputError
from greenroom.reading.errors import UrlNotAllowedError
from greenroom.reading.hosting import tree_root
from greenroom.reading.urls import HttpUrl, parse_url

_HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def resolve_relative(base_url: str, target: str) -> str:
    """Resolve `target` (`./other.yaml`, `../x.yaml`, `/docs/x.yaml`) against `base_url`.

    Like Backstage's SCM `resolveUrl`: a relative path resolves against the base file's
    directory, a path starting with `/` resolves against the root of the repository tree
    the base lives in (the host root for URLs that are not git-hosting file URLs), and the
    base's query string is kept.

    Stricter than Backstage: the result never leaves the base's origin (an absolute or
    `//host` target on another host, port or scheme is refused) nor the base's repository
    tree (`../../other-repo/...` is refused), each with `UrlNotAllowedError`. The result
    still has to pass the allow-list when it is read.
    """
    base = parse_url(base_url)
    if not isinstance(target, str) or not target:
        raise InputError("relative target must be a non-empty string")
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        raise InputError("relative target contains a backslash or control character")
    root = tree_root(base)
    if _HAS_SCHEME.match(target) or target.startswith("//"):
        absolute = target if _HAS_SCHEME.match(target) else f"{base.scheme}:{target}"
        resolved = parse_url(absolute)
        if resolved.origin != base.origin:
            raise UrlNotAllowedError(
                f"Target '{resolved.redacted()}' leaves the host of '{base.redacted()}'",
                rule="escapes-host",
            )
        return str(_inside_tree(resolved, root, base))
    path_part, _, _fragment = target.partition("#")
    path_part, _, _query = path_part.partition("?")
    if path_part.startswith("/"):
        merged = root.rstrip("/") + path_part
    else:
        directory = base.path[: base.path.rfind("/") + 1]
        merged = directory + path_part
    resolved = base.with_path(merged or "/")
    return str(_inside_tree(resolved, root, base))


def _inside_tree(resolved: HttpUrl, root: str, base: HttpUrl) -> HttpUrl:
    if not (resolved.path.startswith(root) or resolved.path + "/" == root):
        raise UrlNotAllowedError(
            f"Target '{resolved.redacted()}' leaves the tree '{root}' of '{base.redacted()}'",
            rule="escapes-tree",
        )
    return resolved.with_query(base.query)
