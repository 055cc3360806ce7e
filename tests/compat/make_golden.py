"""Regenerate the golden files of tests/compat from a real Backstage backend.

The goldens record what Backstage's own catalog backend (`@backstage/plugin-catalog-backend`
4.0.5 with the scaffolder entity model, as pinned by the bench harness in
`shared/bench/backstage/`) produces for the catalogs in `scenarios.py`, and what it answers
to the Node client script `client_extra.mjs`. The tests compare greenroom with them; they
never need Backstage themselves.

Prerequisites (once; `npm ci` takes about 2.5 minutes):

    mkdir -p /tmp/bs-compat && cp shared/bench/backstage/{package.json,package-lock.json,index-snap.js} /tmp/bs-compat/
    (cd /tmp/bs-compat && npm ci && node -e "require('better-sqlite3')")

Then, from the repository root, with the project's virtualenv:

    python -m tests.compat.make_golden --bench-dir /tmp/bs-compat            # everything
    python -m tests.compat.make_golden --bench-dir /tmp/bs-compat --only create-app --only real-world/
    python -m tests.compat.make_golden --bench-dir /tmp/bs-compat --client-only

Each catalog needs its own `catalog.locations` and an empty database, so for every scenario
the script writes the inputs under a fresh temporary root, writes an app-config for them,
starts the harness's backend (`node index-snap.js --config ...`) on a free port on
127.0.0.1, waits until processing and stitching have settled, records the result, and stops
it. Nothing leaves 127.0.0.1: the github.com integration is pointed at a closed local port
(so a `$text` placeholder naming github.com fails to read instead of fetching), and no other
host is allowed for reading.

What is recorded per scenario (`golden/<scenario>.json`):
  * `entities`: every entity the API serves (`GET /api/catalog/entities`), keyed by ref,
    without `metadata.uid`/`metadata.etag`, with paths and generated names normalised;
  * `absent`: entities Backstage knows (rows of its `refresh_state` table) but never serves,
    with the processing errors stored for them (stack traces dropped);
  * `errorsOnServed`: the stored errors of entities that are served anyway (they failed
    after an earlier success, so Backstage serves the last good version with `status.items`);
  * `verdict`: `ingested` (no errors), `partial` (the location was read, some entities
    failed alone) or `rejected` (the location itself failed, nothing was ingested);
  * `phase2`: for scenarios with a second run, the same after the phase-2 files replaced the
    first ones (the backend then runs with `processingInterval: {seconds: 2}` so that it
    re-reads them soon; the result is taken once it has stayed the same for 10 s).

The client golden (`golden/client/backstage.json`) is the JSON printed by
`client_extra.mjs` against the backend loaded with the synthetic catalog of
`shared/bench/backstage/gen_catalog.py` (N=1000) plus a url location served by a local HTTP
server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.compat import scenarios as sc

TOKEN = "bench-static-token-0123456789abcdef0123456789"
CLOSED_PORT = 1  # nothing listens on 127.0.0.1:1; reads sent there fail at once
REPO = Path(__file__).resolve().parents[2]
BENCH = REPO.parent / "shared" / "bench" / "backstage"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backstage_config(
    port: int, data_dir: Path, catalog: dict[str, Any], reading_allow: list[Any] | None = None
) -> dict[str, Any]:
    backend: dict[str, Any] = {
        "baseUrl": f"http://127.0.0.1:{port}",
        "listen": {"host": "127.0.0.1", "port": port},
        "cors": {"origin": "http://127.0.0.1:3000"},
        "database": {"client": "better-sqlite3", "connection": {"directory": str(data_dir)}},
        "auth": {"externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "golden"}}]},
    }
    if reading_allow:
        backend["reading"] = {"allow": reading_allow}
    closed = f"http://127.0.0.1:{CLOSED_PORT}"
    return {
        "app": {"title": "golden", "baseUrl": "http://127.0.0.1:3000"},
        "organization": {"name": "golden"},
        "backend": backend,
        "auth": {"environment": "development", "providers": {"guest": {"dangerouslyAllowOutsideDevelopment": True}}},
        "integrations": {
            "github": [{"host": "github.com", "apiBaseUrl": f"{closed}/api", "rawBaseUrl": f"{closed}/raw"}]
        },
        "catalog": catalog,
    }


class Backstage:
    """One backend process with its own config and database directory."""

    def __init__(self, bench_dir: Path, work: Path, catalog: dict[str, Any], reading_allow: list[Any] | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = work / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        config = work / "app-config.yaml"
        config.write_text(yaml.safe_dump(backstage_config(self.port, self.data, catalog, reading_allow)))
        self.log_path = work / "backend.log"
        self.log = self.log_path.open("wb")
        env = {**os.environ, "NODE_ENV": "development"}
        self.proc = subprocess.Popen(
            ["node", str(bench_dir / "index-snap.js"), "--config", str(config)],
            cwd=bench_dir, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"backstage exited: see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/.backstage/health/v1/readiness", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("backstage did not become ready")
            time.sleep(0.2)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}/api/catalog{path}", data=data, method=method)
        req.add_header("Authorization", f"Bearer {TOKEN}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, (json.loads(raw) if raw else None)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.data / 'catalog.sqlite'}?mode=ro", uri=True, timeout=10)

    def snapshot(self, idle_queue: bool = True) -> tuple[Any, bool]:
        status, entities = self.request("GET", "/entities")
        assert status == 200, (status, entities)
        with contextlib.closing(self.db()) as db:
            states = db.execute(
                "select entity_ref, result_hash, errors from refresh_state order by entity_ref"
            ).fetchall()
            queue = db.execute("select entity_ref, failure_count from stitch_queue order by entity_ref").fetchall()
        etags = sorted((sc.entity_ref(e), e["metadata"]["etag"]) for e in entities)
        busy = any(h is None for _, h, _ in states)
        if idle_queue:
            busy = busy or any(count == 0 for _, count in queue)
            return (etags, states, queue), busy
        return (etags, states), busy

    def settle(self, quiet_polls: int = 5, timeout: float = 600, idle_queue: bool = True) -> Any:
        """Wait until every entity was processed, nothing waits for stitching, and nothing changes.

        With a short processing interval, entities that keep failing are queued for stitching
        again on every run (without any change): then only the served etags and the processing
        results must stay the same (`idle_queue=False`).
        """
        deadline = time.monotonic() + timeout
        last, stable = None, 0
        while stable < quiet_polls:
            if time.monotonic() > deadline:
                raise RuntimeError("catalog did not settle")
            time.sleep(1)
            snap, busy = self.snapshot(idle_queue)
            stable = stable + 1 if (snap == last and not busy) else 0
            last = snap
        return last

    def errors_by_ref(self) -> dict[str, list[Any]]:
        with contextlib.closing(self.db()) as db:
            rows = db.execute("select entity_ref, errors from refresh_state order by entity_ref").fetchall()
        return {ref: sc.strip_stack(json.loads(errors or "[]")) for ref, errors in rows}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def versions(bench_dir: Path) -> dict[str, str]:
    out = {}
    for pkg in ("plugin-catalog-backend", "catalog-model", "catalog-client",
                "plugin-catalog-backend-module-scaffolder-entity-model", "backend-defaults"):
        meta = json.loads((bench_dir / "node_modules" / "@backstage" / pkg / "package.json").read_text())
        out[f"@backstage/{pkg}"] = meta["version"]
    return out


def record_scenario(scenario: sc.Scenario, bench_dir: Path, keep: bool = False) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="golden-"))
    root = work / "root"
    scenario.write_inputs(root)
    locations = scenario.config_locations(root)
    catalog: dict[str, Any] = {"rules": scenario.rules, "orphanStrategy": "keep", "locations": locations}
    if scenario.phase2:
        # re-read the files every 2-3 s so the second run is seen without waiting minutes
        catalog["processingInterval"] = {"seconds": 2}
    backstage = Backstage(bench_dir, work, catalog)
    try:
        first = backstage.settle(idle_queue=not scenario.phase2)
        results = [_observe(backstage)]
        if scenario.phase2:
            scenario.write_inputs(root, phase=2)
            deadline = time.monotonic() + 300
            while backstage.snapshot(idle_queue=False)[0] == first:
                if time.monotonic() > deadline:
                    raise RuntimeError("the second run changed nothing")
                time.sleep(1)
            backstage.settle(quiet_polls=10, idle_queue=False)
            results.append(_observe(backstage))
    finally:
        backstage.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    norm = sc.Normalizer.for_root(root, [sc.location_key(loc) for loc in locations])
    roots = [norm(f"location:default/generated-{sc.sha1(sc.location_key(loc))}") for loc in locations]
    golden: dict[str, Any] = {
        "scenario": scenario.name,
        "description": scenario.description,
        "recordedWith": versions(bench_dir),
        "inputs": scenario.input_digests(),
        "config": {"rules": scenario.rules, "orphanStrategy": "keep", "locations": scenario.locations},
        "rootLocations": roots,
        **_summarise(results[0], norm, roots),
    }
    if scenario.phase2:
        golden["phase2"] = _summarise(results[1], norm, roots)
    return golden


def _observe(backstage: Backstage) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    status, entities = backstage.request("GET", "/entities")
    assert status == 200
    return entities, backstage.errors_by_ref()


def _summarise(
    observed: tuple[list[dict[str, Any]], dict[str, list[Any]]], norm: sc.Normalizer, roots: list[str]
) -> dict[str, Any]:
    entities, errors = observed
    raw_served = {sc.entity_ref(e) for e in entities}
    served = {norm(sc.entity_ref(e)): norm(sc.strip_volatile(e)) for e in entities}
    absent = {norm(ref): norm(errs) for ref, errs in errors.items() if ref not in raw_served}
    failing_visible = {norm(ref): norm(errs) for ref, errs in errors.items() if ref in raw_served and errs}
    verdict = sc.verdict(set(served), roots, has_errors=bool(absent or failing_visible))
    return {
        "verdict": verdict,
        "refs": sorted(served),
        "entities": dict(sorted(served.items())),
        "absent": dict(sorted(absent.items())),
        "errorsOnServed": dict(sorted(failing_visible.items())),
    }


# -- the Node client golden -------------------------------------------------------------------

def client_env(base_url: str, web_url: str) -> dict[str, str]:
    return {"BASE_URL": base_url, "BENCH_TOKEN": TOKEN, "WEB_URL": web_url}


def record_client(bench_dir: Path, n: int = 1000, keep: bool = False) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    from gen_catalog import generate  # the bench's generator, stdlib only

    work = Path(tempfile.mkdtemp(prefix="golden-client-"))
    with (work / "catalog-generated.yaml").open("w") as f:
        info = generate(n, f)
    sc.write_web_repo(work / "web")
    with sc.web_server(work / "web") as web_url:
        host = web_url.removeprefix("http://")
        catalog = {"rules": sc.ALL_KINDS_RULES, "orphanStrategy": "keep",
                   "locations": [{"type": "file", "target": str(work / "catalog-generated.yaml")}]}
        backstage = Backstage(bench_dir, work, catalog, reading_allow=[{"host": host}])
        try:
            deadline = time.monotonic() + 600
            while True:
                status, body = backstage.request("GET", "/entities/by-query?limit=1")
                if status == 200 and body["totalItems"] >= n + 1:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("catalog not loaded")
                time.sleep(2)
            backstage.settle(quiet_polls=3)
            script = Path(__file__).parent / "client_extra.mjs"
            runner = bench_dir / "client_extra.mjs"
            shutil.copy(script, runner)
            proc = subprocess.run(
                ["node", str(runner)], env={**os.environ, **client_env(backstage.base, web_url)},
                capture_output=True, text=True, timeout=600, check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"client_extra.mjs failed:\n{proc.stdout}\n{proc.stderr}")
            result = json.loads(proc.stdout)
        finally:
            backstage.stop()
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
    norm = sc.client_normalizer(work, web_url)
    return {
        "recordedWith": versions(bench_dir),
        "catalog": {"generator": "shared/bench/backstage/gen_catalog.py", "n": n, "info": info},
        "result": norm(result),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-dir", type=Path, required=True, help="the bench harness with node_modules installed")
    parser.add_argument("--only", action="append", default=[], help="scenario name or prefix (repeatable)")
    parser.add_argument("--client-only", action="store_true")
    parser.add_argument("--no-client", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()
    bench_dir = args.bench_dir.resolve()
    if not args.client_only:
        for scenario in sc.scenarios():
            if args.only and not any(scenario.name.startswith(p) for p in args.only):
                continue
            started = time.monotonic()
            golden = record_scenario(scenario, bench_dir, keep=args.keep)
            scenario.golden_path.parent.mkdir(parents=True, exist_ok=True)
            scenario.golden_path.write_text(sc.dump_json(golden), encoding="utf-8")
            print(f"{scenario.name}: {golden['verdict']}, {len(golden['refs'])} served, "
                  f"{len(golden['absent'])} absent ({time.monotonic() - started:.0f} s)", flush=True)
    if not args.no_client and (args.client_only or not args.only):
        golden = record_client(bench_dir, keep=args.keep)
        path = sc.GOLDEN / "client" / "backstage.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sc.dump_json(golden), encoding="utf-8")
        print("client: recorded", flush=True)


if __name__ == "__main__":
    main()
