"""The catalog plugin: Backstage's software catalog, registered through the public plugin API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from greenroom import __version__
from greenroom.kernel import (
    AUDITOR,
    PERMISSIONS,
    URL_READER,
    PluginContext,
    PluginManifest,
    ServiceRef,
    define_plugin,
)
from greenroom.plugins.catalog import permissions
from greenroom.plugins.catalog.config import CatalogConfig
from greenroom.plugins.catalog.permission_rules import entity_resource_type
from greenroom.plugins.catalog.routes import register
from greenroom.plugins.catalog.service import CatalogService

CATALOG: ServiceRef[CatalogService] = ServiceRef("catalog.service", CatalogService, "the software catalog")


def _setup(ctx: PluginContext) -> None:
    config = CatalogConfig.model_validate(ctx.config.get("catalog", {}))
    reader = ctx.services.get(URL_READER)

    def read_url(url: str) -> bytes:
        data: bytes = reader.read(url).data
        return data

    # Like Backstage, relative file targets in catalog.locations resolve against the working directory.
    service = CatalogService(database=ctx.database, config=config, read_url=read_url, config_dir=Path.cwd(),
                             audit=ctx.services.get(AUDITOR).for_plugin(ctx.plugin_id))
    ctx.provide(CATALOG, service)
    # Conditional decisions on `catalog-entity` are written in the catalog's rules.
    ctx.services.get(PERMISSIONS).register_resource_type(entity_resource_type(service.queries))
    register(ctx.router("/api/catalog"), service, ctx.services.get(PERMISSIONS))
    ctx.on_serving(service.start)  # the first ingestion must not slow the server's start-up
    ctx.on_stop(service.stop)


def _cli(app: Any) -> None:
    from greenroom.plugins.catalog.cli import register as register_cli

    register_cli(app)


plugin = define_plugin(
    PluginManifest(
        id="catalog",
        version=__version__,
        description="Software catalog with Backstage's entity model and REST API",
        mounts=("/api/catalog",),
        permissions=permissions.ALL,
        services=(URL_READER, PERMISSIONS, AUDITOR),
        provides=(CATALOG,),
        config_schema=CatalogConfig,
        migrations="greenroom.plugins.catalog:migrations/versions",
        cli=_cli,
    ),
    setup=_setup,
)
