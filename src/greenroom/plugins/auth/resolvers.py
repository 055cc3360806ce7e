"""Sign-in resolvers: which catalog `User` an identity-provider identity is.

Backstage's names and semantics, configured per provider and tried in order:

    signIn:
      resolvers:
        - resolver: emailMatchingUserEntityProfileEmail
        - resolver: emailLocalPartMatchingUserEntityName
          allowedDomains: [example.com]
        - resolver: emailMatchingUserEntityAnnotation        # google.com/email, microsoft.com/email, ...
        - resolver: usernameMatchingUserEntityName           # GitHub login, oauth2-proxy user
        - resolver: userIdMatchingUserEntityAnnotation       # github.com/user-id, graph.microsoft.com/user-id
          dangerouslyAllowSignInWithoutUserInCatalog: true   # off by default; flagged by greenroom audit

The first resolver that finds exactly one user wins. Email resolvers only ever see an email
the provider vouches for (an OIDC `email_verified: false` or an unverified GitHub address is
not used). An identity no resolver maps to a user is refused with a message saying so, unless
the matching resolver sets `dangerouslyAllowSignInWithoutUserInCatalog`, in which case the
user is `user:default/<name>` owning only themselves.

Ownership refs are the user plus the groups it is a direct member of (`memberOf`
relations); with `includeTransitiveGroupOwnership: true` (RHDH's key) also every parent of
those groups.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from greenroom.errors import ConfigError
from greenroom.plugins.auth.providers.base import ProviderIdentity, SignInError

log = logging.getLogger("greenroom.plugins.auth")
MAX_GROUP_DEPTH = 20
MAX_OWNERSHIP_REFS = 5000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

RESOLVER_NAMES = frozenset({
    "emailMatchingUserEntityProfileEmail",
    "emailLocalPartMatchingUserEntityName",
    "emailMatchingUserEntityAnnotation",
    "usernameMatchingUserEntityName",
    "userIdMatchingUserEntityAnnotation",
})


class CatalogReads(Protocol):
    """What resolvers need from the catalog (its `queries`)."""

    def by_ref(self, key: str) -> bytes | None: ...

    def list_all(self, predicate: Any, order: Any) -> list[bytes]: ...


@dataclass(frozen=True)
class ResolverSpec:
    name: str
    options: dict[str, Any]

    @property
    def allow_without_catalog_user(self) -> bool:
        return self.options.get("dangerouslyAllowSignInWithoutUserInCatalog") is True


@dataclass(frozen=True)
class ResolvedUser:
    user_ref: str
    ownership_refs: tuple[str, ...]
    in_catalog: bool
    resolver: str


def parse_resolvers(config: Mapping[str, Any], path: str, supported: Mapping[str, str | None]) -> list[ResolverSpec]:
    sign_in = config.get("signIn") or {}
    raw = sign_in.get("resolvers") if isinstance(sign_in, dict) else None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("expected a list of {resolver: <name>}", path=f"{path}.signIn.resolvers")
    out = []
    for i, entry in enumerate(raw):
        where = f"{path}.signIn.resolvers[{i}]"
        name = entry.get("resolver") if isinstance(entry, dict) else None
        if name not in RESOLVER_NAMES:
            raise ConfigError(f"unknown sign-in resolver {name!r} (known: {', '.join(sorted(RESOLVER_NAMES))})",
                              path=f"{where}.resolver")
        if name not in supported:
            raise ConfigError(f"resolver {name} is not available for this provider "
                              f"(available: {', '.join(sorted(supported))})", path=f"{where}.resolver")
        options = {k: v for k, v in entry.items() if k != "resolver"}
        flag = options.get("dangerouslyAllowSignInWithoutUserInCatalog")
        if flag is not None and not isinstance(flag, bool):
            raise ConfigError("expected true or false", path=f"{where}.dangerouslyAllowSignInWithoutUserInCatalog")
        domains = options.get("allowedDomains")
        if domains is not None and (not isinstance(domains, list) or not all(isinstance(d, str) for d in domains)):
            raise ConfigError("expected a list of domains", path=f"{where}.allowedDomains")
        if flag:
            log.warning("a sign-in resolver allows identities that match no catalog user "
                        "(dangerouslyAllowSignInWithoutUserInCatalog)", extra={"path": where})
        out.append(ResolverSpec(name=name, options=options))
    return out


def _entity_ref(entity: Mapping[str, Any]) -> str:
    metadata = entity.get("metadata") or {}
    return f"{str(entity.get('kind', 'user')).lower()}:{metadata.get('namespace') or 'default'}/{metadata.get('name')}"


class CatalogUsers:
    def __init__(self, queries: CatalogReads, *, transitive: bool) -> None:
        self._queries = queries
        self._transitive = transitive

    def entity(self, ref: str) -> dict[str, Any] | None:
        raw = self._queries.by_ref(ref)
        return None if raw is None else dict(orjson.loads(raw))

    def find(self, predicate: dict[str, Any]) -> list[dict[str, Any]]:
        return [orjson.loads(raw) for raw in self._queries.list_all({"kind": "user", **predicate}, [])]

    def ownership_refs(self, user: Mapping[str, Any]) -> tuple[str, ...]:
        user_ref = _entity_ref(user)
        groups = [r["targetRef"] for r in user.get("relations") or []
                  if r.get("type") == "memberOf" and isinstance(r.get("targetRef"), str)]
        refs = dict.fromkeys([user_ref, *groups])
        if self._transitive:
            frontier, depth = list(groups), 0
            while frontier and depth < MAX_GROUP_DEPTH and len(refs) < MAX_OWNERSHIP_REFS:
                depth += 1
                parents = []
                for group_ref in frontier:
                    group = self.entity(group_ref)
                    for relation in (group or {}).get("relations") or []:
                        target = relation.get("targetRef")
                        if relation.get("type") == "childOf" and isinstance(target, str) and target not in refs:
                            refs[target] = None
                            parents.append(target)
                frontier = parents
        return tuple(refs)

    def user_still_exists(self, user_ref: str) -> dict[str, Any] | None:
        return self.entity(user_ref)

    # -- resolution -----------------------------------------------------------------------
    def resolve(
        self, identity: ProviderIdentity, specs: list[ResolverSpec], annotations: Mapping[str, str | None]
    ) -> ResolvedUser:
        if not specs:
            raise SignInError("no-resolver", f"sign-in through {identity.provider} is not configured: the provider "
                              "has no signIn.resolvers", status=403, identity=identity.lockout_key)
        fallback: tuple[ResolverSpec, str] | None = None
        for spec in specs:
            found, name = self._apply(spec, identity, annotations)
            if found is not None:
                return ResolvedUser(_entity_ref(found), self.ownership_refs(found), True, spec.name)
            if spec.allow_without_catalog_user and name and fallback is None:
                fallback = (spec, name)
        if fallback is not None:
            spec, name = fallback
            ref = f"user:default/{name}"
            log.warning("signed in without a catalog user (dangerouslyAllowSignInWithoutUserInCatalog)",
                        extra={"userEntityRef": ref, "provider": identity.provider})
            return ResolvedUser(ref, (ref,), False, spec.name)
        shown = identity.email or identity.username or identity.subject
        raise SignInError(
            "no-catalog-user",
            f"Sign-in refused: {shown} does not match any user in the catalog "
            f"(resolvers tried: {', '.join(s.name for s in specs)}). Ask an administrator to add a User entity.",
            status=403,
            identity=identity.lockout_key,
        )

    def _apply(
        self, spec: ResolverSpec, identity: ProviderIdentity, annotations: Mapping[str, str | None]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The user the resolver finds (or None), and the name it would fall back to."""
        name = spec.name
        if name == "emailMatchingUserEntityProfileEmail":
            if not identity.email:
                return None, None
            return self._one({"spec.profile.email": identity.email}, spec), _local_part(identity.email)
        if name == "emailLocalPartMatchingUserEntityName":
            if not identity.email:
                return None, None
            local, _, domain = identity.email.partition("@")
            allowed = [d.lower() for d in spec.options.get("allowedDomains") or []]
            if allowed and domain.lower() not in allowed:
                return None, None
            return self._by_name(local), _local_part(identity.email)
        if name == "emailMatchingUserEntityAnnotation":
            annotation = spec.options.get("annotation") or annotations.get(name)
            if not identity.email or not annotation:
                return None, None
            return self._one({f"metadata.annotations.{annotation}": identity.email}, spec), _local_part(identity.email)
        if name == "usernameMatchingUserEntityName":
            if not identity.username:
                return None, None
            return self._by_name(identity.username), _safe_name(identity.username)
        if name == "userIdMatchingUserEntityAnnotation":
            annotation = spec.options.get("annotation") or annotations.get(name)
            if not identity.user_id or not annotation:
                return None, None
            return self._one({f"metadata.annotations.{annotation}": identity.user_id}, spec), _safe_name(
                identity.username or "")
        return None, None

    def _by_name(self, name: str) -> dict[str, Any] | None:
        if not _NAME.match(name):
            return None
        return self.entity(f"user:default/{name}")

    def _one(self, predicate: dict[str, Any], spec: ResolverSpec) -> dict[str, Any] | None:
        users = self.find(predicate)
        if len(users) > 1:
            raise SignInError("ambiguous-user", f"Sign-in refused: {len(users)} catalog users match "
                              f"({spec.name}); each identity must match exactly one", status=403)
        return users[0] if users else None


def _safe_name(name: str) -> str | None:
    return name if _NAME.match(name) else None


def _local_part(email: str) -> str | None:
    return _safe_name(email.partition("@")[0])
