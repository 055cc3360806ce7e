"""Location targets: how a `{type, target}` is named, resolved and read.

A location key is Backstage's stringified location ref, `<type>:<target>`, e.g.
`file:/srv/catalog/all.yaml` or `url:https://github.com/org/repo/blob/main/catalog-info.yaml`;
it is what the `backstage.io/managed-by-location` annotations hold.

File targets are confined: a location tree read from a file may only reach files inside
the directory of its origin file (relative targets, globs, and `$text` placeholders alike;
symlinks are resolved before the check). URL targets go through the SSRF-safe URL reader,
and relative targets inside a URL tree resolve against the parent URL on the same host.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from greenroom.errors import InputError, NotAllowedError, NotFoundError, PayloadTooLargeError
from greenroom.reading import resolve_relative

DEFAULT_MAX_FILE_BYTES = 128 * 1024 * 1024
MAX_GLOB_MATCHES = 10_000


class Reader(Protocol):
    def read(self, url: str) -> object: ...


@dataclass(frozen=True, slots=True)
class LocationSpec:
    type: str
    target: str

    @property
    def key(self) -> str:
        return f"{self.type}:{self.target}"

    @classmethod
    def parse_ref(cls, ref: str) -> LocationSpec:
        kind, sep, target = ref.partition(":")
        if not sep or not kind or not target:
            raise InputError(f"Unable to parse location ref '{ref}', expected '<type>:<target>', e.g. 'url:https://host/path'")
        return cls(kind, target)


def normalize_root(spec: LocationSpec, *, base_dir: Path | None = None) -> LocationSpec:
    """An absolute file path for file locations (relative ones resolve against base_dir)."""
    if spec.type != "file":
        return spec
    path = Path(spec.target)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return LocationSpec("file", os.path.normpath(str(path)))


def is_glob(target: str) -> bool:
    return any(ch in target for ch in "*?[")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def confine_file(path: str, root_dir: Path) -> Path:
    """The real path of `path`, refused unless it lies inside `root_dir`."""
    real = Path(os.path.realpath(path))
    root = Path(os.path.realpath(root_dir))
    if not _inside(real, root):
        raise NotAllowedError(f"{path} is outside the location's directory {root_dir}; refusing to read it")
    return real


def child_spec(parent: LocationSpec, target: str, type_: str | None) -> LocationSpec:
    """A target named inside `parent` (a Location entity's spec.target/targets), resolved."""
    kind = type_ or parent.type
    if kind == "file":
        if parent.type != "file":
            raise NotAllowedError(f"a {parent.type} location cannot point at a file location ({target})")
        base = Path(parent.target).parent
        path = Path(target)
        resolved = path if path.is_absolute() else base / path
        return LocationSpec("file", os.path.normpath(str(resolved)))
    if kind == "url":
        if parent.type == "url":
            return LocationSpec("url", resolve_relative(parent.target, target))
        if "://" not in target:
            raise InputError(f"url location target '{target}' must be an absolute URL")
        return LocationSpec("url", target)
    raise InputError(f"Unknown location type '{kind}'")


def expand_file_glob(spec: LocationSpec, root_dir: Path) -> list[LocationSpec]:
    """Files matched by a glob target, sorted, each confined to root_dir."""
    matches = sorted(glob.glob(spec.target, recursive=True))
    if len(matches) > MAX_GLOB_MATCHES:
        raise InputError(f"glob {spec.target} matches more than {MAX_GLOB_MATCHES} files")
    out = []
    for match in matches:
        if os.path.isfile(match):
            confine_file(match, root_dir)
            out.append(LocationSpec("file", os.path.normpath(match)))
    return out


def read_file(spec: LocationSpec, root_dir: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    path = confine_file(spec.target, root_dir)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise NotFoundError(f"{spec.target} does not exist") from exc
    except OSError as exc:
        raise InputError(f"cannot read {spec.target}: {exc.strerror}") from exc
    if size > max_bytes:
        raise PayloadTooLargeError(f"{spec.target} is {size} bytes, more than the limit of {max_bytes}")
    try:
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise InputError(f"{spec.target} is a directory, not a file") from exc
    except OSError as exc:
        raise InputError(f"cannot read {spec.target}: {exc.strerror}") from exc
