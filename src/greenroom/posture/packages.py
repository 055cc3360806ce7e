"""What a deployment is built from: a Backstage backend's npm packages or a Python environment.

Everything is read from files; the audit never asks a registry. `--packages` points at

* a Backstage backend package (the directory holding its `package.json`, or the file); the
  lockfile (`yarn.lock` v1 or Berry, `package-lock.json`) is looked for there and in up to
  four parent directories (a monorepo keeps it at the root), and `node_modules` next to
  either, when installed, tells which packages run install scripts;
* a Python environment (a virtualenv root or a `site-packages` directory), whose installed
  distributions and `greenroom.plugins` entry points are read from their `.dist-info`.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from greenroom.kernel.loader import ENTRY_POINT_GROUP, record_sha256
from greenroom.posture.sources import AuditInputError

MAX_MANIFEST_BYTES = 50 * 1024 * 1024
MAX_NODE_MODULES = 20_000
LOCKFILE_NAMES = ("yarn.lock", "package-lock.json", "npm-shrinkwrap.json")
INSTALL_SCRIPTS = ("preinstall", "install", "postinstall")


@dataclass(frozen=True, slots=True)
class Dependency:
    """A dependency the manifest names, with the version range it asks for."""

    name: str
    spec: str
    manifest: str
    line: int | None
    dev: bool = False


@dataclass(frozen=True, slots=True)
class Installed:
    """A package version the lockfile or environment resolves to."""

    name: str
    version: str
    ecosystem: str
    source: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class InstallScript:
    name: str
    version: str | None
    scripts: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class PythonPlugin:
    id: str
    distribution: str
    version: str
    record_sha256: str | None
    source: str


@dataclass
class Inventory:
    kind: Literal["npm", "python"]
    root: Path
    manifest: Path | None = None
    lockfile: Path | None = None
    direct: list[Dependency] = field(default_factory=list)
    installed: list[Installed] = field(default_factory=list)
    install_scripts: list[InstallScript] = field(default_factory=list)
    entry_source: tuple[str, str] | None = None
    plugins: list[PythonPlugin] = field(default_factory=list)
    own_scopes: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)

    def versions_of(self, name: str) -> list[Installed]:
        return [i for i in self.installed if i.name == name]


def read_json(file: Path) -> Any:
    try:
        if file.stat().st_size > MAX_MANIFEST_BYTES:
            raise AuditInputError(f"{file}: larger than {MAX_MANIFEST_BYTES} bytes")
        return json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuditInputError(f"cannot read {file}: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"{file}: not valid JSON ({exc})") from exc


def _line_of(text: str, needle: str) -> int | None:
    index = text.find(needle)
    return None if index < 0 else text.count("\n", 0, index) + 1


def _scope(name: str) -> str | None:
    return name.split("/", 1)[0] if name.startswith("@") and "/" in name else None


# -- npm --------------------------------------------------------------------------------------


def _descriptor_name(descriptor: str) -> str | None:
    text = descriptor.strip().strip('"').strip()
    if not text or text.startswith("__metadata"):
        return None
    at = text.find("@", 1)
    return text[:at] if at > 0 else None


def parse_yarn_lock(text: str, source: str) -> list[Installed]:
    """Resolved versions from a Yarn v1 or Berry lockfile."""
    found: list[Installed] = []
    names: list[str] = []
    header_line = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            names = []
            if line.rstrip().endswith(":"):
                header_line = number
                for descriptor in line.rstrip()[:-1].split(","):
                    name = _descriptor_name(descriptor)
                    if name and name not in names:
                        names.append(name)
            continue
        match = re.match(r"^ {2}version:?\s+\"?([^\"\s]+)\"?\s*$", line)
        if match and names:
            version = match.group(1)
            if "use.local" in version:
                continue
            found.extend(Installed(n, version, "npm", source, header_line) for n in names)
    return found


def parse_package_lock(data: Any, source: str) -> tuple[list[Installed], list[InstallScript]]:
    installed: list[Installed] = []
    scripts: list[InstallScript] = []
    packages = data.get("packages") if isinstance(data, dict) else None
    if isinstance(packages, dict):
        for path, info in packages.items():
            if not path or not isinstance(info, dict) or info.get("link"):
                continue
            name = str(info.get("name") or path.rsplit("node_modules/", 1)[-1])
            version = info.get("version")
            if not isinstance(version, str):
                continue
            installed.append(Installed(name, version, "npm", source))
            if info.get("hasInstallScript"):
                scripts.append(InstallScript(name, version, ("install script",), source))
        return installed, scripts

    def walk(deps: Any) -> None:
        if not isinstance(deps, dict):
            return
        for name, info in deps.items():
            if isinstance(info, dict) and isinstance(info.get("version"), str):
                installed.append(Installed(str(name), info["version"], "npm", source))
                walk(info.get("dependencies"))

    walk(data.get("dependencies") if isinstance(data, dict) else None)
    return installed, scripts


def _scan_node_modules(directory: Path) -> list[InstallScript]:
    out: list[InstallScript] = []
    manifests: list[Path] = []
    try:
        for entry in sorted(directory.iterdir()):
            if entry.name.startswith("@") and entry.is_dir():
                manifests.extend(sorted(p / "package.json" for p in entry.iterdir() if p.is_dir()))
            elif entry.is_dir() and not entry.name.startswith("."):
                manifests.append(entry / "package.json")
            if len(manifests) > MAX_NODE_MODULES:
                break
    except OSError:
        return out
    for manifest in manifests[:MAX_NODE_MODULES]:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if not isinstance(data, dict):
            continue
        declared = data.get("scripts") if isinstance(data.get("scripts"), dict) else {}
        found = tuple(s for s in INSTALL_SCRIPTS if isinstance(declared, dict) and declared.get(s))
        if not found and data.get("gypfile"):
            found = ("node-gyp rebuild",)
        if found:
            out.append(InstallScript(str(data.get("name") or manifest.parent.name), data.get("version"), found,
                                     str(manifest)))
    return out


def _npm_inventory(manifest: Path) -> Inventory:
    data = read_json(manifest)
    if not isinstance(data, dict):
        raise AuditInputError(f"{manifest}: expected a JSON object")
    text = manifest.read_text(encoding="utf-8")
    inventory = Inventory(kind="npm", root=manifest.parent, manifest=manifest)
    scopes = {s for s in (_scope(str(data.get("name") or "")), "@internal") if s}
    for section, dev in (("dependencies", False), ("optionalDependencies", False), ("devDependencies", True)):
        deps = data.get(section)
        if not isinstance(deps, dict):
            continue
        for name, spec in deps.items():
            inventory.direct.append(
                Dependency(str(name), str(spec), str(manifest), _line_of(text, f'"{name}"'), dev=dev)
            )
    own = data.get("scripts") if isinstance(data.get("scripts"), dict) else {}
    found = tuple(s for s in INSTALL_SCRIPTS if isinstance(own, dict) and own.get(s))
    if found:
        inventory.install_scripts.append(InstallScript(str(data.get("name") or manifest.parent.name),
                                                       data.get("version"), found, str(manifest)))
    directory = manifest.parent
    for level, candidate_dir in enumerate([directory, *directory.parents][:5]):
        for name in LOCKFILE_NAMES:
            candidate = candidate_dir / name
            if candidate.is_file():
                inventory.lockfile = candidate
                break
        root_manifest = candidate_dir / "package.json"
        if level and root_manifest.is_file():
            try:
                root_data = json.loads(root_manifest.read_text(encoding="utf-8"))
                scope = _scope(str(root_data.get("name") or "")) if isinstance(root_data, dict) else None
                if scope:
                    scopes.add(scope)
            except (OSError, ValueError, UnicodeDecodeError):
                pass
        if inventory.lockfile is not None:
            break
    inventory.own_scopes = frozenset(scopes)
    lock = inventory.lockfile
    if lock is not None:
        if lock.name == "yarn.lock":
            try:
                lock_text = lock.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise AuditInputError(f"cannot read {lock}: {exc}") from exc
            inventory.installed = parse_yarn_lock(lock_text, str(lock))
        else:
            inventory.installed, scripts = parse_package_lock(read_json(lock), str(lock))
            inventory.install_scripts.extend(scripts)
    seen_modules: set[Path] = set()
    for base in {directory, lock.parent if lock else directory}:
        modules = base / "node_modules"
        if modules.is_dir() and modules.resolve() not in seen_modules:
            seen_modules.add(modules.resolve())
            known = {s.name for s in inventory.install_scripts}
            inventory.install_scripts.extend(s for s in _scan_node_modules(modules) if s.name not in known)
    if not inventory.installed:
        # Without a lockfile, exact versions in the manifest are still known versions.
        inventory.installed = [
            Installed(d.name, d.spec, "npm", d.manifest, d.line)
            for d in inventory.direct
            if re.fullmatch(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", d.spec)
        ]
    for name in ("src/index.ts", "src/index.js", "src/index.mts"):
        entry = directory / name
        if entry.is_file():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                inventory.entry_source = (str(entry), entry.read_text(encoding="utf-8"))
            break
    return inventory


# -- Python -----------------------------------------------------------------------------------


def _site_dirs(path: Path) -> list[Path]:
    if any(path.glob("*.dist-info")):
        return [path]
    if (path / "pyvenv.cfg").is_file() or (path / "lib").is_dir() or (path / "Lib").is_dir():
        found = sorted(path.glob("lib/python*/site-packages")) + sorted(path.glob("Lib/site-packages"))
        return [p for p in found if p.is_dir()]
    return []


def _python_inventory(path: Path) -> Inventory:
    sites = _site_dirs(path)
    if not sites:
        raise AuditInputError(f"{path}: neither a package.json, a virtualenv nor a site-packages directory")
    inventory = Inventory(kind="python", root=path)
    for dist in metadata.distributions(path=[str(s) for s in sites]):
        name = str(dist.metadata["Name"] or "")
        if not name:
            continue
        source = str(getattr(dist, "_path", sites[0]))
        inventory.installed.append(Installed(name, dist.version, "PyPI", source))
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP:
                inventory.plugins.append(PythonPlugin(ep.name, name.lower().replace("_", "-"), dist.version,
                                                      record_sha256(dist), source))
    return inventory


def load_inventory(path: Path) -> Inventory:
    target = path.resolve()
    if not target.exists():
        raise AuditInputError(f"--packages {path}: no such file or directory")
    if target.is_file():
        if target.name != "package.json":
            raise AuditInputError(f"--packages {path}: give a package.json, a directory holding one, or a Python env")
        return _npm_inventory(target)
    if (target / "package.json").is_file():
        return _npm_inventory(target / "package.json")
    return _python_inventory(target)


# -- registry metadata (publish dates), given as a file --------------------------------------------


def _to_date(text: Any) -> date | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def load_publish_dates(file: Path) -> dict[str, date]:
    """Last publish date per package from `{name: packument | {"time": ...} | "YYYY-MM-DD"}`."""
    data = read_json(file)
    if not isinstance(data, dict):
        raise AuditInputError(f"{file}: expected an object keyed by package name")
    out: dict[str, date] = {}
    for name, value in data.items():
        when = _to_date(value)
        if when is None and isinstance(value, dict):
            times = value.get("time")
            if isinstance(times, dict):
                stamps = [_to_date(v) for k, v in times.items() if k not in ("created",)]
                dates = [d for d in stamps if d is not None]
                when = max(dates) if dates else None
        if when is not None:
            out[str(name)] = when
    return out
