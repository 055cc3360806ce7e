"""What authentication costs per request: token verification and session lookup.

    python benchmarks/bench_auth.py                 # SQLite
    python benchmarks/bench_auth.py --db postgres   # PostgreSQL at 127.0.0.1:5432 (db `test`)

In process, per call (median of `--iterations` calls, after warm-up):

* `issue`: signing a user token (ES256);
* `verify, cold`: a token never seen before: header parse, ES256 signature check with the key
  held in memory, claims, session lookup from the per-process cache;
* `verify, warm`: a token seen before (the common case: a browser reuses its token for an
  hour): cached verification plus the session/revocation check from cache;
* `verify, revocation check`: as warm, but the revocation caches have lapsed, so the session and
  the set of revoked token ids are read from the database (once per `revocationCheckInterval`,
  5 s default, per session and per process respectively);
* `cookie, warm` / `cookie, cold`: a browser session cookie, from cache / from the database;
* `authenticate: static|user token|cookie`: the whole `Authenticator` call on a request.

Over HTTP (real uvicorn on 127.0.0.1, one keep-alive client, `--requests` rounds of sequential
requests to `by-name` after warm-up, the three credentials interleaved): p50/p99 with a static
service token, a user token and a session cookie, and each one's ratio to the static token.
Results go to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
OUT = HERE / "out"
TOKEN = "bench-static-token-0123456789abcdef"
CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: alice}
spec: {profile: {email: alice@example.com}, memberOf: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: pay-service}
spec: {type: service, lifecycle: production, owner: team-a}
"""


def per_call(fn: Callable[[], Any], iterations: int) -> dict[str, float]:
    for _ in range(min(200, iterations)):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return {"p50_us": round(statistics.median(samples), 2), "p99_us": round(samples[int(len(samples) * 0.99)], 2),
            "mean_us": round(statistics.fmean(samples), 2)}


def database_config(db: str, tmp: Path) -> tuple[dict[str, Any], Callable[[], None]]:
    if db == "sqlite":
        return {"client": "better-sqlite3", "connection": str(tmp / "bench.sqlite")}, lambda: None
    from urllib.parse import quote

    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    url = f"postgresql://postgres@127.0.0.1:5432/test?options={quote(f'-csearch_path={schema}')}"
    return {"client": "pg", "connection": url}, drop


