"""The identity test harness: a portal served on 127.0.0.1 with a small organisation in its
catalog, identity providers running on 127.0.0.1, and a browser that follows redirects by hand.

Every portal runs on SQLite and on PostgreSQL (the `database_config` fixture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from greenroom.app import Portal, create_portal
from greenroom.config import load_config
from greenroom.config.defaults import base_defaults
from greenroom.identity import MemoryAuditSink
from greenroom.plugins.catalog.plugin import CATALOG
from tests.conftest import deep_merge, free_port, token_config
from tests.plugins.auth.browser import Browser, frame_message
from tests.plugins.auth.oidc_idp import OidcIdp
from tests.plugins.auth.servers import Served

ORG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: org}
spec: {type: organization, children: [team-a, admins]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, parent: org, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: admins}
spec: {type: team, parent: org, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: alice
  annotations: {github.com/user-id: "1001", okta.com/email: alice@corp.example.com}
spec:
  profile: {email: alice@example.com, displayName: Alice Example}
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: bob}
spec:
  profile: {email: bob@example.com}
  memberOf: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: carol}
spec:
  profile: {email: carol@example.com}
  memberOf: [admins]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: pay-service}
spec: {type: service, lifecycle: production, owner: team-a}
"""
ALL_KINDS = ["Component", "API", "System", "Domain", "Resource", "Group", "User", "Location", "Template"]
CLIENT_ID = "greenroom-portal"
CLIENT_SECRET = "idp-client-secret-0123456789"


@dataclass
class PortalHandle:
    portal: Portal
    served: Served
    audit: MemoryAuditSink
    config_file: Path
    browsers: list[Browser] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def identity(self) -> Any:
        return self.portal.identity

    def browser(self) -> Browser:
        browser = Browser()
        self.browsers.append(browser)
        return browser

    def events(self, event_id: str, status: str | None = None) -> list[Any]:
        """Audit events as stored in the trail (the database), oldest first."""
        from types import SimpleNamespace

        from greenroom.audit import AuditQuery

        assert self.portal.auditor is not None
        return [
            SimpleNamespace(event_id=e.event_id, status=e.status, meta=e.to_json()["meta"], error=e.error,
                            actor=SimpleNamespace(actor_id=e.actor_id, ip=e.ip, user_agent=e.user_agent))
            for e in self.portal.auditor.iterate(AuditQuery(event_id=event_id, status=status))
        ]

    def api(self, path: str, *, token: str | None = None, method: str = "GET", **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, trust_env=False, **kwargs)


def oidc_provider_config(idp: OidcIdp, **extra: Any) -> dict[str, Any]:
    return {
        "metadataUrl": idp.metadata_url,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]},
        **extra,
    }


@pytest.fixture
def make_auth_portal(tmp_path: Path, database_config: dict[str, Any]) -> Iterator[Callable[..., PortalHandle]]:
    """`make_auth_portal(providers={...}, extra={...})`: a portal served on its own port."""
    handles: list[PortalHandle] = []
    catalog_file = tmp_path / "org.yaml"
    catalog_file.write_text(ORG, encoding="utf-8")

    def build(
        providers: dict[str, Any] | None = None,
        *,
        extra: dict[str, Any] | None = None,
        port: int | None = None,
        ingest: bool = True,
        **kwargs: Any,
    ) -> PortalHandle:
        port = port or free_port()
        base = f"http://127.0.0.1:{port}"
        config = deep_merge(token_config(), {
            "app": {"baseUrl": base},
            "backend": {"baseUrl": base, "listen": {"host": "127.0.0.1", "port": port}, "database": database_config},
            "catalog": {"processingInterval": False, "rules": [{"allow": ALL_KINDS}],
                        "locations": [{"type": "file", "target": str(catalog_file)}]},
            "auth": {"environment": "development", "providers": providers or {}},
            # RHDH semantics: super-users may do everything (the session admin API included);
            # `admin.users` only manage RBAC policy and read the catalog.
            "permission": {"rbac": {"admin": {"superUsers": [{"name": "group:default/admins"}]}}},
        })
        config = deep_merge(config, extra or {})
        file = tmp_path / f"app-config-{len(handles)}.yaml"
        file.write_text(yaml.safe_dump(config), encoding="utf-8")
        portal = create_portal(load_config([file], defaults=base_defaults(), env={}), **kwargs)
        audit = MemoryAuditSink()
        portal.identity.auditor.sinks.append(audit)
        if ingest:
            portal.registry.services.get(CATALOG).ingest_all(force=True)
        handle = PortalHandle(portal=portal, served=Served(portal.app, port), audit=audit, config_file=file)
        handles.append(handle)
        return handle

    yield build
    for handle in handles:
        for browser in handle.browsers:
            browser.close()
        handle.served.stop()
        handle.portal.database.dispose()


@pytest.fixture
def idp() -> Iterator[OidcIdp]:
    provider = OidcIdp("idp").start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc_portal(make_auth_portal: Callable[..., PortalHandle], idp: OidcIdp) -> Callable[..., PortalHandle]:
    """A portal with the generic `oidc` provider pointing at the test IdP."""

    def build(provider_extra: dict[str, Any] | None = None, **kwargs: Any) -> PortalHandle:
        port = free_port()
        idp.register_client(CLIENT_ID, CLIENT_SECRET, f"http://127.0.0.1:{port}/api/auth/oidc/handler/frame")
        providers = {"oidc": {"development": oidc_provider_config(idp, **(provider_extra or {}))}}
        return make_auth_portal(providers, port=port, **kwargs)

    return build


def start_flow(browser: Browser, portal: PortalHandle, provider: str = "oidc", **params: str) -> httpx.Response:
    """`/start`; returns the portal's answer (a redirect to the IdP when all is well)."""
    query = {"env": "development", **params}
    return browser.get(f"{portal.url}/api/auth/{provider}/start", params=query)


def oidc_sign_in(
    browser: Browser,
    portal: PortalHandle,
    provider: str = "oidc",
    *,
    callback: Callable[[str], str] | None = None,
    **params: str,
) -> httpx.Response:
    """The whole browser flow: start, the IdP's authorize endpoint, back to the portal's callback."""
    started = start_flow(browser, portal, provider, **params)
    assert started.status_code == 302, started.text
    at_idp = browser.get(started.headers["location"])
    assert at_idp.status_code == 302, at_idp.text
    location = at_idp.headers["location"]
    if callback is not None:
        location = callback(location)
    return browser.get(location)


def signed_in_token(response: httpx.Response) -> str:
    message = frame_message(response)
    assert "response" in message, message
    token: str = message["response"]["backstageIdentity"]["token"]
    return token
