"""Crash test: `greenroom serve` as a real process, a burst of mutations with a static token,
SIGKILL in the middle of it, restart. Every change that committed has its audit event (and
every event describes a change that committed), and the chain verifies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text

from greenroom.audit.verify import verify_chain
from greenroom.config import load_app_config
from greenroom.db.engine import Database
from tests.conftest import BENCH_TOKEN, free_port
from tests.plugins.catalog.web import WebRepo

ENTITIES = 300
URL_LOCATIONS = 120


def _component(name: str) -> str:
    return (f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n")


def _serve(config: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "greenroom.cli", "serve", "--config", str(config),
                             "--port", str(port), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_ready(proc: subprocess.Popen[bytes], client: httpx.Client, probe: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if client.get(probe).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server not ready")


def _burst(client: httpx.Client, uids: list[str], urls: list[str], done: list[tuple[str, str]],
           stop: threading.Event) -> None:
    """Mutations until the server dies: deletes of entities, registrations and deletions of locations."""
    lock = threading.Lock()

    def deleter(mine: list[str]) -> None:
        for uid in mine:
            if stop.is_set():
                return
            try:
                if client.delete(f"/api/catalog/entities/by-uid/{uid}").status_code == 204:
                    with lock:
                        done.append(("entity", uid))
            except httpx.TransportError:
                return

    def registrar(mine: list[str]) -> None:
        for url in mine:
            if stop.is_set():
                return
            try:
                response = client.post("/api/catalog/locations", json={"type": "url", "target": url})
                if response.status_code != 201:
                    continue
                location_id = response.json()["location"]["id"]
                with lock:
                    done.append(("location", location_id))
                if len(url) % 2 and client.delete(f"/api/catalog/locations/{location_id}").status_code == 204:
                    with lock:
                        done.append(("unregistered", location_id))
            except httpx.TransportError:
                return

    workers = [threading.Thread(target=deleter, args=(uids[i::2],)) for i in range(2)]
    workers += [threading.Thread(target=registrar, args=(urls[i::2],)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)


def _check_database(config: Path, uids: list[str], done: list[tuple[str, str]]) -> dict[str, Any]:
    database = Database.from_config(load_app_config([str(config)]))
    try:
        report = verify_chain(database)
        assert report.ok, [str(p) for p in report.problems]
        with database.engine.connect() as connection:
            events = [dict(r._mapping) for r in connection.execute(text(
                "SELECT event_id, action, status, target, meta FROM audit_events ORDER BY seq"))]
            present_uids = {r[0] for r in connection.execute(text("SELECT id FROM catalog_entities"))}
            locations = {r[0] for r in connection.execute(text(
                "SELECT id FROM catalog_locations WHERE source = 'api'"))}
            origins = {r[0] for r in connection.execute(text(
                "SELECT DISTINCT origin_key FROM catalog_entities WHERE origin_key LIKE 'url:%'"))}
    finally:
        database.dispose()
    succeeded = [e for e in events if e["status"] == "succeeded"]
    deleted_events = {e["target"] for e in succeeded if e["event_id"] == "entity-mutate" and e["action"] == "delete"
                      and json.loads(e["meta"]).get("found", True)}
    created = {e["target"] for e in succeeded if e["event_id"] == "location-mutate" and e["action"] == "create"}
    unregistered = {e["target"] for e in succeeded if e["event_id"] == "location-mutate" and e["action"] == "delete"}
    ingested = {json.loads(e["meta"])["location"] for e in succeeded
                if e["event_id"] == "entity-mutate" and e["action"] == "ingest"}
    # a registration is one transaction with its first ingestion, so one event for both
    ingested |= {"{type}:{target}".format(**json.loads(e["meta"])["location"]) for e in succeeded
                 if e["event_id"] == "location-mutate" and e["action"] == "create"}
    gone = set(uids) - present_uids
    # committed change -> its event, and event -> the change committed
    assert gone == deleted_events
    assert locations == created - unregistered
    assert origins <= ingested
    # what the client saw succeed committed, with its event
    assert {t for kind, t in done if kind == "entity"} <= deleted_events
    assert {t for kind, t in done if kind == "location"} <= created
    assert {t for kind, t in done if kind == "unregistered"} <= unregistered
    return {"deleted": len(gone), "locations": len(created), "events": len(events)}


def test_kill_mid_burst_every_committed_change_has_its_event(tmp_path, database_config):
    repo = WebRepo(tmp_path / "web")
    try:
        catalog = tmp_path / "catalog" / "all.yaml"
        catalog.parent.mkdir()
        catalog.write_text("---\n".join(_component(f"c-{i:04d}") for i in range(ENTITIES)), encoding="utf-8")
        urls = [repo.write(f"r{i}{'x' * (i % 2)}/catalog-info.yaml", _component(f"u-{i:04d}"))
                for i in range(URL_LOCATIONS)]
        config = tmp_path / "app-config.yaml"
        config.write_text(yaml.safe_dump({
            "backend": {"database": database_config, "auth": {"externalAccess": [
                {"type": "static", "options": {"token": BENCH_TOKEN, "subject": "crash-test"}}]},
                "reading": repo.reading_config()["backend"]["reading"]},
            "catalog": {"locations": [{"type": "file", "target": str(catalog)}],
                        "rules": [{"allow": ["Component", "Location"]}], "processingInterval": False},
        }), encoding="utf-8")
        port = free_port()
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
                              trust_env=False, timeout=30)
        proc = _serve(config, port)
        try:
            _wait_ready(proc, client, f"/api/catalog/entities/by-name/component/default/c-{ENTITIES - 1:04d}")
            uids = [e["metadata"]["uid"] for e in client.get(
                "/api/catalog/entities", params={"filter": "kind=component", "fields": "metadata.uid"}).json()]
            assert len(uids) == ENTITIES
            done: list[tuple[str, str]] = []
            stop = threading.Event()
            burst = threading.Thread(target=_burst, args=(client, uids, urls, done, stop))
            burst.start()
            deadline = time.monotonic() + 120
            while len(done) < 60 and time.monotonic() < deadline and burst.is_alive():
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)  # mid-burst: requests are in flight
            proc.wait(timeout=30)
            stop.set()
            burst.join(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        assert 60 <= len(done) < ENTITIES + 2 * URL_LOCATIONS, len(done)  # killed in the middle
        _check_database(config, uids, done)

        restarted = _serve(config, port)
        try:
            _wait_ready(restarted, client, "/readyz")
            verify = subprocess.run([sys.executable, "-m", "greenroom.cli", "audit-log", "verify", "--config",
                                     str(config)], capture_output=True, text=True, timeout=120, check=False)
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert client.get("/api/audit/events", params={"eventId": "entity-mutate"}).status_code == 200
        finally:
            restarted.send_signal(signal.SIGTERM)
            restarted.wait(timeout=60)
        client.close()
    finally:
        repo.close()
