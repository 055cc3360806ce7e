"""RHDH's RBAC REST API under /api/permission over real HTTP with real user tokens: shapes, status
codes and messages, file-sourced roles read-only, audit events in the change's transaction,
concurrent edits, and bad credentials (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from greenroom.audit import AuditQuery
from greenroom.kernel import AUDITOR

CSV = """
p, role:default/csv-readers, catalog-entity, read, allow
g, group:default/team-b, role:default/csv-readers
"""
ADMIN = {"admin": {"users": [{"name": "user:default/carol"}]}}


@pytest.fixture
def api(rbac_portal, live_server):
    handle = rbac_portal(CSV, rbac=ADMIN)
    server = live_server(handle.portal.app)
    handle.server = server
    handle.carol = server.client(headers=handle.headers("user:default/carol"))
    handle.alice = server.client(headers=handle.headers("user:default/alice"))
    handle.service = server.client()
    yield handle
    for client in (handle.carol, handle.alice, handle.service):
        client.close()


def error(response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["name"], body["message"]


def events(handle, event_id: str) -> list[dict]:
    page = handle.portal.registry.services.get(AUDITOR).query(AuditQuery(event_id=event_id, order="asc"),
                                                                   limit=100)
    return [e.to_json() for e in page.items]


ROLE = {"memberReferences": ["user:default/alice"], "name": "role:default/rest-role",
        "metadata": {"description": "made through the API"}}


def test_roles_crud_with_rhdh_shapes(api):
    carol = api.carol
    listed = {r["name"]: r for r in carol.get("/api/permission/roles").json()}
    assert listed["role:default/csv-readers"]["memberReferences"] == ["group:default/team-b"]
    assert listed["role:default/csv-readers"]["metadata"]["source"] == "csv-file"
    assert listed["role:default/rbac_admin"]["memberReferences"] == ["user:default/carol"]
    assert listed["role:default/rbac_admin"]["metadata"]["source"] == "configuration"

    assert carol.post("/api/permission/roles", json=ROLE).status_code == 201
    [role] = carol.get("/api/permission/roles/role/default/rest-role").json()
    assert role["memberReferences"] == ["user:default/alice"]
    assert role["metadata"]["source"] == "rest"
    assert role["metadata"]["description"] == "made through the API"
    assert role["metadata"]["author"] == "user:default/carol"
    assert role["metadata"]["owner"] == "user:default/carol"
    assert role["metadata"]["createdAt"].endswith(" GMT")
    assert error(carol.post("/api/permission/roles", json=ROLE))[:2] == (409, "ConflictError")

    update = {"oldRole": {"memberReferences": ["user:default/alice"]},
              "newRole": {"name": "role:default/rest-role", "memberReferences": ["user:default/bob",
                                                                                 "group:default/team-b"]}}
    assert carol.put("/api/permission/roles/role/default/rest-role", json=update).status_code == 200
    [role] = carol.get("/api/permission/roles/role/default/rest-role").json()
    assert sorted(role["memberReferences"]) == ["group:default/team-b", "user:default/bob"]
    stale = carol.put("/api/permission/roles/role/default/rest-role", json=update)
    assert error(stale) == (404, "NotFoundError",
                            "Member reference: user:default/alice was not found for role role:default/rest-role")

    gone = carol.delete("/api/permission/roles/role/default/rest-role?memberReferences=user:default/bob")
    assert gone.status_code == 204
    assert carol.get("/api/permission/roles/role/default/rest-role").json()[0]["memberReferences"] == [
        "group:default/team-b"]
    assert carol.delete("/api/permission/roles/role/default/rest-role").status_code == 204
    assert error(carol.get("/api/permission/roles/role/default/rest-role"))[:2] == (404, "NotFoundError")

    written = events(api, "role-write")
    assert [(e["action"], e["status"], e["target"]) for e in written] == [
        ("create", "succeeded", "role:default/rest-role"), ("create", "failed", "role:default/rest-role"),
        ("update", "succeeded", "role:default/rest-role"), ("update", "failed", "role:default/rest-role"),
        ("update", "succeeded", "role:default/rest-role"), ("delete", "succeeded", "role:default/rest-role")]
    assert written[0]["actor"]["actorId"] == "user:default/carol"
    assert written[0]["meta"]["permission"]["name"] == "policy.entity.create"
    assert written[1]["error"].startswith("ConflictError")


@pytest.mark.parametrize(("body", "message"), [
    ({"name": "role:default/x"}, "Invalid role definition. Cause: 'memberReferences' field must not be empty"),
    ({"name": "user:default/x", "memberReferences": ["user:default/a"]},
     "Invalid role definition. Cause: Unsupported kind user. Supported value should be \"role\""),
    ({"name": "role:default/x", "memberReferences": ["component:default/a"]},
     "Invalid role definition. Cause: Unsupported kind component."),
    ({"name": "role:default/x", "memberReferences": ["user:default/a", "USER:default/A"]},
     "Duplicate role members found; user:default/a, role:default/x is a duplicate"),
    ({"memberReferences": ["user:default/a"]}, "Invalid role definition. Cause: 'name' field must not be empty"),
    (["not", "an", "object"], "Invalid role definition. Cause: a role is an object"),
])
def test_bad_role_bodies(api, body, message):
    code, _name, text = error(api.carol.post("/api/permission/roles", json=body))
    assert code in (400, 409)
    assert text.startswith(message)


def test_roles_from_files_and_config_are_read_only(api):
    carol = api.carol
    refused = carol.post("/api/permission/roles", json={**ROLE, "name": "role:default/csv-readers"})
    assert error(refused) == (403, "NotAllowedError", "Unable to add role: source does not match originating role "
                                                      "role:default/csv-readers, consider making changes to the "
                                                      "'CSV-FILE'")
    update = {"oldRole": {"memberReferences": ["group:default/team-b"]},
              "newRole": {"name": "role:default/csv-readers", "memberReferences": ["user:default/alice"]}}
    assert error(carol.put("/api/permission/roles/role/default/csv-readers", json=update))[0] == 403
    assert error(carol.delete("/api/permission/roles/role/default/rbac_admin"))[2].endswith("'CONFIGURATION'")
    policy = [{"entityReference": "role:default/csv-readers", "permission": "catalog-entity", "policy": "delete",
               "effect": "allow"}]
    assert error(carol.post("/api/permission/policies", json=policy)) == (
        403, "NotAllowedError", "Unable to add policy role:default/csv-readers,catalog-entity,delete,allow: source "
                                "does not match originating role role:default/csv-readers, consider making changes "
                                "to the 'CSV-FILE'")
    assert error(carol.delete("/api/permission/policies/role/default/csv-readers"
                              "?permission=catalog-entity&policy=read&effect=allow"))[0] == 403


def test_policies_crud_takes_effect_at_once(api):
    carol, alice = api.carol, api.alice
    assert carol.post("/api/permission/roles", json=ROLE).status_code == 201
    assert alice.get("/api/catalog/entities?limit=1").status_code == 403
    read = {"entityReference": "role:default/rest-role", "permission": "catalog-entity", "policy": "read",
            "effect": "allow"}
    assert carol.post("/api/permission/policies", json=[read]).status_code == 201
    assert alice.get("/api/catalog/entities?limit=1").status_code == 200
    assert error(carol.post("/api/permission/policies", json=[read])) == (
        409, "ConflictError", "Policy '[role:default/rest-role, catalog-entity, read, allow]' has been already stored")
    assert carol.get("/api/permission/policies?entityRef=role:default/rest-role").json() == [
        {**read, "metadata": {"source": "rest"}}]
    assert carol.get("/api/permission/policies/role/default/rest-role").json() == [
        {**read, "metadata": {"source": "rest"}}]
    csv_policies = carol.get("/api/permission/policies?entityRef=role:default/csv-readers").json()
    assert csv_policies == [{"entityReference": "role:default/csv-readers", "permission": "catalog-entity",
                             "policy": "read", "effect": "allow", "metadata": {"source": "csv-file"}}]

    deny = {"permission": "catalog-entity", "policy": "read", "effect": "deny"}
    swap = {"oldPolicy": [{k: v for k, v in read.items() if k != "entityReference"}], "newPolicy": [deny]}
    assert carol.put("/api/permission/policies/role/default/rest-role", json=swap).status_code == 200
    assert alice.get("/api/catalog/entities?limit=1").status_code == 403
    assert error(carol.put("/api/permission/policies/role/default/rest-role", json=swap))[0] == 404
    assert carol.request("DELETE", "/api/permission/policies/role/default/rest-role", json=[deny]).status_code == 204
    assert carol.get("/api/permission/policies/role/default/rest-role").status_code == 404
    assert [e["action"] for e in events(api, "policy-write")] == ["create", "create", "update", "update", "delete"]


@pytest.mark.parametrize(("policy", "status", "message"), [
    ({"permission": "catalog-entity", "policy": "read", "effect": "allow"}, 400, "'entityReference' must not be empty"),
    ({"entityReference": "role:default/rest-role", "permission": "catalog-entity", "policy": "browse",
      "effect": "allow"}, 400, "'policy' has invalid value: 'browse'"),
    ({"entityReference": "role:default/rest-role", "permission": "kubernetes.proxy", "policy": "use",
      "effect": "allow"}, 400, "'kubernetes.proxy' is not a permission or resource type of any loaded plugin"),
    ({"entityReference": "role:default/rest-role", "permission": "catalog.entity.create", "policy": "use",
      "effect": "allow"}, 400, "permission catalog.entity.create has action 'create'"),
    ({"entityReference": "role:default/nobody", "permission": "catalog-entity", "policy": "read", "effect": "allow"},
     404, "Corresponding role role:default/nobody was not found"),
])
def test_bad_policies(api, policy, status, message):
    assert api.carol.post("/api/permission/roles", json=ROLE).status_code == 201
    code, _name, text = error(api.carol.post("/api/permission/policies", json=[policy]))
    assert code == status and message in text, text
    assert error(api.carol.post("/api/permission/policies", json=[]))[2] == "permission policy must be present"


CONDITION = {"result": "CONDITIONAL", "roleEntityRef": "role:default/rest-role", "pluginId": "catalog",
             "resourceType": "catalog-entity", "permissionMapping": ["read"],
             "conditions": {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
                            "params": {"claims": ["$ownerRefs"]}}}


def test_conditions_crud(api):
    carol, alice = api.carol, api.alice
    assert carol.post("/api/permission/roles", json=ROLE).status_code == 201
    created = carol.post("/api/permission/roles/conditions", json=CONDITION)
    assert created.status_code == 201
    condition_id = created.json()["id"]
    assert carol.get(f"/api/permission/roles/conditions/{condition_id}").json() == {"id": condition_id, **CONDITION}
    assert carol.get("/api/permission/roles/conditions?roleEntityRef=role:default/rest-role&actions=read").json() == [
        {"id": condition_id, **CONDITION}]
    assert carol.get("/api/permission/roles/conditions?actions=delete").json() == []
    visible = sorted(i["metadata"]["name"] for i in alice.get("/api/catalog/entities/by-query").json()["items"])
    assert visible == ["alice-tool", "payments", "payments-api"]  # owned by alice or by her group team-a
    assert error(carol.post("/api/permission/roles/conditions", json=CONDITION)) == (
        409, "ConflictError", "A condition with resource type catalog-entity and permission name catalog.entity.read "
                              "has already been stored for role role:default/rest-role")
    changed = {**CONDITION, "conditions": {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
                                           "params": {"claims": ["$currentUser"]}}}
    assert carol.put(f"/api/permission/roles/conditions/{condition_id}", json=changed).status_code == 200
    visible = sorted(i["metadata"]["name"] for i in alice.get("/api/catalog/entities/by-query").json()["items"])
    assert visible == ["alice-tool"]
    assert carol.delete(f"/api/permission/roles/conditions/{condition_id}").status_code == 204
    assert alice.get("/api/catalog/entities/by-query").status_code == 403
    assert error(carol.get(f"/api/permission/roles/conditions/{condition_id}"))[0] == 404
    assert error(carol.get("/api/permission/roles/conditions/abc")) == (400, "InputError", "Id is not a valid number.")
    bad = {**CONDITION, "conditions": {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
                                       "params": {"claims": "group:default/a"}}}
    assert "'claims' must be a list of strings" in error(carol.post("/api/permission/roles/conditions", json=bad))[2]
    assert [(e["action"], e["status"]) for e in events(api, "condition-write")] == [
        ("create", "succeeded"), ("create", "failed"), ("update", "succeeded"), ("delete", "succeeded"),
        ("create", "failed")]


def test_plugin_metadata_routes(api):
    policies = {p["pluginId"]: p["policies"] for p in api.carol.get("/api/permission/plugins/policies").json()}
    assert {"name": "catalog.entity.read", "policy": "read", "resourceType": "catalog-entity"} in policies["catalog"]
    assert {"name": "catalog.entity.create", "policy": "create"} in policies["catalog"]
    assert {"name": "policy.entity.create", "policy": "create"} in policies["permission"]
    [rules] = api.carol.get("/api/permission/plugins/condition-rules").json()
    assert rules["pluginId"] == "catalog"
    owner = next(r for r in rules["rules"] if r["name"] == "IS_ENTITY_OWNER")
    assert owner["paramsSchema"]["required"] == ["claims"]
    assert owner["resourceType"] == "catalog-entity"
    metadata = api.carol.get("/api/permission/.well-known/backstage/permissions/metadata").json()
    assert {p["name"] for p in metadata["permissions"]} == {"policy.entity.read", "policy.entity.create",
                                                            "policy.entity.update", "policy.entity.delete"}
    assert api.carol.get("/api/permission/").json() == {"status": "Authorized"}


def test_who_may_call_what(api):
    alice = api.alice
    for method, path in (("GET", "/api/permission/roles"), ("POST", "/api/permission/roles"),
                         ("GET", "/api/permission/policies"), ("DELETE", "/api/permission/roles/role/default/x"),
                         ("GET", "/api/permission/plugins/policies"), ("POST", "/api/permission/x-greenroom/explain")):
        assert error(alice.request(method, path, json=ROLE))[:2] == (403, "NotAllowedError"), path
    assert api.service.get("/api/permission/roles").status_code == 200
    assert error(api.service.post("/api/permission/roles", json=ROLE)) == (
        403, "NotAllowedError", "Only credential principal with type 'user' permitted to modify permissions")
    assert alice.post("/api/permission/authorize", json={"items": []}).json() == {"items": []}


def test_forged_expired_and_revoked_tokens_are_refused(api):
    identity = api.portal.identity
    key = identity.keys.signing_key()
    now = int(time.time())
    claims = {"iss": identity.settings.issuer, "sub": "user:default/carol", "aud": "backstage", "iat": now - 7200,
              "exp": now - 3600, "jti": "x", "sid": "y"}
    expired = jwt.encode(claims, key.private, algorithm="ES256", headers={"kid": key.kid, "typ": "vnd.backstage.user"})
    other = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode({**claims, "exp": now + 600}, other, algorithm="ES256",
                        headers={"kid": key.kid, "typ": "vnd.backstage.user"})
    revoked_token = api.token("user:default/carol")
    assert api.carol.get("/api/permission/roles").status_code == 200
    sid = jwt.decode(revoked_token, options={"verify_signature": False})["sid"]
    identity.sessions.revoke(sid, "test")
    for token in (expired, forged, revoked_token, "not-a-token"):
        for method, path in (("GET", "/api/permission/roles"), ("POST", "/api/permission/roles"),
                             ("POST", "/api/permission/authorize")):
            response = api.server.client(headers={"Authorization": f"Bearer {token}"}).request(method, path, json=ROLE)
            assert response.status_code == 401, (token[:20], path, response.text)


def test_concurrent_edits_never_both_win(api):
    carol = api.carol
    results: list[int] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        with api.server.client(headers=carol.headers) as client:
            barrier.wait()
            results.append(client.post("/api/permission/roles", json=ROLE).status_code)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 409, 409, 409]

    updates: list[int] = []
    barrier = threading.Barrier(3)

    def edit(member: str) -> None:
        body = {"oldRole": {"memberReferences": ["user:default/alice"]},
                "newRole": {"name": "role:default/rest-role", "memberReferences": [member]}}
        with api.server.client(headers=carol.headers) as client:
            barrier.wait()
            updates.append(client.put("/api/permission/roles/role/default/rest-role", json=body).status_code)

    threads = [threading.Thread(target=edit, args=(m,)) for m in ("user:default/bob", "user:default/erin",
                                                                   "user:default/dave")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(updates) == [200, 404, 404]
    [role] = carol.get("/api/permission/roles/role/default/rest-role").json()
    assert len(role["memberReferences"]) == 1
    assert [e["status"] for e in events(api, "role-write") if e["action"] == "update"].count("succeeded") == 1
