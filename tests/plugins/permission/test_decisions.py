"""How the RBAC policy decides: deny by default, roles through users and (transitive) groups,
grants by name or resource type, deny wins, conditional grants with aliases, super-users and
admins, service credentials (on SQLite and PostgreSQL)."""

from __future__ import annotations

from greenroom.permissions.model import Permission, Result
from greenroom.permissions.principal import AccessRestriction, Principal
from greenroom.plugins.catalog import permissions as catalog
from greenroom.plugins.permission import permissions as rbac_permissions

READ = catalog.ENTITY_READ
DELETE = catalog.ENTITY_DELETE
REFRESH = catalog.ENTITY_REFRESH


def decide(handle, user: str, permission: Permission) -> Result:
    return handle.rbac.evaluate(user, permission).result


def test_a_user_without_a_role_gets_nothing(rbac_portal):
    handle = rbac_portal("p, role:default/readers, catalog-entity, read, allow\n"
                         "g, user:default/alice, role:default/readers\n")
    assert decide(handle, "user:default/alice", READ) is Result.ALLOW
    evaluation = handle.rbac.evaluate("user:default/erin", READ)
    assert evaluation.result is Result.DENY
    assert evaluation.reason == "user:default/erin has no role"
    for permission in catalog.ALL + rbac_permissions.ALL[:4]:
        assert decide(handle, "user:default/erin", permission) is Result.DENY, permission.name


def test_roles_follow_groups_and_their_parents(rbac_portal):
    handle = rbac_portal(
        "p, role:default/platform-readers, catalog-entity, read, allow\n"
        "g, group:default/platform, role:default/platform-readers\n"
        "p, role:default/everyone, catalog.location.read, read, allow\n"
        "g, group:default/org, role:default/everyone\n"
    )
    alice = handle.rbac.evaluate("user:default/alice", READ)
    assert alice.result is Result.ALLOW
    assert [v.path for v in alice.roles if v.role == "role:default/platform-readers"] == [
        ("user:default/alice", "group:default/team-a", "group:default/platform")]
    assert decide(handle, "user:default/carol", READ) is Result.ALLOW  # directly in platform
    assert decide(handle, "user:default/bob", READ) is Result.DENY  # team-b is not under platform
    bob = handle.rbac.evaluate("user:default/bob", catalog.LOCATION_READ)
    assert bob.result is Result.ALLOW
    assert bob.roles[0].path == ("user:default/bob", "group:default/team-b", "group:default/org")


def test_cycles_in_group_parents_end_the_walk(rbac_portal):
    handle = rbac_portal("p, role:default/loop, catalog-entity, read, allow\n"
                         "g, group:default/loop-b, role:default/loop\n")
    groups = handle.rbac.groups.groups_of("user:default/dave")
    assert groups == {"group:default/loop-a": ("user:default/dave", "group:default/loop-a"),
                      "group:default/loop-b": ("user:default/dave", "group:default/loop-a", "group:default/loop-b")}
    assert decide(handle, "user:default/dave", READ) is Result.ALLOW


def test_max_depth_limits_how_far_parents_count(rbac_portal):
    csv = "p, role:default/org-readers, catalog-entity, read, allow\ng, group:default/org, role:default/org-readers\n"
    assert decide(rbac_portal(csv), "user:default/alice", READ) is Result.ALLOW  # team-a -> platform -> org
    shallow = rbac_portal(csv, rbac={"maxDepth": 1})
    assert decide(shallow, "user:default/alice", READ) is Result.DENY
    assert decide(shallow, "user:default/bob", READ) is Result.ALLOW  # team-b -> org is one level


def test_grants_by_name_and_by_resource_type_with_the_permission_action(rbac_portal):
    handle = rbac_portal(
        "p, role:default/r, catalog-entity, update, allow\n"       # refresh is catalog-entity's update
        "p, role:default/r, catalog.entity.validate, use, allow\n"  # a basic permission without action
        "p, role:default/r, catalog.location.create, create, allow\n"
        "p, role:default/r, catalog-entity, delete, allow\n"
        "g, user:default/alice, role:default/r\n"
    )
    allowed = {p.name for p in catalog.ALL if decide(handle, "user:default/alice", p) is Result.ALLOW}
    assert allowed == {"catalog.entity.refresh", "catalog.entity.validate", "catalog.location.create",
                       "catalog.entity.delete"}


