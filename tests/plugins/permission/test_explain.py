"""Backstage's /authorize, the explain endpoint, and the CLI: `policy explain`, `policy test` and
`access-review` (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from typer.testing import CliRunner

from greenroom.cli import app

CSV = """
p, role:default/platform, catalog-entity, read, allow
p, role:default/platform, catalog.location.read, read, allow
g, group:default/platform, role:default/platform
g, user:default/alice, role:default/owners
p, role:default/blocked, catalog-entity, delete, deny
g, user:default/mallory, role:default/blocked
g, group:default/ghost-team, role:default/platform
p, role:default/empty, catalog-entity, read, allow
"""
CONDITIONS = """
result: CONDITIONAL
roleEntityRef: role:default/owners
pluginId: catalog
resourceType: catalog-entity
permissionMapping: [delete]
conditions:
  anyOf:
    - rule: IS_ENTITY_OWNER
      resourceType: catalog-entity
      params: {claims: [$ownerRefs]}
    - rule: HAS_LABEL
      resourceType: catalog-entity
      params: {label: deletable}
"""
RBAC = {"admin": {"users": [{"name": "user:default/carol"}], "superUsers": [{"name": "user:default/erin"}]}}
READ = {"type": "resource", "name": "catalog.entity.read", "attributes": {"action": "read"},
        "resourceType": "catalog-entity"}
DELETE = {"type": "resource", "name": "catalog.entity.delete", "attributes": {"action": "delete"},
          "resourceType": "catalog-entity"}
LOCATIONS = {"type": "basic", "name": "catalog.location.read", "attributes": {"action": "read"}}


@pytest.fixture
def setup(rbac_portal, live_server):
    handle = rbac_portal(CSV, CONDITIONS, rbac=RBAC)
    handle.server = live_server(handle.portal.app)
    return handle


def test_authorize_with_backstages_shapes(setup):
    with setup.server.client(headers=setup.headers("user:default/alice")) as alice:
        body = {"items": [
            {"id": "1", "permission": LOCATIONS},
            {"id": "2", "permission": DELETE},
            {"id": "3", "permission": DELETE, "resourceRef": "component:default/payments"},
            {"id": "4", "permission": DELETE, "resourceRef": "component:default/checkout"},
            {"id": "5", "permission": READ, "resourceRef": "component:default/checkout"},
            {"id": "6", "permission": {"type": "basic", "name": "todo.list.create", "attributes": {}}},
        ]}
        answer = alice.post("/api/permission/authorize", json=body).json()["items"]
    assert answer[0] == {"id": "1", "result": "ALLOW"}
    assert answer[1] == {"id": "2", "result": "CONDITIONAL", "pluginId": "catalog", "resourceType": "catalog-entity",
                         "conditions": {"anyOf": [{"anyOf": [
                             {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
                              "params": {"claims": ["user:default/alice", "group:default/team-a"]}},
                             {"rule": "HAS_LABEL", "resourceType": "catalog-entity",
                              "params": {"label": "deletable"}}]}]}}
    assert answer[2:] == [{"id": "3", "result": "ALLOW"}, {"id": "4", "result": "DENY"},
                          {"id": "5", "result": "ALLOW"}, {"id": "6", "result": "DENY"}]
    with setup.server.client() as service:
        assert service.post("/api/permission/authorize", json=body).json()["items"][1] == {"id": "2",
                                                                                        "result": "ALLOW"}


def test_authorize_decides_a_declared_permission_as_declared(setup):
    """catalog.entity.delete sent as a basic permission is still the resource permission the
    catalog declares: alice's conditional grant applies, not an unconditional answer."""
    misdescribed = {"type": "basic", "name": "catalog.entity.delete", "attributes": {}}
    with setup.server.client(headers=setup.headers("user:default/alice")) as alice:
        body = {"items": [{"id": "1", "permission": misdescribed}, {"id": "2", "permission": DELETE}]}
        first, second = alice.post("/api/permission/authorize", json=body).json()["items"]
    assert first["result"] == "CONDITIONAL"
    assert {**first, "id": "2"} == second


