"""What audit recording costs a mutation: the same requests with the audit trail on and off.

    python benchmarks/bench_audit.py                  # SQLite, the 10k synthetic catalog
    python benchmarks/bench_audit.py --db postgres    # PostgreSQL at 127.0.0.1:5432 (db `test`)
    python benchmarks/bench_audit.py --n 0            # a catalog of bare components only

With `--n N` (default 10000) each portal holds the synthetic catalog of
../shared/bench/backstage/gen_catalog.py (seed 42, the mix every other benchmark uses: deleting
a component restitches its owner group and system, as in a real catalog); with `--n 0` only
`--deletes + 50` components whose owner does not exist (the cheapest possible change, where the
audit event's fixed cost is the largest share).

Two portals with the same catalog, each on its own database and its own uvicorn server on
127.0.0.1: one with the default audit settings, one with `audit.enabled: false` (the opt-in
off switch, flagged by `greenroom audit` as GR-CORE-003; with it the catalog takes its
pre-audit code path: no operation, no event, no decision record). Requests go to both,
interleaved (on/off, then off/on) over keep-alive connections with a static token, so drift
of the machine hits both alike:

* `DELETE /api/catalog/entities/by-uid/:uid` — one entity each (the event goes in the delete's
  transaction: chain head update + insert);
* `POST /api/catalog/locations` (dryRun=false) for a one-entity url location, then
  `DELETE /api/catalog/locations/:id` (two events each: the location change and its tree's batch);
* `GET /api/catalog/entities/by-name/...` — a read (default `readEvents: sensitive` records none).

Reports p50/mean per mode and the on/off ratio (target <= 1.05). Results go to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import http.server
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))
OUT = HERE / "out"
TOKEN = "bench-static-token-0123456789abcdef"


def component(name: str) -> str:
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n")


class Files:
    """A static file server standing in for a git host (url locations)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        files = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = files.root / self.path.lstrip("/")
                data = path.read_bytes() if path.is_file() else None
                self.send_response(200 if data is not None else 404)
                self.send_header("content-length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            def log_message(self, *_args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def write(self, name: str, text: str) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return f"http://127.0.0.1:{self.port}/{name}"


def build(db_config: dict[str, Any], tmp: Path, *, audit: bool, entities: int, files: Files,
          synthetic: int = 0) -> Any:
    import yaml

    from greenroom.app import create_portal
    from greenroom.config import load_config
    from greenroom.config.defaults import base_defaults
    from greenroom.plugins.catalog.plugin import CATALOG

    catalog = tmp / "catalog.yaml"
    if synthetic:
        sys.path.insert(0, str(ROOT.parent / "shared" / "bench" / "backstage"))
        import gen_catalog

        with catalog.open("w", encoding="utf-8") as out:
            gen_catalog.generate(synthetic, out)
    else:
        catalog.write_text("---\n".join(component(f"c-{i:05d}") for i in range(entities)), encoding="utf-8")
    config = {
        "backend": {"database": db_config,
                    "auth": {"externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "bench"}}]},
                    "reading": {"allow": [{"host": f"127.0.0.1:{files.port}",
                                           "dangerouslyAllowPrivateAddresses": True}]}},
        "catalog": {"processingInterval": False,
                    "rules": [{"allow": ["Component", "System", "API", "Resource", "Location", "Domain", "Group",
                                         "User", "Template"]}],
                    "locations": [{"type": "file", "target": str(catalog)}]},
        "audit": {"enabled": audit},
    }
    file = tmp / "app-config.yaml"
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    portal = create_portal(load_config([file], defaults=base_defaults(), env={}))
    portal.registry.services.get(CATALOG).ingest_all(force=True)
    return portal


def serve(portal: Any) -> tuple[Any, str]:
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(portal.app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{port}"


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 3),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
            "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 3)}


def interleaved(rounds: int, call: Callable[[str, int], None]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"on": [], "off": []}
    for i in range(rounds):
        for mode in (("on", "off") if i % 2 == 0 else ("off", "on")):
            started = time.perf_counter()
            call(mode, i)
            samples[mode].append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--deletes", type=int, default=400)
    parser.add_argument("--locations", type=int, default=120)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--n", type=int, default=10_000, help="synthetic catalog size (0: bare components)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    import httpx
    from bench_auth import database_config

    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        files = Files(tmp / "web")
        portals: dict[str, Any] = {}
        urls: dict[str, str] = {}
        cleanups = []
        servers = []
        for mode in ("on", "off"):
            (tmp / mode).mkdir()
            db, drop = database_config(args.db, tmp / mode)
            cleanups.append(drop)
            portals[mode] = build(db, tmp / mode, audit=mode == "on", entities=args.deletes + 50, files=files,
                                  synthetic=args.n)
            server, urls[mode] = serve(portals[mode])
            servers.append(server)
        clients = {m: httpx.Client(base_url=urls[m], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60,
                                   trust_env=False) for m in urls}
        listed = {m: clients[m].get("/api/catalog/entities", params={
            "filter": "kind=component", "fields": "metadata.uid,metadata.name", "order": "asc:metadata.name"}).json()
            for m in urls}
        uids = {m: [e["metadata"]["uid"] for e in listed[m]] for m in urls}
        names = [e["metadata"]["name"] for e in listed["on"]]  # the same catalog on both sides
        results: dict[str, Any] = {}

        def read(mode: str, i: int) -> None:
            name = names[args.deletes + i % 50]
            assert clients[mode].get(f"/api/catalog/entities/by-name/component/default/{name}").status_code == 200

        interleaved(100, read)  # warm-up
        results["GET by-name"] = interleaved(args.reads, read)

        def delete(mode: str, i: int) -> None:
            assert clients[mode].delete(f"/api/catalog/entities/by-uid/{uids[mode][i]}").status_code == 204

        interleaved(20, delete)
        results["DELETE by-uid"] = interleaved(args.deletes - 20, lambda m, i: delete(m, i + 20))

        targets = {m: [files.write(f"{m}/r{i}/catalog-info.yaml", component(f"loc-{m}-{i}"))
                       for i in range(args.locations)] for m in urls}
        created: dict[str, list[str]] = {"on": [], "off": []}

        def post(mode: str, i: int) -> None:
            response = clients[mode].post("/api/catalog/locations", json={"type": "url", "target": targets[mode][i]})
            assert response.status_code == 201, response.text
            created[mode].append(response.json()["location"]["id"])

        def unregister(mode: str, i: int) -> None:
            assert clients[mode].delete(f"/api/catalog/locations/{created[mode][i]}").status_code == 204

        results["POST /locations"] = interleaved(args.locations, post)
        results["DELETE /locations/:id"] = interleaved(args.locations, unregister)

        report: dict[str, Any] = {"db": args.db, "catalog": args.n or f"{args.deletes + 50} bare components",
                                  "python": sys.version.split()[0], "results": {}}
        for name, samples in results.items():
            on, off = summary(samples["on"]), summary(samples["off"])
            report["results"][name] = {"audit on": on, "audit off": off,
                                       "ratio_p50": round(on["p50_ms"] / off["p50_ms"], 3),
                                       "ratio_mean": round(on["mean_ms"] / off["mean_ms"], 3)}
        from greenroom.audit.verify import verify_chain

        check = verify_chain(portals["on"].database)
        report["audit events recorded"] = check.checked
        report["chain intact"] = check.ok
        for client in clients.values():
            client.close()
        for server in servers:
            server.should_exit = True
        time.sleep(0.5)
        for portal in portals.values():
            portal.database.dispose()
        for drop in cleanups:
            drop()
        files.server.shutdown()
    OUT.mkdir(exist_ok=True)
    (OUT / f"bench_audit-{args.db}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"{'request':24} {'on p50':>9} {'off p50':>9} {'ratio':>7} {'on mean':>9} {'off mean':>9} {'ratio':>7}")
    for name, row in report["results"].items():
        print(f"{name:24} {row['audit on']['p50_ms']:9.3f} {row['audit off']['p50_ms']:9.3f} {row['ratio_p50']:7.3f} "
              f"{row['audit on']['mean_ms']:9.3f} {row['audit off']['mean_ms']:9.3f} {row['ratio_mean']:7.3f}")
    print(f"catalog: {report['catalog']}; events recorded: {report['audit events recorded']}, "
          f"chain intact: {report['chain intact']}")


if __name__ == "__main__":
    main()
