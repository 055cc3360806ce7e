"""Install Backstage's packages from npm (once, into `.cache/npm-compat/`) and run them on a corpus."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

COMPAT_DIR = Path(__file__).resolve().parent
REPO_ROOT = COMPAT_DIR.parents[4]
DEPS_DIR = REPO_ROOT / ".cache" / "npm-compat"
SCRIPT = COMPAT_DIR / "backstage_process.cjs"
_MANIFESTS = ("package.json", "package-lock.json")


def npm_available() -> bool:
    return shutil.which("npm") is not None and shutil.which("node") is not None


def ensure_installed() -> Path:
    """`npm ci` the pinned packages unless the cache already holds exactly this lockfile."""
    marker = DEPS_DIR / "node_modules" / "@backstage" / "catalog-model" / "package.json"
    current = all(
        (DEPS_DIR / name).is_file() and (DEPS_DIR / name).read_bytes() == (COMPAT_DIR / name).read_bytes()
        for name in _MANIFESTS
    )
    if current and marker.is_file():
        return DEPS_DIR
    DEPS_DIR.mkdir(parents=True, exist_ok=True)
    for name in _MANIFESTS:
        shutil.copyfile(COMPAT_DIR / name, DEPS_DIR / name)
    # No install scripts: nothing the validators need is native, and it keeps the install hermetic.
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=DEPS_DIR,
        check=True,
        timeout=900,
    )
    return DEPS_DIR


def run_backstage(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Backstage's verdict for each `{"id", "entity"}`, keyed by id."""
    deps = ensure_installed()
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path = Path(tmp) / "corpus.json"
        corpus_path.write_text(json.dumps([{"id": c["id"], "entity": c["entity"]} for c in cases]))
        completed = subprocess.run(
            ["node", str(SCRIPT), str(deps), str(corpus_path)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    return {result["id"]: result for result in results}