def test_deny_wins_over_allow_by_name_or_by_resource_type(rbac_portal):
    handle = rbac_portal(
        "p, role:default/team, catalog-entity, read, allow\n"
        "g, group:default/team-a, role:default/team\n"
        "p, role:default/blocked, catalog.entity.read, read, deny\n"
        "g, user:default/mallory, role:default/blocked\n"
        "p, role:default/named, catalog.entity.delete, delete, allow\n"
        "p, role:default/typed-deny, catalog-entity, delete, deny\n"
        "g, user:default/alice, role:default/named\n"
        "g, user:default/alice, role:default/typed-deny\n"
    )
    assert decide(handle, "user:default/alice", READ) is Result.ALLOW
    mallory = handle.rbac.evaluate("user:default/mallory", READ)
    assert mallory.result is Result.DENY
    assert mallory.reason.startswith("denied by role:default/blocked: catalog.entity.read, read, deny")
    assert mallory.reason.endswith("rbac-policy.csv:3)")
    assert decide(handle, "user:default/alice", DELETE) is Result.DENY  # RHDH would prefer the named allow


CONDITIONS = """
result: CONDITIONAL
roleEntityRef: role:default/owners
pluginId: catalog
resourceType: catalog-entity
permissionMapping: [read, delete]
conditions:
  rule: IS_ENTITY_OWNER
  resourceType: catalog-entity
  params: {claims: [$ownerRefs]}
---
result: CONDITIONAL
roleEntityRef: role:default/gold
pluginId: catalog
resourceType: catalog-entity
permissionMapping: [read]
conditions:
  anyOf:
    - rule: HAS_LABEL
      resourceType: catalog-entity
      params: {label: tier}
    - not:
        rule: IS_ENTITY_KIND
        resourceType: catalog-entity
        params: {kinds: [Component, API, Group, User, Location]}
"""


def test_conditional_grants_combine_with_any_of_and_resolve_aliases(rbac_portal):
    handle = rbac_portal(
        "g, user:default/alice, role:default/owners\n"
        "g, group:default/team-a, role:default/gold\n"
        "g, user:default/bob, role:default/owners\n",
        CONDITIONS,
    )
    alice = handle.rbac.evaluate("user:default/alice", READ)
    assert alice.result is Result.CONDITIONAL
    assert alice.criteria == {"anyOf": [
        {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
         "params": {"claims": ["user:default/alice", "group:default/team-a"]}},
        {"anyOf": [{"rule": "HAS_LABEL", "resourceType": "catalog-entity", "params": {"label": "tier"}},
                   {"not": {"rule": "IS_ENTITY_KIND", "resourceType": "catalog-entity",
                            "params": {"kinds": ["Component", "API", "Group", "User", "Location"]}}}]},
    ]}
    decision = alice.decision()
    assert decision.plugin_id == "catalog"
    assert decision.resource_type == "catalog-entity"
    # delete is mapped only by the owners role; refresh (update) by none
    assert handle.rbac.evaluate("user:default/bob", DELETE).criteria == {"anyOf": [
        {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
         "params": {"claims": ["user:default/bob", "group:default/team-b"]}}]}
    assert decide(handle, "user:default/bob", REFRESH) is Result.DENY


def test_current_user_alias(rbac_portal):
    handle = rbac_portal(
        "g, user:default/alice, role:default/mine\n",
        "result: CONDITIONAL\nroleEntityRef: role:default/mine\npluginId: catalog\nresourceType: catalog-entity\n"
        "permissionMapping: [read]\nconditions:\n  rule: IS_ENTITY_OWNER\n  resourceType: catalog-entity\n"
        "  params: {claims: [$currentUser, group:default/ops]}\n",
    )
    assert handle.rbac.evaluate("user:default/alice", READ).criteria["anyOf"][0]["params"] == {
        "claims": ["user:default/alice", "group:default/ops"]}


