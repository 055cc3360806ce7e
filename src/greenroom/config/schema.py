"""Schemas for the config greenroom's core reads, checked at start-up.

Backstage configs carry many keys for plugins greenroom does not have, so sections shared
with Backstage accept unknown keys; sections only greenroom has (`plugins`, `secrets`)
refuse them, so a typo there is an error rather than a silently ignored setting.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenroom.config.model import Config
from greenroom.errors import ConfigError


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ListenObject(_Open):
    host: str | None = None
    port: int | str | None = None


class DatabaseConfig(_Open):
    client: Literal["better-sqlite3", "sqlite3", "pg", "postgres", "postgresql"] = "better-sqlite3"
    connection: str | dict[str, Any] | None = None
    pool: dict[str, Any] | None = None


class ReadingAllowEntry(_Open):
    host: str = Field(min_length=1)
    paths: list[str] | None = None
    dangerouslyAllowPrivateAddresses: bool = False


class ReadingConfig(_Open):
    allow: list[ReadingAllowEntry] = Field(default_factory=list)


class AccessRestriction(_Open):
    plugin: str
    permission: str | list[str] | None = None
    permissionAttribute: dict[str, Any] | None = None


class ExternalAccessEntry(_Open):
    type: Literal["static", "legacy", "jwks"]
    options: dict[str, Any]
    accessRestrictions: list[AccessRestriction] | None = None


class BackendAuthConfig(_Open):
    externalAccess: list[ExternalAccessEntry] = Field(default_factory=list)
    keys: list[dict[str, Any]] | None = None
    dangerouslyDisableDefaultAuthPolicy: bool = False


class BackendConfig(_Open):
    baseUrl: str | None = None
    listen: str | ListenObject | None = None
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    reading: ReadingConfig = Field(default_factory=ReadingConfig)
    auth: BackendAuthConfig = Field(default_factory=BackendAuthConfig)
    cors: dict[str, Any] | None = None
    csp: dict[str, Any] | None = None


class AppConfig(_Open):
    production: bool = False
    title: str | None = None
    baseUrl: str | None = None


class PluginPin(_Closed):
    id: str = Field(min_length=1)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class PluginsConfig(_Closed):
    allow: list[str | PluginPin] = Field(default_factory=list)
    disabled: list[str] = Field(default_factory=list)


class VaultConfig(_Closed):
    address: str
    token: str | None = None
    auth: dict[str, Any] | None = None
    mount: str = "secret"
    kvVersion: Literal[1, 2] = 2
    namespace: str | None = None
    caFile: str | None = None


class AwsSecretsConfig(_Closed):
    region: str | None = None
    endpointUrl: str | None = None


class SecretsConfig(_Closed):
    vault: VaultConfig | None = None
    aws: AwsSecretsConfig | None = None


class CoreConfig(_Open):
    app: AppConfig = Field(default_factory=AppConfig)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part[:1].isupper() or part.startswith(("function-", "literal[", "str", "int", "list[", "dict[", "bool")):
            # pydantic adds the union member it tried (a type or model name); users need the key path
            continue
        else:
            out += f".{part}" if out else part
    return out


def validate_section(config: Config, model: type[BaseModel], *, root: str = "") -> BaseModel:
    """Validate `config` (or its `root` subtree) against `model`; all errors in one ConfigError."""
    data = config.get(root, {}) if root else config.as_dict()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        seen = set()
        for error in exc.errors():
            path = _dotted(tuple(error["loc"]))
            full = f"{root}.{path}" if root and path else (root or path)
            if full in seen:
                continue
            seen.add(full)
            lines.append(f"  {full or '<root>'}: {error['msg']} (got {_shown(config, full, error.get('input'))})"
                         f"{config.where(full)}")
        raise ConfigError(config.redact_text("invalid configuration:\n" + "\n".join(lines))) from None


def _shown(config: Config, path: str, value: Any) -> str:
    """What an error may say about the bad value: never a secret, never a whole object.

    For a missing key pydantic's input is the enclosing object, which may hold secrets next
    to the missing key; so objects and lists are described by their type only.
    """
    if config.is_secret(path):
        return "[secret]"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)[:80]


def validate_core(config: Config) -> CoreConfig:
    result = validate_section(config, CoreConfig)
    assert isinstance(result, CoreConfig)
    return result
