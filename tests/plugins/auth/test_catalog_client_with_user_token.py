"""The bench's `@backstage/catalog-client` check passes with a user token from the OIDC flow.

A user signs in through the real OIDC provider (authlib, over HTTP); the token the portal
issues is handed to `shared/bench/backstage/client-check.mjs` as BENCH_TOKEN, so the official
npm client talks to greenroom as that user. The user is an RBAC admin (interim policy), as the
check reads every kind of entity. The same script with the token altered must fail with 401.

The client is installed with npm into `.cache/npm-catalog-client/` (shared with
tests/compat/test_catalog_client.py, same version, same lock) when it is not there yet.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.plugins.auth.conftest import CLIENT_ID, CLIENT_SECRET, oidc_provider_config, oidc_sign_in, signed_in_token

pytestmark = [pytest.mark.node, pytest.mark.slow]

CLIENT_VERSION = "1.16.4"
REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / ".cache" / "npm-catalog-client"
BENCH = REPO.parent / "shared" / "bench" / "backstage"
N = 400


def _installed_version() -> str | None:
    meta = CACHE / "node_modules" / "@backstage" / "catalog-client" / "package.json"
    return str(json.loads(meta.read_text(encoding="utf-8"))["version"]) if meta.exists() else None


@pytest.fixture(scope="session")
def client_check() -> Path:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("Node.js and npm are needed to run @backstage/catalog-client (not found on PATH)")
    assert BENCH.is_dir(), f"the bench harness is missing: {BENCH}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version() != CLIENT_VERSION:
            if not (CACHE / "package.json").exists():
                (CACHE / "package.json").write_text(
                    json.dumps({"name": "greenroom-compat-catalog-client", "private": True}), encoding="utf-8")
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--save-exact",
                 f"@backstage/catalog-client@{CLIENT_VERSION}"],
                cwd=CACHE, capture_output=True, text=True, timeout=900, check=False,
            )
            assert proc.returncode == 0, f"npm install failed:\n{proc.stdout}\n{proc.stderr}"
        assert _installed_version() == CLIENT_VERSION
        shutil.copy(BENCH / "client-check.mjs", CACHE / "client-check.mjs")
    return CACHE / "client-check.mjs"


def _generate(path: Path) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("bench_gen_catalog", BENCH / "gen_catalog.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with path.open("w", encoding="utf-8") as f:
        return dict(module.generate(N, f))


def _run(script: Path, base_url: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BASE_URL": base_url, "BENCH_TOKEN": token}
    return subprocess.run(["node", str(script)], env=env, capture_output=True, text=True, timeout=300, check=False)


def test_catalog_client_check_passes_with_a_user_token_from_oidc(client_check, make_auth_portal, idp, tmp_path):
    catalog = tmp_path / "catalog-generated.yaml"
    info = _generate(catalog)
    port = free_port()
    idp.register_client(CLIENT_ID, CLIENT_SECRET, f"http://127.0.0.1:{port}/api/auth/oidc/handler/frame")
    idp.user = {"sub": "u0", "email": "user-000000@example.com", "email_verified": True, "name": "User 0"}
    portal = make_auth_portal(
        {"oidc": {"development": oidc_provider_config(idp)}},
        port=port,
        extra={
            "catalog": {"locations": [{"type": "file", "target": str(catalog)}]},
            "permission": {"rbac": {"admin": {"superUsers": [{"name": "user:default/user-000000"}]}}},
        },
    )
    token = signed_in_token(oidc_sign_in(portal.browser(), portal))
    assert portal.api("/api/auth/v1/userinfo", token=token).json()["userEntityRef"] == "user:default/user-000000"

    proc = _run(client_check, portal.url, token)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    out = json.loads(proc.stdout)
    assert out["ok"] is True
    assert out["checks"]["queryEntities"]["totalItems"] == info["components"]
    assert out["checks"]["getEntityFacets"]["kind"]["Component"] == info["components"]

    altered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = _run(client_check, portal.url, altered)
    assert refused.returncode != 0
    assert "401" in refused.stderr + refused.stdout
