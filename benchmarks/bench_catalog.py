"""Catalog benchmark: greenroom and (optionally) the real Backstage, side by side, one run.

    python benchmarks/bench_catalog.py --sizes 1000 10000                 # greenroom on SQLite
    python benchmarks/bench_catalog.py --sizes 10000 --db postgres        # greenroom on PostgreSQL
    python benchmarks/bench_catalog.py --sizes 1000 10000 --backstage /tmp/bs   # plus Backstage

For each N the synthetic catalog of ../shared/bench/backstage/gen_catalog.py (seed 42, the same
entity mix) is generated, a fresh `greenroom serve` is started on it, and the same numbers as
the Backstage harness (../shared/bench/backstage/bench.py, whose measuring functions are reused)
are taken: start-up until readiness, time until every entity is queryable (by-query totalItems
== N + 1, the +1 being the Location entity made for the configured location, as in Backstage),
latency of the same five endpoints (300 sequential keep-alive requests after 5 warm-ups),
throughput on by-name with 8 client threads for 10 s, and peak RSS (VmHWM). Then re-ingesting
the unchanged location is timed, and the same numbers are taken for Backstage with `--backstage
DIR` (a copy of the harness where `npm ci` has been run). Results go to benchmarks/out/ as JSON
and a Markdown table with greenroom/Backstage ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HARNESS = ROOT.parent / "shared" / "bench" / "backstage"
sys.path.insert(0, str(HARNESS))
import bench as harness  # noqa: E402  (the Backstage harness's own measuring functions)
import gen_catalog  # noqa: E402

TOKEN = harness.TOKEN
OUT = HERE / "out"


def endpoints(sample: str) -> dict[str, str]:
    q = urllib.parse.quote
    term = harness.FT_TERM
    return {
        "by_query_kind_component_limit100": "/api/catalog/entities/by-query?filter=kind=component&limit=100",
        "by_name_component": f"/api/catalog/entities/by-name/component/default/{q(sample)}",
        "facets_spec_type_components": "/api/catalog/entity-facets?facet=spec.type&filter=kind=component",
        "by_query_fulltext_default_fields": "/api/catalog/entities/by-query?filter=kind=component,"
        f"spec.lifecycle=production&fullTextFilterTerm={term}&limit=20",
        "by_query_fulltext_name_field": "/api/catalog/entities/by-query?filter=kind=component,"
        f"spec.lifecycle=production&fullTextFilterTerm={term}&fullTextFilterFields=metadata.name"
        "&orderField=metadata.name,asc&limit=20",
    }


def _pg_schema_url(base: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", base, "-qc", f'CREATE SCHEMA "{schema}"'], check=True)
    return f"{base}?options=-csearch_path%3D{schema}", schema


def greenroom_config(workdir: Path, catalog: Path, db: str, port: int) -> tuple[Path, str | None]:
    schema = None
    if db == "postgres":
        url, schema = _pg_schema_url(os.environ.get("GREENROOM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"))
        database = f"    client: pg\n    connection: '{url}'\n"
    else:
        database = f"    client: better-sqlite3\n    connection: {workdir / 'greenroom.sqlite'}\n"
    config = workdir / "app-config.yaml"
    config.write_text(
        "backend:\n"
        f"  baseUrl: http://127.0.0.1:{port}\n"
        f"  listen: {{host: 127.0.0.1, port: {port}}}\n"
        "  database:\n" + database +
        "  auth:\n    externalAccess:\n      - type: static\n"
        f"        options: {{token: {TOKEN}, subject: bench}}\n"
        "catalog:\n"
        "  rules:\n    - allow: [Component, System, API, Resource, Location, Domain, Group, User, Template]\n"
        f"  locations:\n    - type: file\n      target: {catalog}\n",
        encoding="utf-8",
    )
    return config, schema


def wait_total(client: harness.Client, expected: int, started: float, max_wait: float) -> float | None:
    while time.perf_counter() - started < max_wait:
        try:
            status, body = client.get("/api/catalog/entities/by-query?limit=1")
            if status == 200 and json.loads(body).get("totalItems") == expected:
                return time.perf_counter() - started
        except Exception:
            client.close()
        time.sleep(0.05)
    return None


def measure(base_url: str, pid: int | None, sample: str, requests: int) -> dict[str, Any]:
    client = harness.Client(base_url)
    out: dict[str, Any] = {"latency": {}}
    for name, path in endpoints(sample).items():
        out["latency"][name] = harness.latency(client, path, n=requests)
    out["throughput"] = harness.throughput(base_url, endpoints(sample)["by_name_component"], clients=8, seconds=10.0)
    if pid is not None:
        status = harness.read_status(pid)
        out["peak_rss_mb"] = round(status.get("VmHWM", 0), 1)
        out["rss_end_mb"] = round(status.get("VmRSS", 0), 1)
    client.close()
    return out


def precompile() -> None:
    """Byte-compile greenroom as an installed package is (pip compiles wheels at install time).

    An editable install has no .pyc until the first run writes them, and none ever where
    PYTHONDONTWRITEBYTECODE is set (as on the benchmark machines): start-up would then time
    compiling 200 modules from source, which no installed server does."""
    import greenroom

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(greenroom.__file__).parent)], check=True,
                   stdout=subprocess.DEVNULL)


def run_greenroom(n: int, catalog: Path, info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="gr-bench-"))
    port = 7107
    config, schema = greenroom_config(workdir, catalog, args.db, port)
    env = dict(os.environ, GREENROOM_HOME=str(workdir))
    cmd = [sys.executable, "-m", "greenroom.cli", "serve", "--config", str(config), "--log-level", "warning"]
    log = (workdir / "serve.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    # On PostgreSQL a first load holds its tables until it commits (indexes are built after
    # the bulk copy), so a poll may wait for the whole ingestion: allow it as long as --max-wait.
    client = harness.Client(base, timeout=args.max_wait)
    res: dict[str, Any] = {"n": n, "system": "greenroom", "db": args.db}
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"greenroom exited: {(workdir / 'serve.log').read_text()[-2000:]}")
            try:
                if client.get("/.backstage/health/v1/readiness")[0] == 200:
                    break
            except Exception:
                client.close()
            time.sleep(0.02)
        res["startup_s"] = round(time.perf_counter() - started, 3)
        res["all_entities_s"] = wait_total(client, n + 1, started, args.max_wait)
        status = harness.read_status(proc.pid)
        res["rss_after_ingest_mb"] = round(status.get("VmRSS", 0), 1)
        res["hwm_after_ingest_mb"] = round(status.get("VmHWM", 0), 1)
        res.update(measure(base, proc.pid, info["sample_component"], args.requests))
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    try:
        res["reingest"] = reingest(config, env)  # the same database, so before the schema goes
    finally:
        if schema:
            subprocess.run(["psql", os.environ.get("GREENROOM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"),
                            "-qc", f'DROP SCHEMA "{schema}" CASCADE'], check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    return res


def reingest(config: Path, env: dict[str, str]) -> dict[str, Any]:
    """First ingest vs. re-ingest of the unchanged location, in one process, database kept."""
    code = (
        "import json,sys,time\n"
        "from greenroom.app import create_portal\n"
        "from greenroom.config import load_app_config\n"
        "from greenroom.plugins.catalog.plugin import CATALOG\n"
        "portal=create_portal(load_app_config([sys.argv[1]]))\n"
        "svc=portal.registry.services.get(CATALOG)\n"
        "spec=svc.config_locations()[0]\n"
        "t=time.perf_counter(); s1=svc.ingestor.ingest(spec, force=True); a=time.perf_counter()-t\n"
        "t=time.perf_counter(); s2=svc.ingestor.ingest(spec); b=time.perf_counter()-t\n"
        "print(json.dumps({'forced_s':round(a,3),'unchanged_s':round(b,4),'skipped':s2.skipped,"
        "'ratio':round(b/a,4)}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(config)], env=env, capture_output=True, text=True,
                            check=False)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": result.stderr[-2000:]}


def run_backstage(n: int, catalog: Path, info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    bs = Path(args.backstage)
    shutil.copy(catalog, bs / "catalog-generated.yaml")
    shutil.rmtree(bs / "data", ignore_errors=True)
    (bs / "data").mkdir()
    log = (bs / f"backend-{n}.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen(["node", "index.js", "--config", "app-config.yaml"], cwd=bs,
                            env=dict(os.environ, NODE_ENV="development"), stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:7007"
    client = harness.Client(base)
    res: dict[str, Any] = {"n": n, "system": "backstage"}
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("backstage exited")
            try:
                if client.get("/.backstage/health/v1/readiness")[0] == 200:
                    break
            except Exception:
                client.close()
            time.sleep(0.1)
        res["startup_s"] = round(time.perf_counter() - started, 3)
        res["all_entities_s"] = wait_total(client, n + 1, started, args.max_wait)
        res.update(measure(base, proc.pid, info["sample_component"], args.requests))
    finally:
        client.close()
        harness.stop_process(proc)
    return res


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.3f}"


def report(results: list[dict[str, Any]], path: Path) -> None:
    lines = ["| N | system | db | startup s | all queryable s | peak RSS MiB | by-name rps | "
             "by-query p50 | facets p50 | by-name p50 | re-ingest/first |", "|" + "---|" * 11]
    for r in results:
        lat = r.get("latency", {})
        lines.append(
            f"| {r['n']} | {r['system']} | {r.get('db', 'better-sqlite3')} | {r.get('startup_s')} | "
            f"{r.get('all_entities_s')} | {r.get('peak_rss_mb')} | {r.get('throughput', {}).get('rps')} | "
            f"{lat.get('by_query_kind_component_limit100', {}).get('p50_ms')} | "
            f"{lat.get('facets_spec_type_components', {}).get('p50_ms')} | "
            f"{lat.get('by_name_component', {}).get('p50_ms')} | {r.get('reingest', {}).get('ratio', '')} |"
        )
    by_n: dict[int, dict[str, dict[str, Any]]] = {}
    for r in results:
        by_n.setdefault(r["n"], {})[r["system"]] = r
    lines += ["", "Ratios greenroom / Backstage (lower is better, except throughput):", ""]
    for n, pair in sorted(by_n.items()):
        g, b = pair.get("greenroom"), pair.get("backstage")
        if not g or not b:
            continue
        gl, bl = g["latency"], b["latency"]
        lines.append(
            f"- N={n}: queryable {ratio(g['all_entities_s'], b['all_entities_s'])}, "
            f"startup {ratio(g['startup_s'], b['startup_s'])}, RSS {ratio(g['peak_rss_mb'], b['peak_rss_mb'])}, "
            + ", ".join(f"{k} p50 {ratio(gl[k]['p50_ms'], bl[k]['p50_ms'])}" for k in gl)
            + f", by-name throughput {ratio(g['throughput']['rps'], b['throughput']['rps'])}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--backstage", help="a copy of the Backstage harness with node_modules installed")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--max-wait", type=float, default=1200.0)
    ap.add_argument("--out", default=str(OUT / "catalog.json"))
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    precompile()
    results = []
    for n in args.sizes:
        workdir = Path(tempfile.mkdtemp(prefix="gr-cat-"))
        catalog = workdir / "catalog-generated.yaml"
        with catalog.open("w") as f:
            info = gen_catalog.generate(n, f, seed=42)
        g = run_greenroom(n, catalog, info, args)
        print(json.dumps({k: g.get(k) for k in ("n", "startup_s", "all_entities_s", "peak_rss_mb", "reingest")}),
              flush=True)
        results.append(g)
        if args.backstage:
            b = run_backstage(n, catalog, info, args)
            print(json.dumps({k: b.get(k) for k in ("n", "startup_s", "all_entities_s", "peak_rss_mb")}), flush=True)
            results.append(b)
        shutil.rmtree(workdir, ignore_errors=True)
    Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    report(results, Path(args.out).with_suffix(".md"))
    print(Path(args.out).with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
