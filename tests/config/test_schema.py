"""Start-up schema checks: errors name the dotted key and file:line and never print a secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from greenroom.config import Config
from greenroom.config.schema import CoreConfig, validate_core, validate_section
from greenroom.errors import ConfigError

Write = Callable[..., Path]
Load = Callable[..., Config]


def errors_of(config: Config) -> str:
    with pytest.raises(ConfigError) as info:
        validate_core(config)
    message = str(info.value)
    assert message.startswith("invalid configuration:\n")
    return message


def test_a_valid_config_passes_with_defaults(write: Write, load: Load) -> None:
    config = load(
        write(
            "a.yaml",
            """
            app: {title: t, production: true}
            backend:
              listen: {host: 127.0.0.1, port: 7007}
              database: {client: pg, connection: {host: db, password: x}}
              reading: {allow: [{host: github.com, paths: [/org/]}]}
              auth:
                externalAccess: [{type: static, options: {token: abcdefghijklmnopq, subject: ci}}]
            plugins:
              allow: [hello, {id: pinned, sha256: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'}]
              disabled: [catalog]
            secrets:
              vault: {address: 'http://127.0.0.1:8200', token: t, kvVersion: 1}
              aws: {region: eu-west-1}
            catalog: {anything: goes}
            """,
        )
    )
    core = validate_core(config)
    assert isinstance(core, CoreConfig)
    assert core.app.production is True
    assert core.backend.database.client == "pg"
    assert core.plugins.allow[0] == "hello"
    assert core.secrets.vault is not None
    assert core.secrets.vault.mount == "secret"
    assert core.secrets.vault.kvVersion == 1


def test_an_empty_config_is_valid() -> None:
    core = validate_core(Config({}))
    assert core.backend.database.client == "better-sqlite3"
    assert core.plugins.allow == []
    assert core.secrets.vault is None


def test_every_error_names_the_dotted_key_and_file_line(write: Write, load: Load) -> None:
    path = write(
        "app-config.yaml",
        """
        backend:
          database:
            client: mysql
          listen: {host: 127.0.0.1, port: [7007]}
          reading:
            allow:
              - host: ''
          auth:
            externalAccess:
              - type: magic
                options: {}
        plugins:
          allow:
            - id: x
              sha256: nothex
          disabled: catalog
        """,
    )
    message = errors_of(load(path))
    file = path.resolve()
    for key, line in (
        ("backend.database.client", 4),
        ("backend.listen.port", 5),
        ("backend.reading.allow[0].host", 8),
        ("backend.auth.externalAccess[0].type", 11),
        ("plugins.allow[0].sha256", 16),
        ("plugins.disabled", 17),
    ):
        assert any(line_text.startswith(f"  {key}: ") and line_text.endswith(f"(at {file}:{line})")
                   for line_text in message.splitlines()), (key, message)


def test_typos_in_greenroom_only_sections_are_errors(write: Write, load: Load) -> None:
    path = write(
        "a.yaml",
        "plugins:\n  alow: [x]\nsecrets:\n  vault: {address: 'http://v', tokne: t}\n  gcp: {}\n",
    )
    message = errors_of(load(path))
    assert "plugins.alow: Extra inputs are not permitted" in message
    assert "secrets.vault.tokne: Extra inputs are not permitted" in message
    assert "secrets.gcp: Extra inputs are not permitted" in message


def test_backstage_sections_accept_keys_greenroom_does_not_know(write: Write, load: Load) -> None:
    config = load(write("a.yaml", "backend:\n  cache: {store: memory}\n  database: {client: pg, plugin: {}}\n"))
    validate_core(config)


def test_missing_key_error_does_not_print_the_enclosing_object(write: Write, load: Load) -> None:
    """pydantic reports a missing key with the whole parent as input: it holds the token."""
    config = load(
        write(
            "a.yaml",
            """
            backend:
              auth:
                externalAccess:
                  - options: {token: static-token-must-not-print, subject: ci}
            secrets:
              vault: {token: {$env: VAULT_TOKEN}}
            """,
        ),
        env={"VAULT_TOKEN": "hvs.vault-token-must-not-print"},
    )
    message = errors_of(config)
    assert "backend.auth.externalAccess[0].type: Field required (got an object)" in message
    assert "secrets.vault.address: Field required (got an object)" in message
    assert "must-not-print" not in message


def test_invalid_secret_values_are_not_printed(write: Write, load: Load) -> None:
    config = load(
        write(
            "a.yaml",
            """
            secrets:
              vault:
                address: 'http://127.0.0.1:8200'
                token: 12345678901234
                kvVersion: ${KV_VERSION}
            """,
        ),
        env={"KV_VERSION": "secret-looking-env-value"},
    )
    message = errors_of(config)
    assert "secrets.vault.token: Input should be a valid string (got [secret])" in message
    assert "secrets.vault.kvVersion:" in message
    assert "12345678901234" not in message
    assert "secret-looking-env-value" not in message


def test_a_secret_value_under_a_harmless_key_is_still_redacted(write: Write, load: Load) -> None:
    config = load(
        write(
            "a.yaml",
            """
            auth: {session: {secret: reused-value-123456}}
            backend: {database: {client: reused-value-123456}}
            """,
        )
    )
    message = errors_of(config)
    assert "backend.database.client" in message
    assert "reused-value-123456" not in message


def test_all_errors_come_in_one_config_error(write: Write, load: Load) -> None:
    message = errors_of(load(write("a.yaml", "backend:\n  database: {client: x}\nplugins: {bogus: 1}\n")))
    assert len([line for line in message.splitlines() if line.startswith("  ")]) == 2


class HelloConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str
    retries: int = 3


def test_plugin_section_errors_carry_the_plugin_root(write: Write, load: Load) -> None:
    path = write("a.yaml", "hello:\n  greeting: 5\n  retries: many\n  extra: 1\n")
    config = load(path)
    with pytest.raises(ConfigError) as info:
        validate_section(config, HelloConfig, root="hello")
    message = str(info.value)
    assert f"hello.greeting: Input should be a valid string (got 5) (at {path.resolve()}:2)" in message
    assert "hello.retries: Input should be a valid integer" in message
    assert f"hello.extra: Extra inputs are not permitted (got 1) (at {path.resolve()}:4)" in message


def test_plugin_section_missing_is_validated_as_empty(load: Load, write: Write) -> None:
    with pytest.raises(ConfigError, match=r"hello.greeting: Field required"):
        validate_section(load(write("a.yaml", "{}\n")), HelloConfig, root="hello")
    result = validate_section(load(write("b.yaml", "hello: {greeting: hi}\n")), HelloConfig, root="hello")
    assert isinstance(result, HelloConfig)
    assert result.retries == 3
