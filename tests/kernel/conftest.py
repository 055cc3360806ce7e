"""Fake installed third-party distributions, found through real entry points.

`plugin_site.install(...)` writes what pip leaves in site-packages: the package module, a
`<name>-<version>.dist-info/` with METADATA, `entry_points.txt` (group `greenroom.plugins`)
and a RECORD with urlsafe-base64 sha256 hashes, CRLF line ends as pip writes it, and RECORD
itself listed without a hash. The directory is put on `sys.path` so the module imports;
`plugin_site.search_path` is that directory followed by `sys.path`, so greenroom's own
built-in plugins are found too.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from greenroom.app import Portal
from greenroom.errors import GreenroomError
from greenroom.kernel.loader import discover

PLUGIN_HEADER = """\
from greenroom.kernel import (
    PERMISSIONS, URL_READER, Permission, PluginManifest, ServiceRef, UndeclaredAccessError, define_plugin,
)
from fastapi import Request

SEEN = {}
"""


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@dataclass
class Installed:
    root: Path
    dist_info: Path
    files: dict[str, bytes]

    @property
    def record(self) -> Path:
        return self.dist_info / "RECORD"

    def pin(self) -> str:
        """What `sha256sum RECORD` prints."""
        return hashlib.sha256(self.record.read_bytes()).hexdigest()

    def module_file(self, module: str) -> Path:
        return self.root / module / "__init__.py"


@dataclass
class PluginSite:
    root: Path
    modules: list[str] = field(default_factory=list)

    @property
    def search_path(self) -> list[str]:
        return [str(self.root), *sys.path]

    def install(
        self,
        name: str = "greenroom_hello",
        *,
        version: str = "1.0.0",
        plugins: dict[str, str],
        module: str | None = None,
        source: str = "",
        metadata_name: str | None = None,
        record_rows: list[str] | None = None,
    ) -> Installed:
        """`plugins` maps entry-point names to `module:attr`; `source` is the module's code."""
        module = module or name
        dist_info = self.root / f"{name}-{version}.dist-info"
        dist_info.mkdir(parents=True)
        files = {
            f"{module}/__init__.py": (PLUGIN_HEADER + textwrap.dedent(source)).encode(),
            f"{dist_info.name}/METADATA": (
                f"Metadata-Version: 2.1\nName: {metadata_name or name}\nVersion: {version}\n"
                "Summary: a greenroom plugin for tests\n"
            ).encode(),
            f"{dist_info.name}/entry_points.txt": (
                "[greenroom.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in plugins.items())
            ).encode(),
            f"{dist_info.name}/INSTALLER": b"pip\n",
        }
        rows = []
        for relative, data in files.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            rows.append(f"{relative},{record_hash(data)},{len(data)}")
        rows += record_rows or []
        rows.append(f"{dist_info.name}/RECORD,,")
        (dist_info / "RECORD").write_bytes("".join(f"{row}\r\n" for row in rows).encode())
        self.modules.append(module)
        importlib.invalidate_caches()
        return Installed(self.root, dist_info, files)

    def module(self, name: str) -> Any:
        return importlib.import_module(name)


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    root = tmp_path / "site-packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    site = PluginSite(root)
    yield site
    for name in site.modules:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[loaded]


def hello_source(
    *,
    manifest: str = "",
    setup: str = "pass",
    plugin_id: str = "hello",
) -> str:
    """A plugin module: `manifest` adds PluginManifest arguments, `setup` is the body of setup(ctx)."""
    return (
        f"HELLO_READ = Permission('{plugin_id}.greeting.read', 'read', None, 'read greetings')\n\n"
        "def setup(ctx):\n"
        + textwrap.indent(textwrap.dedent(setup).strip() or "pass", "    ")
        + "\n\n"
        f"plugin = define_plugin(PluginManifest(id='{plugin_id}', version='1.0.0', {manifest}), setup=setup)\n"
    )


@pytest.fixture
def portal_with(
    make_portal: Callable[..., Portal], plugin_site: PluginSite
) -> Callable[..., Portal]:
    """A portal whose plugins come from `plugin_site` and sys.path.

    Built-in plugins are switched off (faster, and the test sees only its own plugin) unless
    `builtins=True`.
    """

    def build(config: dict[str, Any] | None = None, *, builtins: bool = False, **kwargs: Any) -> Portal:
        config = dict(config or {})
        plugins = dict(config.get("plugins", {}))
        if not builtins:
            plugins["disabled"] = [*plugins.get("disabled", []), *builtin_ids()]
        config["plugins"] = plugins
        return make_portal(config, plugin_search_path=plugin_site.search_path, **kwargs)

    return build


def builtin_ids() -> list[str]:
    return [c.id for c in discover() if c.builtin]


def refusal_reason(portal: Portal, plugin_id: str) -> str:
    reasons = [r.reason for r in portal.registry.refused if r.id == plugin_id]
    assert reasons, f"{plugin_id} was not refused"
    return reasons[0]


def start_error(build: Callable[[], Portal]) -> GreenroomError:
    with pytest.raises(GreenroomError) as info:
        build()
    return info.value
