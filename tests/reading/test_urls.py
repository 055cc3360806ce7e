"""Canonical URL parsing: what is checked is what is sent, and ambiguity is refused."""

from __future__ import annotations

import pytest

from greenroom.errors import InputError
from greenroom.reading import UrlNotAllowedError, parse_url


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("https://example.com/a/b.yaml", "https://example.com/a/b.yaml"),
        ("HTTPS://Example.COM/a", "https://example.com/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com?x=1", "https://example.com/?x=1"),
        ("https://example.com/a#fragment", "https://example.com/a"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a/b/..", "https://example.com/a/"),
        ("https://example.com/../../etc/passwd", "https://example.com/etc/passwd"),
        ("https://example.com/a//../b", "https://example.com/b"),
        ("https://example.com//a///b/", "https://example.com/a/b/"),
        ("https://example.com/a/%2e%2e/b", "https://example.com/b"),
        ("https://example.com/a/.%2E/b", "https://example.com/b"),
        ("https://example.com/%61%62c", "https://example.com/abc"),
        ("https://example.com/a%3fb", "https://example.com/a%3Fb"),
        ("https://example.com/my file.yaml", "https://example.com/my%20file.yaml"),
        ("https://example.com/caf\u00e9", "https://example.com/caf%C3%A9"),
        ("https://b\u00fccher.example/x", "https://xn--bcher-kva.example/x"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://0x7f.0.0.1/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
        ("http://[0:0:0:0:0:0:0:1]/", "http://[::1]/"),
        ("http://[::FFFF:169.254.169.254]/", "http://[::ffff:a9fe:a9fe]/"),
    ],
)
def test_url_canonical_form(given: str, canonical: str) -> None:
    assert str(parse_url(given)) == canonical


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://127.0.0.1:6379/_INFO",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "dict://localhost:11211/",
        "ldap://example.com/",
        "jar:http://x/!/",
    ],
)
def test_ssrf_non_http_scheme_refused(url: str) -> None:
    with pytest.raises(UrlNotAllowedError) as info:
        parse_url(url)
    assert info.value.rule == "scheme"


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@example.com/",
        "https://user@example.com/",
        "https://:secret@example.com/",
        "https://allowed.com@evil.com/",
        "https://a@b@example.com/",
    ],
)
def test_ssrf_userinfo_refused_without_echoing_credentials(url: str) -> None:
    with pytest.raises(UrlNotAllowedError) as info:
        parse_url(url)
    assert info.value.rule == "credentials"
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.com\\@allowed.com/",  # WHATWG: host evil.com; urllib: host allowed.com
        "https://allowed.com\\..\\secret",
        "https://allowed.com/a\tb",
        "https://allowed.com/a\nb",
        " https://allowed.com/",
        "https://allowed.com/\x00",
        "https://%61llowed.com/",  # percent-encoded host
        "https://[fe80::1%25eth0]/",  # zone id
        "https://allowed.com:99999/",
        "https://allowed.com:0/",
        "https://allowed.com:/",
        "https://allowed.com:8o/",
        "https://allowed.com:8080:80/",
        "https://1.2.3.4.5/",
        "https://1.2.3.256/",
        "https://foo.123/",
        "https://under_score..com/",
        "https:///path-only",
        "https:example.com/",
        "//example.com/",
        "example.com/x",
        "https://example.com/%zz",
        "https://" + "a" * 9000 + ".com/",
    ],
)
def test_url_ambiguous_or_malformed_refused(url: str) -> None:
    with pytest.raises(InputError):
        parse_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a%2F..%2Fsecret",
        "https://example.com/a%2fb",
        "https://example.com/a%5Cb",
        "https://example.com/allowed/..;/secret",
        "https://example.com/a/.;x/b",
    ],
)
def test_path_traversal_encoded_separators_marked_ambiguous(url: str) -> None:
    assert parse_url(url).ambiguous_path is not None


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://evil.com#@allowed.com/", "evil.com"),
        ("https://evil.com?@allowed.com/", "evil.com"),
        ("https://evil.com/@allowed.com/", "evil.com"),
    ],
)
def test_host_confusion_delimiters_parse_like_a_browser(url: str, host: str) -> None:
    assert parse_url(url).host == host


def test_redacted_url_hides_query() -> None:
    url = parse_url("https://example.com/file.yaml?token=s3cr3t")
    assert url.redacted() == "https://example.com/file.yaml?…"
    assert "s3cr3t" not in url.redacted()
