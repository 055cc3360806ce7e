"""The pages `/handler/frame` answers with, as Backstage's auth backend does.

In the popup flow the page posts `{type: 'authorization_response', response | error}` to the
window that opened it, addressed to the app's origin only (never `*`), and closes. The
script is inline, so the page carries its own CSP allowing exactly that script by hash;
nothing from the request is written into the page except as JSON inside base64.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from starlette.responses import HTMLResponse


def frame_page(payload: dict[str, Any], origin: str, *, status: int = 200) -> HTMLResponse:
    data = base64.b64encode(json.dumps(payload, ensure_ascii=True).encode("ascii")).decode("ascii")
    script = (
        f"(window.opener||window.parent).postMessage(JSON.parse(atob('{data}')),{json.dumps(origin)});"
        "setTimeout(function(){window.close();},100);"
    )
    digest = base64.b64encode(hashlib.sha256(script.encode("ascii")).digest()).decode("ascii")
    html = (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Signing in</title></head>"
        f"<body><script>{script}</script></body></html>"
    )
    headers = {
        "content-security-policy": f"default-src 'none'; script-src 'sha256-{digest}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'",
        "cache-control": "no-store",
        "pragma": "no-cache",
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def error_page(name: str, message: str, origin: str, *, status: int) -> HTMLResponse:
    return frame_page({"type": "authorization_response", "error": {"name": name, "message": message}}, origin,
                      status=status)
