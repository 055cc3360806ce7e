"""RBAC test harness: a portal with a small organisation in its catalog, policy files written by
the test, and real user tokens (a server-side session and its signed token, as a sign-in makes).

Every portal runs on SQLite and on PostgreSQL (the `database_config` fixture).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from greenroom.app import Portal, create_portal
from greenroom.config import load_config
from greenroom.config.defaults import base_defaults
from greenroom.plugins.catalog.plugin import CATALOG
from greenroom.plugins.permission.plugin import RBAC
from greenroom.plugins.permission.service import RbacService
from tests.conftest import deep_merge, token_config

ALL_KINDS = ["Component", "API", "System", "Domain", "Resource", "Group", "User", "Location", "Template"]

ORG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: org}
spec: {type: organization, children: [platform, team-b]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: platform}
spec: {type: department, parent: org, children: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, parent: platform, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, parent: org, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: loop-a}
spec: {type: team, parent: loop-b, children: [loop-b]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: loop-b}
spec: {type: team, parent: loop-a, children: [loop-a]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: alice}
spec: {memberOf: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: bob}
spec: {memberOf: [team-b]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: carol}
spec: {memberOf: [platform]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: dave}
spec: {memberOf: [loop-a]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: erin}
spec: {memberOf: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: mallory}
spec: {memberOf: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  labels: {tier: gold}
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: checkout}
spec: {type: service, lifecycle: experimental, owner: team-b}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations: {github.com/project-slug: acme/ledger}
spec: {type: library, lifecycle: production, owner: platform}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: alice-tool}
spec: {type: website, lifecycle: production, owner: user:default/alice}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: payments-api}
spec: {type: openapi, lifecycle: production, owner: team-a, definition: "openapi: 3.0.0"}
"""


@dataclass
class RbacPortal:
    portal: Portal
    directory: Path
    csv: Path
    conditional: Path

    @property
    def rbac(self) -> RbacService:
        return self.portal.registry.services.get(RBAC)

    def token(self, user: str, ownership: list[str] | None = None) -> str:
        """A user token as a sign-in would issue it: the user and its direct groups own for it."""
        refs = ownership if ownership is not None else self.rbac.default_ownership(user)
        identity = self.portal.identity
        session, _cookie = identity.sessions.create(kind="user", user_ref=user, provider="test", ownership_refs=refs)
        return identity.issue_token(session).token

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def ingest(self) -> None:
        self.portal.registry.services.get(CATALOG).ingest_all(force=True)


@pytest.fixture
def rbac_portal(tmp_path: Path, database_config: dict[str, Any]) -> Iterator[Callable[..., RbacPortal]]:
    """`rbac_portal(csv="...", conditional="...", rbac={...}, extra={...}, org=ORG)`."""
    built: list[Portal] = []
    counter = itertools.count()

    def build(
        csv: str | None = None,
        conditional: str | None = None,
        *,
        rbac: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        org: str = ORG,
        ingest: bool = True,
    ) -> RbacPortal:
        directory = tmp_path / f"portal-{next(counter)}"
        directory.mkdir()
        catalog = directory / "org.yaml"
        catalog.write_text(org, encoding="utf-8")
        csv_file, conditional_file = directory / "rbac-policy.csv", directory / "conditional-policies.yaml"
        settings: dict[str, Any] = dict(rbac or {})
        if csv is not None:
            csv_file.write_text(csv, encoding="utf-8")
            settings.setdefault("policies-csv-file", str(csv_file))
        if conditional is not None:
            conditional_file.write_text(conditional, encoding="utf-8")
            settings.setdefault("conditionalPoliciesFile", str(conditional_file))
        config = deep_merge(token_config(), {
            "backend": {"database": database_config},
            "catalog": {"processingInterval": False, "rules": [{"allow": ALL_KINDS}],
                        "locations": [{"type": "file", "target": str(catalog)}]},
            "permission": {"enabled": True, "rbac": settings},
            "auth": {"lockout": {"addressMaxAttempts": 100_000}},
        })
        config = deep_merge(config, extra or {})
        file = directory / "app-config.yaml"
        file.write_text(yaml.safe_dump(config), encoding="utf-8")
        portal = create_portal(load_config([file], defaults=base_defaults(), env={}))
        built.append(portal)
        handle = RbacPortal(portal, directory, csv_file, conditional_file)
        if ingest:
            handle.ingest()
        return handle

    yield build
    for portal in built:
        portal.database.dispose()
