"""`$text`, `$json` and `$yaml` placeholders in descriptor files.

    spec:
      definition:
        $text: ./openapi.yaml

The target is relative to the file the entity was read from. Like Backstage, an object
whose single key is an unknown `$name` (e.g. `$openapi`, which needs a Backstage module)
is left as it is, and the entity's own validation then reports it.

Unlike Backstage, a placeholder may not leave its location's own tree: in a file tree it
must resolve to a file inside the origin file's directory (no `../` escape, no absolute
path, no symlink out) and an absolute URL must pass `backend.reading.allow`; in a URL tree
it must stay on the same host as the file that names it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from greenroom.errors import GreenroomError, InputError, NotAllowedError
from greenroom.plugins.catalog.processing.locations import LocationSpec, read_file
from greenroom.reading import resolve_relative
from greenroom.yamlsafe import load_one

RESOLVERS = ("text", "json", "yaml")
MAX_PLACEHOLDERS_PER_ENTITY = 50
MAX_PLACEHOLDER_BYTES = 10 * 1024 * 1024


class PlaceholderContext:
    def __init__(
        self,
        location: LocationSpec,
        root_dir: Path | None,
        read_url: Callable[[str], bytes],
        on_file: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.location = location
        self.root_dir = root_dir
        self.read_url = read_url
        self.on_file = on_file
        self.count = 0

    def read(self, target: str) -> tuple[str, bytes]:
        """(where, content) of a placeholder target."""
        self.count += 1
        if self.count > MAX_PLACEHOLDERS_PER_ENTITY:
            raise InputError(f"more than {MAX_PLACEHOLDERS_PER_ENTITY} placeholders in one entity")
        if "://" in target:
            if self.location.type == "url" and urlsplit(target).hostname != urlsplit(self.location.target).hostname:
                raise NotAllowedError(f"placeholder target {target} is on another host than {self.location.target}")
            return target, self.read_url(target)
        if self.location.type == "url":
            url = resolve_relative(self.location.target, target)
            return url, self.read_url(url)
        if Path(target).is_absolute():
            raise NotAllowedError(f"placeholder target {target} is an absolute path; use a path relative to the file")
        assert self.root_dir is not None
        spec = LocationSpec("file", os.path.normpath(str(Path(self.location.target).parent / target)))
        data = read_file(spec, self.root_dir, MAX_PLACEHOLDER_BYTES)
        if self.on_file is not None:
            self.on_file(spec.key, data)
        return spec.target, data


def _resolve_one(kind: str, target: Any, ctx: PlaceholderContext) -> Any:
    if not isinstance(target, str) or not target:
        raise InputError(f"Placeholder ${kind} must be a non-empty string")
    try:
        where, content = ctx.read(target)
    except GreenroomError as exc:
        raise InputError(f"Placeholder ${kind} could not read location {target}, {exc.name}: {exc.message}") from exc
    if kind == "text":
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"Placeholder $text could not read {where}: not UTF-8 text") from exc
    if kind == "json":
        try:
            return json.loads(content)
        except ValueError as exc:
            raise InputError(f"Placeholder $json failed to parse JSON data at {where}, {exc}") from exc
    return load_one(content, source=where)


def resolve_placeholders(value: Any, ctx: PlaceholderContext) -> Any:
    """A copy of `value` with every known placeholder replaced by what it points at."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, arg), = value.items()
            if isinstance(key, str) and key.startswith("$") and key[1:] in RESOLVERS and isinstance(arg, str):
                return _resolve_one(key[1:], arg, ctx)
        return {k: resolve_placeholders(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_placeholders(v, ctx) for v in value]
    return value


def may_have_placeholders(raw: bytes | str) -> bool:
    """Cheap pre-check on a file's text: no `$text`/`$json`/`$yaml` means nothing to do."""
    data = raw.encode() if isinstance(raw, str) else raw
    return b"$text" in data or b"$json" in data or b"$yaml" in data
