"""Calls to identity providers and key endpoints: bounded in time and size, https only.

Every URL here comes from the operator's config (discovery documents, JWKS, token
endpoints, key endpoints), never from a request. Still: plain http is accepted only for a
loopback host outside production (a local test IdP), redirects are not followed, and a
response over 1 MiB or slower than the timeout is an error rather than a hang.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

if TYPE_CHECKING:
    import httpx

from greenroom.errors import ConfigError, GreenroomError

MAX_RESPONSE_BYTES = 1024 * 1024
TIMEOUT_S, CONNECT_TIMEOUT_S = 10.0, 3.0


class OutboundError(GreenroomError):
    """An identity provider or key endpoint could not be reached or answered badly."""

    name = "AuthenticationError"
    status_code = 502


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, production: bool, path: str) -> str:
    """A trust-anchor URL from config: https, or http to loopback outside production."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname) and not production:
        return url
    raise ConfigError(
        "must be an https URL (plain http is accepted only for a loopback host outside production)", path=path
    )


class Outbound:
    """One pooled HTTP client for every identity call a process makes."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._given = client
        self._made: httpx.Client | None = None

    @property
    def _client(self) -> httpx.Client:
        # Built on first use: creating it loads the CA bundle (~20 ms of start-up otherwise).
        if self._given is not None:
            return self._given
        if self._made is None:
            import httpx

            self._made = httpx.Client(
                timeout=httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S), follow_redirects=False, trust_env=False
            )
        return self._made

    def close(self) -> None:
        if self._given is not None:
            self._given.close()
        elif self._made is not None:
            self._made.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> tuple[int, bytes, httpx.Headers]:
        import httpx

        try:
            with self._client.stream(method, url, headers=dict(headers or {}), data=data, auth=auth) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise OutboundError(f"response from {_host(url)} is larger than {MAX_RESPONSE_BYTES} bytes")
                return response.status_code, bytes(body), response.headers
        except httpx.HTTPError as exc:
            raise OutboundError(f"could not reach {_host(url)}: {type(exc).__name__}") from exc

    def get_json(self, url: str, *, headers: Mapping[str, str] | None = None) -> Any:
        status, body, _ = self.request("GET", url, headers={"Accept": "application/json", **(headers or {})})
        return _json(url, status, body)

    def post_form(
        self,
        url: str,
        data: Mapping[str, str],
        *,
        auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        status, body, _ = self.request(
            "POST", url, data=data, auth=auth, headers={"Accept": "application/json", **(headers or {})}
        )
        try:
            return status, orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise OutboundError(f"{_host(url)} answered {status} with a body that is not JSON") from exc


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _json(url: str, status: int, body: bytes) -> Any:
    if status != 200:
        raise OutboundError(f"{_host(url)} answered {status}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OutboundError(f"{_host(url)} answered with a body that is not JSON") from exc
