"""`Config`: typed reads whose errors name key and file:line, origins, secrets and redaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from greenroom.config import REDACTED, Config, Origin, load_config
from greenroom.config.model import MIN_REDACTABLE_LENGTH, split_path
from greenroom.errors import ConfigError

Write = Callable[..., Path]
Load = Callable[..., Config]


@pytest.fixture
def sample(write: Write, load: Load) -> tuple[Config, Path]:
    path = write(
        "app-config.yaml",
        """
        app:
          title: Portal
          port: 7007
          ratio: 0.5
          production: false
          tags: [a, b]
        backend:
          auth:
            externalAccess:
              - type: static
                options:
                  token: {$env: CI_TOKEN}
                  subject: ci
          database:
            connection:
              password: literal-db-password
        """,
    )
    return load(path, env={"CI_TOKEN": "ci-token-0123456789"}), path.resolve()


# -- reading ------------------------------------------------------------------------------


def test_get_has_and_defaults(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    assert config.get("app.title") == "Portal"
    assert config.get("app.tags[1]") == "b"
    assert config.get("backend.auth.externalAccess[0].options.subject") == "ci"
    assert config.get("app.missing", "dflt") == "dflt"
    assert config.get("app.tags[5]") is None
    assert config.get("app.title.deeper") is None
    assert config.has("app.production")  # false is a value
    assert not config.has("nope")


def test_get_returns_copies(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    config.get("app")["title"] = "changed"
    config.get("app.tags").append("c")
    config.as_dict()["app"]["port"] = 1
    assert config.get("app.title") == "Portal"
    assert config.get("app.tags") == ["a", "b"]
    assert config.get("app.port") == 7007


def test_constructor_copies_its_data() -> None:
    data = {"a": {"b": 1}}
    config = Config(data)
    data["a"]["b"] = 2
    assert config.get("a.b") == 1


def test_typed_getters(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    assert config.get_str("app.title") == "Portal"
    assert config.get_int("app.port") == 7007
    assert config.get_number("app.ratio") == 0.5
    assert config.get_number("app.port") == 7007.0
    assert config.get_bool("app.production") is False
    assert config.get_bool("app.nope", True) is True
    assert config.get_list("app.tags") == ["a", "b"]
    assert config.get_list("app.nope") == []
    assert config.get_mapping("app")["title"] == "Portal"
    assert config.get_mapping("nope") == {}
    assert config.get_str("nope", "d") == "d"
    assert config.get_int("nope") is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get_str("app.port"), r"app.port: expected a string, got int \(at {file}:4\)"),
        (lambda c: c.get_int("app.title"), r"app.title: expected an integer, got str \(at {file}:3\)"),
        (lambda c: c.get_int("app.production"), r"app.production: expected an integer, got boolean \(at {file}:6\)"),
        (lambda c: c.get_number("app.production"), r"expected a number, got boolean"),
        (lambda c: c.get_bool("app.title"), r"app.title: expected a boolean, got str \(at {file}:3\)"),
        (lambda c: c.get_list("app.title"), r"app.title: expected a list, got str"),
        (lambda c: c.get_mapping("app.tags"), r"app.tags: expected an object, got list \(at {file}:7\)"),
        (lambda c: c.get_str("app.nope", required=True), r"app.nope: missing required config value \(at {file}:2\)"),
        (lambda c: c.get_int("other", required=True), r"other: missing required config value$"),
    ],
)
def test_type_errors_name_the_key_and_file_line(
    sample: tuple[Config, Path], call: Callable[[Config], object], message: str
) -> None:
    config, file = sample
    with pytest.raises(ConfigError, match=message.replace("{file}", str(file))) as info:
        call(config)
    assert info.value.path is not None


def test_split_path() -> None:
    assert split_path("a.b[2].c") == ["a", "b", 2, "c"]
    assert split_path("a[0][1]") == ["a", 0, 1]
    assert split_path("") == []
    assert split_path("a..b") == ["a", "b"]


# -- origins ------------------------------------------------------------------------------


def test_origin_is_file_and_line(sample: tuple[Config, Path]) -> None:
    config, file = sample
    assert config.origin("app.title") == Origin(str(file), 3)
    assert config.origin("app.tags[1]") == Origin(str(file), 7)
    assert config.origin("backend.auth.externalAccess[0].options.subject") == Origin(str(file), 14)
    assert str(config.origin("app.port")) == f"{file}:4"
    assert config.where("app.port") == f" (at {file}:4)"


def test_origin_falls_back_to_the_nearest_ancestor(sample: tuple[Config, Path]) -> None:
    config, file = sample
    assert config.origin("app.missing.deeper") == Origin(str(file), 2)
    assert config.origin("unknown") is None
    assert config.where("unknown") == ""


def test_origin_follows_the_file_that_set_the_value(write: Write, load: Load) -> None:
    base = write("base.yaml", "app:\n  title: a\n  port: 1\n")
    prod = write("prod.yaml", "\n\napp:\n  title: b\n")
    config = load(base, prod)
    assert config.origin("app.title") == Origin(str(prod.resolve()), 4)
    assert config.origin("app.port") == Origin(str(base.resolve()), 3)


def test_environment_origin_has_no_line() -> None:
    origin = Origin("environment (APP_CONFIG_*)", None)
    assert str(origin) == "environment (APP_CONFIG_*)"


# -- secrets and redaction ----------------------------------------------------------------


def test_is_secret_covers_descendants_only(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    assert config.is_secret("backend.auth.externalAccess[0].options.token")
    assert config.is_secret("backend.database.connection.password")
    assert not config.is_secret("backend.auth.externalAccess[0].options")
    assert not config.is_secret("backend.database.connection.passwordHint")
    data = {"backend": {"auth": {"keys": [{"secret": "a" * 20}]}}}
    keys = Config(data, secret_paths=frozenset({"backend.auth.keys"}))
    assert keys.is_secret("backend.auth.keys[0].secret")
    assert not keys.is_secret("backend.auth.keysRotated")


def test_credentials_are_the_secret_named_and_secret_store_values(write: Write, load: Load) -> None:
    write("ca.pem", "-----BEGIN CERTIFICATE-----\n")
    config = load(
        write(
            "a.yaml",
            """
            a:
              baseUrl: ${BASE_URL}
              ca: {$file: ca.pem}
              token: ${TOKEN}
              password: literal-password
              fromVault: {$vault: {path: p}}
            """,
        ),
        env={"BASE_URL": "https://x.example.com", "TOKEN": "token-from-env-1"},
        resolve_secrets=False,
    )
    assert {p for p in ("a.baseUrl", "a.ca", "a.token", "a.password", "a.fromVault") if config.is_secret(p)} == {
        "a.baseUrl", "a.ca", "a.token", "a.password", "a.fromVault"
    }
    assert {p for p in ("a.baseUrl", "a.ca", "a.token", "a.password", "a.fromVault") if config.is_credential(p)} == {
        "a.token", "a.password", "a.fromVault"
    }
    assert config.credential_paths <= config.secret_paths
    assert Config({"x": 1}, secret_paths=frozenset({"x"})).is_credential("x")  # defaults to the secrets
    changed = config.with_values({"b.apiKey": "cli-key-123456"})
    assert changed.is_credential("b.apiKey")
    assert changed.is_credential("a.token")
    assert not changed.is_credential("a.baseUrl")


def test_redacted_replaces_every_secret_and_keeps_the_shape(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    redacted = config.redacted()
    assert redacted["backend"]["auth"]["externalAccess"][0]["options"] == {"token": REDACTED, "subject": "ci"}
    assert redacted["backend"]["database"]["connection"] == {"password": REDACTED}
    assert redacted["app"] == config.get("app")
    text = json.dumps(redacted)
    assert "ci-token-0123456789" not in text
    assert "literal-db-password" not in text
    # the config itself is untouched
    assert config.get("backend.database.connection.password") == "literal-db-password"


def test_redacted_never_leaks_any_kind_of_secret(write: Write, load: Load) -> None:
    write("key.pem", "-----BEGIN PRIVATE KEY-----\nMIIEvQ-file-secret\n-----END PRIVATE KEY-----\n")
    config = load(
        write(
            "a.yaml",
            """
            integrations:
              github: [{host: github.com, token: '${GITHUB_TOKEN}'}]
            auth:
              providers:
                github:
                  production: {clientId: public-id, clientSecret: {$env: GH_SECRET}}
            backend:
              auth:
                keys: [{secret: short}, {secret: another-long-key-value}]
              database:
                connection: {password: {$vault: {path: db, key: password}}}
            tls:
              key: {$file: key.pem}
            app:
              apiKey: 1234567890
            """,
        ),
        env={"GITHUB_TOKEN": "ghp_tokenvalue0123", "GH_SECRET": "gh-client-secret-xyz"},
        resolve_secrets=False,
    )
    text = json.dumps(config.redacted())
    for secret in (
        "ghp_tokenvalue0123",
        "gh-client-secret-xyz",
        "short",
        "another-long-key-value",
        "MIIEvQ-file-secret",
        "1234567890",
        "unresolved secret",
    ):
        assert secret not in text, secret
    assert "public-id" in text
    assert "github.com" in text


def test_redact_text_replaces_every_occurrence(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    line = "token=ci-token-0123456789 again ci-token-0123456789; db literal-db-password"
    assert config.redact_text(line) == f"token={REDACTED} again {REDACTED}; db {REDACTED}"
    assert config.redact_text("nothing secret here") == "nothing secret here"


def test_redact_text_prefers_the_longest_secret() -> None:
    config = Config(
        {"a": {"token": "abcdefgh"}, "b": {"token": "abcdefgh-ijkl"}},
        secret_paths=frozenset({"a.token", "b.token"}),
    )
    assert config.redact_text("x abcdefgh-ijkl y") == f"x {REDACTED} y"


def test_short_secrets_are_redacted_by_key_but_not_in_free_text() -> None:
    short = "x" * (MIN_REDACTABLE_LENGTH - 1)
    config = Config({"a": {"password": short}}, secret_paths=frozenset({"a.password"}))
    assert config.redacted() == {"a": {"password": REDACTED}}
    assert config.redact_text(f"value {short}") == f"value {short}"
    assert config.secret_values == frozenset()


def test_file_secret_is_redacted_with_and_without_its_trailing_newline(write: Write, load: Load) -> None:
    write("token.txt", "file-token-abcdef\n")
    config = load(write("a.yaml", "token: {$file: token.txt}\n"))
    assert config.redact_text("got file-token-abcdef from disk") == f"got {REDACTED} from disk"
    assert config.redact_text("raw 'file-token-abcdef\n'") == f"raw '{REDACTED}'"


def test_non_string_secret_values_are_redacted_by_key() -> None:
    config = Config({"a": {"pin": {"secret": 12345678}}}, secret_paths=frozenset({"a.pin.secret"}))
    assert config.redacted() == {"a": {"pin": {"secret": REDACTED}}}


# -- with_values --------------------------------------------------------------------------


def test_with_values_sets_keys_and_leaves_the_original_alone(sample: tuple[Config, Path]) -> None:
    config, file = sample
    changed = config.with_values({"app.title": "CLI", "backend.listen": {"host": "0.0.0.0", "port": 1}, "new.key": 2})
    assert changed.get("app.title") == "CLI"
    assert changed.get("backend.listen.port") == 1
    assert changed.get("new.key") == 2
    assert changed.get("app.port") == 7007
    assert config.get("app.title") == "Portal"
    assert not config.has("new.key")
    assert str(changed.origin("app.title")) == "command line"
    assert changed.origin("app.port") == Origin(str(file), 4)
    assert changed.sources == config.sources
    assert changed.is_secret("backend.auth.externalAccess[0].options.token")
    assert "ci-token-0123456789" in changed.secret_values


def test_with_values_replacing_an_object_forgets_the_old_origins(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "backend:\n  listen:\n    host: 127.0.0.1\n    port: 7007\n"))
    changed = config.with_values({"backend.listen": {"host": "::1"}})
    assert str(changed.origin("backend.listen.host")) == "command line"
    assert str(changed.origin("backend.listen.port")) == "command line"


def test_with_values_replaces_a_scalar_on_the_way(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    assert config.with_values({"app.title.sub": "x"}).get("app.title") == {"sub": "x"}


def test_with_values_marks_secret_named_keys(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    changed = config.with_values(
        {"auth.session.secret": "cli-session-secret", "extra": {"apiToken": "cli-api-token-1"}}
    )
    assert changed.is_secret("auth.session.secret")
    assert changed.is_secret("extra.apiToken")
    text = json.dumps(changed.redacted())
    assert "cli-session-secret" not in text
    assert "cli-api-token-1" not in text
    assert changed.redact_text("cli-session-secret") == REDACTED


def test_with_values_refuses_list_indexes(sample: tuple[Config, Path]) -> None:
    config, _ = sample
    with pytest.raises(ConfigError, match="not list indexes"):
        config.with_values({"app.tags[0]": "z"})


def test_plain_config_fixture_reads_nothing_from_outside(plain_config: Callable[..., Config]) -> None:
    config = plain_config({"a": {"token": "abcdefghijk"}})
    assert config.get("a.token") == "abcdefghijk"
    assert config.sources == ()


def test_load_config_with_only_defaults_marks_secret_names() -> None:
    config = load_config([], defaults={"auth": {"session": {"secret": "default-session-secret"}}}, env={})
    assert config.is_secret("auth.session.secret")
    assert config.redacted() == {"auth": {"session": {"secret": REDACTED}}}
