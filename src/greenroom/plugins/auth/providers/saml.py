"""SAML 2.0 service provider (SP-initiated, HTTP-Redirect request, HTTP-POST response).

    auth:
      providers:
        saml:                                   # Backstage writes it without an environment level
          entryPoint: https://idp.example.com/sso              # the IdP's SSO URL
          issuer: https://portal.example.com/api/auth/saml    # our SP entity id (the audience)
          idpIssuer: https://idp.example.com/metadata          # the IdP's entity id (required here)
          cert: ${SAML_IDP_CERT}                               # the IdP's signing certificate
          callbackUrl: https://portal.example.com/api/auth/saml/handler/frame   # default
          wantAuthnResponseSigned: false      # also require the Response element to be signed
          privateKey: ${SAML_SP_KEY}          # sign AuthnRequests (optional) ...
          signingCert: ${SAML_SP_CERT}        # ... with this certificate in our metadata
          requireMfa: true
          acceptedAuthnContexts: [https://refeds.org/profile/mfa]
          signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }

Verification is python3-saml's strict mode (xmlsec): the assertion must be signed by the
configured certificate (`wantAssertionsSigned` cannot be switched off) and signature-wrapped
documents are refused; `Audience` must be our entity id; `Destination`/`Recipient` our ACS
URL; `NotBefore`/`NotOnOrAfter` honoured; `InResponseTo` must be the request this browser
started (kept server-side with the attempt, found through `RelayState`). DTDs and entity
declarations are refused before parsing. Each assertion id is accepted once (replay cache).
SP metadata is served at `/api/auth/saml/metadata`.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from starlette.requests import Request
from starlette.responses import Response

from greenroom.errors import ConfigError
from greenroom.identity.outbound import Outbound
from greenroom.identity.service import IdentityService
from greenroom.plugins.auth.providers.base import (
    ProviderIdentity,
    ProviderSettings,
    RedirectProvider,
    SignInError,
    StartContext,
)

MAX_RESPONSE_BYTES = 256 * 1024
DEFAULT_MFA_CONTEXTS = (
    "https://refeds.org/profile/mfa",
    "http://schemas.microsoft.com/claims/multipleauthn",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",
)
EMAIL_ATTRIBUTES = ("email", "mail", "emailAddress", "urn:oid:0.9.2342.19200300.100.1.3",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress")
NAME_ATTRIBUTES = ("displayName", "cn", "name", "urn:oid:2.16.840.1.113730.3.1.241",
                   "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def _pem_body(value: str) -> str:
    return "".join(line for line in value.strip().splitlines() if "-----" not in line).replace(" ", "")


class SamlProvider(RedirectProvider):
    cross_site_callback = True
    shows_mfa = True
    resolvers = {
        "emailMatchingUserEntityProfileEmail": None,
        "emailLocalPartMatchingUserEntityName": None,
        "usernameMatchingUserEntityName": None,
    }

    def __init__(self, settings: ProviderSettings, identity: IdentityService, outbound: Outbound) -> None:
        super().__init__(settings, identity, outbound)
        path = settings.path
        self.entry_point = settings.url("entryPoint", production=self.production, required=True) or ""
        self.sp_entity_id = settings.text("issuer", required=True) or ""
        audience = settings.text("audience")
        if audience is not None and audience != self.sp_entity_id:
            raise ConfigError("the audience is the SP entity id ('issuer'); they must be equal",
                              path=f"{path}.audience")
        self.idp_entity_id = settings.text("idpIssuer", required=True) or ""
        cert = settings.text("cert", required=True) or ""
        if not settings.flag("wantAssertionsSigned", True):
            raise ConfigError("unsigned SAML assertions are never accepted", path=f"{path}.wantAssertionsSigned")
        self.want_response_signed = settings.flag("wantAuthnResponseSigned", False)
        self.private_key = settings.text("privateKey")
        self.signing_cert = settings.text("signingCert")
        if self.private_key and not self.signing_cert:
            raise ConfigError("signing AuthnRequests needs signingCert too", path=f"{path}.signingCert")
        self.mfa_contexts = tuple(settings.texts("acceptedAuthnContexts")) or DEFAULT_MFA_CONTEXTS
        self._settings: dict[str, Any] = {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": self.sp_entity_id,
                "assertionConsumerService": {
                    "url": self.callback_url(),
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                },
                "NameIDFormat": settings.text("identifierFormat")
                or "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
                "x509cert": _pem_body(self.signing_cert) if self.signing_cert else "",
                "privateKey": _pem_body(self.private_key) if self.private_key else "",
            },
            "idp": {
                "entityId": self.idp_entity_id,
                "singleSignOnService": {
                    "url": self.entry_point,
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                },
                "x509cert": _pem_body(cert),
            },
            "security": {
                "authnRequestsSigned": bool(self.private_key),
                "wantAssertionsSigned": True,
                "wantMessagesSigned": self.want_response_signed,
                "wantNameId": True,
                "wantAttributeStatement": False,
                "requestedAuthnContext": False,
                "rejectDeprecatedAlgorithm": True,
                "rejectUnsolicitedResponsesWithInResponseTo": True,
                "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
            },
        }
        from onelogin.saml2.settings import OneLogin_Saml2_Settings  # type: ignore[import-untyped]

        try:
            OneLogin_Saml2_Settings(self._settings, sp_validation_only=False)
        except Exception as exc:
            raise ConfigError(f"invalid SAML settings: {exc}", path=path) from exc

    def _request_data(self, post: Mapping[str, str] | None = None) -> dict[str, Any]:
        """python3-saml checks Destination against "the current URL": ours is the configured ACS URL,
        never what the Host header claims."""
        parts = urlsplit(self.callback_url())
        https = parts.scheme == "https"
        return {
            "https": "on" if https else "off",
            "http_host": parts.hostname or "",
            "server_port": str(parts.port or (443 if https else 80)),
            "script_name": parts.path,
            "get_data": {},
            "post_data": dict(post or {}),
        }

    def start(self, ctx: StartContext) -> str:
        from onelogin.saml2.auth import OneLogin_Saml2_Auth  # type: ignore[import-untyped]

        auth = OneLogin_Saml2_Auth(self._request_data(), self._settings)
        url = str(auth.login(return_to=ctx.state))
        ctx.attempt["requestId"] = auth.get_last_request_id()
        return url

    def relay_state(self, params: Mapping[str, str]) -> str | None:
        return params.get("RelayState")

    def handle(
        self, request: Request, params: Mapping[str, str], attempt: dict[str, Any]  # noqa: ARG002
    ) -> ProviderIdentity:
        from onelogin.saml2.auth import OneLogin_Saml2_Auth

        raw = params.get("SAMLResponse")
        if not raw:
            raise SignInError("missing-response", "the identity provider's response carries no SAMLResponse")
        if len(raw) > MAX_RESPONSE_BYTES:
            raise SignInError("response-too-large", "the SAML response is too large")
        try:
            document = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise SignInError("malformed-response", "the SAML response is not base64") from exc
        self._refuse_dtd(document)
        auth = OneLogin_Saml2_Auth(self._request_data({"SAMLResponse": raw}), self._settings)
        try:
            auth.process_response(request_id=attempt.get("requestId"))
        except Exception as exc:
            raise SignInError("invalid-response", f"the SAML response was refused: {type(exc).__name__}") from exc
        errors = auth.get_errors()
        if errors or not auth.is_authenticated():
            reason = auth.get_last_error_reason() or ", ".join(errors) or "not authenticated"
            raise SignInError(_reason_code(reason), f"the SAML response was refused: {reason}")
        assertion_id = auth.get_last_assertion_id()
        until = auth.get_last_assertion_not_on_or_after() or int(time.time() + 3600)
        if not assertion_id or not self.identity.replay.first_use(f"saml-assertion:{self.id}", str(assertion_id),
                                                                   until=float(until)):
            raise SignInError("replayed-assertion", "this SAML assertion was already used")
        name_id = auth.get_nameid()
        if not name_id:
            raise SignInError("missing-name-id", "the SAML assertion has no NameID")
        if self.settings.require_mfa or self.identity.settings.require_mfa:
            contexts = [str(c) for c in auth.get_last_authn_contexts() or []]
            if not set(contexts) & set(self.mfa_contexts):
                raise SignInError(
                    "mfa-required",
                    "Sign-in refused: this portal requires multi-factor authentication and the SAML assertion's "
                    f"AuthnContextClassRef ({', '.join(contexts) or 'none'}) is not one of "
                    f"{', '.join(self.mfa_contexts)}",
                    status=403, identity=f"{self.id}:{name_id}",
                )
        attributes = auth.get_attributes()
        email = _first(attributes, EMAIL_ATTRIBUTES)
        if email is None and (auth.get_nameid_format() == EMAIL_FORMAT or "@" in name_id):
            email = name_id
        return ProviderIdentity(
            provider=self.id,
            subject=str(name_id),
            email=email,
            display_name=_first(attributes, NAME_ATTRIBUTES),
            username=_first(attributes, ("uid", "username", "urn:oid:0.9.2342.19200300.100.1.1")) or str(name_id),
            claims={"nameId": name_id, "attributes": {k: list(v) for k, v in attributes.items()}},
        )

    @staticmethod
    def _refuse_dtd(document: bytes) -> None:
        try:
            fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        except DefusedXmlException as exc:
            raise SignInError("xml-dtd-forbidden", "the SAML response declares a DTD or entities, which are never "
                              "accepted") from exc
        except Exception as exc:
            raise SignInError("malformed-response", "the SAML response is not well-formed XML") from exc

    def metadata(self) -> Response:
        from onelogin.saml2.settings import OneLogin_Saml2_Settings

        saml_settings = OneLogin_Saml2_Settings(self._settings, sp_validation_only=True)
        xml = saml_settings.get_sp_metadata()
        return Response(xml, media_type="application/samlmetadata+xml")


def _first(attributes: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        values = attributes.get(name)
        if isinstance(values, list) and values and isinstance(values[0], str) and values[0]:
            return values[0]
    return None


def _reason_code(reason: str) -> str:
    text = reason.lower()
    for needle, code in (
        ("invalid signed element", "signature-wrapping"),
        ("must contain 1 assertion", "signature-wrapping"),
        ("audience", "wrong-audience"),
        ("destination", "wrong-recipient"),
        ("received at", "wrong-recipient"),
        ("recipient", "wrong-recipient"),
        ("expired", "expired-conditions"),
        ("notonorafter", "expired-conditions"),
        ("no longer valid", "expired-conditions"),
        ("not yet valid", "conditions-not-yet-valid"),
        ("notbefore", "conditions-not-yet-valid"),
        ("signature", "bad-signature"),
        ("signed", "unsigned-assertion"),
        ("inresponseto", "unsolicited-response"),
        ("issuer", "wrong-issuer"),
        ("reference", "bad-signature"),
        ("wrap", "signature-wrapping"),
        ("multiple", "signature-wrapping"),
        ("duplicated", "signature-wrapping"),
    ):
        if needle in text:
            return code
    return "invalid-response"