def build_portal(db_config: dict[str, Any], tmp: Path, port: int) -> Any:
    import yaml

    from greenroom.app import create_portal
    from greenroom.config import load_config
    from greenroom.config.defaults import base_defaults
    from greenroom.plugins.catalog.plugin import CATALOG as CATALOG_REF

    (tmp / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    config = {
        "app": {"baseUrl": base},
        "backend": {"baseUrl": base, "database": db_config, "listen": {"host": "127.0.0.1", "port": port},
                    "auth": {"externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "bench"}}]}},
        "catalog": {"processingInterval": False, "rules": [{"allow": ["User", "Group", "Component", "Location"]}],
                    "locations": [{"type": "file", "target": str(tmp / "catalog.yaml")}]},
        "permission": {"rbac": {"admin": {"users": [{"name": "user:default/alice"}]}}},
    }
    file = tmp / "app-config.yaml"
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    portal = create_portal(load_config([file], defaults=base_defaults(), env={}))
    portal.registry.services.get(CATALOG_REF).ingest_all(force=True)
    return portal


def request_for(headers: dict[str, str], method: str = "GET") -> Any:
    from starlette.requests import Request

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "path": "/api/catalog/entities", "headers": raw,
                    "client": ("127.0.0.1", 5555), "query_string": b""})


def in_process(portal: Any, iterations: int) -> dict[str, Any]:
    identity = portal.identity
    session, cookie = identity.sessions.create(kind="user", user_ref="user:default/alice", provider="oidc",
                                               ownership_refs=["user:default/alice", "group:default/team-a"])
    token = identity.issue_token(session).token
    results: dict[str, Any] = {}
    results["issue"] = per_call(lambda: identity.issue_token(session), iterations // 4)
    fresh = [identity.issue_token(session).token for _ in range(iterations // 4 + 200)]
    it = iter(fresh)
    results["verify, cold (new token)"] = per_call(lambda: identity.verify_user_token(next(it)), iterations // 4)
    results["verify, warm (cached)"] = per_call(lambda: identity.verify_user_token(token), iterations)

    def lapsed() -> None:
        identity.sessions.forget(session.id)
        identity.sessions._revoked_loaded_at = float("-inf")  # force the revoked-token reload
        identity.verify_user_token(token)

    results["verify, revocation check (DB)"] = per_call(lapsed, iterations // 4)
    results["cookie, warm (cached)"] = per_call(lambda: identity.sessions.from_cookie(cookie), iterations)

    def cookie_cold() -> None:
        identity.sessions.forget(session.id)
        identity.sessions.from_cookie(cookie)

    results["cookie, cold (DB)"] = per_call(cookie_cold, iterations // 4)
    auth = portal.authenticator
    static_headers = {"Authorization": f"Bearer {TOKEN}"}
    user_headers = {"Authorization": f"Bearer {token}"}
    cookie_headers = {"Cookie": f"{identity.session_cookie_name}={cookie}"}
    results["authenticate: static token"] = per_call(lambda: auth(request_for(static_headers)), iterations)
    results["authenticate: user token"] = per_call(lambda: auth(request_for(user_headers)), iterations)
    results["authenticate: session cookie"] = per_call(lambda: auth(request_for(cookie_headers)), iterations)
    results["request object only (baseline)"] = per_call(lambda: request_for(user_headers), iterations)
    # What the audit line of a service-token use costs when INFO logs are on (JSON to a buffer).
    from greenroom.observability.logging import JsonFormatter

    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    audit_log = logging.getLogger("greenroom.audit")
    audit_log.addHandler(handler)
    audit_log.setLevel(logging.INFO)
    audit_log.propagate = False
    results["authenticate: static token + audit log line"] = per_call(lambda: auth(request_for(static_headers)),
                                                                       iterations)
    audit_log.removeHandler(handler)
    audit_log.setLevel(logging.NOTSET)
    audit_log.propagate = True
    return {"results": results, "token": token, "cookie": cookie}


def over_http(portal: Any, port: int, token: str, cookie: str, requests: int) -> dict[str, Any]:
    import httpx
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(portal.app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    logging.getLogger("greenroom.access").setLevel(logging.WARNING)
    url = f"http://127.0.0.1:{port}/api/catalog/entities/by-name/component/default/pay-service"
    variants = {
        "static token": {"Authorization": f"Bearer {TOKEN}"},
        "user token": {"Authorization": f"Bearer {token}"},
        "session cookie": {"Cookie": f"{portal.identity.session_cookie_name}={cookie}"},
    }
    out: dict[str, Any] = {}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    try:
        with httpx.Client(trust_env=False) as client:
            for name, headers in variants.items():
                for _ in range(100):
                    assert client.get(url, headers=headers).status_code == 200, name
            for _ in range(requests):  # interleaved, so drift in the machine hits every variant alike
                for name, headers in variants.items():
                    start = time.perf_counter_ns()
                    client.get(url, headers=headers)
                    samples[name].append((time.perf_counter_ns() - start) / 1e6)
        for name, values in samples.items():
            values.sort()
            out[name] = {"p50_ms": round(statistics.median(values), 3),
                         "p99_ms": round(values[int(len(values) * 0.99)], 3)}
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    base = out["static token"]["p50_ms"]
    for entry in out.values():
        entry["ratio_to_static"] = round(entry["p50_ms"] / base, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from tests.conftest import free_port

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db_config, drop = database_config(args.db, tmp)
        port = free_port()
        portal = build_portal(db_config, tmp, port)
        try:
            measured = in_process(portal, args.iterations)
            http = over_http(portal, port, measured["token"], measured["cookie"], args.requests)
        finally:
            portal.database.dispose()
            drop()
    report = {"db": args.db, "python": sys.version.split()[0], "in_process": measured["results"], "http": http}
    OUT.mkdir(exist_ok=True)
    (OUT / f"auth-{args.db}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    lines = [f"# Authentication cost per request ({args.db})", "", "| in process | p50 µs | p99 µs |", "|---|---|---|"]
    lines += [f"| {k} | {v['p50_us']} | {v['p99_us']} |" for k, v in measured["results"].items()]
    lines += ["", "| over HTTP (by-name) | p50 ms | p99 ms | p50 / static |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['p50_ms']} | {v['p99_ms']} | {v['ratio_to_static']} |" for k, v in http.items()]
    text = "\n".join(lines) + "\n"
    (OUT / f"auth-{args.db}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
