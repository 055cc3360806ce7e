"""Local mode signs the local admin in through a one-time link (no guest, no credential-less
admin); production refuses to start without a real identity provider, and refuses guest
sign-in, the local login and literal provider secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from greenroom.app import create_portal
from greenroom.config import load_config
from greenroom.config.defaults import base_defaults
from greenroom.errors import ConfigError, GreenroomError
from tests.conftest import BENCH_TOKEN

XHR = {"X-Requested-With": "XMLHttpRequest"}


def test_one_time_login_link(make_auth_portal):
    portal = make_auth_portal(local_mode=True)
    assert portal.api("/api/catalog/entities?limit=1").status_code == 401  # loopback alone is not a credential
    assert portal.api("/api/auth/local/login").status_code == 401
    assert portal.api("/api/auth/local/login?token=guessed").status_code == 401
    link = portal.identity.issue_local_login()
    assert link.startswith(f"{portal.url}/api/auth/local/login?token=")
    browser = portal.browser()
    signed_in = browser.get(link)
    assert signed_in.status_code == 200
    assert signed_in.headers["cache-control"] == "no-store"
    cookie = browser.cookie("greenroom-session")
    assert cookie is not None
    assert "httponly" in cookie.attributes
    assert "secure" not in cookie.attributes
    assert cookie.attributes["samesite"] == "lax"
    assert portal.browser().get(link).status_code == 401  # single use
    assert browser.get(f"{portal.url}/api/catalog/entities?limit=1").status_code == 200
    refreshed = browser.get(f"{portal.url}/api/auth/local/refresh", headers=XHR)
    assert refreshed.status_code == 200
    identity = refreshed.json()["backstageIdentity"]
    assert identity["identity"]["userEntityRef"] == "user:default/local-admin"
    assert portal.api("/api/catalog/entities?limit=1", token=identity["token"]).status_code == 200
    assert portal.events("auth-local-login", "succeeded")
    assert portal.events("auth-local-login", "failed")
    # The Host check of local mode still stands (DNS rebinding).
    assert portal.api("/api/catalog/entities", headers={"Host": "evil.example"}).status_code == 421


def test_login_link_does_not_exist_outside_local_mode(make_auth_portal):
    portal = make_auth_portal()
    assert portal.api("/api/auth/local/login?token=x").status_code == 404
    with pytest.raises(GreenroomError):
        portal.identity.issue_local_login()


def _config(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    file = tmp_path / "app-config.production.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config([file], defaults=base_defaults(), env=env or {})


def _production(tmp_path: Path, database_config: dict[str, Any], **auth: Any) -> dict[str, Any]:
    return {
        "app": {"production": True, "baseUrl": "https://portal.example.com"},
        "backend": {"baseUrl": "https://portal.example.com", "database": database_config,
                    "auth": {"externalAccess": [{"type": "static",
                                                 "options": {"token": "${CI_TOKEN}", "subject": "ci"}}]}},
        "auth": {"environment": "production", **auth},
        "catalog": {"processingInterval": False},
    }


def test_production_refuses_to_start_without_an_identity_provider(tmp_path, database_config):
    config = _config(tmp_path, _production(tmp_path, database_config), {"CI_TOKEN": BENCH_TOKEN})
    with pytest.raises(ConfigError, match="production mode needs an identity provider"):
        create_portal(config)


def test_production_refuses_guest_sign_in(tmp_path, database_config):
    data = _production(tmp_path, database_config, providers={"guest": {"dangerouslyAllowOutsideDevelopment": True}})
    with pytest.raises(ConfigError, match="'guest' provider"):
        create_portal(_config(tmp_path, data, {"CI_TOKEN": BENCH_TOKEN}))


def test_production_refuses_the_local_login(tmp_path, database_config):
    with pytest.raises(GreenroomError, match="local mode cannot run in production"):
        create_portal(_config(tmp_path, _production(tmp_path, database_config)), local_mode=True)


def _oidc(secret: str, env: str = "production") -> dict[str, Any]:
    return {"oidc": {env: {"metadataUrl": "https://idp.example.com/.well-known/openid-configuration",
                           "clientId": "portal", "clientSecret": secret,
                           "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]}}}}


def test_production_refuses_a_provider_for_another_environment_only(tmp_path, database_config):
    data = _production(tmp_path, database_config, providers=_oidc("${OIDC_SECRET}", env="development"))
    with pytest.raises(ConfigError, match=r"enabled for auth\.environment 'production'"):
        create_portal(_config(tmp_path, data, {"CI_TOKEN": BENCH_TOKEN, "OIDC_SECRET": "s" * 32}))


def test_production_refuses_literal_provider_secrets(tmp_path, database_config):
    data = _production(tmp_path, database_config, providers=_oidc("a-literal-client-secret-in-the-file"))
    # The posture gate and the plugin's declared-secret check both refuse it; whichever runs first says so.
    with pytest.raises(ConfigError, match=r"clientSecret.*(secret is a literal|holds a literal secret)"):
        create_portal(_config(tmp_path, data, {"CI_TOKEN": BENCH_TOKEN}))


def test_production_starts_with_a_provider_whose_secret_is_a_reference(tmp_path, database_config):
    data = _production(tmp_path, database_config, providers=_oidc("${OIDC_SECRET}"))
    portal = create_portal(_config(tmp_path, data, {"CI_TOKEN": BENCH_TOKEN, "OIDC_SECRET": "s" * 32}))
    try:
        assert portal.production
        assert portal.identity.settings.secure_cookies
        assert portal.identity.session_cookie_name == "__Host-greenroom-session"
    finally:
        portal.database.dispose()


def test_serve_refuses_production_without_a_provider(tmp_path, database_config):
    data = _production(tmp_path, database_config)
    file = tmp_path / "app-config.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "greenroom.cli", "serve", "--config", str(file), "--production"],
                            capture_output=True, text=True, timeout=120, check=False,
                            env={"PATH": "/usr/bin:/bin", "CI_TOKEN": BENCH_TOKEN, "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "production mode needs an identity provider" in result.stderr
