"""Web UI benchmark: page render time on a large catalog, one run.

    python benchmarks/bench_ui.py                       # 100k entities, SQLite
    python benchmarks/bench_ui.py --size 10000 --db postgres

The synthetic catalog of ../shared/bench/backstage/gen_catalog.py (seed 42, the catalog
bench_catalog.py uses) is ingested in-process, then the portal is served by uvicorn on a free
loopback port and two signed-in viewers (real server-side sessions, sent as the browser's
session cookie) request pages over HTTP, one at a time after warm-up:

* an admin, whom the RBAC policy file allows `catalog.entity.read` outright;
* a member of one team, allowed to read only what the team owns (a conditional IS_ENTITY_OWNER
  rule from a conditional-policies file, pushed into the SQL of every query).

Measured per viewer: an entity page (a different component every request: overview, relations
with their titles, the SVG graph), the home page (owned entities, recently changed), a 100-row
catalog page (all kinds, by name, with the count and
the five facet menus), the same for `kind=component`, and the API's `by-query?limit=100` for
scale. Reported: p50/p95/mean in ms, and the first view (the catalog page's facet menus are
cached for 30 s per viewer restriction, so later views skip them). Results go to
benchmarks/out/ui.json and ui.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT.parent / "shared" / "bench" / "backstage"))
import gen_catalog  # noqa: E402

OUT = HERE / "out"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(client: httpx.Client, paths: list[str], n: int, warmup: int = 5) -> dict[str, Any]:
    started = time.perf_counter()
    client.get(paths[0])
    first_ms = (time.perf_counter() - started) * 1000  # the first view (the catalog's facet menus not cached)
    for i in range(1, warmup):
        client.get(paths[i % len(paths)])
    times, sizes, errors = [], [], 0
    for i in range(n):
        path = paths[i % len(paths)]
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        sizes.append(len(response.content))
        if response.status_code != 200:
            errors += 1
    return {"path": paths[0] + (f" (+{len(paths) - 1} more)" if len(paths) > 1 else ""), "n": n, "errors": errors,
            "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2),
            "mean_ms": round(statistics.mean(times), 2), "first_ms": round(first_ms, 2),
            "bytes": int(statistics.mean(sizes))}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _database(kind: str, workdir: Path) -> tuple[dict[str, Any], str | None]:
    if kind == "sqlite":
        return {"client": "better-sqlite3", "connection": str(workdir / "greenroom.sqlite")}, None
    import subprocess

    base = os.environ.get("GREENROOM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_ui_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", base, "-qc", f'CREATE SCHEMA "{schema}"'], check=True)
    return {"client": "pg", "connection": f"{base}?options=-csearch_path%3D{schema}"}, schema


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--out", default=str(OUT / "ui.json"))
    args = parser.parse_args()

    import uvicorn
    import yaml

    from greenroom.app import create_portal
    from greenroom.config import load_config
    from greenroom.config.defaults import base_defaults
    from greenroom.plugins.catalog.plugin import CATALOG

    workdir = Path(tempfile.mkdtemp(prefix="gr-ui-"))
    catalog = workdir / "catalog.yaml"
    with catalog.open("w") as f:
        info = gen_catalog.generate(args.size, f, seed=42)
    database, schema = _database(args.db, workdir)
    (workdir / "rbac.csv").write_text(
        "p, role:default/admins, catalog-entity, read, allow\n"
        "g, user:default/bench-admin, role:default/admins\n"
        "g, user:default/bench-member, role:default/members\n", encoding="utf-8")
    (workdir / "conditional.yaml").write_text(
        "result: CONDITIONAL\nroleEntityRef: role:default/members\npluginId: catalog\n"
        "resourceType: catalog-entity\npermissionMapping: [read]\n"
        "conditions: {rule: IS_ENTITY_OWNER, resourceType: catalog-entity, params: {claims: [$ownerRefs]}}\n",
        encoding="utf-8")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    config = {
        "app": {"baseUrl": base},
        "backend": {"baseUrl": base, "listen": {"host": "127.0.0.1", "port": port}, "database": database},
        "catalog": {"processingInterval": False, "locations": [{"type": "file", "target": str(catalog)}],
                    "rules": [{"allow": ["Component", "API", "System", "Domain", "Resource", "Group", "User",
                                         "Location"]}]},
        "permission": {"rbac": {"policies-csv-file": str(workdir / "rbac.csv"),
                                "conditionalPoliciesFile": str(workdir / "conditional.yaml")}},
    }
    config_file = workdir / "app-config.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    portal = create_portal(load_config([config_file], defaults=base_defaults(), env={}))
    started = time.perf_counter()
    portal.registry.services.get(CATALOG).ingest_all(force=True)
    ingest_s = time.perf_counter() - started
    print(json.dumps({"n": args.size, "db": args.db, "ingest_s": round(ingest_s, 1)}), flush=True)

    # The member owns what one team with many entities owns (a group from the generated tree).
    queries = portal.registry.services.get(CATALOG).queries
    facets = queries.facets(["relations.ownedBy"], {"kind": "component"})["relations.ownedBy"]
    team = max(facets, key=lambda f: f["count"])["value"].lower()
    sessions = portal.identity.sessions
    viewers = {
        "admin (allowed)": sessions.create(kind="user", user_ref="user:default/bench-admin", provider="bench",
                                           ownership_refs=["user:default/bench-admin"])[1],
        "member (conditional)": sessions.create(kind="user", user_ref="user:default/bench-member", provider="bench",
                                                ownership_refs=["user:default/bench-member", team])[1],
    }
    server = uvicorn.Server(uvicorn.Config(portal.app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)

    rnd = random.Random(7)
    all_components = [e["value"] for e in queries.facets(["metadata.name"], {"kind": "component"})["metadata.name"]]
    owned = [e["value"] for e in queries.facets(["metadata.name"], {"kind": "component", "relations.ownedBy": team})[
        "metadata.name"]]
    results: dict[str, Any] = {"n": args.size, "db": args.db, "ingest_s": round(ingest_s, 1), "team": team,
                               "team_components": len(owned), "viewers": {}}
    cookie_name = portal.identity.session_cookie_name
    for label, cookie in viewers.items():
        names = owned if label.startswith("member") else all_components
        entity_paths = [f"/catalog/default/component/{name}" for name in rnd.sample(names, min(50, len(names)))]
        with httpx.Client(base_url=base, headers={"Cookie": f"{cookie_name}={cookie}", "Accept": "text/html"},
                          timeout=120, trust_env=False) as client:
            assert client.get(entity_paths[0]).status_code == 200
            results["viewers"][label] = {
                "entity_page": measure(client, entity_paths, args.requests),
                "home": measure(client, ["/"], args.requests),
                "catalog_page_100": measure(client, ["/catalog?limit=100"], args.requests),
                "catalog_components_100": measure(client, ["/catalog?kind=component&limit=100"], args.requests),
                "api_by_query_100": measure(client, ["/api/catalog/entities/by-query?limit=100"], args.requests),
            }
        print(json.dumps({label: {k: (v["p50_ms"], v["p95_ms"]) for k, v in results["viewers"][label].items()}}),
              flush=True)
    server.should_exit = True
    thread.join(timeout=20)
    portal.database.dispose()
    if schema is not None:
        import subprocess

        subprocess.run(["psql", os.environ.get("GREENROOM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"),
                        "-qc", f'DROP SCHEMA "{schema}" CASCADE'], check=False)
    OUT.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    lines = [f"# UI pages, {args.size} entities, {args.db} (one run)", "",
             f"ingest {results['ingest_s']} s; the member's team {team} owns {len(owned)} components", "",
             "| viewer | page | p50 ms | p95 ms | mean ms | first view ms | bytes |", "|---|---|---|---|---|---|---|"]
    for label, pages in results["viewers"].items():
        for page, row in pages.items():
            lines.append(f"| {label} | {page} | {row['p50_ms']} | {row['p95_ms']} | {row['mean_ms']} | "
                         f"{row['first_ms']} | {row['bytes']} |")
    Path(args.out).with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    del info
    return 0


if __name__ == "__main__":
    sys.exit(main())
