"""End to end in headless Chromium against a real server (one portal and one browser for the
module): sign in through the test OpenID Connect provider, find an entity by search, open it,
follow a relation, register a location with a dry run, revoke a session, be denied an admin page
as a normal user and see it as an admin; hostile entity text never runs; no CSP violation on
any page; the pages work with JavaScript off, by keyboard, and at half a laptop screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.ui.browser import Watch, launch, new_page
from tests.ui.conftest import USERS, UiHandle


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


class Session:
    """One browser context (its own cookies) on the shared portal."""

    def __init__(self, chromium: Any, portal: UiHandle, **options: Any) -> None:
        self.portal = portal
        self.context, self.page, self.watch = new_page(chromium, **options)

    def sign_in(self, user: str) -> None:
        self.portal.idp.user = dict(USERS[user])
        self.page.goto(self.portal.url + "/")
        expect(self.page).to_have_url(re.compile(r"/sign-in$"))
        self.page.get_by_role("link", name="Sign in with OpenID Connect").click()
        expect(self.page).to_have_url(self.portal.url + "/")
        expect(self.page.get_by_role("heading", level=1)).to_contain_text("Welcome")

    def done(self) -> Watch:
        self.watch.collect(self.page)
        self.context.close()
        return self.watch


@pytest.fixture
def session(chromium: Any, shared_portal: UiHandle) -> Iterator[Any]:
    opened: list[Session] = []

    def open_session(**options: Any) -> Session:
        created = Session(chromium, shared_portal, **options)
        opened.append(created)
        return created

    yield open_session
    for created in opened:
        created.done().assert_quiet()


def _violations(page: Any) -> list[str]:
    found: list[str] = page.evaluate("window.__violations || []")
    return found


def test_sign_in_search_open_and_follow_a_relation(session: Any) -> None:
    alice = session()
    alice.sign_in("alice")
    page = alice.page
    search = page.get_by_label("Search the catalog")
    search.fill("payment")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/catalog\?q=payment"))
    expect(page.get_by_role("status")).to_contain_text("2 entities")  # the service and the payments system
    page.get_by_role("link", name="Payment service").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment service")
    expect(page.locator(".description")).to_have_text("Charges cards and issues refunds")
    assert _violations(page) == []
    about = page.get_by_role("region", name="About")
    about.get_by_role("link", name="payments").click()
    expect(page).to_have_url(alice.portal.url + "/catalog/default/system/payments")
    expect(page.get_by_role("heading", level=1)).to_have_text("payments")
    # Back on the service, follow a relation from the graph (an SVG link) to the API.
    page.go_back()
    page.locator("figure.graph a[href='/catalog/default/api/pay-api']").click()
    expect(page).to_have_url(alice.portal.url + "/catalog/default/api/pay-api")
    # Raw YAML with a working copy button (JavaScript on).
    page.goto(alice.portal.url + "/catalog/default/component/pay-service/yaml")
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=alice.portal.url)
    page.get_by_role("button", name="Copy to clipboard").click()
    expect(page.locator("[data-copy-status]")).to_have_text("Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "name: pay-service" in copied


def test_register_a_location_with_a_dry_run(session: Any, shared_portal: UiHandle) -> None:
    url = shared_portal.files.put("browser-catalog.yaml", (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: browser-made, description: Registered from Chromium}\n"
        "spec: {type: service, lifecycle: experimental, owner: team-a}\n"))
    carol = session()
    carol.sign_in("carol")
    page = carol.page
    page.get_by_role("link", name="Register").click()
    page.get_by_label("URL of the descriptor file").fill(url)
    page.get_by_role("button", name="Analyze").click()
    preview = page.get_by_role("region", name="Preview (dry run)")
    expect(preview).to_contain_text("2 entities would be added")  # with the Location entity for it
    expect(preview.get_by_role("cell", name="browser-made")).to_be_visible()
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status").filter(has_text="Registered")).to_be_visible()
    page.get_by_role("link", name="browser-made").click()
    expect(page.locator(".description")).to_have_text("Registered from Chromium")


def test_revoke_another_session(session: Any) -> None:
    laptop, phone = session(), session()
    laptop.sign_in("bob")
    phone.sign_in("bob")
    laptop.page.get_by_role("link", name="bob", exact=True).click()
    rows = laptop.page.locator("tbody tr")
    expect(rows).to_have_count(2)
    laptop.page.locator("tbody tr:not(.current)").get_by_role("button", name=re.compile("^Revoke")).click()
    expect(laptop.page.get_by_role("status")).to_contain_text("The session is revoked")
    expect(laptop.page.locator("tbody tr")).to_have_count(1)
    phone.page.reload()
    expect(phone.page).to_have_url(re.compile(r"/sign-in"))


def test_admin_page_denied_to_a_user_and_shown_to_an_admin(session: Any) -> None:
    alice = session()
    alice.sign_in("alice")
    expect(alice.page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    response = alice.page.goto(alice.portal.url + "/admin/posture")
    assert response.status == 403
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(alice.page.locator("code.permission")).to_have_text("posture.report.read")
    carol = session()
    carol.sign_in("carol")
    carol.page.get_by_role("link", name="Admin", exact=True).click()
    carol.page.get_by_role("link", name="Posture").click()
    expect(carol.page.get_by_role("heading", level=1)).to_have_text("Security posture")
    expect(carol.page.get_by_role("table", name="Findings")).to_be_visible()


def test_script_payloads_in_entity_text_never_run(session: Any) -> None:
    carol = session()
    carol.sign_in("carol")
    page = carol.page
    for path in ("/catalog/default/component/xss-component", "/catalog/default/component/xss-component/yaml",
                 "/catalog?q=xss", "/catalog?tag=javascript:alert", "/catalog/default/component/pay-service"):
        page.goto(carol.portal.url + path)
        assert page.evaluate("document.querySelectorAll('a[href^=\"javascript\" i], a[href^=\"data\" i]').length") == 0
        handlers = page.evaluate(
            "[...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on')))"
            ".map(e => e.outerHTML.slice(0, 80))")
        assert handlers == [], handlers
        assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
        assert _violations(page) == []
    page.goto(carol.portal.url + "/catalog/default/component/xss-component")
    expect(page.get_by_role("heading", level=1)).to_have_text("\"><svg onload=alert('title')><script>alert('title2')"
                                                             "</script>")
    # Hovering or activating every link and annotation runs nothing either.
    for link in page.locator("main a").all():
        link.hover()
    page.get_by_text("Leading space").click()
    assert carol.watch.dialogs == []


def test_pages_work_with_javascript_disabled(session: Any) -> None:
    carol = session(javascript=False)
    carol.sign_in("carol")
    page = carol.page
    page.get_by_label("Search the catalog").fill("web")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Web shop").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Web shop")
    page.get_by_role("link", name="Raw YAML").click()
    expect(page.get_by_role("button", name="Copy to clipboard")).to_be_hidden()  # needs JavaScript
    expect(page.locator("#raw-yaml")).to_contain_text("name: web-shop")
    page.goto(carol.portal.url + "/catalog")
    page.get_by_label("Kind").select_option("Component")
    page.get_by_label("Sort by").select_option("-name")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("entities")
    first = page.locator("tbody tr td:first-child a").first  # Z to A
    expect(first).to_have_attribute("href", "/catalog/default/component/xss-component")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))


def test_keyboard_labels_and_half_screen(session: Any) -> None:
    alice = session(width=640, height=800)
    alice.sign_in("alice")
    page = alice.page
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Search the catalog")).to_be_focused()
    page.keyboard.type("pay")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/catalog\?q=pay"))
    for path in ("/", "/catalog", "/catalog/default/component/pay-service", "/catalog/default/group/team-a",
                 "/settings", "/catalog/default/component/pay-service/yaml"):
        page.goto(alice.portal.url + path)
        unlabelled = page.evaluate(
            "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
            ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)")
        assert unlabelled == [], (path, unlabelled)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
