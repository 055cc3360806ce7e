"""Screenshots of the web UI's main pages, regenerated from a running portal (never by hand).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Starts the zero-config portal (local mode, the example catalog, a fresh SQLite database in a
temporary GREENROOM_HOME) on a free loopback port, signs in with the one-time local login link
in headless Chromium (Playwright), and saves a PNG per page. It fails if any page opened a
dialog, threw an error or reported a CSP violation. tests/ui/test_screenshots.py runs it.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
# (file name, path, viewport width): the main pages of the portal.
PAGES = [
    ("home", "/", 1280),
    ("catalog", "/catalog", 1280),
    ("catalog-filtered", "/catalog?kind=Component&sort=name", 1280),
    ("entity", "/catalog/default/component/checkout-service", 1280),
    ("entity-yaml", "/catalog/default/component/checkout-service/yaml", 1280),
    ("group", "/catalog/default/group/storefront-team", 1280),
    ("user", "/catalog/default/user/ada", 1280),
    ("register", "/catalog-import", 1280),
    ("settings", "/settings", 1280),
    ("admin", "/admin", 1280),
    ("admin-posture", "/admin/posture", 1280),
    ("admin-plugins", "/admin/plugins", 1280),
    ("admin-rbac", "/admin/rbac", 1280),
    ("admin-explain", "/admin/rbac/explain?user=user:default/ada&permission=catalog.entity.read"
                      "&resource=component:default/checkout-service", 1280),
    ("admin-audit", "/admin/audit", 1280),
    ("not-found", "/catalog/default/component/no-such-service", 1280),
    ("entity-half-screen", "/catalog/default/component/checkout-service", 640),
]
WATCH_SCRIPT = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def zero_config_portal() -> Iterator[tuple[str, Any]]:
    """The portal `greenroom serve` starts without a config, on a free port; yields (url, portal)."""
    import uvicorn

    home = tempfile.mkdtemp(prefix="greenroom-screens-")
    os.environ["GREENROOM_HOME"] = home
    from greenroom.app import create_portal
    from greenroom.cli_support import load
    from greenroom.plugins.catalog.plugin import CATALOG

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    config = load(None).with_values({"backend.listen": {"host": "127.0.0.1", "port": port}, "backend.baseUrl": url})
    portal = create_portal(config, local_mode=True)
    portal.registry.services.get(CATALOG).ingest_all(force=True)
    server = uvicorn.Server(uvicorn.Config(portal.app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal did not start")
        time.sleep(0.02)
    try:
        yield url, portal
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        portal.database.dispose()


def capture(out: Path, *, chromium: str = CHROMIUM) -> list[Path]:
    """Save the screenshots into `out`; returns the files written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    problems: list[str] = []
    with zero_config_portal() as (url, portal), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(WATCH_SCRIPT)
            page = context.new_page()
            page.on("dialog", lambda dialog: (problems.append(f"dialog {dialog.message}"), dialog.dismiss()))
            page.on("pageerror", lambda error: problems.append(f"error {error}"))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "Refused" in m.text else None)

            page.goto(f"{url}/sign-in")
            written.append(_shot(page, out / "sign-in.png"))
            page.goto(portal.identity.issue_local_login())
            for name, path, width in PAGES:
                page.set_viewport_size({"width": width, "height": 800})
                page.goto(url + path)
                problems += page.evaluate("window.__violations")
                written.append(_shot(page, out / f"{name}.png"))
            context.close()
        finally:
            browser.close()
    if problems:
        raise RuntimeError(f"the pages misbehaved: {problems}")
    return written


def _shot(page: Any, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    for path in capture(args.out, chromium=args.chromium):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
