"""What a plugin is and declares: the one public way to extend greenroom.

A plugin package exposes a `Plugin` through the `greenroom.plugins` entry point group::

    [project.entry-points."greenroom.plugins"]
    hello = "greenroom_hello:plugin"

and builds it with `define_plugin`::

    plugin = define_plugin(
        PluginManifest(
            id="hello",
            version="1.0.0",
            mounts=("/api/hello",),
            permissions=(HELLO_READ,),
            config_keys=("backend.reading",),     # besides its own `hello:` subtree
            secrets=("hello.apiToken",),
            services=(URL_READER,),
            optional_services=(),                 # used when some plugin provides them
        ),
        setup=setup,
    )

The core gives `setup` a `PluginContext` holding only what the manifest declares.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from greenroom.kernel.services import ServiceRef
from greenroom.permissions.model import Permission

if TYPE_CHECKING:
    from greenroom.kernel.context import PluginContext

_PLUGIN_ID = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
# Paths the core serves itself; no plugin may mount over or around them.
RESERVED_PATHS = ("/healthz", "/readyz", "/metrics", "/.backstage", "/api/openapi.json")
# The one mount that is an exact path rather than a prefix: a plugin mounting it serves `/` only.
ROOT_MOUNT = "/"


@dataclass(frozen=True)
class PluginManifest:
    id: str
    version: str
    description: str = ""
    mounts: tuple[str, ...] = ()
    permissions: tuple[Permission, ...] = ()
    config_keys: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    services: tuple[ServiceRef[Any], ...] = ()
    optional_services: tuple[ServiceRef[Any], ...] = ()
    provides: tuple[ServiceRef[Any], ...] = ()
    config_schema: type[BaseModel] | None = None
    migrations: str | None = None
    cli: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        if not _PLUGIN_ID.match(self.id):
            raise ValueError(f"plugin id '{self.id}' must be lowercase words joined by '-'")
        for mount in self.mounts:
            if mount == ROOT_MOUNT:
                continue  # the root page alone (`/`), never a prefix: it overlaps nothing else
            if not mount.startswith("/") or mount.endswith("/"):
                raise ValueError(f"plugin {self.id}: mount '{mount}' must start and not end with '/'")
            for reserved in RESERVED_PATHS:
                if reserved == mount or reserved.startswith(mount + "/") or mount.startswith(reserved + "/"):
                    raise ValueError(f"plugin {self.id}: mount '{mount}' overlaps the core's {reserved}")
        names = [p.name for p in self.permissions]
        if len(names) != len(set(names)):
            raise ValueError(f"plugin {self.id}: permissions declared twice")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "description": self.description,
            "mounts": list(self.mounts),
            "permissions": [p.to_json() for p in self.permissions],
            "configKeys": [self.id, *self.config_keys],
            "secrets": list(self.secrets),
            "services": [s.id for s in self.services],
            "optionalServices": [s.id for s in self.optional_services],
            "provides": [s.id for s in self.provides],
        }


@dataclass(frozen=True)
class Plugin:
    manifest: PluginManifest
    setup: Callable[[PluginContext], None]

    @property
    def id(self) -> str:
        return self.manifest.id


def define_plugin(manifest: PluginManifest, setup: Callable[[PluginContext], None]) -> Plugin:
    return Plugin(manifest=manifest, setup=setup)
