"""Headless Chromium (Debian's /usr/bin/chromium) through Playwright, with a watch on what
the page does: dialogs (an executed `alert`), uncaught errors, console errors and CSP
violations (`securitypolicyviolation` events and Chromium's "Refused to ..." messages)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = os.environ.get("GREENROOM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
WATCH_SCRIPT = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@dataclass
class Watch:
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.console.append(message.text) if message.type == "error" else None)

    def collect(self, page: Any) -> None:
        """Violations the current document saw (call before leaving it)."""
        self.violations += page.evaluate("window.__violations || []")

    def assert_quiet(self) -> None:
        refused = [m for m in self.console if "Refused to" in m or "Content Security Policy" in m]
        assert not self.dialogs, f"a dialog opened (script ran): {self.dialogs}"
        assert not self.errors, f"uncaught errors: {self.errors}"
        assert not refused, f"CSP violations: {refused}"
        assert not self.violations, f"CSP violations: {self.violations}"


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_page(browser: Any, *, javascript: bool = True, width: int = 1280, height: int = 900) -> tuple[Any, Any, Watch]:
    context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=javascript)
    context.add_init_script(WATCH_SCRIPT)
    page = context.new_page()
    watch = Watch()
    watch.attach(page)
    return context, page, watch


def pages_of(contexts: list[Any]) -> Iterator[Any]:
    for context in contexts:
        yield from context.pages
