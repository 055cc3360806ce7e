"""Return URLs stay on the portal's origins: the open-redirect tricks browsers fall for."""

from __future__ import annotations

import pytest

from greenroom.identity.redirects import RedirectError, normalised_origins, safe_origin, safe_return_url

ALLOWED = normalised_origins(["https://portal.example.com", "http://127.0.0.1:7007"])


@pytest.mark.parametrize("url", [
    "https://portal.example.com/",
    "https://portal.example.com/catalog?x=1#top",
    "https://PORTAL.example.com:443/x",
    "http://127.0.0.1:7007/",
])
def test_allowed(url):
    assert safe_return_url(url, ALLOWED) == url


@pytest.mark.parametrize("url", [
    "", "/catalog", "//evil.example/", "/\\evil.example", "\\\\evil.example",
    "https://evil.example/", "https://portal.example.com.evil.example/",
    "https://portal.example.com@evil.example/", "https://user:pw@portal.example.com/",
    "https://portal.example.com\\@evil.example/", "https://portal.example.com:8443/",
    "http://portal.example.com/", "javascript:alert(1)", "data:text/html,x",
    "https://portal.example.com/\nLocation: https://evil.example", "https://portal.example.com/\t",
    "https://portal.example.com:99999/", "https://evil.example/?https://portal.example.com",
    "http://127.0.0.1:7008/", "http://localhost:7007/", "https://portal.example.com/" + "a" * 3000,
])
def test_refused(url):
    with pytest.raises(RedirectError):
        safe_return_url(url, ALLOWED)


def test_popup_origin_must_be_exactly_an_origin():
    assert safe_origin("https://portal.example.com", ALLOWED) == "https://portal.example.com"
    for bad in ("https://portal.example.com/path", "https://portal.example.com?x", "null", "*"):
        with pytest.raises(RedirectError):
            safe_origin(bad, ALLOWED)
