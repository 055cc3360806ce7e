"""A browser for the tests: httpx with a cookie jar that behaves like a browser's, redirects by hand.

Cookies are kept per name and path (browsers do not separate 127.0.0.1 ports), sent when the
request path is under the cookie's path, and dropped on `Max-Age=0`. `Secure` cookies are
sent over http to 127.0.0.1, as browsers do for loopback (a secure context).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

_FRAME = re.compile(r"atob\('([^']+)'\)")


@dataclass
class Cookie:
    name: str
    value: str
    path: str
    attributes: dict[str, str]
    raw: str


class Browser:
    def __init__(self) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=30, trust_env=False)
        self.jar: dict[tuple[str, str], Cookie] = {}
        self.history: list[httpx.Response] = []

    def close(self) -> None:
        self.http.close()

    def cookie(self, name: str) -> Cookie | None:
        for (cookie_name, _path), cookie in self.jar.items():
            if cookie_name == name:
                return cookie
        return None

    def _cookie_header(self, url: str) -> str | None:
        path = urlsplit(url).path or "/"
        pairs = [f"{c.name}={c.value}" for c in self.jar.values() if path.startswith(c.path)]
        return "; ".join(pairs) or None

    def _store(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            for name, morsel in parsed.items():
                path = morsel["path"] or "/"
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.jar.pop((name, path), None)
                    continue
                attributes = {k: str(v) for k, v in morsel.items() if v}
                flags = {f.strip().lower() for f in header.split(";")[1:]}
                if "httponly" in flags:
                    attributes["httponly"] = "true"
                if "secure" in flags:
                    attributes["secure"] = "true"
                self.jar[(name, path)] = Cookie(name, morsel.value, path, attributes, header)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        cookie = self._cookie_header(url)
        if cookie and "cookie" not in {k.lower() for k in headers}:
            headers["Cookie"] = cookie
        response = self.http.request(method, url, headers=headers, **kwargs)
        self._store(response)
        self.history.append(response)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def follow(self, response: httpx.Response, limit: int = 10) -> httpx.Response:
        for _ in range(limit):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            response = self.get(urljoin(str(response.url), response.headers["location"]))
        raise AssertionError("too many redirects")


def frame_message(response: httpx.Response) -> dict[str, Any]:
    """The message a `/handler/frame` page posts to its opener."""
    match = _FRAME.search(response.text)
    assert match, f"not a frame page ({response.status_code}): {response.text[:200]}"
    message: dict[str, Any] = json.loads(base64.b64decode(match.group(1)))
    return message


def frame_target(response: httpx.Response) -> str:
    """The origin the frame page posts to."""
    match = re.search(r"\),(\"[^\"]*\")\);", response.text)
    assert match
    target: str = json.loads(match.group(1))
    return target
