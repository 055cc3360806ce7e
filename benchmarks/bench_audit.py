"""What audit recording costs a mutation: the same requests with the audit trail on and off.

    python benchmarks/bench_audit.py                  # SQLite, the 10k synthetic catalog
    python benchmarks/bench_audit.py --db postgres    # PostgreSQL at 127.0.0.1:5432 (db `test`)
    python benchmarks/bench_audit.py --n 0            # a catalog of bare components only

With `--n N` (default 10000) each portal holds the synthetic catalog of
../shared/bench/backstage/gen_catalog.py (seed 42, the mix every other benchmark uses: deleting
a component restitches its owner group and system, as in a real catalog); with `--n 0` only
`--deletes + 50` components whose owner does not exist (the cheapest possible change, where the
audit event's fixed cost is the largest share).

Two portals with the same catalog, each on its own database and in its own server process
(uvicorn on 127.0.0.1, as deployed): one with the default audit settings, one with
`audit.enabled: false` (the opt-in off switch, flagged by `greenroom audit` as GR-CORE-003;
with it the catalog takes its pre-audit code path: no operation, no event, no decision
record). Requests go to both from this process, interleaved (on/off, then off/on) over
keep-alive connections with a static token, so drift of the machine hits both alike. (Both
servers used to run as threads of this process: the client, both servers and one garbage
collector then shared one interpreter, and a collection triggered by either server's
allocations landed on whichever request crossed the threshold, which charged the portal that
allocates more for the other's garbage too.)

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
import os
import statistics
import subprocess
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


def build(db_config: dict[str, Any], tmp: Path, *, audit: bool, entities: int, files_port: int,
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
                    "reading": {"allow": [{"host": f"127.0.0.1:{files_port}",
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


def run_server(spec: dict[str, Any]) -> None:
    """The server process: build one portal, then serve it until terminated."""
    import uvicorn

    logging.disable(logging.WARNING)
    portal = build(spec["db"], Path(spec["tmp"]), audit=spec["audit"], entities=spec["entities"],
                   files_port=spec["files_port"], synthetic=spec["synthetic"])
    uvicorn.run(portal.app, host="127.0.0.1", port=spec["port"], log_config=None, access_log=False,
                lifespan="on", ws="none")


def _cores() -> tuple[set[int], set[int]]:
    """(client cores, server cores): the servers share the last core and the client keeps the
    others, so neither server is favoured by where the scheduler puts it (without this, two
    identical servers measured 2-5% apart, the first one started slower)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2:
        return set(cores), set(cores)
    return set(cores[:-1]), {cores[-1]}


def start_server(spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    _client, servers = _cores()
    proc = subprocess.Popen([sys.executable, __file__, "--server", json.dumps(spec)])
    if servers and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, servers)
    import httpx

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the {'audit-on' if spec['audit'] else 'audit-off'} server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{spec['port']}/healthz", timeout=1, trust_env=False).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("a server did not start within 600 s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def run_pass(args: argparse.Namespace, order: tuple[str, str], tmp: Path, files: Files, label: str) -> dict[str, Any]:
    """One pass: both servers started in `order`, every request kind interleaved on/off."""
    import httpx
    from bench_auth import database_config

    from greenroom.audit.verify import verify_chain
    from greenroom.config import load_config
    from greenroom.db.engine import Database

    urls: dict[str, str] = {}
    cleanups = []
    servers = []
    try:
        for mode in order:
            home = tmp / label / mode
            home.mkdir(parents=True)
            db, drop = database_config(args.db, home)
            cleanups.append(drop)
            port = free_port()
            servers.append(start_server({"db": db, "tmp": str(home), "audit": mode == "on" or args.aa,
                                         "entities": args.deletes + 50, "files_port": files.port,
                                         "synthetic": args.n, "port": port}))
            urls[mode] = f"http://127.0.0.1:{port}"
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

        targets = {m: [files.write(f"{label}/{m}/r{i}/catalog-info.yaml", component(f"loc-{m}-{i}"))
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
        for client in clients.values():
            client.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    database = Database.from_config(load_config([tmp / label / "on" / "app-config.yaml"], env={}))
    check = verify_chain(database)
    database.dispose()
    for drop in cleanups:
        drop()
    return {"results": results, "events": check.checked, "intact": check.ok}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--server":
        run_server(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--deletes", type=int, default=400)
    parser.add_argument("--locations", type=int, default=300)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=4, help="passes with fresh servers (start order alternates)")
    parser.add_argument("--n", type=int, default=10_000, help="synthetic catalog size (0: bare components)")
    parser.add_argument("--aa", action="store_true",
                        help="control run: audit on for both sides (the ratios then show the method's own noise)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    client_cores, _servers = _cores()
    if client_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, client_cores)

    passes = []
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        files = Files(tmp / "web")
        # Passes with fresh servers, the audit-on server started first and then second in turn:
        # which of two identical servers is started first shows in their latencies, and each
        # server process has its own small constant offset (memory layout): passes average both.
        for n in range(args.passes):
            order = ("on", "off") if n % 2 == 0 else ("off", "on")
            passes.append(run_pass(args, order, tmp, files, f"pass{n}-{order[0]}-first"))
        files.server.shutdown()
    report: dict[str, Any] = {"db": args.db, "catalog": args.n or f"{args.deletes + 50} bare components",
                              "control (audit on both sides)": args.aa,
                              "python": sys.version.split()[0], "results": {},
                              "audit events recorded": sum(p["events"] for p in passes),
                              "chain intact": all(p["intact"] for p in passes)}
    for name in passes[0]["results"]:
        on = summary([x for p in passes for x in p["results"][name]["on"]])
        off = summary([x for p in passes for x in p["results"][name]["off"]])
        report["results"][name] = {"audit on": on, "audit off": off,
                                   "ratio_p50": round(on["p50_ms"] / off["p50_ms"], 3),
                                   "ratio_mean": round(on["mean_ms"] / off["mean_ms"], 3),
                                   "ratio_p50_per_pass": [
                                       round(statistics.median(p["results"][name]["on"])
                                             / statistics.median(p["results"][name]["off"]), 3) for p in passes]}
    OUT.mkdir(exist_ok=True)
    suffix = "-aa" if args.aa else ""
    (OUT / f"bench_audit-{args.db}{suffix}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"{'request':24} {'on p50':>9} {'off p50':>9} {'ratio':>7} {'on mean':>9} {'off mean':>9} {'ratio':>7}  "
          "p50 ratio per pass")
    for name, row in report["results"].items():
        print(f"{name:24} {row['audit on']['p50_ms']:9.3f} {row['audit off']['p50_ms']:9.3f} {row['ratio_p50']:7.3f} "
              f"{row['audit on']['mean_ms']:9.3f} {row['audit off']['mean_ms']:9.3f} {row['ratio_mean']:7.3f}  "
              + " ".join(f"{r:.3f}" for r in row["ratio_p50_per_pass"]))
    print(f"catalog: {report['catalog']}; events recorded: {report['audit events recorded']}, "
          f"chain intact: {report['chain intact']}" + ("; CONTROL RUN: audit on for both sides" if args.aa else ""))


if __name__ == "__main__":
    main()
