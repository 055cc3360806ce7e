"""scripts/screenshots.py regenerates docs/screenshots/ from a running zero-config portal; here it
runs into a temporary folder (same pages, same checks for dialogs, errors and CSP violations)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"
PNG = b"\x89PNG\r\n\x1a\n"


def test_screenshot_script_captures_every_main_page(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GREENROOM_HOME", str(tmp_path / "home"))  # the script sets its own; restore after
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.capture(tmp_path / "shots")
    names = {path.name for path in written}
    assert {"sign-in.png", "home.png", "catalog.png", "entity.png", "group.png", "register.png", "settings.png",
            "admin-posture.png", "admin-plugins.png", "admin-rbac.png", "admin-audit.png",
            "entity-half-screen.png"} <= names
    for path in written:
        data = path.read_bytes()
        assert data.startswith(PNG)
        assert len(data) > 5_000, path
