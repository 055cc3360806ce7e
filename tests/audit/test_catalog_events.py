"""Catalog changes are audit events: one per API mutation, one per ingested location batch,
in the same transaction as the change, failures included."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from greenroom.audit.verify import verify_chain
from tests.audit.conftest import bearer, trail, user_token
from tests.plugins.catalog.conftest import catalog  # noqa: F401 - the fixture
from tests.plugins.catalog.test_ingestion import component
from tests.plugins.catalog.web import WebRepo

SERVICE = "external:tests"


@pytest.fixture
def repo(tmp_path):
    web = WebRepo(tmp_path / "web")
    yield web
    web.close()


@pytest.fixture
def cat(catalog, repo):  # noqa: F811 - the imported fixture
    files = {"all.yaml": "---\n".join(component(f"c{i}") for i in range(5))}
    return catalog(files, extra=repo.reading_config())


def test_ingestion_is_one_event_per_location_batch_with_counts(cat):
    [event] = trail(cat.portal, event_id="entity-mutate", action="ingest")
    meta = event.to_json()["meta"]
    assert meta["inserted"] == 6  # five components and the generated Location entity
    assert meta["location"].startswith("file:")
    assert event.actor_id == "greenroom:system"
    cat.ingest(force=True)  # nothing changed: no new event
    assert len(trail(cat.portal, event_id="entity-mutate", action="ingest")) == 1


def test_delete_by_uid_is_one_event_with_the_decision_in_it(cat):
    uid = cat.entity("component:default/c1")["metadata"]["uid"]
    response = cat.delete(f"/entities/by-uid/{uid}", headers={"X-Request-Id": "req-delete-1"})
    assert response.status_code == 204
    [event] = trail(cat.portal, event_id="entity-mutate", action="delete")
    assert (event.target, event.status, event.actor_id, event.actor_type) == (uid, "succeeded", SERVICE, "service")
    meta = event.to_json()["meta"]
    assert meta["entityRef"] == "component:default/c1"
    assert meta["permission"]["name"] == "catalog.entity.delete"
    assert meta["permission"]["result"] == "ALLOW"
    assert event.request_id == "req-delete-1"
    assert event.request_method == "DELETE"
    # the decision went into the mutation's event: no separate permission-decision for it
    assert [e for e in trail(cat.portal, event_id="permission-decision") if e.request_id == "req-delete-1"] == []


def test_location_create_update_delete_are_recorded(cat, repo):
    url = repo.write("r/catalog-info.yaml", component("registered"))
    created = cat.post("/locations", json={"type": "url", "target": url})
    assert created.status_code == 201
    location_id = created.json()["location"]["id"]
    moved = repo.write("r2/catalog-info.yaml", component("moved"))
    assert cat.client.put(f"/api/catalog/locations/{location_id}",
                          json={"type": "url", "target": moved}).status_code == 200
    assert cat.delete(f"/locations/{location_id}").status_code == 204
    locations = trail(cat.portal, event_id="location-mutate")
    assert [(e.action, e.target, e.status) for e in locations] == [
        ("create", location_id, "succeeded"), ("update", location_id, "succeeded"),
        ("delete", location_id, "succeeded")]
    assert all(e.actor_id == SERVICE for e in locations)
    # Registering and unregistering are one transaction each with their tree: one event, with
    # the tree's counts (each tree is a component and the generated Location entity).
    create, _update, remove = (e.to_json()["meta"] for e in locations)
    assert (create["location"]["id"], create["location"]["target"], create["inserted"]) == (location_id, url, 2)
    assert (remove["location"]["target"], remove["deleted"]) == (moved, 2)
    # Moving a location replaces one tree by another after the update's own event.
    batches = [(e.action, e.to_json()["meta"]) for e in trail(cat.portal, event_id="entity-mutate")
               if e.actor_id == SERVICE]
    assert [(a, m["location"], m["inserted"], m["deleted"]) for a, m in batches] == [
        ("delete-tree", f"url:{url}", 0, 2),
        ("ingest", f"url:{moved}", 2, 0),
    ]


def test_a_location_is_registered_with_its_tree_or_not_at_all(cat, repo):
    """The location row is written in its tree's transaction: when that write fails, neither
    the location nor its entities nor an event of success remain."""
    url = repo.write("atomic/catalog-info.yaml", component("atomic"))
    with cat.portal.database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_chain_head"))  # the event cannot be written
    assert cat.post("/locations", json={"type": "url", "target": url}).status_code == 500
    with cat.portal.database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM catalog_locations WHERE target = :t"),
                                  {"t": url}).scalar() == 0
    assert cat.entity("component:default/atomic") is None


def test_refresh_records_the_batch_as_the_request_event(cat):
    assert cat.post("/refresh", json={"entityRef": "component:default/c2"}).status_code == 200
    [event] = trail(cat.portal, event_id="entity-mutate", action="refresh")
    assert event.actor_id == SERVICE
    assert event.to_json()["meta"]["unchanged"] == 6


def test_failed_changes_record_the_failure(cat, repo):
    url = repo.write("dup/catalog-info.yaml", component("dup"))
    assert cat.post("/locations", json={"type": "url", "target": url}).status_code == 201
    assert cat.post("/locations", json={"type": "url", "target": url}).status_code == 409
    assert cat.delete("/locations/no-such-id").status_code == 404
    failed = trail(cat.portal, event_id="location-mutate", status="failed")
    assert [(e.action, e.error.split(":")[0]) for e in failed] == [("create", "ConflictError"),
                                                                    ("delete", "NotFoundError")]
    assert failed[0].target == f"url:{url}"  # the refused location, not an id it never got


def test_readonly_catalog_refusal_is_recorded(catalog, repo):  # noqa: F811
    cat = catalog(None, extra={**repo.reading_config(), "catalog": {"readonly": True}})
    url = repo.write("ro/catalog-info.yaml", component("ro"))
    assert cat.post("/locations", json={"type": "url", "target": url}).status_code == 403
    [event] = trail(cat.portal, event_id="location-mutate")
    assert event.status == "failed"
    assert "readonly" in event.error


def test_a_change_whose_event_cannot_be_written_does_not_happen(cat):
    """Same transaction: with the chain head gone the append fails, and the delete rolls back."""
    uid = cat.entity("component:default/c3")["metadata"]["uid"]
    with cat.portal.database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_chain_head"))
    assert cat.delete(f"/entities/by-uid/{uid}").status_code == 500
    assert cat.entity("component:default/c3") is not None


def test_a_denied_delete_is_recorded_and_changes_nothing(cat):
    uid = cat.entity("component:default/c4")["metadata"]["uid"]
    client = TestClient(cat.portal.app, raise_server_exceptions=False)
    token = user_token(cat.portal, "user:default/mallory")
    assert client.delete(f"/api/catalog/entities/by-uid/{uid}", headers=bearer(token)).status_code == 403
    assert cat.entity("component:default/c4") is not None
    [denial] = trail(cat.portal, event_id="permission-decision", actor="user:default/mallory")
    assert denial.status == "failed"
    assert denial.target == "catalog.entity.delete"
    assert denial.to_json()["meta"]["permission"]["result"] == "DENY"
    assert verify_chain(cat.portal.database).ok


def test_a_mutation_route_without_its_own_event_gets_a_decision_event(cat, repo):
    url = repo.write("dry/catalog-info.yaml", component("dry"))
    response = cat.post("/locations", params={"dryRun": "true"}, json={"type": "url", "target": url},
                        headers={"X-Request-Id": "req-dry"})
    assert response.status_code == 201
    [decision] = [e for e in trail(cat.portal, event_id="permission-decision") if e.request_id == "req-dry"]
    assert decision.status == "succeeded"
    assert decision.to_json()["meta"]["permission"] == {
        "name": "catalog.location.create", "result": "ALLOW", "reason": decision.to_json()["meta"]["permission"]
        ["reason"]}
