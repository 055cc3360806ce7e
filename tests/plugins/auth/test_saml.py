"""SAML 2.0 sign-in against pysaml2's IdP, and the attacks on it, each refused."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import saml2.assertion

from tests.plugins.auth.browser import Browser, frame_message
from tests.plugins.auth.conftest import PortalHandle
from tests.plugins.auth.saml_idp import REFEDS_MFA, SHA1, SamlIdp, read_form


@pytest.fixture
def saml_idp(tmp_path: Path) -> Iterator[SamlIdp]:
    idp = SamlIdp(tmp_path)
    yield idp
    idp.stop()


@pytest.fixture
def saml_portal(make_auth_portal: Callable[..., PortalHandle], saml_idp: SamlIdp) -> Callable[..., PortalHandle]:
    def build(**provider_extra: Any) -> PortalHandle:
        from tests.conftest import free_port

        port = free_port()
        provider = {
            "entryPoint": saml_idp.sso_url,
            "issuer": f"http://127.0.0.1:{port}/api/auth/saml",
            "idpIssuer": saml_idp.entity_id,
            "cert": saml_idp.cert_pem,
            "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]},
            **provider_extra,
        }
        portal = make_auth_portal({"saml": provider}, port=port)
        metadata = portal.api("/api/auth/saml/metadata")
        assert metadata.status_code == 200
        assert "EntityDescriptor" in metadata.text
        saml_idp.trust_sp(metadata.text)
        return portal

    return build


def saml_sign_in(
    browser: Browser, portal: PortalHandle, *, before_post: Callable[[dict[str, str]], dict[str, str]] | None = None
) -> Any:
    started = browser.get(f"{portal.url}/api/auth/saml/start")
    assert started.status_code == 302, started.text
    at_idp = browser.get(started.headers["location"])
    assert at_idp.status_code == 200, at_idp.text
    action, fields = read_form(at_idp.text)
    assert action == f"{portal.url}/api/auth/saml/handler/frame"
    if before_post is not None:
        fields = before_post(fields)
    return browser.post(action, data=fields)


def _refused(response: Any, reason_text: str, status: int = 401) -> None:
    assert response.status_code == status, response.text
    message = frame_message(response)
    assert "error" in message, message
    assert reason_text.lower() in message["error"]["message"].lower(), message
    assert not any("greenroom-session=" in c and "Max-Age=0" not in c for c in response.headers.get_list("set-cookie"))


def _xml(fields: dict[str, str]) -> str:
    return base64.b64decode(fields["SAMLResponse"]).decode()


def _with_xml(fields: dict[str, str], xml: str) -> dict[str, str]:
    return {**fields, "SAMLResponse": base64.b64encode(xml.encode()).decode()}


def test_sign_in_with_a_signed_assertion(saml_portal, saml_idp):
    portal = saml_portal()
    browser = portal.browser()
    started = browser.get(f"{portal.url}/api/auth/saml/start")
    cookie = browser.cookie("saml-nonce")
    assert cookie is not None
    assert cookie.attributes["samesite"] == "none"
    assert "secure" in cookie.attributes
    assert started.headers["location"].startswith(f"{saml_idp.sso_url}?SAMLRequest=")
    at_idp = browser.get(started.headers["location"])
    action, fields = read_form(at_idp.text)
    assert "<ds:Signature" in _xml(fields) or "Signature" in _xml(fields)
    done = browser.post(action, data=fields)
    assert done.status_code == 200, done.text
    identity = frame_message(done)["response"]["backstageIdentity"]
    assert identity["identity"]["userEntityRef"] == "user:default/alice"
    assert identity["identity"]["ownershipEntityRefs"] == ["user:default/alice", "group:default/team-a"]
    assert browser.cookie("__Host-greenroom-session") is not None
    assert portal.api("/api/auth/v1/userinfo", token=identity["token"]).status_code == 200


def test_unsigned_assertion_is_refused(saml_portal, saml_idp):
    portal = saml_portal()
    saml_idp.response_options = {"sign_assertion": False, "sign_response": False}
    _refused(saml_sign_in(portal.browser(), portal), "signed")


def test_signed_response_with_unsigned_assertion_is_refused(saml_portal, saml_idp):
    portal = saml_portal()
    saml_idp.response_options = {"sign_assertion": False, "sign_response": True}
    _refused(saml_sign_in(portal.browser(), portal), "signed")


def test_sha1_signature_is_refused(saml_portal, saml_idp):
    from saml2.xmldsig import DIGEST_SHA1

    portal = saml_portal()
    saml_idp.response_options = {"sign_alg": SHA1, "digest_alg": DIGEST_SHA1}
    _refused(saml_sign_in(portal.browser(), portal), "deprecated")


def test_tampered_signed_assertion_is_refused(saml_portal, saml_idp):
    """The signed assertion's NameID edited after signing (alice -> bob)."""
    portal = saml_portal()
    saml_idp.rewrite = lambda xml: xml.replace("alice@example.com", "bob@example.com")
    _refused(saml_sign_in(portal.browser(), portal), "signature validation failed")