@pytest.mark.parametrize(("body", "message"), [
    ({}, "request/body must have required property 'items'"),
    ({"items": [{"permission": READ}]}, "items[0] must be an object with a string id"),
    ({"items": [{"id": "1", "permission": {"type": "resource", "name": "x", "attributes": {}}}]},
     "items[0].permission.resourceType is required"),
    ({"items": [{"id": "1", "permission": {"type": "basic", "name": "x", "attributes": {"action": "sing"}}}]},
     "items[0].permission.attributes.action must be create, read, update or delete"),
    ({"items": [{"id": str(i), "permission": READ} for i in range(1001)]}, "at most 1000 items"),
])
def test_authorize_refuses_bad_requests(setup, body, message):
    with setup.server.client(headers=setup.headers("user:default/alice")) as alice:
        response = alice.post("/api/permission/authorize", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_explain_names_roles_paths_lines_and_rules(setup):
    with setup.server.client(headers=setup.headers("user:default/carol")) as carol:
        answer = carol.post("/api/permission/x-greenroom/explain", json={
            "user": "user:default/alice", "permission": "catalog.entity.read"}).json()
        assert answer["result"] == "ALLOW"
        [role] = [r for r in answer["roles"] if r["role"] == "role:default/platform"]
        assert role["via"][0]["path"] == ["user:default/alice", "group:default/team-a", "group:default/platform"]
        assert role["via"][0]["membership"]["line"] == 4
        assert role["via"][0]["membership"]["source"] == "csv-file"
        assert answer["grants"]["allow"][0]["origin"]["line"] == 2

        owned = carol.post("/api/permission/x-greenroom/explain", json={
            "user": "user:default/alice", "permission": "catalog.entity.delete",
            "resourceRef": "component:default/payments"}).json()
        assert owned["decision"] == "CONDITIONAL"
        assert owned["result"] == "ALLOW"
        assert "matches component:default/payments" in owned["reason"]
        [trace] = owned["resource"]["conditions"]
        assert [leaf["matched"] for leaf in trace["trace"]["anyOf"]] == [True, False]
        assert trace["origin"]["line"] == 2

        other = carol.post("/api/permission/x-greenroom/explain", json={
            "user": "user:default/alice", "permission": "catalog.entity.delete",
            "resourceRef": "component:default/checkout"}).json()
        assert other["result"] == "DENY"
        assert other["reason"].startswith("no condition of role:default/owners")

        missing = carol.post("/api/permission/x-greenroom/explain", json={
            "user": "user:default/alice", "permission": "catalog.entity.delete",
            "resourceRef": "component:default/nope"}).json()
        assert missing["result"] == "DENY"
        assert missing["resource"]["exists"] is False

        bad = carol.post("/api/permission/x-greenroom/explain", json={"user": "user:default/alice",
                                                                      "permission": "catalog.entity.eat"})
        assert bad.status_code == 400
        assert "unknown permission 'catalog.entity.eat'" in bad.json()["error"]["message"]


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_cli_explain_exit_codes_and_json(setup):
    config = str(setup.directory / "app-config.yaml")
    allowed = run("policy", "explain", "--user", "user:default/alice", "--permission", "catalog.entity.delete",
                  "--resource", "component:default/payments", "--format", "json", "--config", config)
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["result"] == "ALLOW"
    denied = run("policy", "explain", "--user", "user:default/mallory", "--permission", "catalog.entity.delete",
                 "--format", "json", "--config", config)
    assert denied.exit_code == 1
    assert json.loads(denied.stdout)["result"] == "DENY"
    assert "role:default/blocked" in json.loads(denied.stdout)["reason"]
    conditional = run("policy", "explain", "--user", "user:default/alice", "--permission", "catalog.entity.delete",
                      "--config", config)
    assert conditional.exit_code == 3
    assert "CONDITIONAL user:default/alice catalog.entity.delete" in conditional.stdout
    text = run("policy", "explain", "--user", "user:default/alice", "--permission", "catalog.entity.read",
               "--config", config)
    assert text.exit_code == 0
    assert "via user:default/alice -> group:default/team-a -> group:default/platform" in text.stdout
    unknown = run("policy", "explain", "--user", "user:default/alice", "--permission", "nope", "--config", config)
    assert unknown.exit_code == 2
    assert "unknown permission 'nope'" in unknown.output
    not_a_user = run("policy", "explain", "--user", "group:default/a", "--permission", "nope", "--config", config)
    assert not_a_user.exit_code == 2


def test_cli_policy_test_passes_fails_with_a_diff_and_refuses_bad_files(setup, tmp_path):
    config = str(setup.directory / "app-config.yaml")
    cases = tmp_path / "cases.yaml"
    cases.write_text("""
- {user: user:default/alice, permission: catalog.entity.read, expect: ALLOW}
- {user: user:default/alice, permission: catalog.entity.delete, expect: CONDITIONAL}
- {user: user:default/alice, permission: catalog.entity.delete, resource: component:default/payments, expect: ALLOW}
- {user: user:default/bob, permission: catalog.entity.read, expect: DENY}
""")
    passed = run("policy", "test", str(cases), "--config", config)
    assert passed.exit_code == 0, passed.output
    assert "4 passed, 0 failed" in passed.stdout
    table = tmp_path / "cases.csv"
    table.write_text("user,permission,resource,expect,note\n"
                     "user:default/mallory,catalog.entity.delete,,DENY,deny wins\n"
                     "user:default/alice,catalog.entity.delete,component:default/checkout,ALLOW,wrong on purpose\n")
    failed = run("policy", "test", str(table), "--config", config)
    assert failed.exit_code == 1
    assert f"FAIL user:default/alice catalog.entity.delete on component:default/checkout ({table}:3)" in failed.stdout
    assert "- expected ALLOW" in failed.stdout
    assert "+ actual   DENY" in failed.stdout
    as_json = json.loads(run("policy", "test", str(table), "--format", "json", "--config", config).stdout)
    assert (as_json["passed"], as_json["failed"]) == (1, 1)
    wrong = tmp_path / "wrong.yaml"  # a YAML case's failure names the line the case is on
    wrong.write_text("cases:\n"
                     "  - {user: user:default/bob, permission: catalog.entity.read, expect: DENY}\n"
                     "  - user: user:default/bob\n    permission: catalog.entity.read\n    expect: ALLOW\n")
    failed_yaml = run("policy", "test", str(wrong), "--config", config)
    assert failed_yaml.exit_code == 1
    assert f"({wrong}:3)" in failed_yaml.stdout, failed_yaml.stdout
    for content, message in (("- {user: user:default/a, permission: x, expect: MAYBE}\n", "expect must be one of"),
                             ("user,expect\nuser:default/a,ALLOW\n", "missing: permission"),
                             ("[unclosed\n", "expected ','"),
                             ("- {user: user:default/a, permission: x, expect: ALLOW, extra: 1}\n", "unknown field")):
        bad = tmp_path / ("bad.csv" if content.startswith("user,") else "bad.yaml")
        bad.write_text(content)
        result = run("policy", "test", str(bad), "--config", config)
        assert result.exit_code == 2 and message in result.output, result.output


def test_access_review(setup):
    config = str(setup.directory / "app-config.yaml")
    setup.token("user:default/alice")  # alice signs in now; nobody else ever did
    report = json.loads(run("access-review", "--format", "json", "--inactive-days", "30", "--config", config).stdout)
    assert report["superUsers"] == [{"ref": "user:default/erin", "configKey": "permission.rbac.admin.superUsers[0].name"}]
    assert "role:default/empty" in report["rolesWithoutMembers"]
    assert {"role": "role:default/platform", "member": "group:default/ghost-team", "kind": "group",
            "origin": f"{setup.csv}:8"} in report["missingMembers"]
    inactive = {u["ref"] for u in report["inactiveUsers"]}
    assert "user:default/bob" in inactive
    assert "user:default/alice" not in inactive
    users = {u["ref"]: u for u in report["users"]}
    assert users["user:default/alice"]["lastSeen"].startswith(time.strftime("%Y-%m-%d", time.gmtime()))
    assert "catalog.entity.read" in users["user:default/alice"]["allow"]
    assert users["user:default/alice"]["conditional"] == ["catalog.entity.delete"]
    assert users["user:default/bob"]["allow"] == ["permission.authorize"]
    assert users["user:default/erin"]["superUser"] is True
    assert "catalog.entity.delete" in users["user:default/erin"][
        "allow"]
    assert "policy.entity.update" in users["user:default/carol"]["allow"]
    roles = {r["name"]: r for r in report["roles"]}
    assert roles["role:default/blocked"]["grants"] == [{"permission": "catalog-entity", "action": "delete",
                                                        "effect": "deny", "origin": f"{setup.csv}:6"}]

    rows = list(csv.DictReader(io.StringIO(run("access-review", "--format", "csv", "--config", config).stdout)))
    assert {"kind": "missing-member", "subject": "group:default/ghost-team", "role": "role:default/platform",
            "permission": "", "result": "", "detail": f"{setup.csv}:8"} in rows
    assert any(r["kind"] == "user-permission" and r["subject"] == "user:default/alice" and r["result"] == "CONDITIONAL"
               for r in rows)
    table = run("access-review", "--config", config)
    assert table.exit_code == 0
    assert "Findings" in table.stdout
    assert "group:default/ghost-team" in table.stdout
