"""Local stand-ins for HashiCorp Vault and AWS Secrets Manager, speaking their documented APIs.

Both listen on 127.0.0.1 only, answer the way the real services do for the calls greenroom
makes (Vault KV v1/v2 reads and AppRole login; Secrets Manager `GetSecretValue` over the
`application/x-amz-json-1.1` protocol), and record every request so tests can check what
the client sent.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: Any  # set per server class

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        self.fake.requests.append(seen)
        status, payload, headers = self.fake.respond(seen)
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _handle


@contextmanager
def _serve(fake: Any) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- Vault --------------------------------------------------------------------------------


@dataclass
class FakeVault:
    """KV v2 under `kv2_mounts`, KV v1 under `kv1_mounts`, tokens and AppRole credentials."""

    tokens: set[str] = field(default_factory=set)
    approles: dict[tuple[str, str], str] = field(default_factory=dict)  # (role_id, secret_id) -> token
    kv2: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {"secret": {}})
    kv1: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: set[tuple[str, str]] = field(default_factory=set)
    denied: set[tuple[str, str]] = field(default_factory=set)
    requests: list[Seen] = field(default_factory=list)
    url: str = ""

    @staticmethod
    def _errors(status: int, *errors: str) -> tuple[int, Any, dict[str, str]]:
        return status, {"errors": list(errors)}, {"Content-Type": "application/json"}

    def respond(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        path = seen.path.split("?", 1)[0]
        if not path.startswith("/v1/"):
            return self._errors(404)
        rest = path[len("/v1/") :]
        if seen.method == "POST" and rest == "auth/approle/login":
            return self._approle(seen)
        if seen.headers.get("x-vault-token") not in self.tokens:
            return self._errors(403, "permission denied")
        if seen.method != "GET":
            return self._errors(405)
        mount, _, sub = rest.partition("/")
        if mount in self.kv2 and sub.startswith("data/"):
            return self._kv2(mount, sub[len("data/") :])
        if mount in self.kv1:
            return self._kv1(mount, sub)
        return self._errors(403, "permission denied")  # Vault's answer for a path no policy covers

    def _approle(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        body = seen.json() or {}
        token = self.approles.get((body.get("role_id"), body.get("secret_id")))
        if token is None:
            return self._errors(400, "invalid role or secret ID")
        self.tokens.add(token)
        auth = {
            "client_token": token,
            "accessor": uuid.uuid4().hex,
            "policies": ["default", "greenroom"],
            "token_policies": ["default", "greenroom"],
            "metadata": {"role_name": "greenroom"},
            "lease_duration": 1200,
            "renewable": True,
        }
        return 200, {"request_id": str(uuid.uuid4()), "auth": auth, "data": None}, {"Content-Type": "application/json"}

    def _kv2(self, mount: str, name: str) -> tuple[int, Any, dict[str, str]]:
        if (mount, name) in self.denied:
            return self._errors(403, "1 error occurred:\n\t* permission denied\n\n")
        metadata = {"created_time": "2024-05-01T10:00:00Z", "custom_metadata": None, "destroyed": False, "version": 3}
        if (mount, name) in self.deleted:
            body = {"data": {"data": None, "metadata": {**metadata, "deletion_time": "2024-05-02T10:00:00Z"}}}
            return 404, body, {"Content-Type": "application/json"}
        data = self.kv2[mount].get(name)
        if data is None:
            return self._errors(404)
        body = {
            "request_id": str(uuid.uuid4()),
            "lease_id": "",
            "renewable": False,
            "lease_duration": 0,
            "data": {"data": data, "metadata": {**metadata, "deletion_time": ""}},
            "wrap_info": None,
            "warnings": None,
            "auth": None,
        }
        return 200, body, {"Content-Type": "application/json"}

    def _kv1(self, mount: str, name: str) -> tuple[int, Any, dict[str, str]]:
        if (mount, name) in self.denied:
            return self._errors(403, "permission denied")
        data = self.kv1[mount].get(name)
        if data is None:
            return self._errors(404)
        body = {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False, "lease_duration": 2764800,
                "data": data, "wrap_info": None, "warnings": None, "auth": None}
        return 200, body, {"Content-Type": "application/json"}

    def reads(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "GET"]


@contextmanager
def fake_vault(**kwargs: Any) -> Iterator[FakeVault]:
    vault = FakeVault(**kwargs)
    with _serve(vault) as url:
        vault.url = url
        yield vault


# -- AWS Secrets Manager ------------------------------------------------------------------


@dataclass
class FakeSecretsManager:
    """`GetSecretValue` for `strings` (SecretString) and `binaries` (SecretBinary only)."""

    strings: dict[str, str] = field(default_factory=dict)
    binaries: dict[str, bytes] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    region: str = "eu-west-1"
    requests: list[Seen] = field(default_factory=list)
    url: str = ""

    def _error(self, kind: str, message: str) -> tuple[int, Any, dict[str, str]]:
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
        return 400, {"__type": kind, "Message": message}, headers

    def respond(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        if seen.method != "POST" or seen.path != "/":
            return self._error("UnknownOperationException", "")
        if not seen.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential="):
            return self._error("MissingAuthenticationTokenException", "Missing Authentication Token")
        if seen.headers.get("x-amz-target") != "secretsmanager.GetSecretValue":
            return self._error("UnknownOperationException", "")
        secret_id = (seen.json() or {}).get("SecretId")
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
        base = {
            "ARN": f"arn:aws:secretsmanager:{self.region}:123456789012:secret:{secret_id}-AbCdEf",
            "Name": secret_id,
            "VersionId": str(uuid.uuid4()),
            "VersionStages": ["AWSCURRENT"],
            "CreatedDate": 1714557600.123,
        }
        if secret_id in self.denied:
            return self._error(
                "AccessDeniedException",
                f"User: arn:aws:iam::123456789012:user/greenroom is not authorized to perform: "
                f"secretsmanager:GetSecretValue on resource: {secret_id}",
            )
        if secret_id in self.strings:
            return 200, {**base, "SecretString": self.strings[secret_id]}, headers
        if secret_id in self.binaries:
            return 200, {**base, "SecretBinary": base64.b64encode(self.binaries[secret_id]).decode()}, headers
        return self._error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")


@contextmanager
def fake_secrets_manager(**kwargs: Any) -> Iterator[FakeSecretsManager]:
    manager = FakeSecretsManager(**kwargs)
    with _serve(manager) as url:
        manager.url = url
        yield manager
