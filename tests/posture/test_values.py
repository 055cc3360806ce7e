"""The value judgements the checks share: durations, hosts, entropy, placeholders, token formats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from greenroom.posture.values import (
    find_tokens,
    high_entropy,
    host_class,
    is_placeholder,
    is_secret_key,
    parse_duration,
    weakness,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [({"hours": 1, "minutes": 30}, 5400), ("PT8H", 28800), ("P1D", 86400), ("30d", 2592000), ("90 minutes", 5400),
     ("1500ms", 1.5), (3600, 3600)],
)
def test_durations(value, seconds):
    assert parse_duration(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", [True, "soon", {"fortnights": 1}, None])
def test_not_durations(value):
    assert parse_duration(value) is None


@pytest.mark.parametrize(
    ("host", "kind"),
    [("localhost", "loopback"), ("127.0.0.5", "loopback"), ("[::1]", "loopback"), ("169.254.169.254", "metadata"),
     ("metadata.google.internal", "metadata"), ("10.1.2.3", "private"), ("redis", "private"),
     ("db.svc.cluster.local", "private"), ("github.com", "public"), ("8.8.8.8", "public"), ("${HOST}", "unknown")],
)
def test_host_classes(host, kind):
    assert host_class(host) == kind


@pytest.mark.parametrize("key", ["clientSecret", "password", "token", "apiKey", "X-Api-Key", "privateKey", "secret"])
def test_secret_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["clientId", "tokenUrl", "tokenSignedResponseAlg", "secretsKey", "passwordPolicy"])
def test_not_secret_keys(key):
    assert not is_secret_key(key)


@pytest.mark.parametrize("value", ["<YOUR_SECRET>", "github_pat_XXXX", "my-token", "changeme", "temp", "a",
                                   "123456789abcdef0123456789abcedf012", "fake-travis-ci-auth-token"])
def test_placeholders(value):
    assert is_placeholder(value)


def test_real_looking_values_are_not_placeholders():
    assert not is_placeholder("5TXvdjVZFxF7qf9K5RAYRDoGrLzJooqa")


@pytest.mark.parametrize(
    "value", ["superSecretSecret", "short", "aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abcdefghijklmnopqrstuvwxyz12"]
)
def test_weak_values(value):
    assert weakness(value) is not None


def test_strong_value():
    assert weakness("q8Zt3Lw0Vn6Rb2Yx9Kc5Hm1Pj7Sd4Fg") is None


def test_entropy_needs_a_random_looking_value_under_an_ordinary_key():
    assert high_entropy("license", "q8Zt3Lw0Vn6Rb2Yx9Kc5Hm1Pj7Sd4Fg")
    assert not high_entropy("sha256", "9f2c" * 16)
    assert not high_entropy("license", "not random at all")
    assert not high_entropy("target", "https://B182759F93D251942CB146063F57036B.example.com")


def test_token_formats_need_a_random_body():
    assert find_tokens("token: ghp_" + "X" * 36) == []
    assert find_tokens("key: AKIAIOSFODNN7EXAMPLE") == []
    body = "aB3dE5fG7hJ9kL1mN3" + "pQ5rS7tU9vW1xY3zA5"  # built at run time: no token-shaped text in the repo
    [(kind, _token, offset)] = find_tokens("x gh" + "p_" + body)
    assert kind == "GitHub personal access token"
    assert offset == 2
