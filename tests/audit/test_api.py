"""GET /api/audit/events over a real server: permission audit.read, filters, cursors, bad input."""

from __future__ import annotations

import base64
import csv
import io

import httpx
import orjson
import pytest

from greenroom.audit import Actor
from tests.audit.conftest import ADMIN, ADMIN_CONFIG, bearer, expired_token, forged_token, trail, user_token


@pytest.fixture
def served(make_portal, live_server):
    portal = make_portal(ADMIN_CONFIG)
    server = live_server(portal.app)
    audit = portal.auditor.for_plugin("demo")
    for i in range(30):
        audit.log("thing-mutate", actor=Actor(f"user:default/u{i % 3}", "user"), action="delete" if i % 2 else "create",
                  target=f"thing:{i}", status="failed" if i % 5 == 0 else "succeeded", severity="medium")
    return portal, server


def _get(server, path, token=None, **params):
    headers = bearer(token) if token else {}
    return httpx.get(f"{server.url}{path}", params=params, headers=headers, timeout=30, trust_env=False)


def _post(server, path, token=None, **params):
    headers = bearer(token) if token else {}
    return httpx.post(f"{server.url}{path}", params=params, headers=headers, timeout=30, trust_env=False)


def test_filters_by_actor_action_target_outcome_and_time(served):
    portal, server = served
    admin = user_token(portal, ADMIN)
    body = _get(server, "/api/audit/events", admin, actor="user:default/u1", action="delete").json()
    assert body["items"]
    assert {(e["actor"]["actorId"], e["action"]) for e in body["items"]} == {("user:default/u1", "delete")}
    assert [e["target"] for e in _get(server, "/api/audit/events", admin, target="thing:7").json()["items"]] == [
        "thing:7"]
    failed = _get(server, "/api/audit/events", admin, outcome="failed", eventId="thing-mutate").json()["items"]
    assert len(failed) == 6
    assert all(e["status"] == "failed" for e in failed)
    first = trail(portal, event_id="thing-mutate")[0]
    window = _get(server, "/api/audit/events", admin, eventId="thing-mutate",
                  **{"from": first.to_json()["timestamp"], "to": "2999-01-01T00:00:00Z"}).json()["items"]
    assert len(window) == 30
    assert _get(server, "/api/audit/events", admin, eventId="thing-mutate", to="2000-01-01").json()["items"] == []
    event = window[0]
    for key in ("id", "sequence", "timestamp", "eventId", "severityLevel", "status", "plugin", "actor", "meta",
                "hash", "prevHash", "isAuditEvent"):
        assert key in event


def test_cursor_pagination_walks_every_event_once_newest_first(served):
    portal, server = served
    admin = user_token(portal, ADMIN)
    seen: list[int] = []
    page = _get(server, "/api/audit/events", admin, eventId="thing-mutate", limit="7").json()
    while True:
        seen.extend(e["sequence"] for e in page["items"])
        cursor = page["pageInfo"].get("nextCursor")
        if not cursor:
            break
        page = _get(server, "/api/audit/events", admin, cursor=cursor, limit="7").json()
    assert len(seen) == 30
    assert seen == sorted(seen, reverse=True)
    ascending = _get(server, "/api/audit/events", admin, eventId="thing-mutate", order="asc", limit="5").json()
    assert [e["sequence"] for e in ascending["items"]] == sorted(seen)[:5]


def test_huge_page_sizes_are_capped(served):
    portal, server = served
    body = _get(server, "/api/audit/events", user_token(portal, ADMIN), limit="100000000").json()
    assert body["limit"] == 1000


