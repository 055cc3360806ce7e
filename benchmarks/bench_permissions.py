"""What RBAC costs per request: a conditional (owner-filtered) by-query and by-name on a big catalog.

    python benchmarks/bench_permissions.py                   # 100k entities, SQLite
    python benchmarks/bench_permissions.py --n 10000         # smaller
    python benchmarks/bench_permissions.py --db postgres     # PostgreSQL at 127.0.0.1:5432 (db `test`)

The synthetic catalog of ../shared/bench/backstage/gen_catalog.py (seed 42, the entity mix every
benchmark uses) is generated and ingested once into `benchmarks/out/perm-<n>/` (SQLite; reused by
the next run while it holds the same catalog), or into a fresh PostgreSQL schema. The policy:

    conditional-policies.yaml   role:default/owners may read catalog-entity where IS_ENTITY_OWNER $ownerRefs
    rbac-policy.csv             g, user:default/user-000000, role:default/owners
    permission.rbac.admin.superUsers: user:default/user-000001

Over HTTP (a real uvicorn server on 127.0.0.1, one keep-alive client, `--requests` rounds of
sequential requests after warm-up, variants interleaved), p50/p99 of:

* `by-query kind=component limit=100`: the owner user (a conditional decision, pushed into SQL)
  vs the super-user (no condition) — the target is within 1.2x;
* `by-name` of an entity the owner may read: user token vs a static service token;
* `entity-facets` of spec.type over components: the owner vs the super-user.

Results go to benchmarks/out/permissions-<db>.json and .md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT.parent / "shared" / "bench" / "backstage"))
import gen_catalog  # noqa: E402  (the shared synthetic catalog generator)

OUT = HERE / "out"
TOKEN = "bench-static-token-0123456789abcdef"
OWNER = "user:default/user-000000"
SUPER = "user:default/user-000001"
CONDITIONS = """
result: CONDITIONAL
roleEntityRef: role:default/owners
pluginId: catalog
resourceType: catalog-entity
permissionMapping: [read]
conditions:
  rule: IS_ENTITY_OWNER
  resourceType: catalog-entity
  params: {claims: [$ownerRefs]}
