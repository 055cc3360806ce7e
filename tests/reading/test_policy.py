"""`backend.reading.allow` semantics: Backstage's matching, plus canonicalisation."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from greenroom.errors import ConfigError
from greenroom.reading import ReadingPolicy, UrlNotAllowedError, parse_url

# The allow-list and expectations of Backstage's own FetchUrlReader test.
BACKSTAGE_ALLOW: list[dict[str, Any]] = [
    {"host": "example.com"},
    {"host": "example.com:100-200"},
    {"host": "example.com:700"},
    {"host": "*.examples.org"},
    {"host": "*.examples.org:700"},
    {"host": "*.examples.org:900-1000"},
    {"host": "https.org:443"},
    {"host": "http.org:80"},
    {"host": "foobar.org", "paths": ["/dir1/"]},
]

BACKSTAGE_CASES = [
    ("https://example.com/test", True),
    ("https://a.example.com/test", False),
    ("https://example.com:600/test", False),
    ("https://a.example.com:600/test", False),
    ("https://example.com:700/test", True),
    ("https://a.example.com:700/test", False),
    ("https://other.com/test", False),
    ("https://examples.org/test", False),
    ("https://a.examples.org/test", True),
    ("https://a.b.examples.org/test", True),
    ("https://examples.org:600/test", False),
    ("https://a.examples.org:600/test", False),
    ("https://a.b.examples.org:600/test", False),
    ("https://examples.org:700/test", False),
    ("https://a.examples.org:700/test", True),
    ("https://a.b.examples.org:700/test", True),
    ("https://foobar.org/dir1/subpath", True),
    ("https://foobar.org/dir12", False),
    ("https://foobar.org/", False),
    ("https://a.examples.org:900/test", True),
    ("https://a.examples.org:1000/test", True),
    ("https://a.examples.org:950/test", True),
    ("https://a.examples.org:1050/test", False),
    ("https://example.com:150/test", True),
    ("https://example.com:4000/test", False),
    ("https://https.org", True),
    ("http://https.org", False),
    ("http://http.org", True),
    ("https://http.org", False),
]


@pytest.mark.parametrize(("url", "allowed"), BACKSTAGE_CASES)
def test_allow_list_matches_backstage(url: str, allowed: bool) -> None:
    policy = ReadingPolicy.from_config({"allow": BACKSTAGE_ALLOW})
    assert policy.evaluate(parse_url(url)).allowed is allowed


GREENROOM_ALLOW: list[dict[str, Any]] = [
    {"host": "GitHub.com", "paths": ["/my-org/"]},
    {"host": "*.Corp.Example."},
    {"host": "docs.example.com", "paths": ["/public/", "/shared"]},
    {"host": "127.0.0.1:8080"},
    {"host": "[::1]:8443"},
    {"host": "[2001:db8::1]"},
    {"host": "b\u00fccher.example"},
]

GREENROOM_CASES = [
    # Case, trailing dots and IDNA are canonicalised on both sides.
    ("https://GITHUB.COM/my-org/repo/blob/main/x.yaml", True, "allowed"),
    ("https://github.com./my-org/x", True, "allowed"),
    ("https://api.corp.example/x", True, "allowed"),
    ("https://API.CORP.EXAMPLE./x", True, "allowed"),
    ("https://corp.example/x", False, "host"),
    ("https://evilcorp.example/x", False, "host"),
    ("https://corp.example.evil.com/x", False, "host"),
    ("https://xn--bcher-kva.example/x", True, "allowed"),
    ("https://b\u00dccher.example/x", True, "allowed"),
    # Paths: traversal is resolved before matching.
    ("https://github.com/my-org/../other-org/secret", False, "path"),
    ("https://github.com/my-org/%2e%2e/other-org/secret", False, "path"),
    ("https://github.com/my-org/.%2e/other-org/secret", False, "path"),
    ("https://github.com//my-org/x", True, "allowed"),
    ("https://github.com/my-org//../x", False, "path"),
    ("https://github.com/other-org/../my-org/x", True, "allowed"),
    ("https://github.com/%6dy-org/x", True, "allowed"),
    # Encoded separators and `..;` cannot be checked against paths.
    ("https://github.com/my-org/a%2F..%2F..%2Fother-org", False, "ambiguous-path"),
    ("https://github.com/my-org%2F..%2Fother-org/x", False, "ambiguous-path"),
    ("https://github.com/my-org/a%5C..%5Cx", False, "ambiguous-path"),
    ("https://github.com/my-org/..;/other-org/x", False, "ambiguous-path"),
    ("https://api.corp.example/a%2Fb", True, "allowed"),  # no paths: nothing to confuse
    # Backstage's string-prefix rule: no trailing slash matches longer names too.
    ("https://docs.example.com/public/a", True, "allowed"),
    ("https://docs.example.com/publicity", False, "path"),
    ("https://docs.example.com/shared-secrets/x", True, "allowed"),
    ("https://github.com/my-org-evil/x", False, "path"),
    ("https://github.com/MY-ORG/x", False, "path"),
    # Ports.
    ("https://github.com:8443/my-org/x", False, "port"),
    ("http://github.com/my-org/x", True, "allowed"),
    ("http://github.com:443/my-org/x", False, "port"),
    ("http://127.0.0.1:8080/x", True, "allowed"),
    ("http://127.1:8080/x", True, "allowed"),
    ("http://2130706433:8080/x", True, "allowed"),
    ("http://127.0.0.1/x", False, "port"),
    ("http://127.0.0.2:8080/x", False, "host"),
    ("http://localhost:8080/x", False, "host"),
    # IPv6 literals.
    ("https://[::1]:8443/x", True, "allowed"),
    ("https://[0::1]:8443/x", True, "allowed"),
    ("https://[::1]/x", False, "port"),
    ("https://[2001:db8:0::1]/x", True, "allowed"),
    ("https://[::ffff:127.0.0.1]:8080/x", False, "host"),
]


@pytest.mark.parametrize(("url", "allowed", "rule"), GREENROOM_CASES)
def test_allow_list_canonical_matching(url: str, allowed: bool, rule: str) -> None:
    decision = ReadingPolicy.from_config({"allow": GREENROOM_ALLOW}).evaluate(parse_url(url))
    assert (decision.allowed, decision.rule) == (allowed, rule)


@pytest.mark.parametrize("reading", [None, {}, {"allow": []}, {"allow": None}])
def test_ssrf_empty_allow_list_reads_nothing(reading: dict[str, Any] | None) -> None:
    policy = ReadingPolicy.from_config(reading)
    for url in ["https://github.com/o/r/blob/main/x", "http://localhost/", "https://example.com/"]:
        decision = policy.evaluate(parse_url(url))
        assert not decision.allowed
        assert decision.rule == "empty-allow-list"


def test_ssrf_host_outside_allow_list_message_names_the_rule() -> None:
    policy = ReadingPolicy.from_config({"allow": [{"host": "example.com"}]})
    with pytest.raises(UrlNotAllowedError) as info:
        policy.require(parse_url("https://evil.com/x?token=abc"))
    assert info.value.rule == "host"
    assert info.value.status_code == 403
    assert "backend.reading.allow" in info.value.message
    assert "abc" not in info.value.message


def test_port_refusal_names_the_entry_and_its_ports() -> None:
    policy = ReadingPolicy.from_config({"allow": [{"host": "example.com:8000-8999"}]})
    with pytest.raises(UrlNotAllowedError) as info:
        policy.require(parse_url("https://example.com:22/"))
    assert info.value.rule == "port"
    assert "backend.reading.allow[0]" in info.value.message
    assert "8000-8999" in info.value.message


def test_private_allowance_comes_from_a_matching_entry() -> None:
    policy = ReadingPolicy.from_config(
        {
            "allow": [
                {"host": "*.corp.example"},
                {"host": "git.corp.example", "dangerouslyAllowPrivateAddresses": True},
            ]
        }
    )
    assert policy.evaluate(parse_url("https://git.corp.example/x")).allow_private_addresses
    assert not policy.evaluate(parse_url("https://wiki.corp.example/x")).allow_private_addresses


def test_dangerous_flag_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="greenroom.reading"):
        ReadingPolicy.from_config(
            {"allow": [{"host": "localhost:3000", "dangerouslyAllowPrivateAddresses": True}]}
        )
    assert "dangerouslyAllowPrivateAddresses" in caplog.text
    assert "backend.reading.allow[0]" in caplog.text


@pytest.mark.parametrize(
    ("reading", "path"),
    [
        ("nope", "backend.reading"),
        ({"allow": "example.com"}, "backend.reading.allow"),
        ({"allow": [{"host": "example.com"}], "alow": []}, "backend.reading"),
        ({"allow": ["example.com"]}, "backend.reading.allow[0]"),
        ({"allow": [{}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": ""}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com", "path": ["/x/"]}]}, "backend.reading.allow[0]"),
        (
            {"allow": [{"host": "example.com", "dangerouslyAllowPrivateAddress": True}]},
            "backend.reading.allow[0]",
        ),
        (
            {"allow": [{"host": "example.com", "dangerouslyAllowPrivateAddresses": "yes"}]},
            "backend.reading.allow[0].dangerouslyAllowPrivateAddresses",
        ),
        ({"allow": [{"host": "prod.*.example.com"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "*"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "*.*.example.com"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "*.10.0.0.1"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com:100-"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com:-"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com:100-50"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com:-100-300"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com:nb-300"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com:0"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com:70000"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "::1"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "exa mple.com"}]}, "backend.reading.allow[0].host"),
        ({"allow": [{"host": "example.com", "paths": "/x/"}]}, "backend.reading.allow[0].paths"),
        ({"allow": [{"host": "example.com", "paths": ["x/"]}]}, "backend.reading.allow[0].paths[0]"),
        ({"allow": [{"host": "example.com", "paths": ["/a%2Fb/"]}]}, "backend.reading.allow[0].paths[0]"),
    ],
)
def test_invalid_config_fails_loudly(reading: Any, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        ReadingPolicy.from_config(reading)
    assert info.value.path == path


def test_config_paths_are_canonicalised_like_urls() -> None:
    policy = ReadingPolicy.from_config({"allow": [{"host": "example.com", "paths": ["/a/./b/../c/"]}]})
    assert policy.entries[0].paths == ("/a/c/",)
    assert policy.evaluate(parse_url("https://example.com/a/c/x")).allowed


def test_empty_paths_list_allows_no_path() -> None:
    policy = ReadingPolicy.from_config({"allow": [{"host": "example.com", "paths": []}]})
    assert not policy.evaluate(parse_url("https://example.com/")).allowed
