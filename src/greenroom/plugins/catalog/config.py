"""The `catalog` config section (Backstage's keys, plus a few of greenroom's)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RuleLocation(_Open):
    type: str
    target: str | None = None
    pattern: str | None = None
    exclude: str | None = None


class Rule(_Open):
    allow: list[str]
    locations: list[RuleLocation] | None = None


class LocationRule(_Open):
    allow: list[str]


class ConfigLocation(_Open):
    type: Literal["file", "url"]
    target: str = Field(min_length=1)
    rules: list[LocationRule] | None = None


class Duration(_Open):
    """Backstage's HumanDuration: any of these keys, summed."""

    milliseconds: float = 0
    seconds: float = 0
    minutes: float = 0
    hours: float = 0
    days: float = 0

    def total_seconds(self) -> float:
        return (
            self.milliseconds / 1000 + self.seconds + self.minutes * 60 + self.hours * 3600 + self.days * 86400
        )


class CatalogLimits(_Open):
    maxFileBytes: int = Field(default=128 * 1024 * 1024, ge=1024)
    """Largest catalog file read from disk (URL reads are bounded by backend.reading.maxBytes)."""


class CatalogConfig(_Open):
    locations: list[ConfigLocation] = Field(default_factory=list)
    rules: list[Rule] | None = None
    readonly: bool = False
    limits: CatalogLimits = Field(default_factory=CatalogLimits)
    orphanStrategy: Literal["keep", "delete"] = "keep"
    processingInterval: Duration | Literal[False] | None = None
    """How often every location is re-read (default 2 minutes); `false` reads only at start-up."""


def refresh_interval_seconds(config: CatalogConfig) -> float | None:
    if config.processingInterval is False:
        return None
    if config.processingInterval is None:
        return 120.0
    return max(1.0, config.processingInterval.total_seconds())


def dump_rules(config: CatalogConfig) -> list[dict[str, Any]] | None:
    return None if config.rules is None else [r.model_dump(exclude_none=True) for r in config.rules]
