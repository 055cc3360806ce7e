"""`$vault` and `$awsSecret` resolved for real, through hvac and boto3, against local fakes of
Vault's HTTP API and Secrets Manager's JSON protocol (see `fake_stores.py`)."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from greenroom.config import Config, SecretRef, load_app_config, load_config
from greenroom.config.secrets import (
    AwsSecretsManagerResolver,
    StoreRouter,
    VaultResolver,
    resolver_from_config,
)
from greenroom.errors import ConfigError
from greenroom.observability.logging import configure_logging
from tests.config.fake_stores import FakeSecretsManager, FakeVault, fake_secrets_manager, fake_vault

Write = Callable[..., Path]

VAULT_TOKEN = "hvs.CAESIJlU-test-root-token-0123"
DB_PASSWORD = "db-password-from-vault-7f3a9c"
AWS_KEY_ID = "AKIDGREENROOMTEST01"


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy, no ambient Vault or AWS credentials: only what each test configures."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "VAULT_TOKEN", "VAULT_ADDR", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                 "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-access-key")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    with fake_vault(tokens={VAULT_TOKEN}) as server:
        server.kv2["secret"]["greenroom/db"] = {"password": DB_PASSWORD, "user": "portal"}
        server.kv2["secret"]["greenroom/single"] = {"value": "only-value-123"}
        yield server


@pytest.fixture
def secrets_manager() -> Iterator[FakeSecretsManager]:
    with fake_secrets_manager() as server:
        server.strings["prod/greenroom/db"] = json.dumps({"username": "portal", "password": "aws-db-password-55"})
        server.strings["prod/greenroom/plain"] = "plain-aws-secret-string"
        yield server


def vault_config(vault: FakeVault, **extra: object) -> str:
    settings = {"address": vault.url, **extra}
    return "secrets:\n  vault: " + json.dumps(settings) + "\n"


def aws_config(manager: FakeSecretsManager, **extra: object) -> str:
    settings = {"region": manager.region, "endpointUrl": manager.url, **extra}
    return "secrets:\n  aws: " + json.dumps(settings) + "\n"


def fail(message: str) -> None:
    raise RuntimeError(message)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- Vault, KV v2 ------------------------------------------------------------------------


def test_vault_kv2_secret_is_read_with_the_configured_token(write: Write, vault: FakeVault) -> None:
    path = write(
        "app.yaml",
        vault_config(vault, token=VAULT_TOKEN) + "db:\n  password: {$vault: {path: greenroom/db, key: password}}\n",
    )
    config = load_app_config([path], env={})
    assert config.get("db.password") == DB_PASSWORD
    assert config.is_secret("db.password")
    assert "db.password" in config.reference_paths
    (read,) = vault.reads()
    assert read.path == "/v1/secret/data/greenroom/db"
    assert read.headers["x-vault-token"] == VAULT_TOKEN


def test_vault_single_key_secret_needs_no_key(write: Write, vault: FakeVault) -> None:
    path = write("app.yaml", vault_config(vault, token=VAULT_TOKEN) + "v: {$vault: {path: greenroom/single}}\n")
    assert load_app_config([path], env={}).get("v") == "only-value-123"


def test_vault_secret_with_several_keys_needs_a_key(write: Write, vault: FakeVault) -> None:
    path = write("app.yaml", vault_config(vault, token=VAULT_TOKEN) + "v: {$vault: {path: greenroom/db}}\n")
    with pytest.raises(ConfigError, match="v: secret vault:greenroom/db holds several keys; name one with 'key'"):
        load_app_config([path], env={})


def test_vault_missing_key_in_secret(write: Write, vault: FakeVault) -> None:
    path = write("app.yaml", vault_config(vault, token=VAULT_TOKEN) + "v: {$vault: {path: greenroom/db, key: pw}}\n")
    with pytest.raises(ConfigError, match="v: secret vault:greenroom/db#pw has no key 'pw'"):
        load_app_config([path], env={})


def test_vault_mount_from_reference_and_from_settings(write: Write, vault: FakeVault) -> None:
    vault.kv2["team-kv"] = {"app/api": {"token": "team-api-token-1"}}
    by_ref = write(
        "a.yaml",
        vault_config(vault, token=VAULT_TOKEN) + "t: {$vault: {path: app/api, key: token, mount: team-kv}}\n",
    )
    by_settings = write(
        "b.yaml", vault_config(vault, token=VAULT_TOKEN, mount="team-kv") + "t: {$vault: {path: app/api, key: token}}\n"
    )
    assert load_app_config([by_ref], env={}).get("t") == "team-api-token-1"
    assert load_app_config([by_settings], env={}).get("t") == "team-api-token-1"
    assert [r.path for r in vault.reads()] == ["/v1/team-kv/data/app/api"] * 2


def test_vault_kv1(write: Write, vault: FakeVault) -> None:
    vault.kv1["kv"] = {"greenroom/github": {"token": "ghp_from_kv_one_123"}}
    path = write(
        "a.yaml",
        vault_config(vault, token=VAULT_TOKEN, mount="kv", kvVersion=1)
        + "t: {$vault: {path: greenroom/github, key: token}}\n",
    )
    assert load_app_config([path], env={}).get("t") == "ghp_from_kv_one_123"
    assert [r.path for r in vault.reads()] == ["/v1/kv/greenroom/github"]


def test_vault_namespace_is_sent(write: Write, vault: FakeVault) -> None:
    path = write(
        "a.yaml",
        vault_config(vault, token=VAULT_TOKEN, namespace="team-a") + "v: {$vault: {path: greenroom/single}}\n",
    )
    load_app_config([path], env={})
    assert vault.reads()[0].headers["x-vault-namespace"] == "team-a"


def test_each_vault_secret_is_read_once_per_load(write: Write, vault: FakeVault) -> None:
    path = write(
        "a.yaml",
        vault_config(vault, token=VAULT_TOKEN)
        + "db:\n  user: {$vault: {path: greenroom/db, key: user}}\n"
        + "  password: {$vault: {path: greenroom/db, key: password}}\n",
    )
    config = load_app_config([path], env={})
    assert config.get("db") == {"user": "portal", "password": DB_PASSWORD}
    assert len(vault.reads()) == 1


def test_vault_forbidden_is_a_clear_error_without_the_token(write: Write, vault: FakeVault) -> None:
    vault.denied.add(("secret", "greenroom/db"))
    path = write(
        "a.yaml", vault_config(vault, token=VAULT_TOKEN) + "db:\n  password: {$vault: {path: greenroom/db, key: x}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_app_config([path], env={})
    assert str(info.value) == "db.password: Vault refused access to secret/greenroom/db"
    assert VAULT_TOKEN not in str(info.value)


def test_vault_wrong_token_is_refused(write: Write, vault: FakeVault) -> None:
    path = write("a.yaml", vault_config(vault, token="hvs.wrong-token") + "v: {$vault: {path: greenroom/single}}\n")
    with pytest.raises(ConfigError, match="Vault refused access to secret/greenroom/single"):
        load_app_config([path], env={})


def test_vault_missing_secret(write: Write, vault: FakeVault) -> None:
    path = write("a.yaml", vault_config(vault, token=VAULT_TOKEN) + "v: {$vault: {path: greenroom/nope}}\n")
    with pytest.raises(ConfigError, match="v: Vault has no secret at secret/greenroom/nope"):
        load_app_config([path], env={})


def test_vault_deleted_secret_version_is_not_used(write: Write, vault: FakeVault) -> None:
    vault.deleted.add(("secret", "greenroom/old"))
    path = write("a.yaml", vault_config(vault, token=VAULT_TOKEN) + "v: {$vault: {path: greenroom/old}}\n")
    with pytest.raises(ConfigError, match="Vault has no secret at secret/greenroom/old"):
        load_app_config([path], env={})


def test_vault_unreachable_fails_closed(write: Write) -> None:
    path = write(
        "a.yaml",
        f"secrets:\n  vault: {{address: 'http://127.0.0.1:{closed_port()}', token: {VAULT_TOKEN}}}\n"
        "v: {$vault: {path: x}}\n",
    )
    with pytest.raises(ConfigError, match=r"v: Vault read of secret/x failed: ConnectionError") as info:
        load_app_config([path], env={})
    assert VAULT_TOKEN not in str(info.value)


# -- Vault authentication -------------------------------------------------------------------


def test_vault_approle_login_then_read(write: Write, vault: FakeVault) -> None:
    vault.approles[("role-123", "approle-secret-456")] = "hvs.issued-by-approle-789"
    path = write(
        "a.yaml",
        vault_config(vault, auth={"approle": {"roleId": "role-123", "secretId": "${APPROLE_SECRET_ID}"}})
        + "db:\n  password: {$vault: {path: greenroom/db, key: password}}\n",
    )
    config = load_app_config([path], env={"APPROLE_SECRET_ID": "approle-secret-456"})
    assert config.get("db.password") == DB_PASSWORD
    login, read = vault.requests
    assert (login.method, login.path) == ("POST", "/v1/auth/approle/login")
    assert login.json() == {"role_id": "role-123", "secret_id": "approle-secret-456"}
    assert "x-vault-token" not in login.headers
    assert read.headers["x-vault-token"] == "hvs.issued-by-approle-789"
    redacted = json.dumps(config.redacted())
    assert "approle-secret-456" not in redacted
    assert DB_PASSWORD not in redacted


def test_vault_approle_with_a_literal_secret_id_is_still_redacted(write: Write, vault: FakeVault) -> None:
    vault.approles[("role-1", "literal-secret-id-42")] = "hvs.t"
    path = write(
        "a.yaml",
        vault_config(vault, auth={"approle": {"roleId": "role-1", "secretId": "literal-secret-id-42"}})
        + "v: {$vault: {path: greenroom/single}}\n",
    )
    config = load_app_config([path], env={})
    assert "literal-secret-id-42" not in json.dumps(config.redacted())


def test_vault_approle_refused_is_a_config_error_without_the_secret_id(write: Write, vault: FakeVault) -> None:
    path = write(
        "a.yaml",
        vault_config(vault, auth={"approle": {"roleId": "role-1", "secretId": "wrong-secret-id-77"}})
        + "v: {$vault: {path: greenroom/single}}\n",
    )
    with pytest.raises(ConfigError, match=r"secrets\.vault\.auth\.approle: Vault AppRole login failed") as info:
        load_app_config([path], env={})
    assert "wrong-secret-id-77" not in str(info.value)


def test_vault_token_from_an_unset_variable_does_not_fall_back_to_ambient_credentials(
    write: Write, vault: FakeVault, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """hvac would quietly use VAULT_TOKEN or ~/.vault-token: credentials the config never named."""
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TOKEN)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".vault-token").write_text(VAULT_TOKEN)
    path = write(
        "a.yaml",
        "secrets:\n  vault:\n    address: " + vault.url + "\n    token: {$env: GREENROOM_VAULT_TOKEN}\n"
        "v: {$vault: {path: greenroom/single}}\n",
    )
    with pytest.raises(ConfigError, match=r"secrets\.vault: needs a token or auth\.approle"):
        load_app_config([path], env={})
    assert vault.requests == []


def test_vault_needs_an_address(write: Write) -> None:
    path = write("a.yaml", "secrets:\n  vault: {token: t}\nv: {$vault: {path: x}}\n")
    with pytest.raises(ConfigError, match=r"secrets\.vault\.address: needs an address"):
        load_app_config([path], env={})


# -- the end-to-end case: token from $env, database password from $vault --------------------


def test_database_password_from_vault_with_token_from_env_never_leaks(
    write: Write, vault: FakeVault, tmp_path: Path
) -> None:
    path = write(
        "app-config.production.yaml",
        f"""
        secrets:
          vault:
            address: {vault.url}
            token: {{$env: VAULT_TOKEN}}
        backend:
          database:
            client: pg
            connection:
              host: db.internal
              user: portal
              password:
                $vault: {{path: greenroom/db, key: password}}
        """,
    )
    config = load_app_config([path], env={"VAULT_TOKEN": f"  {VAULT_TOKEN}\n"})
    assert config.get("backend.database.connection.password") == DB_PASSWORD
    assert config.get("secrets.vault.token") == VAULT_TOKEN
    assert vault.reads()[0].headers["x-vault-token"] == VAULT_TOKEN

    shown = json.dumps(config.redacted())
    assert DB_PASSWORD not in shown
    assert VAULT_TOKEN not in shown
    assert json.loads(shown)["backend"]["database"]["connection"]["password"] == "[REDACTED]"

    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(level="DEBUG", redact=config.redact_text, stream=stream)
    try:
        log = logging.getLogger("greenroom.test.e2e")
        log.info("connecting with %s", DB_PASSWORD)
        log.info("vault", extra={"token": VAULT_TOKEN, "dsn": f"postgresql://portal:{DB_PASSWORD}@db/portal"})
        try:
            fail(f"authentication failed for password {DB_PASSWORD!r} token={VAULT_TOKEN}")
        except RuntimeError:
            log.exception("database error")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    output = stream.getvalue()
    assert output.count("\n") >= 3
    assert DB_PASSWORD not in output
    assert VAULT_TOKEN not in output
    assert "[REDACTED]" in output


# -- AWS Secrets Manager ----------------------------------------------------------------------


def test_aws_secret_json_key(write: Write, secrets_manager: FakeSecretsManager, aws_env: None) -> None:
    path = write(
        "a.yaml",
        aws_config(secrets_manager)
        + "backend:\n  database:\n    connection:\n"
        + "      password: {$awsSecret: {secretId: prod/greenroom/db, key: password}}\n",
    )
    config = load_app_config([path], env={})
    assert config.get("backend.database.connection.password") == "aws-db-password-55"
    assert "aws-db-password-55" not in json.dumps(config.redacted())
    (request,) = secrets_manager.requests
    assert request.method == "POST"
    assert request.path == "/"
    assert request.headers["x-amz-target"] == "secretsmanager.GetSecretValue"
    assert request.headers["content-type"] == "application/x-amz-json-1.1"
    assert request.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/")
    assert f"/{secrets_manager.region}/secretsmanager/aws4_request" in request.headers["authorization"]
    assert request.json() == {"SecretId": "prod/greenroom/db"}


def test_aws_plain_secret_string(write: Write, secrets_manager: FakeSecretsManager, aws_env: None) -> None:
    path = write("a.yaml", aws_config(secrets_manager) + "t: {$awsSecret: {secretId: prod/greenroom/plain}}\n")
    assert load_app_config([path], env={}).get("t") == "plain-aws-secret-string"


def test_aws_key_of_a_plain_string_is_an_error(
    write: Write, secrets_manager: FakeSecretsManager, aws_env: None
) -> None:
    path = write("a.yaml", aws_config(secrets_manager) + "t: {$awsSecret: {secretId: prod/greenroom/plain, key: k}}\n")
    with pytest.raises(ConfigError, match="t: secret aws:prod/greenroom/plain#k is not a JSON object") as info:
        load_app_config([path], env={})
    assert "plain-aws-secret-string" not in str(info.value)


def test_aws_json_secret_with_several_keys_needs_a_key(
    write: Write, secrets_manager: FakeSecretsManager, aws_env: None
) -> None:
    path = write("a.yaml", aws_config(secrets_manager) + "t: {$awsSecret: {secretId: prod/greenroom/db}}\n")
    # a JSON SecretString without `key` is the whole string, as stored
    assert json.loads(load_app_config([path], env={}).get("t"))["username"] == "portal"


def test_aws_resource_not_found(write: Write, secrets_manager: FakeSecretsManager, aws_env: None) -> None:
    path = write("a.yaml", aws_config(secrets_manager) + "t: {$awsSecret: {secretId: prod/missing}}\n")
    with pytest.raises(ConfigError, match="t: AWS Secrets Manager: ResourceNotFoundException for prod/missing"):
        load_app_config([path], env={})


def test_aws_access_denied(write: Write, secrets_manager: FakeSecretsManager, aws_env: None) -> None:
    secrets_manager.denied.add("prod/locked")
    path = write("a.yaml", aws_config(secrets_manager) + "t: {$awsSecret: {secretId: prod/locked}}\n")
    with pytest.raises(ConfigError, match="AWS Secrets Manager: AccessDeniedException for prod/locked"):
        load_app_config([path], env={})


def test_aws_binary_only_secret_is_refused(write: Write, secrets_manager: FakeSecretsManager, aws_env: None) -> None:
    secrets_manager.binaries["prod/cert"] = b"\x00\x01binary"
    path = write("a.yaml", aws_config(secrets_manager) + "t: {$awsSecret: {secretId: prod/cert}}\n")
    with pytest.raises(ConfigError, match="AWS secret prod/cert has no SecretString"):
        load_app_config([path], env={})


def test_aws_secret_read_once_for_several_keys(
    write: Write, secrets_manager: FakeSecretsManager, aws_env: None
) -> None:
    path = write(
        "a.yaml",
        aws_config(secrets_manager)
        + "db:\n  user: {$awsSecret: {secretId: prod/greenroom/db, key: username}}\n"
        + "  password: {$awsSecret: {secretId: prod/greenroom/db, key: password}}\n",
    )
    assert load_app_config([path], env={}).get("db") == {"user": "portal", "password": "aws-db-password-55"}
    assert len(secrets_manager.requests) == 1


def test_aws_unreachable_fails_closed(write: Write, aws_env: None) -> None:
    path = write(
        "a.yaml",
        f"secrets:\n  aws: {{region: eu-west-1, endpointUrl: 'http://127.0.0.1:{closed_port()}'}}\n"
        "t: {$awsSecret: {secretId: x}}\n",
    )
    with pytest.raises(ConfigError, match="t: AWS Secrets Manager read of x failed: EndpointConnectionError"):
        load_app_config([path], env={})


def test_aws_without_a_region_is_a_config_error(write: Write, aws_env: None) -> None:
    path = write("a.yaml", "secrets:\n  aws: {endpointUrl: 'http://127.0.0.1:9'}\nt: {$awsSecret: {secretId: x}}\n")
    with pytest.raises(ConfigError, match=r"secrets\.aws: cannot set up AWS Secrets Manager"):
        load_app_config([path], env={})


# -- routing between stores -------------------------------------------------------------------


def test_reference_to_an_unconfigured_store_names_the_missing_settings(write: Write, vault: FakeVault) -> None:
    path = write("a.yaml", vault_config(vault, token=VAULT_TOKEN) + "t: {$awsSecret: {secretId: x}}\n")
    with pytest.raises(ConfigError, match=r"t: secret aws:x needs 'secrets\.aws' to be configured"):
        load_app_config([path], env={})


def test_both_stores_in_one_config(
    write: Write, vault: FakeVault, secrets_manager: FakeSecretsManager, aws_env: None
) -> None:
    path = write(
        "a.yaml",
        "secrets:\n"
        f"  vault: {{address: '{vault.url}', token: '{VAULT_TOKEN}'}}\n"
        f"  aws: {{region: eu-west-1, endpointUrl: '{secrets_manager.url}'}}\n"
        "a: {$vault: {path: greenroom/db, key: password}}\n"
        "b: {$awsSecret: {secretId: prod/greenroom/db, key: password}}\n",
    )
    config = load_app_config([path], env={})
    assert (config.get("a"), config.get("b")) == (DB_PASSWORD, "aws-db-password-55")


def test_no_store_settings_means_no_resolver() -> None:
    assert resolver_from_config(Config({})) is None


def test_router_and_resolvers_directly(vault: FakeVault, secrets_manager: FakeSecretsManager, aws_env: None) -> None:
    router = StoreRouter(
        {
            "vault": VaultResolver(address=vault.url, token=VAULT_TOKEN),
            "aws": AwsSecretsManagerResolver(region="eu-west-1", endpoint_url=secrets_manager.url),
        }
    )
    vault_ref = SecretRef.parse("$vault", {"path": "greenroom/db", "key": "user"}, path="x")
    aws_ref = SecretRef.parse("$awsSecret", {"secretId": "prod/greenroom/plain"}, path="y")
    assert vault_ref.describe() == "vault:greenroom/db#user"
    assert aws_ref.placeholder() == "<unresolved secret: aws:prod/greenroom/plain>"
    assert router.resolve(vault_ref) == "portal"
    assert router.resolve(aws_ref) == "plain-aws-secret-string"


def test_explicit_resolver_is_used_and_marks_values_secret(write: Write) -> None:
    class Static:
        def resolve(self, ref: SecretRef) -> str:
            return f"resolved-{ref.name}-{ref.key}"

    config = load_config(
        [write("a.yaml", "a: {$vault: {path: p, key: k}}\n")], env={}, secret_resolver=Static()
    )
    assert config.get("a") == "resolved-p-k"
    assert config.redacted() == {"a": "[REDACTED]"}
