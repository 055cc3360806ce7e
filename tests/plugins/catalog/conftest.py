"""Catalog test helpers: a portal with a catalog written to files, and an HTTP client for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from greenroom.app import Portal
from greenroom.plugins.catalog.plugin import CATALOG
from greenroom.plugins.catalog.service import CatalogService

ALL_KINDS = ["Component", "API", "System", "Domain", "Resource", "Group", "User", "Location", "Template"]


class CatalogHarness:
    def __init__(self, portal: Portal, root: Path) -> None:
        self.portal = portal
        self.root = root
        self.service: CatalogService = portal.registry.services.get(CATALOG)
        self.client = TestClient(portal.app, headers={"Authorization": "Bearer test-static-token-0123456789abcdef"},
                                 raise_server_exceptions=False)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def ingest(self, force: bool = True) -> dict[str, Any]:
        return self.service.ingest_all(force=force)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(f"/api/catalog{url}", **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.client.post(f"/api/catalog{url}", **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.client.delete(f"/api/catalog{url}", **kwargs)

    def entity(self, ref: str) -> dict[str, Any] | None:
        kind, _, rest = ref.partition(":")
        namespace, _, name = rest.partition("/")
        response = self.get(f"/entities/by-name/{kind}/{namespace}/{name}")
        return response.json() if response.status_code == 200 else None


@pytest.fixture
def catalog(make_portal: Callable[..., Portal], tmp_path: Path) -> Iterator[Callable[..., CatalogHarness]]:
    """`catalog(files={'all.yaml': ...}, rules=..., extra=...)` -> an ingested CatalogHarness."""

    def build(
        files: dict[str, str] | None = None,
        *,
        root_file: str = "all.yaml",
        rules: list[Any] | str | None = "all",
        extra: dict[str, Any] | None = None,
        ingest: bool = True,
    ) -> CatalogHarness:
        root = tmp_path / "catalog"
        root.mkdir(exist_ok=True)
        for name, text in (files or {}).items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        catalog_config: dict[str, Any] = {}
        if rules is not None:  # None: no `catalog.rules` at all, so Backstage's default rules apply
            catalog_config["rules"] = [{"allow": ALL_KINDS}] if rules == "all" else rules
        if files is not None:
            catalog_config["locations"] = [{"type": "file", "target": str(root / root_file)}]
        config = {"catalog": catalog_config}
        if extra:
            from tests.conftest import deep_merge

            config = deep_merge(config, extra)
        harness = CatalogHarness(make_portal(config), root)
        if ingest:
            harness.ingest()
        return harness

    return build
