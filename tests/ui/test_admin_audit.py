"""The audit trail viewer, on SQLite and PostgreSQL: filters, cursor pages and export with the
permissions of `/api/audit`; what the UI itself does is in the trail as the API's would be."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from sqlalchemy import text

from greenroom.audit import AuditQuery
from tests.ui.conftest import UiHandle, csrf_of, signed_in
from tests.ui.test_pages import HTML, assert_clean_html


def _events(portal: UiHandle, **query: Any) -> list[Any]:
    auditor = portal.portal.auditor
    assert auditor is not None
    return list(auditor.query(AuditQuery(**query), limit=1000).items)


def test_filter_and_page_through_the_trail(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    signed_in(portal, "alice")
    carol = signed_in(portal, "carol")
    page = assert_clean_html(carol.get(f"{portal.url}/admin/audit", headers=HTML))
    assert "<code>auth-sign-in</code>" in page
    assert "user:default/carol" in page
    alice_only = carol.get(f"{portal.url}/admin/audit?actor=user:default/alice&eventId=auth-sign-in&status=").text
    assert "user:default/alice" in alice_only
    assert "user:default/carol" not in alice_only.split("<tbody>")[1]
    bad = carol.get(f"{portal.url}/admin/audit?status=maybe")
    assert bad.status_code == 200
    assert "Invalid filter:" in bad.text
    assert "Invalid status" in bad.text
    # Every view of the trail is itself recorded (a read of sensitive data), so there are pages.
    for _ in range(55):
        carol.get(f"{portal.url}/admin/audit?eventId=resource-read")
    first = carol.get(f"{portal.url}/admin/audit?eventId=resource-read").text
    assert first.count("<code>resource-read</code>") == 50
    link = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert link
    second = carol.get(portal.url + html.unescape(link.group(1))).text
    assert "(continued)" in second
    assert second.count("<code>resource-read</code>") >= 6
    reads = _events(portal, event_id="resource-read", actor="user:default/carol")
    assert len(reads) >= 57
    assert {e.plugin for e in reads} == {"audit"}


def test_export_downloads_and_is_recorded(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    carol = signed_in(portal, "carol")
    token = csrf_of(carol.get(f"{portal.url}/admin/audit", headers=HTML).text)
    url = f"{portal.url}/admin/audit/export"
    missing = carol.post(url, data={"csrf_token": token, "format": "jsonl"}, headers=HTML)
    assert missing.status_code == 400
    assert "needs a start time" in missing.text
    download = carol.post(url, data={"csrf_token": token, "format": "jsonl", "from": "1d", "eventId": "auth-sign-in"})
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="greenroom-audit.jsonl"'
    lines = [json.loads(line) for line in download.text.splitlines()]
    assert lines
    assert {line["eventId"] for line in lines} == {"auth-sign-in"}
    csv = carol.post(url, data={"csrf_token": token, "format": "csv", "from": "1d"})
    assert csv.headers["content-type"].startswith("text/csv")
    exports = _events(portal, event_id="audit-export")
    assert len(exports) == 2
    assert {e.actor_id for e in exports} == {"user:default/carol"}


def test_an_export_cannot_be_triggered_from_another_site(ui_portal: Any) -> None:
    """An export marks events exported (what retention may delete): a link or a form on another
    site, which the browser sends with the session cookie, must not be able to start one."""
    portal: UiHandle = ui_portal()
    carol = signed_in(portal, "carol")
    url = f"{portal.url}/admin/audit/export"
    assert carol.get(f"{url}?format=jsonl&from=1970-01-01", headers=HTML).status_code in (404, 405)
    forged = carol.post(url, data={"format": "jsonl", "from": "1970-01-01"}, headers=HTML)
    assert forged.status_code == 403
    assert _events(portal, event_id="audit-export") == []
    with portal.portal.database.engine.connect() as connection:
        marked = connection.execute(text("SELECT count(*) FROM audit_events WHERE exported_at IS NOT NULL"))
        assert marked.scalar() == 0


def test_the_trail_needs_its_permissions_and_denials_are_recorded(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    alice = signed_in(portal, "alice")
    token = csrf_of(alice.get(f"{portal.url}/settings", headers=HTML).text)
    for path, permission in (("/admin/audit", "audit.read"), ("/admin/audit/export", "audit.export")):
        if path.endswith("/export"):
            denied = alice.post(portal.url + path, data={"csrf_token": token, "from": "1d"}, headers=HTML)
        else:
            denied = alice.get(portal.url + path, headers=HTML)
        assert denied.status_code == 403
        assert f'<code class="permission">{permission}</code>' in denied.text
        assert "auth-sign-in" not in denied.text
    decisions = [e for e in _events(portal, event_id="permission-decision", actor="user:default/alice")
                 if e.status == "failed"]
    assert {json.loads(e.meta)["permission"]["name"] for e in decisions} >= {"audit.read", "audit.export"}
    assert _events(portal, event_id="audit-export") == []


def test_a_change_made_through_a_page_is_audited_like_the_api(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    url = portal.files.put("audited.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
                           "metadata: {name: audited}\nspec: {type: service, lifecycle: x, owner: team-a}\n")
    carol = signed_in(portal, "carol")
    token = csrf_of(carol.get(f"{portal.url}/catalog-import").text)
    done = carol.post(f"{portal.url}/catalog-import", data={"csrf_token": token, "action": "import", "target": url},
                      headers={**HTML, "Origin": portal.url})
    assert done.status_code == 200
    decisions = [e for e in _events(portal, event_id="permission-decision", actor="user:default/carol")
                 if e.status == "succeeded"]
    assert [(e.plugin, json.loads(e.meta)["permission"]["name"]) for e in decisions] == [
        ("catalog", "catalog.location.create")]
    assert decisions[0].request_url.startswith("/catalog-import")
