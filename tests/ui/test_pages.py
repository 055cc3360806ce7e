"""The UI's pages over plain HTTP against a real server, on SQLite and PostgreSQL: sign-in,
CSP and markup hygiene on every page, escaping of hostile entity text, CSRF on every form,
permission-checked admin pages, catalog filters and cursors, registering a location with a dry
run, sessions, static files and error pages."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.ui.conftest import UiHandle, csrf_of, signed_in

HTML = {"Accept": "text/html"}
_HREF = re.compile(r'href="([^"]*)"')
_EVENT_ATTR = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def assert_clean_html(response: httpx.Response) -> str:
    """A page: strict CSP, no-store, and markup with no inline script, style or event handler."""
    assert response.headers["content-type"].startswith("text/html"), response.headers["content-type"]
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    text = response.text
    assert not _INLINE_SCRIPT.search(text), _INLINE_SCRIPT.search(text)
    assert " style=" not in text
    assert "<style" not in text
    assert not _EVENT_ATTR.search(text), _EVENT_ATTR.search(text)
    for href in _HREF.findall(text):
        target = html.unescape(href)
        assert target.startswith(("/", "#", "https://", "http://", "mailto:")), href
        assert not target.startswith("//"), href
    return text


def test_sign_in_page_lists_only_configured_providers(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    browser = portal.browser()
    home = browser.get(f"{portal.url}/", headers=HTML)
    assert home.status_code == 303
    assert home.headers["location"] == "/sign-in"
    deep = browser.get(f"{portal.url}/catalog?kind=component", headers=HTML)
    assert deep.headers["location"] == "/sign-in?next=%2Fcatalog%3Fkind%3Dcomponent"
    page = browser.get(portal.url + deep.headers["location"], headers=HTML)
    text = assert_clean_html(page)
    assert "Sign in with OpenID Connect" in text
    for absent in ("GitHub", "Google", "SAML", "Okta", "local mode"):
        assert absent not in text
    start = html.unescape(re.search(r'href="(/api/auth/oidc/start[^"]*)"', text).group(1))  # type: ignore[union-attr]
    query = dict(parse_qsl(urlsplit(start).query))
    assert query == {"flow": "redirect", "redirectUrl": f"{portal.url}/catalog?kind=component", "env": "development"}


@pytest.mark.parametrize("next_path", ["//evil.example.com/", "https://evil.example.com/", "/\\evil", "javascript:x"])
def test_sign_in_never_returns_to_another_site(ui_portal: Any, next_path: str) -> None:
    portal: UiHandle = ui_portal()
    page = portal.browser().get(f"{portal.url}/sign-in", params={"next": next_path})
    start = html.unescape(re.search(r'href="(/api/auth/oidc/start[^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    assert dict(parse_qsl(urlsplit(start).query))["redirectUrl"] == f"{portal.url}/"


def test_signed_in_viewer_is_sent_on_from_the_sign_in_page(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    browser = signed_in(portal, "carol")
    again = browser.get(f"{portal.url}/sign-in?next=/catalog")
    assert again.status_code == 303
    assert again.headers["location"] == "/catalog"
    cookie = browser.cookie("__Host-greenroom-session")
    assert cookie is not None
    assert {"httponly", "secure"} <= set(cookie.attributes)
    assert cookie.attributes["samesite"].lower() == "lax"


def _pages(portal: UiHandle) -> list[str]:
    return [
        "/", "/catalog", "/catalog?kind=component&sort=-name&limit=50", "/catalog?q=pay",
        "/catalog/default/component/pay-service", "/catalog/default/component/pay-service/yaml",
        "/catalog/default/component/xss-component", "/catalog/default/component/xss-component/yaml",
        "/catalog/default/group/team-a", "/catalog/default/user/alice", "/catalog/default/system/payments",
        "/catalog/default/api/pay-api", "/catalog-import", "/settings", "/admin", "/admin/posture",
        "/admin/plugins",
    ]


def test_every_page_has_the_csp_and_clean_markup(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    browser = signed_in(portal, "carol")
    for path in _pages(portal):
        response = browser.get(portal.url + path, headers=HTML)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        assert_clean_html(response)
    for path, status in (("/nothing-here", 404), ("/catalog/default/component/nope", 404),
                         ("/catalog/default/component/pay-service/no-such-tab", 404), ("/catalog?limit=7", 400)):
        response = browser.get(portal.url + path, headers=HTML)
        assert response.status_code == status, path
        assert_clean_html(response)
    sign_in = portal.browser().get(f"{portal.url}/sign-in")
    assert_clean_html(sign_in)


def test_hostile_entity_text_is_escaped_and_unsafe_links_are_text(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    browser = signed_in(portal, "carol")
    page = browser.get(f"{portal.url}/catalog/default/component/xss-component", headers=HTML)
    text = assert_clean_html(page)
    for raw in ("<script>alert(", "<svg onload", "<svg/onload", "<img src=x", "<b>service</b>",
                "javascript:alert", '" onmouseover'):
        if raw == "javascript:alert":
            assert 'href="javascript' not in text.lower()
            continue
        assert raw not in text, raw
    # The payloads are there, as text.
    assert "&lt;script&gt;alert(&#39;description&#39;)&lt;/script&gt;" in text
    assert "&#34;&gt;&lt;svg onload=alert(&#39;title&#39;)&gt;" in text or "&quot;&gt;&lt;svg" in text
    assert "&lt;b&gt;service&lt;/b&gt;" in text
    links = dict(re.findall(r'<a href="([^"]+)" rel="noopener noreferrer"[^>]*>([^<]*)</a>', text))
    assert links == {
        "https://docs.example.com/ok": "Real docs",
        "https://docs.example.com/&#34;&gt;&lt;script&gt;alert(&#39;quote&#39;)&lt;/script&gt;": "Quote break",
        "mailto:team@example.com": "Mail the team",
        # The catalog replaced the javascript: view URL, as Backstage does.
        "https://backstage.io/annotation-rejected-for-security-reasons":
            "https://backstage.io/annotation-rejected-for-security-reasons",
    }
    # An annotation URL with a quote and spaces in it is not a link at all.
    assert "https://x.example.com/&#34; onmouseover=&#34;alert(&#39;annattr&#39;)</td>" in text
    for title in ("Case trick", "Leading space", "Tab inside", "Data URL"):
        assert f"<span>{title}</span>" in text
    listing = browser.get(f"{portal.url}/catalog?q=xss", headers=HTML)
    listed = assert_clean_html(listing)
    assert "xss-component" in listed
    assert "<script>" not in listed
    assert "<svg" not in listed.replace("<svg xmlns", "")
    raw = browser.get(f"{portal.url}/catalog/default/component/xss-component/yaml", headers=HTML)
    assert "&lt;script&gt;alert(&#39;annotation&#39;)&lt;/script&gt;" in assert_clean_html(raw)


def _post(browser: Any, url: str, data: dict[str, str], **headers: str) -> httpx.Response:
    response: httpx.Response = browser.post(url, data=data, headers={**HTML, **headers})
    return response


def test_forms_without_the_sessions_csrf_token_are_refused(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    browser = signed_in(portal, "carol")
    token = csrf_of(browser.get(f"{portal.url}/settings").text)
    forms = [("/sign-out", {}), ("/settings/sessions/revoke-all", {}),
             ("/catalog-import", {"action": "analyze", "target": "https://example.com/x.yaml"})]
    for path, data in forms:
        altered = token[:-1] + ("1" if token[-1] == "0" else "0")  # one character off (never the token itself)
        for bad in ({}, {"csrf_token": ""}, {"csrf_token": "0" * 64}, {"csrf_token": altered}):
            refused = _post(browser, portal.url + path, {**data, **bad})
            assert refused.status_code == 403, (path, bad, refused.status_code)
            assert "CSRF" in refused.text
        cross_site = _post(browser, portal.url + path, {**data, "csrf_token": token}, Origin="https://evil.example.com")
        assert cross_site.status_code == 403, path
    # The session survived every refused attempt; with its token the form works.
    assert browser.get(f"{portal.url}/settings").status_code == 200
    out = _post(browser, f"{portal.url}/sign-out", {"csrf_token": token}, Origin=portal.url)
    assert out.status_code == 303
    assert out.headers["location"] == "/sign-in"
    assert browser.get(f"{portal.url}/settings").status_code == 303


def test_admin_pages_need_their_permission(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    alice = signed_in(portal, "alice")
    for path, permission in (("/admin/posture", "posture.report.read"), ("/admin/plugins", "core.plugin.read")):
        denied = alice.get(portal.url + path, headers=HTML)
        assert denied.status_code == 403
        text = assert_clean_html(denied)
        assert f'<code class="permission">{permission}</code>' in text
        assert "<table" not in text
    index = alice.get(f"{portal.url}/admin", headers=HTML)
    assert index.status_code == 403
    assert ">Admin<" not in alice.get(f"{portal.url}/settings").text  # no admin entry in the navigation
    carol = signed_in(portal, "carol")
    assert carol.get(f"{portal.url}/admin/posture").status_code == 200
    plugins = carol.get(f"{portal.url}/admin/plugins").text
    for plugin_id in ("catalog", "auth", "ui", "posture"):
        assert f'id="plugin-{plugin_id}"' in plugins


def test_catalog_filters_counts_and_cursor_pages(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    browser = signed_in(portal, "carol")
    components = browser.get(f"{portal.url}/catalog?kind=Component").text
    assert re.search(r">4 entities<", components)
    assert '<option value="Component" selected>Component (4)</option>' in components
    owned = browser.get(f"{portal.url}/catalog?owner=group:default/team-a").text
    assert re.search(r">5 entities<", owned)
    search = browser.get(f"{portal.url}/catalog?q=payment").text
    assert "Payment service" in search
    assert "Web shop" not in search
    tagged = browser.get(f"{portal.url}/catalog?tag=web").text
    assert "Web shop" in tagged
    assert "Payment service" not in tagged
    seen: list[str] = []
    url: str | None = f"{portal.url}/catalog?limit=25&sort=-name"
    pages = 0
    while url:
        page = browser.get(url, headers=HTML)
        assert page.status_code == 200
        text = assert_clean_html(page)
        seen += re.findall(r'<tr>\s*<td><a href="(/catalog/[^"]+)">', text)
        found = re.search(r'<a href="([^"]+)" rel="next">', text)
        url = portal.url + html.unescape(found.group(1)) if found else None
        pages += 1
    total = int(re.search(r">(\d+) entities<", browser.get(f"{portal.url}/catalog").text).group(1))  # type: ignore[union-attr]
    assert pages == 1 + (total - 1) // 25
    assert len(seen) == len(set(seen)) == total
    bad = browser.get(f"{portal.url}/catalog?cursor=not-a-cursor", headers=HTML)
    assert bad.status_code == 400
    assert "Malformed cursor" in bad.text


LOCATION = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: imported-service, description: Came in through the UI}
spec: {type: service, lifecycle: experimental, owner: team-a}
"""