def _assertion(xml: str) -> str:
    match = re.search(r"<(\w+:)?Assertion\b.*?</(\w+:)?Assertion>", xml, re.S)
    assert match
    return match.group(0)


def test_signature_wrapping_with_a_second_assertion_is_refused(saml_portal, saml_idp):
    """XSW: an unsigned assertion for carol put before the genuinely signed one for alice."""
    portal = saml_portal()

    def wrap(xml: str) -> str:
        signed = _assertion(xml)
        evil = re.sub(r"<ds:Signature.*?</ds:Signature>", "", signed, flags=re.S)
        evil = evil.replace("alice@example.com", "carol@example.com").replace('ID="', 'ID="evil', 1)
        return xml.replace(signed, evil + signed)

    saml_idp.rewrite = wrap
    _refused(saml_sign_in(portal.browser(), portal), "must contain 1 assertion")


def test_signature_wrapping_in_extensions_is_refused(saml_portal, saml_idp):
    """XSW: the signed assertion hidden in samlp:Extensions, an unsigned forged one in its place."""
    portal = saml_portal()

    def wrap(xml: str) -> str:
        signed = _assertion(xml)
        evil = re.sub(r"<ds:Signature.*?</ds:Signature>", "", signed, flags=re.S)
        evil = evil.replace("alice@example.com", "carol@example.com")
        prefix = re.search(r"<(\w+):Response", xml)
        ns = prefix.group(1) if prefix else "samlp"
        hidden = f"<{ns}:Extensions>{signed}</{ns}:Extensions>"
        return xml.replace(signed, hidden + evil)

    saml_idp.rewrite = wrap
    _refused(saml_sign_in(portal.browser(), portal), "must contain 1 assertion")


def test_signature_referencing_another_element_is_refused(saml_portal, saml_idp):
    """XSW: one assertion whose signature's Reference no longer points at it."""
    portal = saml_portal()

    def repoint(xml: str) -> str:
        signed = _assertion(xml)
        moved = re.sub(r'(Assertion\b[^>]*?\bID=")([^"]+)"', r'\1evil-\2"', signed, count=1)
        return xml.replace(signed, moved.replace("alice@example.com", "carol@example.com"))

    saml_idp.rewrite = repoint
    _refused(saml_sign_in(portal.browser(), portal), "")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] in ("bad-signature", "signature-wrapping")


def test_replayed_response_is_refused(saml_portal, saml_idp):
    portal = saml_portal()
    browser = portal.browser()
    captured: dict[str, str] = {}

    def keep(fields: dict[str, str]) -> dict[str, str]:
        captured.update(fields)
        return fields

    cookie_before: list[str] = []
    started = browser.get(f"{portal.url}/api/auth/saml/start")
    cookie_before.append(browser.cookie("saml-nonce").value)  # type: ignore[union-attr]
    action, fields = read_form(browser.get(started.headers["location"]).text)
    keep(fields)
    assert browser.post(action, data=fields).status_code == 200
    replay = browser.post(action, data=captured, headers={"Cookie": f"saml-nonce={cookie_before[0]}"})
    _refused(replay, "already used")


