"""Identity settings from `auth.*`: durations, limits and the production rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from greenroom.config import load_config
from greenroom.errors import ConfigError
from greenroom.identity.config import check_production_sign_in, configured_providers, load_settings
from greenroom.identity.durations import parse_duration


@pytest.mark.parametrize(("value", "seconds"), [
    ({"hours": 1, "minutes": 30}, 5400), ("PT1H30M", 5400), ("1h30m", 5400), ("90 minutes", 5400),
    ("2 days", 172800), ({"seconds": 5}, 5), ("P1D", 86400), ("500ms", 0.5),
])
def test_durations(value, seconds):
    assert parse_duration(value, path="x") == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", [3600, "soon", {"fortnights": 1}, "", "P", "PT", {"hours": "1"}, "-5m", {"hours": 0}])
def test_bad_durations(value):
    with pytest.raises(ConfigError, match="x"):
        parse_duration(value, path="x")


def _settings(auth: dict[str, Any], production: bool = False, **rest: Any) -> Any:
    config = load_config([], defaults={"backend": {"baseUrl": "https://portal.example.com"}, "auth": auth, **rest},
                         env={})
    return load_settings(config, production=production, local_mode=False)


def test_defaults():
    s = _settings({})
    assert s.token_lifetime == 3600
    assert s.session.idle_timeout == 3600
    assert s.session.absolute_timeout == 43200
    assert s.issuer == "https://portal.example.com/api/auth"
    assert s.secure_cookies
    assert s.lockout.enabled
    assert s.rate_limit.store == "database"


def test_token_lifetime_is_capped_at_an_hour():
    with pytest.raises(ConfigError, match="backstageTokenExpiration"):
        _settings({"backstageTokenExpiration": {"hours": 2}})
    assert _settings({"backstageTokenExpiration": {"minutes": 15}}).token_lifetime == 900
    assert _settings({"session": {"idleTimeout": "10m"}}).token_lifetime == 600  # never past the idle timeout


def test_session_and_lockout_rules():
    with pytest.raises(ConfigError, match="idleTimeout"):
        _settings({"session": {"idleTimeout": "2h", "absoluteTimeout": "1h"}})
    with pytest.raises(ConfigError, match="revocationCheckInterval"):
        _settings({"session": {"revocationCheckInterval": "5m"}})
    with pytest.raises(ConfigError, match=r"auth\.lockout\.enabled"):
        _settings({"lockout": {"enabled": False}}, production=True)
    assert not _settings({"lockout": {"enabled": False}}).lockout.enabled
    with pytest.raises(ConfigError, match="connection"):
        _settings({"rateLimit": {"store": {"type": "redis"}}})
    with pytest.raises(ConfigError, match="maxAttempts"):
        _settings({"lockout": {"maxAttempts": 0}})


def test_allowed_origins():
    s = _settings({"experimentalExtraAllowedOrigins": ["https://docs.example.com"]},
                  app={"baseUrl": "https://app.example.com/"})
    assert s.allowed_origins == ("https://app.example.com", "https://portal.example.com", "https://docs.example.com")
    with pytest.raises(ConfigError, match="wildcards"):
        _settings({"experimentalExtraAllowedOrigins": ["https://*.example.com"]})


def test_trusted_proxies_must_be_addresses():
    assert len(_settings({"trustedProxies": ["10.0.0.0/8", "::1"]}).trusted_proxies) == 2
    with pytest.raises(ConfigError, match="trustedProxies"):
        _settings({"trustedProxies": ["proxy.internal"]})


def test_production_needs_a_real_provider():
    def config(providers: Any) -> Any:
        return load_config([], defaults={"auth": {"providers": providers}}, env={})

    with pytest.raises(ConfigError, match="needs an identity provider"):
        check_production_sign_in(config({}))
    with pytest.raises(ConfigError, match="needs an identity provider"):
        check_production_sign_in(config({"oidc": None, "github": {}}))
    with pytest.raises(ConfigError, match="'guest' provider"):
        check_production_sign_in(config({"guest": {}, "oidc": {"production": {"clientId": "x"}}}))
    check_production_sign_in(config({"oidc": {"production": {"clientId": "x"}}}))
    assert set(configured_providers(config({"guest": {"x": 1}, "github": {"production": {}}}))) == {"github"}
