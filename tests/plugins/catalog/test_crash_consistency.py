"""A process killed in the middle of an ingestion leaves the previous state intact."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time

from tests.conftest import BENCH_TOKEN
from tests.test_cli import write_config

COUNT = 3000


def catalog_text(lifecycle: str) -> str:
    return "---\n".join(
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: c-{i:05d}\n"
        f"spec:\n  type: service\n  lifecycle: {lifecycle}\n  owner: team-{i % 7}\n"
        for i in range(COUNT)
    )


def lifecycles(portal_app) -> dict[str, int]:
    from starlette.testclient import TestClient

    client = TestClient(portal_app, headers={"Authorization": f"Bearer {BENCH_TOKEN}"})
    facets = client.get("/api/catalog/entity-facets", params={"facet": "spec.lifecycle"}).json()["facets"]
    return {f["value"]: f["count"] for f in facets["spec.lifecycle"]}


def test_kill_during_ingest_keeps_previous_or_new_state_whole(tmp_path, database_config):
    catalog = tmp_path / "catalog" / "all.yaml"
    catalog.parent.mkdir()
    catalog.write_text(catalog_text("before"), encoding="utf-8")
    config = write_config(tmp_path, database_config)
    command = [sys.executable, "-m", "greenroom.cli", "catalog", "import", str(catalog), "--config", str(config)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr

    from greenroom.app import create_portal
    from greenroom.config import load_app_config

    catalog.write_text(catalog_text("after"), encoding="utf-8")
    for delay in (0.6, 1.0, 1.4, 1.8, 2.4, 3.0):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        portal = create_portal(load_app_config([str(config)]))
        try:
            counts = lifecycles(portal.app)
        finally:
            portal.database.dispose()
        # Either every entity is still "before" or every one is "after": never a mix, never fewer.
        assert counts in ({"before": COUNT}, {"after": COUNT}), (delay, counts)
        if counts == {"after": COUNT}:
            break


def test_failure_in_the_middle_of_the_write_rolls_everything_back(catalog, database_config):
    """A database error after entities and relations were written (a trigger refuses the
    search rows) must leave the catalog exactly as it was."""
    cat = catalog({"all.yaml": catalog_text("before")})
    before = cat.get("/entities", params={"fields": "metadata.name,metadata.etag,spec.lifecycle"}).json()
    with cat.portal.database.engine.begin() as connection:
        if database_config["client"] == "pg":
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
                "LANGUAGE plpgsql")
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_search BEFORE INSERT ON catalog_search FOR EACH ROW EXECUTE FUNCTION refuse()")
        else:
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_search BEFORE INSERT ON catalog_search BEGIN SELECT RAISE(ABORT, 'refused'); END")
    cat.write("all.yaml", catalog_text("after"))
    with contextlib.suppress(Exception):
        cat.ingest()
    after = cat.get("/entities", params={"fields": "metadata.name,metadata.etag,spec.lifecycle"}).json()
    assert sorted(after, key=str) == sorted(before, key=str)
    assert lifecycles(cat.portal.app) == {"before": COUNT}
