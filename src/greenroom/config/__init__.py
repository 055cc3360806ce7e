"""Configuration: Backstage-style YAML files, references, secret stores, schema, redaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from greenroom.config.defaults import base_defaults, zero_config
from greenroom.config.loader import load_config
from greenroom.config.model import REDACTED, Config, Origin
from greenroom.config.secrets import SecretRef, SecretResolver, resolver_from_config

__all__ = [
    "REDACTED",
    "Config",
    "Origin",
    "SecretRef",
    "SecretResolver",
    "load_app_config",
    "load_config",
]


def load_app_config(
    files: Sequence[str | Path] = (),
    *,
    env: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
) -> Config:
    """The config a greenroom process runs with.

    With no files this is the zero-config local setup (example catalog, loopback, SQLite);
    with files, those files over greenroom's base defaults.
    """
    defaults = base_defaults() if files else zero_config()
    return load_config(
        files,
        defaults=defaults,
        env=env,
        resolve_secrets=resolve_secrets,
        secret_resolver_factory=resolver_from_config,
    )
