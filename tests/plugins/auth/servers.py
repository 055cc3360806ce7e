"""Real HTTP servers on 127.0.0.1 for the identity tests (uvicorn in a thread, port chosen first)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from tests.conftest import free_port


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1:<port> until `stop()`."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False,
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
