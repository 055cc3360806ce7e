"""Roles and policies in the UI, on SQLite and PostgreSQL: view, create and edit a role through
forms, see the grant take effect, explain a decision; the same permissions as `/api/permission`,
roles from the policy files read-only, every change audited with the viewer as the actor."""

from __future__ import annotations

import re
from typing import Any

from greenroom.audit import AuditQuery
from tests.ui.conftest import UiHandle, csrf_of, signed_in
from tests.ui.test_pages import HTML, assert_clean_html


def _post(browser: Any, portal: UiHandle, path: str, token: str, **data: str) -> Any:
    return browser.post(portal.url + path, data={"csrf_token": token, **data}, headers={**HTML, "Origin": portal.url})


def test_roles_are_listed_and_file_roles_are_read_only(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    carol = signed_in(portal, "carol")
    index = assert_clean_html(carol.get(f"{portal.url}/admin/rbac", headers=HTML))
    assert 'href="/admin/rbac/roles/role/default/admins"' in index
    assert 'href="/admin/rbac/roles/role/default/members"' in index
    role = assert_clean_html(carol.get(f"{portal.url}/admin/rbac/roles/role/default/admins", headers=HTML))
    assert "defined in a policy file" in role
    assert "<code>posture.report.read</code>" in role
    assert 'action="/admin/rbac/roles/role/default/admins/add-member"' not in role
    token = csrf_of(carol.get(f"{portal.url}/settings").text)
    refused = _post(carol, portal, "/admin/rbac/roles/role/default/admins/add-member", token, member="user:default/bob")
    assert refused.status_code == 403
    assert "Unable to edit role" in refused.text
    members = assert_clean_html(carol.get(f"{portal.url}/admin/rbac/roles/role/default/members", headers=HTML))
    assert "IS_ENTITY_OWNER" in members  # its conditional policy, shown as JSON


def test_create_and_edit_a_role_and_the_grant_takes_effect(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    carol = signed_in(portal, "carol")
    bob = signed_in(portal, "bob")
    assert bob.get(f"{portal.url}/admin/posture").status_code == 403
    token = csrf_of(carol.get(f"{portal.url}/admin/rbac").text)
    created = _post(carol, portal, "/admin/rbac/roles", token, name="posture-readers", members="user:default/bob",
                    description="May read the posture report")
    assert created.status_code == 303
    assert created.headers["location"] == "/admin/rbac/roles/role/default/posture-readers?notice=created"
    added = _post(carol, portal, "/admin/rbac/roles/role/default/posture-readers/add-policy", token,
                  permission="posture.report.read", policy="read", effect="allow")
    assert added.status_code == 303
    page = assert_clean_html(carol.get(f"{portal.url}/admin/rbac/roles/role/default/posture-readers", headers=HTML))
    assert "May read the posture report" in page
    assert "<code>posture.report.read</code>" in page
    assert bob.get(f"{portal.url}/admin/posture").status_code == 200  # the grant is in force at once
    assert _post(carol, portal, "/admin/rbac/roles/role/default/posture-readers/add-member", token,
                 member="user:default/alice").status_code == 303
    alice = signed_in(portal, "alice")
    assert alice.get(f"{portal.url}/admin/posture").status_code == 200
    duplicate = _post(carol, portal, "/admin/rbac/roles/role/default/posture-readers/add-member", token,
                      member="user:default/alice")
    assert duplicate.status_code == 409
    assert "Duplicate role members found" in duplicate.text
    assert _post(carol, portal, "/admin/rbac/roles/role/default/posture-readers/remove-member", token,
                 member="user:default/alice").status_code == 303
    assert alice.get(f"{portal.url}/admin/posture").status_code == 403
    assert _post(carol, portal, "/admin/rbac/roles/role/default/posture-readers/remove-policy", token,
                 permission="posture.report.read", policy="read", effect="allow").status_code == 303
    assert bob.get(f"{portal.url}/admin/posture").status_code == 403
    bad = _post(carol, portal, "/admin/rbac/roles", token, name="x y", members="nobody")
    assert bad.status_code == 400
    deleted = _post(carol, portal, "/admin/rbac/roles/role/default/posture-readers/delete", token)
    assert deleted.headers["location"] == "/admin/rbac?notice=deleted"
    assert carol.get(f"{portal.url}/admin/rbac/roles/role/default/posture-readers").status_code == 404
    auditor = portal.portal.auditor
    assert auditor is not None
    events = auditor.query(AuditQuery(actor="user:default/carol"), limit=100).items
    writes = [(e.event_id, e.action) for e in events if e.event_id in ("role-write", "policy-write")]
    assert ("role-write", "create") in writes
    assert ("policy-write", "create") in writes
    assert ("role-write", "delete") in writes


def test_rbac_pages_need_the_rbac_permissions(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    alice = signed_in(portal, "alice")
    for path in ("/admin/rbac", "/admin/rbac/explain", "/admin/rbac/roles/role/default/admins"):
        denied = alice.get(portal.url + path, headers=HTML)
        assert denied.status_code == 403, path
        assert '<code class="permission">policy.entity.read</code>' in denied.text
        assert "role:default/admins" not in denied.text
    token = csrf_of(alice.get(f"{portal.url}/settings").text)
    refused = _post(alice, portal, "/admin/rbac/roles", token, name="mine", members="user:default/alice")
    assert refused.status_code == 403
    assert "policy.entity.create" in refused.text
    carol = signed_in(portal, "carol")
    assert "role:default/mine" not in carol.get(f"{portal.url}/admin/rbac").text


def test_explain_a_decision(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    carol = signed_in(portal, "carol")
    base = f"{portal.url}/admin/rbac/explain?user=user:default/alice&permission=catalog.entity.read"
    page = assert_clean_html(carol.get(base, headers=HTML))
    assert re.search(r'class="decision decision-conditional">CONDITIONAL<', page)
    assert "role:default/members" in page
    assert "group:default/team-a" in page
    own = carol.get(base + "&resource=component:default/pay-service").text
    assert "role:default/members: matches" in own
    other = carol.get(base + "&resource=component:default/web-shop").text
    assert "role:default/members: does not match" in other
    denied = carol.get(f"{portal.url}/admin/rbac/explain?user=user:default/alice&permission=posture.report.read").text
    assert re.search(r'class="decision decision-deny">DENY<', denied)
    unknown = carol.get(f"{portal.url}/admin/rbac/explain?user=user:default/alice&permission=no.such.thing").text
    assert "Cannot explain:" in unknown
    assert "unknown permission" in unknown