def test_register_a_location_with_a_dry_run_first(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    url = portal.files.put("catalog-info.yaml", LOCATION)
    browser = signed_in(portal, "carol")
    form = browser.get(f"{portal.url}/catalog-import")
    token = csrf_of(form.text)
    preview = _post(browser, f"{portal.url}/catalog-import", {"csrf_token": token, "action": "analyze",
                                                                "target": url}, Origin=portal.url)
    assert preview.status_code == 200
    text = assert_clean_html(preview)
    assert "Preview (dry run)" in text
    assert "imported-service" in text
    assert browser.get(f"{portal.url}/catalog/default/component/imported-service").status_code == 404
    done = _post(browser, f"{portal.url}/catalog-import", {"csrf_token": token, "action": "import", "target": url},
                 Origin=portal.url)
    assert done.status_code == 200
    assert 'href="/catalog/default/component/imported-service"' in assert_clean_html(done)
    assert browser.get(f"{portal.url}/catalog/default/component/imported-service").status_code == 200
    refused = _post(browser, f"{portal.url}/catalog-import",
                    {"csrf_token": token, "action": "analyze", "target": "https://not-allowed.example.com/x.yaml"},
                    Origin=portal.url)
    assert refused.status_code == 200
    assert "Could not read the location" in refused.text or "Errors:" in refused.text
    alice = signed_in(portal, "alice")
    denied = alice.get(f"{portal.url}/catalog-import", headers=HTML)
    assert denied.status_code == 403
    assert "catalog.location.create" in denied.text


def test_revoking_a_session_signs_that_browser_out(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    laptop = signed_in(portal, "carol")
    phone = signed_in(portal, "carol")
    page = laptop.get(f"{portal.url}/settings").text
    ids = re.findall(r'action="/settings/sessions/([^/"]+)/revoke"', page)
    assert len(ids) == 2
    current = re.search(r'<tr class="current">.*?/settings/sessions/([^/"]+)/revoke', page, re.S).group(1)  # type: ignore[union-attr]
    other = next(i for i in ids if i != current)
    token = csrf_of(page)
    revoked = _post(laptop, f"{portal.url}/settings/sessions/{other}/revoke", {"csrf_token": token}, Origin=portal.url)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/settings?notice=revoked"
    assert phone.get(f"{portal.url}/settings").status_code == 303  # signed out
    assert laptop.get(f"{portal.url}/settings").status_code == 200
    # Someone else's session cannot be revoked from here.
    bob = signed_in(portal, "bob")
    bob_page = bob.get(f"{portal.url}/settings").text
    bob_sid = re.findall(r'action="/settings/sessions/([^/"]+)/revoke"', bob_page)[0]
    not_yours = _post(laptop, f"{portal.url}/settings/sessions/{bob_sid}/revoke", {"csrf_token": token},
                      Origin=portal.url)
    assert not_yours.status_code == 404
    assert bob.get(f"{portal.url}/settings").status_code == 200


def test_static_files_are_cached_by_content_hash(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    page = portal.browser().get(f"{portal.url}/sign-in").text
    css = re.search(r'href="(/static/ui\.[0-9a-f]{12}\.css)"', page).group(1)  # type: ignore[union-attr]
    js = re.search(r'src="(/static/ui\.[0-9a-f]{12}\.js)"', page).group(1)  # type: ignore[union-attr]
    for path, media in ((css, "text/css"), (js, "text/javascript")):
        response = httpx.get(portal.url + path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = httpx.get(portal.url + path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
    assert httpx.get(f"{portal.url}/static/ui.css").headers["cache-control"] == "no-cache"
    assert httpx.get(f"{portal.url}/static/../plugin.py").status_code == 404
    assert httpx.get(f"{portal.url}/static/nothing.css").status_code == 404


def test_api_clients_keep_json_errors(ui_portal: Any) -> None:
    portal: UiHandle = ui_portal()
    as_api = httpx.get(f"{portal.url}/nothing-here")
    assert as_api.status_code == 404
    assert as_api.json()["error"]["name"] == "NotFoundError"
    as_browser = httpx.get(f"{portal.url}/nothing-here", headers=HTML)
    assert as_browser.status_code == 404
    assert "There is no page at this address." in assert_clean_html(as_browser)
    api_in_browser = httpx.get(f"{portal.url}/api/catalog/entities", headers=HTML)
    assert api_in_browser.status_code == 401
    assert api_in_browser.json()["error"]["name"] == "AuthenticationError"
