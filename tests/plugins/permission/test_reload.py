"""Policy files reload without a restart; a bad version is reported with file and line and the
previous policy stays in force; at start-up a bad file stops the portal (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from greenroom.audit import AuditQuery
from greenroom.errors import ConfigError
from greenroom.kernel import AUDITOR

READ_ALL = "p, role:default/readers, catalog-entity, read, allow\ng, user:default/alice, role:default/readers\n"
OWNED = """
result: CONDITIONAL
roleEntityRef: role:default/readers
pluginId: catalog
resourceType: catalog-entity
permissionMapping: [read]
conditions:
  rule: IS_ENTITY_OWNER
  resourceType: catalog-entity
  params: {claims: [%s]}
"""


def rewrite(path: Any, text: str) -> None:
    """Write and move the modification time on, as an editor or a ConfigMap update would."""
    path.write_text(text, encoding="utf-8")
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def names(response: Any) -> list[str]:
    return sorted(item["metadata"]["name"] for item in response.json()["items"])


def test_an_invalid_file_stops_start_up_naming_file_and_line(rbac_portal):
    with pytest.raises(ConfigError) as raised:
        rbac_portal("p, role:default/a, catalog-entity, read, allow\np, role:default/a, catalog-entity, read, maybe\n")
    message = str(raised.value)
    assert "permission.rbac.policies-csv-file" in message
    assert "rbac-policy.csv:2: Failed to validate policy" in message
    assert "'maybe'" in message
    with pytest.raises(ConfigError, match=r"conditional-policies.yaml:2: .*unknown rule 'IS_NOBODY'"):
        rbac_portal(READ_ALL, "\nresult: CONDITIONAL\nroleEntityRef: role:default/readers\npluginId: catalog\n"
                              "resourceType: catalog-entity\npermissionMapping: [read]\n"
                              "conditions: {rule: IS_NOBODY, resourceType: catalog-entity}\n")
    with pytest.raises(ConfigError, match=r"cannot read the file"):
        rbac_portal(rbac={"policies-csv-file": "/nonexistent/rbac-policy.csv"})


def test_csv_changes_apply_without_restart_and_a_bad_version_keeps_the_good_one(rbac_portal, live_server):
    handle = rbac_portal(READ_ALL)
    server = live_server(handle.portal.app)
    alice = handle.headers("user:default/alice")
    with server.client(headers=alice) as client:
        assert client.get("/api/catalog/entities/by-query?filter=kind=component").status_code == 200
        assert client.delete("/api/catalog/entities/by-uid/x").status_code == 403

        rewrite(handle.csv, READ_ALL + "p, role:default/readers, catalog-entity, delete, allow\n")
        assert eventually(lambda: client.delete("/api/catalog/entities/by-uid/nonexistent").status_code == 204)

        rewrite(handle.csv, READ_ALL + "p, role:default/readers, catalog-entity, delete, perhaps\n")
        time.sleep(1.5)
        assert client.delete("/api/catalog/entities/by-uid/nonexistent").status_code == 204  # still the last good
        status = server.client().get("/api/permission/x-greenroom/status").json()
        problems = status["files"][0]["problems"]
        assert problems == [{"file": str(handle.csv), "line": 3, "severity": "error",
                             "message": f"Failed to validate policy from file {handle.csv}. Cause: 'effect' has "
                                        "invalid value: 'perhaps'. It should be: 'allow' or 'deny'"}]
        assert status["files"][0]["inForce"] is True

        rewrite(handle.csv, "g, user:default/alice, role:default/readers\n")  # fixed, and narrower
        assert eventually(lambda: client.get("/api/catalog/entities?limit=1").status_code == 403)
    events = handle.portal.registry.services.get(AUDITOR).query(AuditQuery(event_id="policy-file-change"), limit=10)
    assert [e.to_json()["status"] for e in events.items] == ["succeeded", "failed", "succeeded"]


def test_conditional_file_changes_apply_without_restart(rbac_portal, live_server):
    handle = rbac_portal("g, user:default/alice, role:default/readers\n", OWNED % "group:default/team-a")
    server = live_server(handle.portal.app)
    with server.client(headers=handle.headers("user:default/alice")) as client:
        assert names(client.get("/api/catalog/entities/by-query")) == ["payments", "payments-api"]
        rewrite(handle.conditional, OWNED % "$currentUser")
        assert eventually(lambda: names(client.get("/api/catalog/entities/by-query")) == ["alice-tool"])
        rewrite(handle.conditional, OWNED % "$currentUser" + "    extra: nope\n")
        time.sleep(1.5)
        assert names(client.get("/api/catalog/entities/by-query")) == ["alice-tool"]


def test_reload_can_be_switched_off(rbac_portal):
    handle = rbac_portal(READ_ALL, rbac={"policyFileReload": False})
    rewrite(handle.csv, "")
    handle.rbac.refresh(force=True)
    assert handle.rbac.evaluate("user:default/alice", __import__(
        "greenroom.plugins.catalog.permissions", fromlist=["ENTITY_READ"]).ENTITY_READ).result.value == "ALLOW"