"""
PG = "postgresql://postgres@127.0.0.1:5432/test"


def prepare(n: int, db: str) -> tuple[Path, dict[str, Any], str | None]:
    """The workdir with catalog, policy files and config (the catalog generated once per n)."""
    workdir = OUT / f"perm-{n}"
    workdir.mkdir(parents=True, exist_ok=True)
    catalog = workdir / "catalog-generated.yaml"
    if not catalog.exists():
        with catalog.open("w") as out:
            gen_catalog.generate(n, out)
    (workdir / "rbac-policy.csv").write_text(f"g, {OWNER}, role:default/owners\n")
    (workdir / "conditional-policies.yaml").write_text(CONDITIONS)
    schema = None
    if db == "postgres":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", PG, "-qc", f'CREATE SCHEMA "{schema}"'], check=True)
        database: dict[str, Any] = {"client": "pg", "connection": f"{PG}?options=-csearch_path%3D{schema}"}
    else:
        database = {"client": "better-sqlite3", "connection": str(workdir / "greenroom.sqlite")}
    config = {
        "backend": {"database": database,
                    "auth": {"externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "bench"}}]}},
        "catalog": {"processingInterval": False,
                    "rules": [{"allow": ["Component", "System", "API", "Resource", "Location", "Domain", "Group",
                                        "User", "Template"]}],
                    "locations": [{"type": "file", "target": str(catalog)}]},
        "permission": {"enabled": True, "rbac": {
            "policies-csv-file": str(workdir / "rbac-policy.csv"),
            "conditionalPoliciesFile": str(workdir / "conditional-policies.yaml"),
            "admin": {"superUsers": [{"name": SUPER}]}}},
    }
    return workdir, config, schema


def build(config: dict[str, Any], workdir: Path) -> Any:
    import yaml

    from greenroom.app import create_portal
    from greenroom.config import load_config
    from greenroom.config.defaults import base_defaults
    from greenroom.plugins.catalog.plugin import CATALOG

    file = workdir / "app-config.yaml"
    file.write_text(yaml.safe_dump(config))
    portal = create_portal(load_config([file], defaults=base_defaults(), env={}))
    catalog = portal.registry.services.get(CATALOG)
    started = time.perf_counter()
    stats = catalog.ingest_all()
    took = time.perf_counter() - started
    print(f"catalog ready in {took:.1f}s ({', '.join(f'{k}: {v.inserted} new' for k, v in stats.items())})",
          file=sys.stderr)
    return portal


def token(portal: Any, user: str) -> str:
    from greenroom.plugins.permission.plugin import RBAC

    refs = portal.registry.services.get(RBAC).default_ownership(user)
    session, _cookie = portal.identity.sessions.create(kind="user", user_ref=user, provider="bench",
                                                       ownership_refs=refs)
    return str(portal.identity.issue_token(session).token)


def over_http(portal: Any, port: int, variants: dict[str, tuple[str, dict[str, str]]], requests: int,
              ) -> dict[str, Any]:
    import httpx
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(portal.app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    logging.getLogger("greenroom.access").setLevel(logging.WARNING)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    shapes: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=60) as client:
            for name, (path, headers) in variants.items():
                for _ in range(20):
                    response = client.get(path, headers=headers)
                    assert response.status_code == 200, (name, response.text[:300])
                body = response.json()
                shapes[name] = ({"items": len(body["items"]), "totalItems": body["totalItems"]}
                                if isinstance(body, dict) and "items" in body else {"bytes": len(response.content)})
            order = list(variants)
            shuffle = random.Random(42).shuffle
            for _ in range(requests):  # interleaved, so drift in the machine hits every variant alike,
                shuffle(order)  # in a new order each round (a light request right after a heavy one pays)
                for name in order:
                    path, headers = variants[name]
                    start = time.perf_counter_ns()
                    client.get(path, headers=headers)
                    samples[name].append((time.perf_counter_ns() - start) / 1e6)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    out = {}
    for name, values in samples.items():
        values.sort()
        out[name] = {"p50_ms": round(statistics.median(values), 3), "p99_ms": round(values[int(len(values) * 0.99)], 3),
                     **shapes[name]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=7117)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    workdir, config, schema = prepare(args.n, args.db)
    try:
        portal = build(config, workdir)
        owner, superuser = token(portal, OWNER), token(portal, SUPER)
        from greenroom.plugins.permission.plugin import RBAC

        claims = portal.registry.services.get(RBAC).default_ownership(OWNER)
        query = "/api/catalog/entities/by-query?filter=kind=component&limit=100"
        with_owner = {"Authorization": f"Bearer {owner}"}
        import httpx  # noqa: F401 - fail early when missing

        # an entity the owner may read, for by-name
        visible = portal.registry.services.get(RBAC)
        sample = _owned_component(portal, claims)
        facets = "/api/catalog/entity-facets?facet=spec.type&filter=kind=component"
        variants = {
            "by-query, owner (IS_ENTITY_OWNER)": (query, with_owner),
            "by-query, super-user": (query, {"Authorization": f"Bearer {superuser}"}),
            "by-query, static token": (query, {"Authorization": f"Bearer {TOKEN}"}),
            "by-name, owner (user token)": (f"/api/catalog/entities/by-name/{sample}", with_owner),
            "by-name, static token": (f"/api/catalog/entities/by-name/{sample}", {"Authorization": f"Bearer {TOKEN}"}),
            "facets, owner (IS_ENTITY_OWNER)": (facets, with_owner),
            "facets, super-user": (facets, {"Authorization": f"Bearer {superuser}"}),
        }
        del visible
        results = over_http(portal, args.port, variants, args.requests)
        portal.database.dispose()
    finally:
        if schema:
            subprocess.run(["psql", PG, "-qc", f'DROP SCHEMA "{schema}" CASCADE'], check=False)
    ratios = {
        "by-query owner / super-user": round(results["by-query, owner (IS_ENTITY_OWNER)"]["p50_ms"]
                                             / results["by-query, super-user"]["p50_ms"], 3),
        "by-name user token / static token": round(results["by-name, owner (user token)"]["p50_ms"]
                                                   / results["by-name, static token"]["p50_ms"], 3),
        "facets owner / super-user": round(results["facets, owner (IS_ENTITY_OWNER)"]["p50_ms"]
                                           / results["facets, super-user"]["p50_ms"], 3),
    }
    report = {"n": args.n, "db": args.db, "requests": args.requests, "ownerClaims": claims, "results": results,
              "ratios": ratios, "catalogSha256": hashlib.sha256((workdir / "catalog-generated.yaml").read_bytes())
              .hexdigest()[:16]}
    OUT.mkdir(exist_ok=True)
    (OUT / f"permissions-{args.db}.json").write_text(json.dumps(report, indent=2))
    lines = [f"# Permissions benchmark ({args.n} entities, {args.db}, {args.requests} rounds)", "",
             "| request | p50 ms | p99 ms | returned |", "|---|---|---|---|"]
    for name, entry in results.items():
        shape = ", ".join(f"{k} {v}" for k, v in entry.items() if k not in ("p50_ms", "p99_ms"))
        lines.append(f"| {name} | {entry['p50_ms']} | {entry['p99_ms']} | {shape} |")
    lines += ["", *(f"- {name}: **{value}x**" for name, value in ratios.items())]
    (OUT / f"permissions-{args.db}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _owned_component(portal: Any, claims: list[str]) -> str:
    import orjson

    from greenroom.plugins.catalog.plugin import CATALOG

    queries = portal.registry.services.get(CATALOG).queries
    for raw in queries.list_all({"kind": "component", "relations.ownedBy": {"$in": claims}}, []):
        entity = orjson.loads(raw)
        return f"component/{entity['metadata'].get('namespace', 'default')}/{entity['metadata']['name']}"
    raise SystemExit(f"no component is owned by {claims}")


if __name__ == "__main__":
    main()
