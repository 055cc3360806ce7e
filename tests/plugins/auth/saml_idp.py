"""A real SAML 2.0 identity provider for the tests: pysaml2's IdP side, served on 127.0.0.1.

`GET /sso` takes the portal's AuthnRequest (HTTP-Redirect binding), and answers with the
auto-posting form a browser would get, holding a signed response made by
`saml2.server.Server.create_authn_response`. The tests read the form and post it to the
portal, as the browser would. `idp.response_options` changes how the next response is made
(unsigned, wrong audience, other recipient, ...), and `idp.rewrite` edits its XML afterwards
(signature wrapping, entity declarations).
"""

from __future__ import annotations

import base64
import datetime
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.plugins.auth.servers import Served

PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
REFEDS_MFA = "https://refeds.org/profile/mfa"
SHA1 = SIG_RSA_SHA1


def self_signed(directory: Path, name: str) -> tuple[Path, Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file.write_text(cert_pem, encoding="utf-8")
    return key_file, cert_file, cert_pem


class SamlIdp:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key_file, self.cert_file, self.cert_pem = self_signed(directory, "idp")
        self.served = Served(Starlette(routes=[Route("/sso", self.sso)]))
        self.entity_id = f"{self.served.url}/metadata"
        self.sso_url = f"{self.served.url}/sso"
        self.server: Server | None = None
        self.user = {"email": "alice@example.com", "displayName": "Alice Example"}
        self.authn_class = PASSWORD
        self.response_options: dict[str, Any] = {}
        self.rewrite: Callable[[str], str] | None = None
        self.lifetime: dict[str, int] = {"minutes": 15}
        self.last_response: str | None = None

    def stop(self) -> None:
        self.served.stop()

    def trust_sp(self, sp_metadata: str) -> None:
        """Load the portal's SP metadata (what an IdP admin does when registering the app)."""
        config = IdPConfig()
        config.load({
            "entityid": self.entity_id,
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)]},
                "policy": {"default": {"lifetime": self.lifetime, "name_form": NAME_FORMAT_URI}},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "sign_response": False,
                "sign_assertion": True,
                "want_authn_requests_signed": False,
            }},
            "key_file": str(self.key_file),
            "cert_file": str(self.cert_file),
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"inline": [sp_metadata]},
            "accepted_time_diff": 60,
        })
        self.server = Server(config=config)

    def make_response(self, saml_request: str, relay_state: str) -> str:
        """The base64 SAMLResponse for an AuthnRequest, made by pysaml2."""
        assert self.server is not None, "call trust_sp first"
        request = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        args = self.server.response_args(request.message, [BINDING_HTTP_POST])
        args.pop("binding", None)
        options = {"sign_assertion": True, "sign_response": False, "sign_alg": SIG_RSA_SHA256,
                   "digest_alg": DIGEST_SHA256, **self.response_options}
        for key in ("destination", "sp_entity_id", "in_response_to"):
            if key in options:
                args[key] = options.pop(key)
        email = self.user["email"]
        xml = self.server.create_authn_response(
            identity={"email": [email], "displayName": [self.user["displayName"]]},
            userid=email,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
            authn={"class_ref": self.authn_class, "authn_auth": self.entity_id},
            **args,
            **options,
        )
        text = str(xml)
        if self.rewrite is not None:
            text = self.rewrite(text)
        self.last_response = text
        return base64.b64encode(text.encode()).decode()

    async def sso(self, request: Request) -> Response:
        saml_request = request.query_params["SAMLRequest"]
        relay = request.query_params.get("RelayState", "")
        assert self.server is not None
        parsed = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        acs = parsed.message.assertion_consumer_service_url
        response = self.make_response(saml_request, relay)
        page = (
            f'<html><body onload="document.forms[0].submit()"><form method="post" action="{html.escape(acs)}">'
            f'<input type="hidden" name="SAMLResponse" value="{response}"/>'
            f'<input type="hidden" name="RelayState" value="{html.escape(relay)}"/></form></body></html>'
        )
        return HTMLResponse(page)


def read_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the IdP's auto-posting form."""
    action = html.unescape(re.search(r'action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    fields = {m.group(1): html.unescape(m.group(2)) for m in re.finditer(r'name="([^"]+)" value="([^"]*)"', page)}
    return action, fields
