"""`catalog.rules`: which kinds each location may define (Backstage semantics).

    catalog:
      rules:
        - allow: [Component, API, Location]                     # from anywhere
        - allow: [User, Group]
          locations:
            - { type: file, exact: /srv/org/users.yaml }
            - { type: url, pattern: 'https://github.com/acme/org/blob/*/org/*.yaml' }
        - allow: [{ kind: Resource, spec.type: database }]
      locations:
        - type: url
          target: https://github.com/acme/templates/blob/main/all.yaml
          rules: [{ allow: [Template] }]                         # only for this location

With no `catalog.rules`, Backstage's default applies: Component, API and Location only, so a
catalog file cannot make someone a member of a group or publish a template unless the
operator allowed that kind from that place. Rules are checked against the *origin*
location of an entity (the config or registered location), so nested files inherit them.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from greenroom.errors import ConfigError

DEFAULT_ALLOWED = ("Component", "API", "Location")


class _Spec(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def target(self) -> str: ...


@dataclass(frozen=True, slots=True)
class LocationMatcher:
    type: str
    exact: str | None = None
    pattern: str | None = None

    def matches(self, type_: str, target: str) -> bool:
        if self.type != type_:
            return False
        if self.exact is not None:
            return self.exact == target
        if self.pattern is not None:
            return fnmatch.fnmatch(target.lower(), self.pattern.lower())
        return True


@dataclass(frozen=True, slots=True)
class KindMatcher:
    kind: str
    spec_type: str | None = None

    def matches(self, entity: Mapping[str, Any]) -> bool:
        if str(entity.get("kind", "")).lower() != self.kind:
            return False
        if self.spec_type is None:
            return True
        spec = entity.get("spec")
        actual = spec.get("type") if isinstance(spec, Mapping) else None
        return isinstance(actual, str) and actual.lower() == self.spec_type


@dataclass(frozen=True, slots=True)
class Rule:
    kinds: tuple[KindMatcher, ...]
    locations: tuple[LocationMatcher, ...] | None

    def allows(self, entity: Mapping[str, Any], type_: str, target: str) -> bool:
        if not any(k.matches(entity) for k in self.kinds):
            return False
        return self.locations is None or any(m.matches(type_, target) for m in self.locations)


def _resolve(type_: str, target: str, base_dir: Path) -> str:
    if type_ == "file" and not os.path.isabs(target):
        return os.path.normpath(str(base_dir / target))
    return target


def _kind(item: Any, path: str) -> KindMatcher:
    if isinstance(item, str):
        return KindMatcher(item.lower())
    if isinstance(item, Mapping) and isinstance(item.get("kind"), str):
        spec_type = item.get("spec.type")
        return KindMatcher(item["kind"].lower(), spec_type.lower() if isinstance(spec_type, str) else None)
    raise ConfigError("rule 'allow' items are kinds or {kind, spec.type} objects", path=path)


def _matcher(raw: Mapping[str, Any], path: str, base_dir: Path) -> LocationMatcher:
    type_ = raw.get("type")
    if not isinstance(type_, str):
        raise ConfigError("a rule location needs a type", path=path)
    exact = raw.get("exact", raw.get("target"))
    pattern = raw.get("pattern")
    if exact is not None and pattern is not None:
        raise ConfigError("a rule location takes 'exact' or 'pattern', not both", path=path)
    return LocationMatcher(
        type=type_,
        exact=_resolve(type_, str(exact), base_dir) if exact is not None else None,
        pattern=_resolve(type_, str(pattern), base_dir) if pattern is not None else None,
    )


def _rule(raw: Mapping[str, Any], path: str, base_dir: Path, scope: LocationMatcher | None) -> Rule:
    allow = raw.get("allow")
    if not isinstance(allow, list):
        raise ConfigError("a rule needs 'allow', a list of kinds", path=f"{path}.allow")
    kinds = tuple(_kind(item, f"{path}.allow[{i}]") for i, item in enumerate(allow))
    locations: tuple[LocationMatcher, ...] | None = None
    if scope is not None:
        locations = (scope,)
    elif raw.get("locations") is not None:
        locations = tuple(_matcher(m, f"{path}.locations[{i}]", base_dir) for i, m in enumerate(raw["locations"]))
    return Rule(kinds=kinds, locations=locations)


class RulesEnforcer:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    @classmethod
    def from_config(
        cls,
        rules: Sequence[Mapping[str, Any]] | None,
        locations: Iterable[Mapping[str, Any]] = (),
        *,
        base_dir: Path | None = None,
    ) -> RulesEnforcer:
        base = base_dir or Path.cwd()
        out: list[Rule] = []
        if rules is None:
            out.append(Rule(kinds=tuple(KindMatcher(k.lower()) for k in DEFAULT_ALLOWED), locations=None))
        else:
            out.extend(_rule(r, f"catalog.rules[{i}]", base, None) for i, r in enumerate(rules))
        for i, location in enumerate(locations):
            type_ = str(location.get("type"))
            scope = LocationMatcher(type=type_, exact=_resolve(type_, str(location.get("target")), base))
            for j, raw in enumerate(location.get("rules") or []):
                out.append(_rule(raw, f"catalog.locations[{i}].rules[{j}]", base, scope))
        return cls(out)

    def is_allowed(self, entity: Mapping[str, Any], origin: _Spec) -> bool:
        return any(rule.allows(entity, origin.type, origin.target) for rule in self.rules)