@pytest.mark.parametrize(("params", "message"), [
    ({"limit": "0"}, "greater than zero"),
    ({"limit": "ten"}, "positive integer"),
    ({"limit": "-5"}, "greater than zero"),
    ({"status": "done"}, "Invalid status"),
    ({"outcome": "maybe"}, "Invalid status"),
    ({"severity": "urgent"}, "Invalid severity"),
    ({"from": "yesterday-ish"}, "not an ISO 8601 time"),
    ({"to": "2026-13-45"}, "not an ISO 8601 time"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "later than"),
    ({"order": "sideways"}, "Invalid order"),
    ({"cursor": "!!!not-base64!!!"}, "Malformed cursor"),
    ({"cursor": base64.urlsafe_b64encode(b'{"q":{"actor":5},"s":3}').decode()}, "Malformed cursor"),
    ({"cursor": base64.urlsafe_b64encode(b'{"q":{},"s":"x"}').decode()}, "Malformed cursor"),
    ({"bogus": "1"}, "Unknown query parameter"),
    ({"actor": ""}, "must be 1 to"),
    ({"actor": "x" * 2000}, "must be 1 to"),
    ({"status": "failed", "outcome": "failed"}, "repeats"),
])
def test_bad_filter_values_get_a_clear_400(served, params, message):
    portal, server = served
    response = _get(server, "/api/audit/events", user_token(portal, ADMIN), **params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["name"] == "InputError"
    assert message in response.json()["error"]["message"]


def test_repeated_parameters_are_refused(served):
    portal, server = served
    response = httpx.get(f"{server.url}/api/audit/events?actor=a&actor=b", headers=bearer(user_token(portal, ADMIN)),
                         trust_env=False)
    assert response.status_code == 400
    assert "more than once" in response.json()["error"]["message"]


def test_no_credential_forged_or_expired_tokens_get_401(served):
    portal, server = served
    assert _get(server, "/api/audit/events").status_code == 401
    assert _get(server, "/api/audit/events", forged_token(portal, ADMIN)).status_code == 401
    assert _get(server, "/api/audit/events", expired_token(portal, ADMIN)).status_code == 401
    assert _get(server, "/api/audit/events", "not-a-token-0123456789abcdef").status_code == 401
    rejected = trail(portal, event_id="auth-credential-rejected")
    assert len(rejected) >= 3
    assert all(e.status == "failed" for e in rejected)


def test_a_user_without_audit_read_gets_403_and_the_denial_is_recorded(served):
    portal, server = served
    response = _get(server, "/api/audit/events", user_token(portal, "user:default/bob"))
    assert response.status_code == 403
    denial = trail(portal, event_id="permission-decision", actor="user:default/bob")[-1]
    assert denial.status == "failed"
    assert denial.to_json()["meta"]["permission"]["name"] == "audit.read"
    assert denial.request_url == "/api/audit/events"


def test_reading_the_trail_is_itself_recorded(served):
    portal, server = served
    assert _get(server, "/api/audit/events", user_token(portal, ADMIN), actor="user:default/u0").status_code == 200
    read = trail(portal, event_id="resource-read", actor=ADMIN)[-1]
    assert read.target == "/api/audit/events"
    assert read.request_url == "/api/audit/events?actor=user%3Adefault%2Fu0"


def test_export_over_http_needs_a_start_and_is_an_audit_event(served):
    portal, server = served
    admin = user_token(portal, ADMIN)
    assert _post(server, "/api/audit/events/export", admin).status_code == 400
    assert _post(server, "/api/audit/events/export", admin, format="xml", **{"from": "1d"}).status_code == 400
    assert _post(server, "/api/audit/events/export", user_token(portal, "user:default/bob"),
                **{"from": "1d"}).status_code == 403
    jsonl = _post(server, "/api/audit/events/export", admin, eventId="thing-mutate", **{"from": "1d"})
    assert jsonl.status_code == 200
    lines = [orjson.loads(line) for line in jsonl.content.splitlines()]
    assert len(lines) == 30
    assert lines == sorted(lines, key=lambda e: e["sequence"])
    as_csv = _post(server, "/api/audit/events/export", admin, format="csv", eventId="thing-mutate", **{"from": "1d"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 30
    assert rows[0]["eventId"] == "thing-mutate"
    exports = trail(portal, event_id="audit-export")
    assert [e.actor_id for e in exports] == [ADMIN, ADMIN]
    # a GET changes nothing: an export marks events exported, so it is a POST (with a session,
    # one carrying the CSRF token)
    assert _get(server, "/api/audit/events/export", admin, **{"from": "1d"}).status_code == 405
    # recorded as the export it is, not also as a read of the trail
    assert [e for e in trail(portal, event_id="resource-read") if e.target == "/api/audit/events/export"] == []
    assert exports[-1].to_json()["meta"]["count"] == 30


def test_verify_endpoint_reports_an_intact_chain(served):
    portal, server = served
    report = _get(server, "/api/audit/verify", user_token(portal, ADMIN)).json()
    assert report["ok"] is True
    assert report["checked"] >= 30


def test_asking_for_decisions_is_not_recorded_as_a_change(served):
    """Backstage's frontend asks POST /api/permission/authorize all the time: a read, not a change.
    Validating an entity through POST is a read too; a real change's decision is recorded."""
    portal, server = served
    admin = user_token(portal, ADMIN)
    before = len(trail(portal, event_id="permission-decision"))
    for _ in range(3):
        response = httpx.post(f"{server.url}/api/permission/authorize", headers=bearer(admin), trust_env=False,
                              json={"items": [{"id": "1", "permission": {"type": "basic", "name": "audit.read",
                                                                          "attributes": {}}}]}, timeout=30)
        assert response.status_code == 200, response.text
    entity = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
              "metadata": {"name": "x"}, "spec": {"type": "service", "lifecycle": "production", "owner": "a"}}
    validated = httpx.post(f"{server.url}/api/catalog/validate-entity", headers=bearer(admin), trust_env=False,
                           json={"entity": entity, "location": "url:https://example.com/x.yaml"}, timeout=30)
    assert validated.status_code == 200, validated.text
    assert len(trail(portal, event_id="permission-decision")) == before
    refreshed = httpx.post(f"{server.url}/api/catalog/refresh", headers=bearer(admin), trust_env=False,
                           json={"entityRef": "component:default/nothing-here"}, timeout=30)
    assert refreshed.status_code in (200, 404)
    change = [e for e in trail(portal) if e.request_url == "/api/catalog/refresh"]
    assert change
    assert change[-1].to_json()["meta"]["permission"]["name"] == "catalog.entity.refresh"


def test_a_refused_credential_sent_again_and_again_is_one_coalesced_event(served):
    portal, server = served
    before = len(trail(portal, event_id="auth-credential-rejected"))
    for _ in range(25):
        assert _get(server, "/api/audit/events", "not-a-token-0123456789abcdef").status_code == 401
    rejected = trail(portal, event_id="auth-credential-rejected")
    assert len(rejected) == before + 1
    assert rejected[-1].to_json()["meta"]["coalesced"] == 0
