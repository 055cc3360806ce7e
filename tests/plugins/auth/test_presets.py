"""The Google, Okta and Microsoft presets: where they look for their configuration, and a full
Okta sign-in against the test provider standing in for an Okta org."""

from __future__ import annotations

from typing import Any

import pytest

from greenroom.errors import ConfigError
from greenroom.identity.outbound import Outbound
from greenroom.plugins.auth.plugin import plugin
from greenroom.plugins.auth.providers import load_providers
from tests.conftest import free_port
from tests.plugins.auth.browser import frame_message
from tests.plugins.auth.conftest import CLIENT_ID, CLIENT_SECRET, oidc_sign_in


def _load(make_identity: Any, providers: dict[str, Any]) -> Any:
    return load_providers(providers, environment="production", identity=make_identity(), outbound=Outbound())


def _base(**extra: Any) -> dict[str, Any]:
    return {"clientId": "id", "clientSecret": "secret", **extra}


@pytest.fixture
def make_identity() -> Any:
    from tests.identity.conftest import settings

    class _Identity:
        def __init__(self) -> None:
            self.settings = settings(environment="production")

    return _Identity


def test_preset_discovery_urls(make_identity):
    loaded = _load(make_identity, {
        "google": {"production": _base()},
        "okta": {"production": _base(audience="https://acme.okta.com", authServerId="default", idp="0oa1")},
        "microsoft": {"production": _base(tenantId="11111111-2222-3333-4444-555555555555")},
    })
    assert loaded["google"].provider.metadata_url == "https://accounts.google.com/.well-known/openid-configuration"
    assert loaded["okta"].provider.metadata_url == (
        "https://acme.okta.com/oauth2/default/.well-known/openid-configuration")
    assert loaded["okta"].provider.extra_authorize_params() == {"idp": "0oa1"}
    assert loaded["microsoft"].provider.metadata_url == ("https://login.microsoftonline.com/"
                                                         "11111111-2222-3333-4444-555555555555/v2.0/.well-known/"
                                                         "openid-configuration")
    assert loaded["microsoft"].provider.issuer_matches(
        "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0")
    assert not loaded["microsoft"].provider.issuer_matches(
        "https://login.microsoftonline.com/99999999-2222-3333-4444-555555555555/v2.0")


@pytest.mark.parametrize(("providers", "message"), [
    ({"microsoft": {"production": _base(tenantId="common")}}, "any Entra tenant"),
    ({"oidc": {"production": _base(metadataUrl="http://idp.example.com/.well-known/openid-configuration")}}, "https"),
    ({"oidc": {"production": _base(metadataUrl="https://idp.example.com/x", pkce=False)}}, "PKCE"),
    ({"oidc": {"production": _base(metadataUrl="https://idp.example.com/x", tokenSignedResponseAlg="none")}},
     "asymmetric"),
    ({"oidc": {"production": _base(metadataUrl="https://idp.example.com/x", tokenSignedResponseAlg="HS256")}},
     "asymmetric"),
    ({"oidc": {"production": _base(metadataUrl="https://idp.example.com/x",
                                   signIn={"resolvers": [{"resolver": "usernameMatchingUserEntityName"}]})}},
     "not available for this provider"),
    ({"oidc": {"production": _base(metadataUrl="https://idp.example.com/x",
                                   signIn={"resolvers": [{"resolver": "magic"}]})}}, "unknown sign-in resolver"),
    ({"okta": {"production": {"clientId": "id", "audience": "https://acme.okta.com"}}}, "clientSecret"),
    ({"cfaccess": {"teamName": "acme"}}, "audience"),
    ({"awsalb": {"issuer": "https://idp.example.com", "region": "eu-west-1"}}, "signer"),
    ({"oauth2Proxy": {"signIn": {"resolvers": []}}}, "trustedProxies"),
])
def test_unsafe_or_incomplete_provider_config_stops_start_up(make_identity, providers, message):
    with pytest.raises(ConfigError, match=message):
        _load(make_identity, providers)


def test_every_provider_is_off_until_configured(make_identity):
    assert _load(make_identity, {}) == {}
    assert _load(make_identity, {"github": None, "oidc": {}, "guest": {}, "gitlab": {"production": _base()}}) == {}
    assert _load(make_identity, {"github": {"development": _base()}}) == {}  # another environment only


def test_provider_secrets_are_declared_for_the_production_literal_check():
    declared = plugin.manifest.secrets
    for path in ("auth.providers.oidc.production.clientSecret", "auth.providers.github.development.clientSecret",
                 "auth.providers.saml.cert", "auth.providers.saml.privateKey",
                 "auth.providers.microsoft.staging.clientSecret"):
        assert path in declared


def test_okta_sign_in(make_auth_portal, idp):
    port = free_port()
    idp.register_client(CLIENT_ID, CLIENT_SECRET, f"http://127.0.0.1:{port}/api/auth/okta/handler/frame")
    idp.user = {**idp.user, "email": "alice@corp.example.com"}  # matched by the okta.com/email annotation
    portal = make_auth_portal({"okta": {"development": {
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "audience": idp.issuer,
        "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityAnnotation"}]},
    }}}, port=port)
    done = oidc_sign_in(portal.browser(), portal, "okta")
    assert done.status_code == 200, done.text
    assert frame_message(done)["response"]["backstageIdentity"]["identity"]["userEntityRef"] == "user:default/alice"


def test_required_mfa_fails_closed_for_providers_that_cannot_show_it(make_identity):
    from tests.identity.conftest import settings

    class _Strict:
        def __init__(self) -> None:
            self.settings = settings(environment="production", require_mfa=True)

    github = {"github": {"production": _base()}}
    with pytest.raises(ConfigError, match="cannot show a second factor"):
        load_providers(github, environment="production", identity=_Strict(), outbound=Outbound())
    with pytest.raises(ConfigError, match="cannot show a second factor"):
        _load(make_identity, {"oauth2Proxy": {"trustedProxies": ["10.0.0.1"], "requireMfa": True}})
    trusted = {"github": {"production": _base(dangerouslyTrustUpstreamMfa=True)}}
    assert "github" in load_providers(trusted, environment="production", identity=_Strict(), outbound=Outbound())
