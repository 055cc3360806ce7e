"""The official npm `@backstage/catalog-client` works against greenroom unchanged.

greenroom runs as a real uvicorn server on 127.0.0.1, loaded with the bench's synthetic
catalog (`shared/bench/backstage/gen_catalog.py`, N=1000) and allowed to read a local HTTP
server that serves one more catalog file for the location calls. Two Node scripts drive it
through `CatalogClient`:

* `shared/bench/backstage/client-check.mjs`, the bench's own check (must exit 0);
* `client_extra.mjs` (next to this file), which covers what client-check does not: filtered
  `queryEntities` walked forward and back with cursors (the POST by-query path), predicate
  queries, `getEntitiesByRefs` with fields, filters and missing refs, facets, ancestry,
  locations (dry run, add, conflict, lookups, remove) against the local HTTP server,
  `validateEntity`, `refreshEntity` and `removeEntityByUid`. Its output was recorded against a
  real Backstage loaded the same way (`golden/client/backstage.json`, see `make_golden.py`)
  and each section of greenroom's output must be equal to it.

The client is installed with npm into `.cache/npm-catalog-client/` when it is not there yet
(the registry must be reachable the first time). Without `node` or `npm` the tests skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from greenroom.app import Portal
from greenroom.plugins.catalog.plugin import CATALOG
from tests.compat import scenarios as sc
from tests.conftest import BENCH_TOKEN, LiveServer

pytestmark = pytest.mark.node

CLIENT_VERSION = "1.16.4"
REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "npm-catalog-client"
BENCH = REPO.parent / "shared" / "bench" / "backstage"
N = 1000
GOLDEN = sc.GOLDEN / "client" / "backstage.json"
SECTIONS = [key for key in json.loads(GOLDEN.read_text(encoding="utf-8"))["result"] if key != "ok"]


def _installed_version() -> str | None:
    meta = CACHE / "node_modules" / "@backstage" / "catalog-client" / "package.json"
    if not meta.exists():
        return None
    return str(json.loads(meta.read_text(encoding="utf-8"))["version"])


@pytest.fixture(scope="session")
def client_dir() -> Path:
    """A directory with @backstage/catalog-client installed and the two scripts beside it."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("Node.js and npm are needed to run @backstage/catalog-client (not found on PATH)")
    assert BENCH.is_dir(), f"the bench harness is missing: {BENCH}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers install once
        if _installed_version() != CLIENT_VERSION:
            (CACHE / "package.json").write_text(
                json.dumps({"name": "greenroom-compat-catalog-client", "private": True}), encoding="utf-8"
            )
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--save-exact",
                 f"@backstage/catalog-client@{CLIENT_VERSION}"],
                cwd=CACHE, capture_output=True, text=True, timeout=900, check=False,
            )
            assert proc.returncode == 0, f"npm install failed:\n{proc.stdout}\n{proc.stderr}"
        assert _installed_version() == CLIENT_VERSION
        # ES modules resolve packages from the script's own directory, so the scripts go there.
        shutil.copy(BENCH / "client-check.mjs", CACHE / "client-check.mjs")
        shutil.copy(Path(__file__).parent / "client_extra.mjs", CACHE / "client_extra.mjs")
    return CACHE


def _generate(n: int, path: Path) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("bench_gen_catalog", BENCH / "gen_catalog.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with path.open("w", encoding="utf-8") as f:
        return dict(module.generate(n, f))


class Greenroom:
    def __init__(self, server: LiveServer, web_url: str, work: Path, info: dict[str, Any]) -> None:
        self.server = server
        self.web_url = web_url
        self.work = work
        self.info = info

    def node(self, script: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "BASE_URL": self.server.url, "BENCH_TOKEN": BENCH_TOKEN, "WEB_URL": self.web_url}
        return subprocess.run(["node", str(script)], env=env, capture_output=True, text=True, timeout=300,
                              check=False)


@pytest.fixture
def greenroom(
    make_portal: Callable[..., Portal], live_server: Callable[[Any], LiveServer], tmp_path: Path
) -> Iterator[Greenroom]:
    work = tmp_path / "work"
    work.mkdir()
    info = _generate(N, work / "catalog-generated.yaml")
    sc.write_web_repo(work / "web")
    with sc.web_server(work / "web") as web_url:
        host = web_url.removeprefix("http://")
        portal = make_portal({
            "backend": {"reading": {"allow": [{"host": host, "dangerouslyAllowPrivateAddresses": True}]}},
            "catalog": {
                "rules": sc.ALL_KINDS_RULES,
                "locations": [{"type": "file", "target": str(work / "catalog-generated.yaml")}],
            },
        })
        portal.registry.services.get(CATALOG).ingest_all(force=True)
        yield Greenroom(live_server(portal.app), web_url, work, info)


def test_bench_client_check_exits_0(client_dir: Path, greenroom: Greenroom) -> None:
    proc = greenroom.node(client_dir / "client-check.mjs")
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    out = json.loads(proc.stdout)
    assert out["ok"] is True
    assert out["checks"]["getEntityFacets"]["kind"]["Component"] == greenroom.info["components"]
    assert out["checks"]["queryEntities"]["totalItems"] == greenroom.info["components"]


# client_extra.mjs takes a few seconds; run it once per database and compare section by section.
_RUNS: dict[str, dict[str, Any]] = {}


@pytest.fixture
def extra_run(client_dir: Path, database_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    key = database_config["client"]
    if key not in _RUNS:
        env: Greenroom = request.getfixturevalue("greenroom")
        proc = env.node(client_dir / "client_extra.mjs")
        run: dict[str, Any] = {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
        with contextlib.suppress(ValueError):  # results are printed even when a part failed (exit 1)
            run["result"] = sc.client_normalizer(env.work, env.web_url)(json.loads(proc.stdout))
        _RUNS[key] = run
    return _RUNS[key]


def test_client_extra_exits_0(extra_run: dict[str, Any]) -> None:
    failures = extra_run.get("result", {}).get("failures")
    assert extra_run["returncode"] == 0, json.dumps(failures, indent=1) if failures else extra_run["stderr"]


@pytest.mark.parametrize("section", SECTIONS)
def test_client_extra_matches_backstage(extra_run: dict[str, Any], section: str) -> None:
    assert "result" in extra_run, f"client_extra.mjs failed:\n{extra_run['stdout']}\n{extra_run['stderr']}"
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))["result"][section]
    actual = extra_run["result"].get(section)
    assert actual == expected, json.dumps({"backstage": expected, "greenroom": actual}, indent=1)[:20000]