def test_deny_wins_over_conditions_and_precedence_decides_allow_against_conditions(rbac_portal):
    csv = ("p, role:default/all, catalog-entity, read, allow\n"
           "g, user:default/alice, role:default/all\n"
           "g, user:default/alice, role:default/owners\n"
           "p, role:default/none, catalog-entity, read, deny\n"
           "g, user:default/bob, role:default/none\n"
           "g, user:default/bob, role:default/owners\n")
    conditional = CONDITIONS.split("---", maxsplit=1)[0]
    default = rbac_portal(csv, conditional)
    assert decide(default, "user:default/alice", READ) is Result.CONDITIONAL  # RHDH's default precedence
    assert decide(default, "user:default/bob", READ) is Result.DENY
    basic = rbac_portal(csv, conditional, rbac={"policyDecisionPrecedence": "basic"})
    assert decide(basic, "user:default/alice", READ) is Result.ALLOW
    assert decide(basic, "user:default/bob", READ) is Result.DENY


def test_super_users_by_user_or_direct_group_and_admins_by_rhdh_semantics(rbac_portal):
    handle = rbac_portal(rbac={"admin": {"users": [{"name": "group:default/platform"}],
                                         "superUsers": [{"name": "group:default/team-a"},
                                                        {"name": "user:default/erin"}]}})
    for user in ("user:default/alice", "user:default/erin"):
        evaluation = handle.rbac.evaluate(user, DELETE)
        assert evaluation.result is Result.ALLOW and evaluation.super_user is not None, user
    # carol is an admin (platform): she manages policy and reads the catalog, nothing else
    carol = {p.name: decide(handle, "user:default/carol", p) for p in (*catalog.ALL, *rbac_permissions.ALL)}
    assert {n for n, r in carol.items() if r is Result.ALLOW} == {
        "catalog.entity.read", "policy.entity.read", "policy.entity.create", "policy.entity.update",
        "policy.entity.delete", "permission.authorize"}
    # bob is in neither: only asking about himself
    assert {p.name for p in (*catalog.ALL, *rbac_permissions.ALL)
            if decide(handle, "user:default/bob", p) is Result.ALLOW} == {"permission.authorize"}
    # super-user groups count only directly (RHDH): alice's parent group platform is an admin, not super
    assert handle.rbac.evaluate("user:default/carol", DELETE).super_user is None


def test_credentials_other_than_users(rbac_portal):
    handle = rbac_portal()
    service = handle.portal.registry.services.get(__import__("greenroom.kernel", fromlist=["PERMISSIONS"]).PERMISSIONS)
    ci = Principal(type="service", subject="external:ci")
    capped = Principal(type="service", subject="external:ci", restrictions=(AccessRestriction("scaffolder"),))
    assert service.authorize(ci, DELETE, plugin_id="catalog").allowed
    assert service.authorize(capped, DELETE, plugin_id="catalog").denied
    assert service.authorize(Principal(type="local-admin", subject="user:default/local-admin"), DELETE,
                             plugin_id="catalog").allowed
    assert service.authorize(Principal(type="none", subject="anonymous"), READ, plugin_id="catalog").denied
    assert service.policy_source == "permission"


def test_decisions_follow_catalog_membership_changes(rbac_portal):
    handle = rbac_portal("p, role:default/b, catalog-entity, read, allow\ng, group:default/team-b, role:default/b\n")
    user = Principal(type="user", subject="user:default/alice", ownership_refs=("user:default/alice",))
    rbac = handle.rbac
    assert rbac.decide(user, READ, plugin_id="catalog").denied
    org = (handle.directory / "org.yaml").read_text().replace("spec: {memberOf: [team-a]}",
                                                              "spec: {memberOf: [team-a, team-b]}")
    (handle.directory / "org.yaml").write_text(org)
    handle.ingest()
    rbac.groups.check(force=True)  # what the periodic check does within two seconds
    rbac.refresh(force=True)
    assert rbac.decide(user, READ, plugin_id="catalog").allowed
