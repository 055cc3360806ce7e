"""The `audit:` config section.

    audit:
      enabled: true                 # false switches recording off (flagged by `greenroom audit`)
      readEvents: sensitive         # none | sensitive | all: which reads are recorded
      signing:
        key: ${AUDIT_SIGNING_KEY}   # HMAC key (>= 32 chars): signs the chain head and checkpoints
        checkpointInterval: 600     # seconds between signed checkpoints (0: none)
      retention:
        days: 365                   # delete events older than this, once exported or forwarded
        dangerouslyDeleteUnexported: false
      forwarding:
        syslog: { host: siem.example.com, port: 6514, protocol: tcp }
        webhook: { url: https://siem.example.com/hooks/greenroom, headers: { Authorization: ${SIEM_TOKEN} } }
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from greenroom.audit.signing import MIN_KEY_LENGTH
from greenroom.config.model import Config
from greenroom.config.schema import validate_section
from greenroom.errors import ConfigError

ReadLevel = Literal["none", "sensitive", "all"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SyslogSettings(_Closed):
    host: str = Field(min_length=1)
    port: int = Field(default=514, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = "udp"
    appName: str = Field(default="greenroom", min_length=1, max_length=48, pattern=r"^[!-~]+$")
    facility: int = Field(default=13, ge=0, le=23)  # 13: log audit (RFC 5424)
    timeout: float = Field(default=5.0, gt=0, le=60)


class WebhookSettings(_Closed):
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=5.0, gt=0, le=60)
    batchSize: int = Field(default=100, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class ForwardingSettings(_Closed):
    syslog: SyslogSettings | None = None
    webhook: WebhookSettings | None = None
    pollInterval: float = Field(default=1.0, gt=0, le=300)
    maxRetryDelay: float = Field(default=300.0, ge=1, le=86400)


class RetentionSettings(_Closed):
    days: int | None = Field(default=None, ge=1)
    dangerouslyDeleteUnexported: bool = False
    interval: float = Field(default=3600.0, ge=60)  # seconds between background prune runs


class SigningSettings(_Closed):
    key: str | None = Field(default=None, min_length=MIN_KEY_LENGTH)
    checkpointInterval: float = Field(default=600.0, ge=0)


class AuditSettings(_Closed):
    enabled: bool = True
    hashChain: Literal[True] = True  # the chain cannot be switched off; the key exists for posture checks
    readEvents: ReadLevel = "sensitive"
    signing: SigningSettings = Field(default_factory=SigningSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    forwarding: ForwardingSettings = Field(default_factory=ForwardingSettings)


def load_audit_settings(config: Config, *, production: bool = False) -> AuditSettings:
    """`audit:` validated; in production the signing key must come from a reference."""
    model = validate_section(config, AuditSettings, root="audit")
    assert isinstance(model, AuditSettings)
    if production and model.signing.key is not None and not _from_reference(config, "audit.signing.key"):
        raise ConfigError("the audit signing key is a literal in the config file; in production use ${VAR}, "
                          "$env, $file, $vault or $awsSecret", path="audit.signing.key")
    return model


def _from_reference(config: Config, path: str) -> bool:
    return any(path == ref or path.startswith(ref + ".") for ref in config.reference_paths)


def settings_from_mapping(data: dict[str, Any]) -> AuditSettings:
    """For tests and tools that build settings without a config file."""
    return AuditSettings.model_validate(data)
