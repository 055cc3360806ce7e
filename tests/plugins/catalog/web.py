"""A static file server on 127.0.0.1 standing in for a git host, recording every request."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Any


class WebRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        repo = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                repo.requests.append(self.path)
                path = (repo.root / self.path.lstrip("/").split("?", 1)[0]).resolve()
                if not path.is_file() or repo.root.resolve() not in path.parents:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("content-type", "text/yaml")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write(self, name: str, text: str) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return f"{self.base}/{name}"

    def reading_config(self) -> dict[str, Any]:
        return {"backend": {"reading": {"allow": [
            {"host": f"127.0.0.1:{self.port}", "dangerouslyAllowPrivateAddresses": True}]}}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