def test_replayed_assertion_is_refused(saml_portal, saml_idp, monkeypatch):
    """The same assertion id twice, even in a response to a new request (replay cache)."""
    portal = saml_portal()
    original = saml2.assertion.assertion_factory

    def fixed_id(**kwargs: Any) -> Any:
        made = original(**kwargs)
        made.id = "_fixed-assertion-id-0123456789"
        return made

    monkeypatch.setattr(saml2.assertion, "assertion_factory", fixed_id)
    assert saml_sign_in(portal.browser(), portal).status_code == 200
    _refused(saml_sign_in(portal.browser(), portal), "already used")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "replayed-assertion"


def test_wrong_audience_is_refused(saml_portal, saml_idp):
    portal = saml_portal()
    saml_idp.response_options = {"sp_entity_id": "https://another-sp.example/saml"}
    _refused(saml_sign_in(portal.browser(), portal), "audience")


def test_wrong_recipient_is_refused(saml_portal, saml_idp):
    portal = saml_portal()
    saml_idp.response_options = {"destination": "https://another-sp.example/acs"}
    _refused(saml_sign_in(portal.browser(), portal), "instead of https://another-sp.example/acs")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "wrong-recipient"


def test_unsolicited_response_for_another_request_is_refused(saml_portal, saml_idp):
    portal = saml_portal()
    saml_idp.response_options = {"in_response_to": "_some-other-request"}
    _refused(saml_sign_in(portal.browser(), portal), "does not match the ID of the AuthNRequest")


def test_expired_conditions_are_refused(saml_portal, saml_idp):
    portal = saml_portal()
    metadata = portal.api("/api/auth/saml/metadata").text
    saml_idp.lifetime = {"minutes": -30}
    saml_idp.trust_sp(metadata)
    _refused(saml_sign_in(portal.browser(), portal), "expired")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "expired-conditions"


def test_xml_entity_expansion_is_refused(saml_portal, saml_idp):
    portal = saml_portal()
    bomb = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>')

    def inject(fields: dict[str, str]) -> dict[str, str]:
        xml = re.sub(r"^<\?xml[^>]*\?>", "", _xml(fields)).replace("alice@example.com", "&d;")
        return _with_xml(fields, bomb + xml)

    _refused(saml_sign_in(portal.browser(), portal, before_post=inject), "DTD")
    assert portal.events("auth-sign-in", "failed")[-1].meta["reason"] == "xml-dtd-forbidden"


def test_external_entity_is_refused(saml_portal, saml_idp):
    portal = saml_portal()

    def inject(fields: dict[str, str]) -> dict[str, str]:
        xml = re.sub(r"^<\?xml[^>]*\?>", "", _xml(fields)).replace("alice@example.com", "&x;")
        return _with_xml(fields, '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + xml)

    _refused(saml_sign_in(portal.browser(), portal, before_post=inject), "DTD")


def test_missing_relay_state_is_refused(saml_portal, saml_idp):
    portal = saml_portal()
    _refused(saml_sign_in(portal.browser(), portal, before_post=lambda f: {**f, "RelayState": ""}), "no state")


def test_missing_mfa_authn_context_is_refused_when_required(saml_portal, saml_idp):
    portal = saml_portal(requireMfa=True)
    _refused(saml_sign_in(portal.browser(), portal), "multi-factor", status=403)
    saml_idp.authn_class = REFEDS_MFA
    assert saml_sign_in(portal.browser(), portal).status_code == 200


def test_unsigned_assertions_cannot_be_allowed(make_auth_portal, saml_idp):
    from greenroom.errors import ConfigError

    with pytest.raises(ConfigError, match="unsigned SAML assertions are never accepted"):
        make_auth_portal({"saml": {"entryPoint": saml_idp.sso_url, "issuer": "sp", "idpIssuer": saml_idp.entity_id,
                                   "cert": saml_idp.cert_pem, "wantAssertionsSigned": False}})
