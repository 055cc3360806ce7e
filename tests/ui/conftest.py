"""The web UI test harness.

`ui_portal` (per test, SQLite and PostgreSQL) and `shared_portal` (one per module, SQLite, for
the browser tests) are real portals served by uvicorn on 127.0.0.1 with the test OpenID Connect
provider of tests/plugins/auth (authlib, on 127.0.0.1) configured as the only identity
provider, a small organisation in the catalog (fixtures/org.yaml) and entities whose text
carries script payloads (fixtures/xss.yaml). `signed_in(handle, user)` signs a plain-HTTP
browser in through the provider; the browser tests drive Debian's Chromium with Playwright.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from greenroom.app import Portal, create_portal
from greenroom.config import load_config
from greenroom.config.defaults import base_defaults
from greenroom.plugins.catalog.plugin import CATALOG
from tests.conftest import deep_merge, free_port, postgres_schema, token_config
from tests.kernel.conftest import plugin_site  # noqa: F401 - a fixture the extension tests use
from tests.plugins.auth.browser import Browser
from tests.plugins.auth.oidc_idp import OidcIdp
from tests.plugins.auth.servers import Served

FIXTURES = Path(__file__).parent / "fixtures"
CLIENT_ID = "greenroom-ui"
CLIENT_SECRET = "ui-client-secret-0123456789"
ALL_KINDS = ["Component", "API", "System", "Domain", "Resource", "Group", "User", "Location", "Template"]
USERS = {
    "alice": {"sub": "alice-1", "email": "alice@example.com", "email_verified": True, "name": "Alice Example"},
    "carol": {"sub": "carol-1", "email": "carol@example.com", "email_verified": True, "name": "Carol Admin"},
    "bob": {"sub": "bob-1", "email": "bob@example.com", "email_verified": True, "name": "Bob"},
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass
class UiHandle:
    portal: Portal
    served: Served
    idp: OidcIdp
    files: FileServer
    config_file: Path
    browsers: list[Browser] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.served.url

    def browser(self) -> Browser:
        browser = Browser()
        self.browsers.append(browser)
        return browser

    def close(self) -> None:
        for browser in self.browsers:
            browser.close()
        self.served.stop()
        self.portal.database.dispose()


@dataclass
class FileServer:
    """Catalog files for `url` locations, served over real HTTP on 127.0.0.1."""

    root: Path
    served: Served

    @classmethod
    def start(cls, root: Path) -> FileServer:
        from starlette.applications import Starlette
        from starlette.routing import Mount
        from starlette.staticfiles import StaticFiles

        root.mkdir(parents=True, exist_ok=True)
        return cls(root, Served(Starlette(routes=[Mount("/", app=StaticFiles(directory=root))])))

    @property
    def port(self) -> int:
        return self.served.port

    def put(self, name: str, text: str) -> str:
        (self.root / name).write_text(text, encoding="utf-8")
        return f"{self.served.url}/{name}"

    def stop(self) -> None:
        self.served.stop()


def build_portal(
    workdir: Path,
    database: dict[str, Any],
    idp: OidcIdp,
    files: FileServer,
    *,
    extra: dict[str, Any] | None = None,
) -> UiHandle:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    idp.register_client(CLIENT_ID, CLIENT_SECRET, f"{base}/api/auth/oidc/handler/frame")
    config = deep_merge(token_config(), {
        "app": {"baseUrl": base},
        "backend": {
            "baseUrl": base, "listen": {"host": "127.0.0.1", "port": port}, "database": database,
            "reading": {"allow": [{"host": f"127.0.0.1:{files.port}", "dangerouslyAllowPrivateAddresses": True}]},
        },
        "catalog": {"processingInterval": False, "rules": [{"allow": ALL_KINDS}],
                    "locations": [{"type": "file", "target": str(FIXTURES / "org.yaml")},
                                  {"type": "file", "target": str(FIXTURES / "xss.yaml")}]},
        "auth": {"environment": "development", "providers": {"oidc": {"development": {
            "metadataUrl": idp.metadata_url, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
            "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]},
        }}}},
        "permission": {"enabled": True, "rbac": {
            "admin": {"users": [{"name": "group:default/admins"}]},
            "policies-csv-file": str(FIXTURES / "rbac-policy.csv"),
            "conditionalPoliciesFile": str(FIXTURES / "conditional-policies.yaml"),
        }},
    })
    config = deep_merge(config, extra or {})
    file = workdir / f"app-config-{port}.yaml"
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    portal = create_portal(load_config([file], defaults=base_defaults(), env={}))
    portal.registry.services.get(CATALOG).ingest_all(force=True)
    return UiHandle(portal=portal, served=Served(portal.app, port), idp=idp, files=files, config_file=file)


@pytest.fixture
def catalog_files(tmp_path: Path) -> Iterator[FileServer]:
    files = FileServer.start(tmp_path / "files")
    yield files
    files.stop()


@pytest.fixture
def idp() -> Iterator[OidcIdp]:
    provider = OidcIdp("idp").start()
    yield provider
    provider.stop()


@pytest.fixture
def ui_portal(
    tmp_path: Path, database_config: dict[str, Any], idp: OidcIdp, catalog_files: FileServer
) -> Iterator[Callable[..., UiHandle]]:
    """`ui_portal(extra={...})`: a served portal on the test's database (SQLite and PostgreSQL)."""
    handles: list[UiHandle] = []

    def build(extra: dict[str, Any] | None = None) -> UiHandle:
        handle = build_portal(tmp_path, database_config, idp, catalog_files, extra=extra)
        handles.append(handle)
        return handle

    yield build
    for handle in handles:
        handle.close()


_FORM = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    match = _FORM.search(html)
    assert match, "no form with a CSRF token on the page"
    return match.group(1)


def signed_in(handle: UiHandle, user: str = "alice") -> Browser:
    """A plain-HTTP browser signed in through the OIDC provider's redirect flow, as the UI starts it."""
    handle.idp.user = dict(USERS[user])
    browser = handle.browser()
    page = browser.get(f"{handle.url}/sign-in?next=/settings")
    assert page.status_code == 200, page.text
    start = re.search(r'href="(/api/auth/oidc/start\?[^"]+)"', page.text)
    assert start, page.text
    started = browser.get(handle.url + html.unescape(start.group(1)))
    assert started.status_code == 302, started.text
    at_idp = browser.get(started.headers["location"])
    assert at_idp.status_code == 302, at_idp.text
    back = browser.get(at_idp.headers["location"])
    assert back.status_code == 302, back.text
    assert back.headers["location"] == f"{handle.url}/settings"
    return browser


@pytest.fixture(scope="module")
def shared_idp() -> Iterator[OidcIdp]:
    provider = OidcIdp("idp").start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def shared_portal(
    tmp_path_factory: pytest.TempPathFactory, shared_idp: OidcIdp
) -> Iterator[UiHandle]:
    """One portal (SQLite) for a module of browser tests."""
    workdir = tmp_path_factory.mktemp("ui")
    files = FileServer.start(workdir / "files")
    database = {"client": "better-sqlite3", "connection": str(workdir / "greenroom.sqlite")}
    handle = build_portal(workdir, database, shared_idp, files)
    yield handle
    handle.close()
    files.stop()


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[dict[str, Any]]:
    with postgres_schema() as url:
        yield {"client": "pg", "connection": url}
