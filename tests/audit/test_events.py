"""What is recorded besides catalog changes: start-up config and plugin changes, identity events,
coalesced high-rate events, and reads at the configured level."""

from __future__ import annotations

import httpx
import pytest

from tests.audit.conftest import ADMIN, ADMIN_CONFIG, bearer, trail, user_token
from tests.conftest import BENCH_TOKEN


def _start(portal, live_server):
    return live_server(portal.app)


def test_start_up_records_config_and_plugin_changes_only_when_they_changed(make_portal, live_server):
    first = make_portal()
    server = _start(first, live_server)
    server.__exit__()
    [config] = trail(first, event_id="config-change")
    assert config.to_json()["meta"]["firstStart"] is True
    [plugins] = trail(first, event_id="plugin-change")
    assert "catalog" in plugins.to_json()["meta"]["added"]
    again = make_portal()
    _start(again, live_server).__exit__()
    assert len(trail(again, event_id="config-change")) == 1  # same config, same plugins: nothing new
    assert len(trail(again, event_id="plugin-change")) == 1
    changed = make_portal({"plugins": {"disabled": ["posture"]}, "catalog": {"readonly": True}})
    _start(changed, live_server).__exit__()
    latest = trail(changed, event_id="config-change")[-1].to_json()
    assert latest["severityLevel"] == "high"
    assert "catalog.readonly" in latest["meta"]["changedKeys"]
    assert "plugins.disabled[0]" in latest["meta"]["changedKeys"]
    assert trail(changed, event_id="plugin-change")[-1].to_json()["meta"]["removed"] == ["posture"]


def test_a_policy_file_edited_while_the_server_was_down_is_recorded_at_the_next_start(
    make_portal, live_server, tmp_path
):
    policy = tmp_path / "rbac-policy.csv"
    policy.write_text("p, role:default/readers, catalog-entity, read, allow\n")
    config = {"permission": {"rbac": {"policies-csv-file": str(policy)}}}
    _start(make_portal(config), live_server).__exit__()
    unchanged = make_portal(config)
    _start(unchanged, live_server).__exit__()
    before = len(trail(unchanged, event_id="config-change"))
    policy.write_text("p, role:default/readers, catalog-entity, read, allow\n"
                      "g, user:default/mallory, role:default/readers\n")
    edited = make_portal(config)
    _start(edited, live_server).__exit__()
    events = trail(edited, event_id="config-change")
    assert len(events) == before + 1
    assert events[-1].to_json()["meta"]["changedKeys"] == ["files.permission.rbac.policies-csv-file"]


def test_config_change_events_never_hold_secret_values(make_portal, live_server):
    portal = make_portal({"auth": {"session": {}}, "integrations": {"github": [{"host": "github.com",
                                                                                "token": "ghp_supersecretvalue0"}]}})
    _start(portal, live_server).__exit__()
    stored = trail(portal, event_id="config-change")[-1]
    assert "ghp_supersecretvalue0" not in stored.meta
    assert BENCH_TOKEN not in stored.meta


def test_service_token_use_is_coalesced(make_portal, live_server):
    portal = make_portal()
    server = _start(portal, live_server)
    with server.client() as client:
        for _ in range(5):
            assert client.get("/api/catalog/entity-facets", params={"facet": "kind"}).status_code == 200
    [event] = trail(portal, event_id="auth-service-token")
    assert event.actor_id == "external:tests"
    assert event.to_json()["meta"]["credential"] == "static"


def test_anonymous_denials_are_coalesced_per_address_and_permission(make_portal, live_server):
    portal = make_portal()
    server = _start(portal, live_server)
    for _ in range(6):
        assert httpx.get(f"{server.url}/api/catalog/entity-facets?facet=kind", trust_env=False).status_code == 401
    [event] = trail(portal, event_id="permission-decision", status="failed")
    assert event.actor_type == "anonymous"
    assert event.ip == "127.0.0.1"
    assert event.to_json()["meta"]["permission"]["reason"] == "not authenticated"


@pytest.mark.parametrize(("level", "catalog_reads", "audit_reads"), [
    ("none", 0, 0), ("sensitive", 0, 1), ("all", 1, 1)])
def test_reads_are_recorded_at_the_configured_level(make_portal, live_server, level, catalog_reads, audit_reads):
    portal = make_portal({**ADMIN_CONFIG, "audit": {"readEvents": level}})
    server = _start(portal, live_server)
    token = user_token(portal, ADMIN)
    assert httpx.get(f"{server.url}/api/catalog/entity-facets?facet=kind", headers=bearer(token),
                     trust_env=False).status_code == 200
    assert httpx.get(f"{server.url}/api/audit/events", headers=bearer(token), trust_env=False).status_code == 200
    reads = trail(portal, event_id="resource-read")
    assert len([r for r in reads if r.target == "/api/catalog/entity-facets"]) == catalog_reads
    assert len([r for r in reads if r.target == "/api/audit/events"]) == audit_reads


def test_a_bad_read_level_is_refused(make_portal):
    from greenroom.errors import ConfigError

    with pytest.raises(ConfigError, match=r"audit\.readEvents"):
        make_portal({"audit": {"readEvents": "some"}})
    with pytest.raises(ConfigError, match=r"audit\.hashChain"):
        make_portal({"audit": {"hashChain": False}})
    with pytest.raises(ConfigError, match=r"audit\.signing\.key"):
        make_portal({"audit": {"signing": {"key": "short"}}})


def test_local_login_is_a_stored_identity_event_without_its_token(make_portal, live_server):
    portal = make_portal(local_mode=True)
    server = _start(portal, live_server)
    url = portal.identity.issue_local_login()
    token = url.rsplit("=", 1)[1]
    path = url.split("//", 1)[1].split("/", 1)[1]
    response = httpx.get(f"{server.url}/{path}", headers={"Host": "127.0.0.1"}, trust_env=False,
                         follow_redirects=False)
    assert response.status_code in (200, 302, 303, 307)
    [event] = trail(portal, event_id="auth-local-login", status="succeeded")
    assert event.actor_id == "user:default/local-admin"
    assert token not in (event.request_url or "")
    assert token not in event.meta
