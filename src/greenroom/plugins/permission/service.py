"""The RBAC service: the policy the core asks, and what the REST API, the CLI and the UI call.

It merges three sources into one `Snapshot`: the policy files (reloaded when they change; a
file with errors keeps its previous version in force), what the REST API stored in the
database (reloaded when another process changed it), and the app config (admins and
super-users). Decisions are cached per (user, ownership refs, permission) until any source or
the catalog's group memberships change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from starlette.requests import Request

from greenroom.audit import SYSTEM_ACTOR, Actor, PluginAuditor
from greenroom.errors import ConfigError, ConflictError, InputError, NotAllowedError, NotFoundError
from greenroom.permissions.model import Decision, Permission, Result
from greenroom.permissions.policy import PermissionService
from greenroom.permissions.principal import Principal
from greenroom.plugins.permission.engine import Evaluation, Snapshot, admin_role
from greenroom.plugins.permission.files import WatchedFile, parse_conditional_yaml, parse_policy_csv
from greenroom.plugins.permission.memberships import CatalogRelations, GroupGraph
from greenroom.plugins.permission.model import (
    ADMIN_ROLE,
    CSV_AUTHOR,
    ConditionalGrant,
    DatabaseState,
    Grant,
    Membership,
    Origin,
    PolicyFileState,
    Problem,
    RoleMeta,
)
from greenroom.plugins.permission.refs import MEMBER_KINDS, ref_problem
from greenroom.plugins.permission.settings import RbacSettings
from greenroom.plugins.permission.store import RbacStore
from greenroom.plugins.permission.validation import check_conditional_policy, grant_problem, grant_reach

log = logging.getLogger("greenroom.plugins.permission")
FILE_CHECK_INTERVAL = 1.0
DATABASE_CHECK_INTERVAL = 1.0
MAX_CACHED_DECISIONS = 100_000
SOURCE_NAMES = {"csv-file": "CSV-FILE", "rest": "REST", "configuration": "CONFIGURATION",
                "conditional-file": "CONDITIONAL-FILE"}


class _Unaudited:
    """Stands in for an audit operation when no auditor is wired (unit use without a portal)."""

    def __enter__(self) -> _Unaudited:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def record(self, connection: Connection, **_fields: Any) -> None:  # noqa: ARG002
        return None


_ACTOR_TYPES: dict[str, Any] = {"user": "user", "service": "service", "local-admin": "local-admin",
                                "system": "system", "none": "anonymous"}


def _source_problem(role: str, meta: RoleMeta | None) -> str | None:
    if meta is None or meta.source == "rest":
        return None
    return (f"source does not match originating role {role}, consider making changes to the "
            f"'{SOURCE_NAMES.get(meta.source, meta.source.upper())}'")


class RbacService:
    def __init__(
        self,
        *,
        settings: RbacSettings,
        permissions: PermissionService,
        store: RbacStore,
        catalog: CatalogRelations | None,
        clock: Callable[[], float] = time.monotonic,
        audit: PluginAuditor | None = None,
    ) -> None:
        self.settings = settings
        self.permissions = permissions
        self.store = store
        self.catalog = catalog
        self.groups = GroupGraph(catalog, max_depth=settings.max_depth, clock=clock)
        self._clock = clock
        self.audit = audit
        self.csv: WatchedFile[PolicyFileState] | None = None
        self.conditional: WatchedFile[list[ConditionalGrant]] | None = None
        if settings.csv_file is not None:
            self.csv = WatchedFile(settings.csv_file, self._parse_csv, PolicyFileState())
        if settings.conditional_file is not None:
            self.conditional = WatchedFile(settings.conditional_file, self._parse_conditional, [])
        self._db = DatabaseState()
        self._db_loaded = False
        self._db_checked_at = float("-inf")
        self._files_checked_at = float("-inf")
        self._refresh_lock = threading.Lock()
        self.merge_problems: list[Problem] = []
        self.generation = 0
        self._state: tuple[Snapshot, dict[tuple[str, tuple[str, ...], Permission], Decision]] = (
            self._merge(), {})

    # -- files ----------------------------------------------------------------------------
    def _parse_csv(self, data: bytes, source: str) -> tuple[PolicyFileState, list[Problem]]:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return PolicyFileState(), [Problem(source, None, f"not UTF-8 text: {exc.reason} at byte {exc.start}")]
        return parse_policy_csv(text, source=source, permissions=self.permissions)

    def _parse_conditional(self, data: bytes, source: str) -> tuple[list[ConditionalGrant], list[Problem]]:
        return parse_conditional_yaml(data, source=source, permissions=self.permissions, limits=self.settings.limits,
                                      max_bytes=self.settings.conditional_max_bytes,
                                      max_documents=self.settings.conditional_max_documents)

    def _files(self) -> list[WatchedFile[Any]]:
        return [f for f in (self.csv, self.conditional) if f is not None]

    def load_files(self) -> None:
        """Read the policy files now; ConfigError naming every error (used at start-up)."""
        for watched in self._files():
            if not watched.load(time.time()):
                errors = watched.errors
                key = ("permission.rbac.policies-csv-file" if watched is self.csv
                       else "permission.rbac.conditionalPoliciesFile")
                raise ConfigError("the policy file does not load:\n  " + "\n  ".join(str(p) for p in errors),
                                  path=key)
            for warning in watched.problems:
                log.warning("policy file warning: %s", warning, extra={"problem": str(warning)})
        self._rebuild()

    # -- keeping current -------------------------------------------------------------------
    def refresh(self, *, force: bool = False) -> bool:
        """Reload what changed (files, database, catalog groups); True when the policy changed."""
        now = self._clock()
        if not force and now - self._files_checked_at < FILE_CHECK_INTERVAL and self._db_loaded:
            if not self.groups.check():
                return False
            self._rebuild(snapshot=False)
            return True
        if not self._refresh_lock.acquire(blocking=force):
            return False
        try:
            changed = False
            if force or now - self._files_checked_at >= FILE_CHECK_INTERVAL:
                self._files_checked_at = now
                if self.settings.reload:
                    for watched in self._files():
                        if watched.changed():
                            changed |= self._reload_file(watched)
            if force or not self._db_loaded or now - self._db_checked_at >= DATABASE_CHECK_INTERVAL:
                self._db_checked_at = now
                changed |= self._reload_database(force=force)
            groups_changed = self.groups.check(force=force)
            if changed:
                self._rebuild()
            elif groups_changed:
                self._rebuild(snapshot=False)
            return changed or groups_changed
        finally:
            self._refresh_lock.release()

    def _reload_file(self, watched: WatchedFile[Any]) -> bool:
        loaded = watched.load(time.time())
        if loaded:
            log.info("policy file reloaded", extra={"file": watched.name,
                                                     "warnings": [str(p) for p in watched.problems]})
        else:
            log.error("policy file not reloaded: the policy loaded before stays in force",
                      extra={"file": watched.name, "errors": [str(p) for p in watched.errors]})
        if self.audit is not None:
            self.audit.log("policy-file-change", actor=SYSTEM_ACTOR, status="succeeded" if loaded else "failed",
                           severity="high", action="update", target=watched.name,
                           meta={"source": "csv-file" if watched is self.csv else "conditional-file",
                                 "problems": [str(p) for p in watched.problems]},
                           error=None if loaded else "InputError: " + "; ".join(str(p) for p in watched.errors))
        return loaded

    def _reload_database(self, *, force: bool) -> bool:
        try:
            if self._db_loaded and not force and self.store.version() == self._db.version:
                return False
            state = self.store.load()
        except (OperationalError, ProgrammingError) as exc:
            # Not migrated yet (a command that does not migrate): nothing stored grants anything.
            log.error("rbac tables unreadable; stored roles are not in force",  # noqa: TRY400 - expected, no trace
                      extra={"error": str(exc.orig)})
            return False
        changed = not self._db_loaded or state.version != self._db.version or force
        self._db, self._db_loaded = state, True
        return changed

    def _rebuild(self, *, snapshot: bool = True) -> None:
        current = self._merge() if snapshot else self._state[0]
        self._state = (current, {})
        self.generation += 1

    def _merge(self) -> Snapshot:
        problems: list[Problem] = []
        meta, memberships, grants = admin_role(self.settings.admins)
        roles: dict[str, RoleMeta] = {ADMIN_ROLE: meta}
        conditions: list[ConditionalGrant] = []
        for ref, role in self._db.roles.items():
            if ref != ADMIN_ROLE:
                roles[ref] = role
        memberships += [m for m in self._db.memberships if m.role in self._db.roles]
        grants += [g for g in self._db.grants if g.role in self._db.roles]
        conditions += [c for c in self._db.conditions if c.role in self._db.roles]
        file_state = self.csv.current if self.csv is not None else PolicyFileState()
        items: list[Membership | Grant] = [*file_state.memberships, *file_state.grants]
        for item in items:
            owner = roles.get(item.role)
            if owner is not None and owner.source != "csv-file":
                problems.append(Problem(item.origin.file or "?", item.origin.line,
                                        f"not applied: {_source_problem(item.role, owner)}", "warning"))
                continue
            if owner is None:
                roles[item.role] = RoleMeta(item.role, "csv-file", author=CSV_AUTHOR, modified_by=CSV_AUTHOR)
            if isinstance(item, Membership):
                memberships.append(item)
            else:
                grants.append(item)
        for conditional in self.conditional.current if self.conditional is not None else []:
            owner = roles.get(conditional.role)
            if owner is None or owner.source != "csv-file":
                problems.append(Problem(conditional.origin.file or "?", conditional.origin.line,
                                        f"skip to add condition for role '{conditional.role}'. The role either does "
                                        "not exist or was not created from a CSV file.", "warning"))
                continue
            conditions.append(conditional)
        self.merge_problems = problems
        super_users = [(ref, Origin("configuration", detail=key)) for ref, key in self.settings.super_users]
        return Snapshot(roles=roles, memberships=memberships, grants=grants, conditions=conditions,
                        super_users=super_users, precedence=self.settings.precedence)

    @property
    def snapshot(self) -> Snapshot:
        return self._state[0]

    # -- deciding -------------------------------------------------------------------------
    def decide(self, principal: Principal, permission: Permission, *, plugin_id: str) -> Decision:  # noqa: ARG002
        """The `PermissionPolicy` the core asks (credential caps are applied before)."""
        if principal.type in ("local-admin", "system"):
            return Decision(Result.ALLOW, reason=f"{principal.type} has full access")
        if principal.type == "service":
            return Decision(Result.ALLOW, reason=f"service credential {principal.subject}")
        if principal.type != "user":
            return Decision(Result.DENY, reason="not a user")
        self.refresh()
        snapshot, cache = self._state
        key = (principal.subject, principal.ownership_refs, permission)
        decision = cache.get(key)
        if decision is None:
            decision = self._evaluate(snapshot, principal.subject, principal.ownership_refs, permission).decision()
            if self.permissions.permission(permission.name) == permission:  # not names anyone can make up
                if len(cache) >= MAX_CACHED_DECISIONS:
                    cache.clear()
                cache[key] = decision
        return decision

    def _evaluate(self, snapshot: Snapshot, subject: str, ownership_refs: Sequence[str],
                  permission: Permission) -> Evaluation:
        return snapshot.evaluate(subject, ownership_refs, permission, lambda: self.groups.groups_of(subject),
                                 self.permissions.plugin_of)

    def evaluate(
        self, user_ref: str, permission: Permission, ownership_refs: Sequence[str] | None = None
    ) -> Evaluation:
        """Everything that decides `permission` for a user (for explain, tests and reviews)."""
        self.refresh()
        refs = list(ownership_refs) if ownership_refs is not None else self.default_ownership(user_ref)
        return self._evaluate(self.snapshot, user_ref.lower(), refs, permission)

    def default_ownership(self, user_ref: str) -> list[str]:
        """What a sign-in would put in the user's token by default: the user and its direct groups."""
        user = user_ref.lower()
        groups = [target for _s, _t, target in self.catalog.relations_of([user], ("memberOf",))] \
            if self.catalog is not None else []
        return list(dict.fromkeys([user, *groups]))

    # -- reading --------------------------------------------------------------------------
    def roles(self) -> list[dict[str, Any]]:
        """RHDH's `GET /roles`: every role with its members and metadata."""
        self.refresh()
        snapshot = self.snapshot
        return [self._role_json(snapshot, name) for name in sorted(snapshot.roles)]

    def role(self, ref: str) -> dict[str, Any]:
        self.refresh()
        snapshot = self.snapshot
        if ref not in snapshot.roles:
            raise NotFoundError(f"role {ref} was not found")
        return self._role_json(snapshot, ref)

    @staticmethod
    def _role_json(snapshot: Snapshot, name: str) -> dict[str, Any]:
        return {"memberReferences": [m.member for m in snapshot.members_of(name)], "name": name,
                "metadata": snapshot.roles[name].to_json()}

    def policies(self, *, entity_ref: str | None = None, permission: str | None = None, action: str | None = None,
                 effect: str | None = None) -> list[dict[str, Any]]:
        """RHDH's `GET /policies`, with its optional filters."""
        self.refresh()
        snapshot = self.snapshot
        out = []
        for grant in snapshot.grants:
            if (entity_ref and grant.role != entity_ref) or (permission and grant.permission != permission) or \
                    (action and grant.action != action) or (effect and grant.effect != effect):
                continue
            out.append(grant.to_json(snapshot.roles[grant.role].source))
        return out

    def conditions(self, *, role: str | None = None, plugin_id: str | None = None, resource_type: str | None = None,
                   actions: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """RHDH's `GET /roles/conditions`, with its optional filters (actions: all must be mapped)."""
        self.refresh()
        out = []
        for conditional in self.snapshot.conditions:
            if (role and conditional.role != role) or (plugin_id and conditional.plugin_id != plugin_id) or \
                    (resource_type and conditional.resource_type != resource_type) or \
                    (actions and not set(actions) <= set(conditional.actions)):
                continue
            out.append(conditional.to_json())
        return out

    def condition(self, condition_id: int) -> dict[str, Any]:
        self.refresh()
        for conditional in self.snapshot.conditions:
            if conditional.id == condition_id and conditional.origin.source == "rest":
                return conditional.to_json()
        raise NotFoundError(f"Condition with id {condition_id} was not found")

    def plugin_policies(self) -> list[dict[str, Any]]:
        """RHDH's `GET /plugins/policies`: the permissions of every plugin (or `pluginsWithPermission`)."""
        out = []
        for plugin_id, permissions in sorted(self.permissions.permissions_by_plugin().items()):
            if self.settings.plugins_with_permission is not None and plugin_id not in \
                    (*self.settings.plugins_with_permission, "permission"):
                continue
            policies = []
            for permission in permissions:
                entry: dict[str, Any] = {"name": permission.name, "policy": permission.action}
                if permission.resource_type:
                    entry["resourceType"] = permission.resource_type
                policies.append(entry)
            out.append({"pluginId": plugin_id, "policies": policies})
        return out

    def condition_rules(self) -> list[dict[str, Any]]:
        """RHDH's `GET /plugins/condition-rules`: each plugin's rules with their parameter schemas."""
        by_plugin: dict[str, list[dict[str, Any]]] = {}
        for resource_type in self.permissions.resource_types():
            by_plugin.setdefault(resource_type.plugin_id, []).extend(r.to_json() for r in resource_type.rules)
        return [{"pluginId": plugin, "rules": rules} for plugin, rules in sorted(by_plugin.items())]

    def problems(self) -> list[Problem]:
        """Every problem of the last load of each file, and what the merge left out."""
        return [p for f in self._files() for p in f.problems] + list(self.merge_problems)

    def status(self) -> dict[str, Any]:
        self.refresh()
        files = [{"path": f.name, "kind": "csv" if f is self.csv else "conditional",
                  "loadedAt": f.loaded_at, "inForce": f.state is not None,
                  "problems": [p.to_json() for p in f.problems]} for f in self._files()]
        snapshot = self.snapshot
        return {"files": files, "merge": [p.to_json() for p in self.merge_problems],
                "roles": len(snapshot.roles), "grants": len(snapshot.grants),
                "conditions": len(snapshot.conditions), "databaseVersion": self._db.version,
                "reload": self.settings.reload, "precedence": self.settings.precedence}

    # -- changing (the REST API) -------------------------------------------------------------
    # Every change is one audited operation (RHDH's event ids: role-write, policy-write,
    # condition-write): its event is appended as the last statement of the change's transaction,
    # and a refused or failed change records a `failed` event with the error.
    def _changed(self) -> None:
        self.refresh(force=True)

    def _operation(self, event_id: str, *, action: str, target: str | None, actor: Principal,
                   request: Request | None, meta: dict[str, Any] | None = None) -> Any:
        if self.audit is None:
            return _Unaudited()
        who = None if request is not None else Actor(actor_id=actor.subject, type=_ACTOR_TYPES.get(actor.type, "user"))
        return self.audit.operation(event_id, request=request, actor=who, severity="high", action=action,
                                    target=target, meta={"source": "rest", **(meta or {})})

    def _existing(self, ref: str) -> RoleMeta | None:
        self.refresh()
        return self.snapshot.roles.get(ref)

    def _check_role_body(self, body: Any, what: str) -> tuple[str, list[str], dict[str, Any]]:
        if not isinstance(body, dict):
            raise InputError(f"{what}. Cause: a role is an object with name, memberReferences and metadata")
        name = body.get("name")
        problem = "'name' field must not be empty" if not name else ref_problem(name, kinds=("role",))
        if problem:
            raise InputError(f"{what}. Cause: {problem}")
        members = body.get("memberReferences")
        if not isinstance(members, list) or not members:
            raise InputError(f"{what}. Cause: 'memberReferences' field must not be empty")
        lowered = []
        for member in members:
            member_problem = ref_problem(member.lower() if isinstance(member, str) else member, kinds=MEMBER_KINDS)
            if member_problem:
                raise InputError(f"{what}. Cause: {member_problem}")
            lowered.append(member.lower())
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise InputError(f"{what}. Cause: 'metadata' must be an object")
        owner = metadata.get("owner")
        if owner is not None:
            owner_problem = ref_problem(owner, kinds=MEMBER_KINDS)
            if owner_problem:
                raise InputError(f"{what}. Cause: {owner_problem}")
        description = metadata.get("description")
        if description is not None and not isinstance(description, str):
            raise InputError(f"{what}. Cause: 'metadata.description' must be a string")
        return str(name), lowered, metadata

    @staticmethod
    def _no_duplicates(role: str, members: Sequence[str]) -> None:
        seen: set[str] = set()
        for member in members:
            if member in seen:
                raise ConflictError(f"Duplicate role members found; {member}, {role} is a duplicate")
            seen.add(member)

    @staticmethod
    def _require_user(actor: Principal) -> None:
        if actor.type == "service":
            raise NotAllowedError("Only credential principal with type 'user' permitted to modify permissions")

    def create_role(self, body: Any, *, actor: Principal, request: Request | None = None) -> None:
        target = body.get("name") if isinstance(body, dict) and isinstance(body.get("name"), str) else None
        with self._operation("role-write", action="create", target=target, actor=actor, request=request) as op:
            self._require_user(actor)
            name, members, metadata = self._check_role_body(body, "Invalid role definition")
            self._no_duplicates(name, members)
            problem = _source_problem(name, self._existing(name))
            if problem:
                raise NotAllowedError(f"Unable to add role: {problem}")
            meta = RoleMeta(name, "rest", description=metadata.get("description") or "", author=actor.subject,
                            modified_by=actor.subject, owner=metadata.get("owner") or actor.subject)
            try:
                with self.store.transaction() as connection:
                    if self.store.role(connection, name) is not None:
                        raise ConflictError(f"role {name} already exists")
                    self.store.insert_role(connection, meta, members)
                    op.record(connection, meta={"members": members, "description": meta.description})
            except IntegrityError:
                raise ConflictError(f"role {name} already exists") from None
        self._changed()

    def update_role(self, ref: str, body: Any, *, actor: Principal, request: Request | None = None) -> None:
        with self._operation("role-write", action="update", target=ref, actor=actor, request=request) as op:
            self._require_user(actor)
            self._check_ref(ref, role=True)
            if not isinstance(body, dict) or not body.get("oldRole"):
                raise InputError("'oldRole' object must be present")
            old, new = body["oldRole"], body.get("newRole")
            if not new:
                raise InputError("'newRole' object must be present")
            if isinstance(old, dict):
                old = {**old, "name": ref}
            _name, old_members, _meta = self._check_role_body(old, "Invalid old role object")
            new_name, new_members, new_metadata = self._check_role_body(new, "Invalid new role object")
            self._no_duplicates(ref, old_members)
            self._no_duplicates(new_name, new_members)
            existing = self._existing(ref)
            if existing is None:
                raise NotFoundError(f"Unable to find metadata for {ref}")
            problem = _source_problem(ref, existing)
            if problem:
                raise NotAllowedError(f"Unable to edit role: {problem}")
            if new_name != ref and self._existing(new_name) is not None:
                raise ConflictError(f"role {new_name} already exists")
            try:
                with self.store.transaction() as connection:
                    current = self.store.role(connection, ref)
                    if current is None:
                        raise NotFoundError(f"Unable to find metadata for {ref}")
                    stored = self.store.members(connection, ref)
                    # RHDH's semantics: `oldRole` names members that must still be there (so an edit
                    # made from a stale view fails instead of undoing someone else's), and they are
                    # replaced by `newRole`'s; members named by neither stay.
                    for member in old_members:
                        if member not in stored:
                            raise NotFoundError(f"Member reference: {member} was not found for role {ref}")
                    for member in new_members:
                        if member in stored and member not in old_members:
                            raise ConflictError(f"Member reference: {member} is already a member of role {ref}")
                    if new_name != ref and self.store.role(connection, new_name) is not None:
                        raise ConflictError(f"role {new_name} already exists")
                    members = list(dict.fromkeys([*(m for m in stored if m not in old_members), *new_members]))
                    description = new_metadata.get("description")
                    meta = RoleMeta(new_name, "rest",
                                    description=current.description if description is None else description,
                                    owner=new_metadata.get("owner") or current.owner, author=current.author,
                                    modified_by=actor.subject)
                    self.store.update_role(connection, ref, meta, members)
                    op.record(connection, meta={"oldMembers": stored, "members": members, "name": new_name})
            except IntegrityError:
                raise ConflictError(f"role {new_name} already exists") from None
        self._changed()

    def delete_role(self, ref: str, *, member: str | None = None, actor: Principal,
                    request: Request | None = None) -> None:
        action = "update" if member is not None else "delete"
        with self._operation("role-write", action=action, target=ref, actor=actor, request=request) as op:
            self._require_user(actor)
            self._check_ref(ref, role=True)
            problem = _source_problem(ref, self._existing(ref))
            if problem:
                raise NotAllowedError(f"Unable to delete role: {problem}")
            with self.store.transaction() as connection:
                if self.store.role(connection, ref) is None:
                    raise NotFoundError(f"role {ref} was not found")
                if member is not None:
                    member = member.lower()
                    if member not in self.store.members(connection, ref):
                        raise NotFoundError(f"role member '{member}' was not found")
                    self.store.delete_members(connection, ref, [member])
                    self.store.touch_role(connection, ref, actor.subject)
                    op.record(connection, meta={"removedMembers": [member]})
                else:
                    removed = {"members": self.store.members(connection, ref),
                               "policies": sorted(list(g) for g in self.store.grants(connection, ref)),
                               "conditions": [c.to_json() for c in self.store.conditions(connection, ref)]}
                    self.store.delete_role(connection, ref)
                    op.record(connection, meta={"removed": removed})
        self._changed()

    @staticmethod
    def _check_ref(ref: str, *, role: bool = False) -> None:
        problem = ref_problem(ref, kinds=("role",) if role else ("user", "group", "role"))
        if problem:
            raise InputError(problem)

    def _checked_grants(self, items: Any, what: str, *, role: str | None = None) -> list[tuple[str, str, str, str]]:
        if not isinstance(items, list) or not items:
            raise InputError("permission policy must be present" if what == "policy" else
                             f"'{'oldPolicy' if what == 'old policy' else 'newPolicy'}' object must be present")
        out: list[tuple[str, str, str, str]] = []
        for item in items:
            if not isinstance(item, dict):
                raise InputError(f"Invalid {what} definition. Cause: a policy is an object")
            entity = role if role is not None else item.get("entityReference")
            problem = ref_problem(entity, kinds=("role",))
            if problem:
                raise InputError(f"Invalid {what} definition. Cause: {problem}")
            problem = grant_problem(item.get("permission"), item.get("policy"), item.get("effect"))
            if problem:
                raise InputError(f"Invalid {what} definition. Cause: {problem}")
            reach = grant_reach(self.permissions, item["permission"], item["policy"])
            if reach:
                raise InputError(f"Invalid {what} definition. Cause: {reach}")
            key = (str(entity), item["permission"], item["policy"], item["effect"])
            if key in out:
                raise ConflictError(f"Duplicate polices found; {', '.join(key)} is a duplicate")
            out.append(key)
        return out

    def _check_rest_role(self, role: str, verb: str, grant: tuple[str, str, str, str]) -> None:
        problem = _source_problem(role, self._existing(role))
        if problem:
            raise NotAllowedError(f"Unable to {verb} policy {','.join(grant)}: {problem}")

    def add_policies(self, items: Any, *, actor: Principal, request: Request | None = None) -> None:
        target = items[0].get("entityReference") if isinstance(items, list) and items and \
            isinstance(items[0], dict) else None
        with self._operation("policy-write", action="create", target=target, actor=actor, request=request) as op:
            self._require_user(actor)
            grants = self._checked_grants(items, "policy")
            for grant in grants:
                self._check_rest_role(grant[0], "add", grant)
            with self.store.transaction() as connection:
                for grant in grants:
                    if self.store.role(connection, grant[0]) is None:
                        raise NotFoundError(f"Corresponding role {grant[0]} was not found")
                    if grant in self.store.grants(connection, grant[0]):
                        raise ConflictError(f"Policy '[{', '.join(grant)}]' has been already stored")
                self.store.insert_grants(connection, grants)
                for role in dict.fromkeys(g[0] for g in grants):
                    self.store.touch_role(connection, role, actor.subject)
                op.record(connection, meta={"policies": [list(g) for g in grants]})
        self._changed()

    def update_policies(self, ref: str, body: Any, *, actor: Principal, request: Request | None = None) -> None:
        with self._operation("policy-write", action="update", target=ref, actor=actor, request=request) as op:
            self._require_user(actor)
            self._check_ref(ref)
            if not isinstance(body, dict):
                raise InputError("'oldPolicy' object must be present")
            old = self._checked_grants(body.get("oldPolicy"), "old policy", role=ref)
            new = self._checked_grants(body.get("newPolicy"), "new policy", role=ref)
            for grant in old:
                self._check_rest_role(ref, "edit", grant)
            if sorted(old) == sorted(new):
                return
            with self.store.transaction() as connection:
                if self.store.role(connection, ref) is None:
                    raise NotFoundError(f"Corresponding role {ref} was not found")
                stored = self.store.grants(connection, ref)
                for grant in old:
                    if grant not in stored:
                        raise NotFoundError(f"Policy '[{', '.join(grant)}]' not found")
                remaining = stored - set(old)
                for grant in new:
                    if grant in remaining:
                        raise ConflictError(f"Policy '[{', '.join(grant)}]' has been already stored")
                self.store.delete_grants(connection, old)
                self.store.insert_grants(connection, new)
                self.store.touch_role(connection, ref, actor.subject)
                op.record(connection, meta={"oldPolicies": [list(g) for g in old],
                                            "policies": [list(g) for g in new]})
        self._changed()

    def delete_policies(self, ref: str, items: Any, *, actor: Principal, request: Request | None = None) -> None:
        with self._operation("policy-write", action="delete", target=ref, actor=actor, request=request) as op:
            self._require_user(actor)
            self._check_ref(ref)
            grants = self._checked_grants(items, "policy", role=ref)
            for grant in grants:
                self._check_rest_role(ref, "delete", grant)
            with self.store.transaction() as connection:
                stored = self.store.grants(connection, ref)
                for grant in grants:
                    if grant not in stored:
                        raise NotFoundError(f"Policy '[{', '.join(grant)}]' not found")
                self.store.delete_grants(connection, grants)
                self.store.touch_role(connection, ref, actor.subject)
                op.record(connection, meta={"policies": [list(g) for g in grants]})
        self._changed()

    def _checked_condition(self, body: Any, condition_id: int | None = None) -> ConditionalGrant:
        return check_conditional_policy(body, self.permissions, limits=self.settings.limits,
                                        origin=Origin("rest"), id=condition_id)

    def _check_condition_role(self, connection: Connection, grant: ConditionalGrant,
                              exclude: int | None = None) -> None:
        problem = _source_problem(grant.role, self._existing(grant.role))
        if problem:
            raise NotAllowedError(f"Unable to add condition: {problem}")
        if self.store.role(connection, grant.role) is None:
            raise NotFoundError(f"Corresponding role {grant.role} was not found")
        for stored in self.store.conditions(connection, grant.role):
            if stored.id == exclude:
                continue
            clash = set(stored.permission_names) & set(grant.permission_names)
            if clash:
                raise ConflictError(f"A condition with resource type {grant.resource_type} and permission name "
                                    f"{sorted(clash)[0]} has already been stored for role {grant.role}")

    def create_condition(self, body: Any, *, actor: Principal, request: Request | None = None) -> int:
        target = body.get("roleEntityRef") if isinstance(body, dict) else None
        with self._operation("condition-write", action="create", target=target, actor=actor,
                             request=request) as op:
            self._require_user(actor)
            grant = self._checked_condition(body)
            with self.store.transaction() as connection:
                self._check_condition_role(connection, grant)
                condition_id = self.store.insert_condition(connection, grant)
                op.record(connection, meta={"id": condition_id, "condition": grant.to_json()})
        self._changed()
        return condition_id

    def update_condition(self, condition_id: int, body: Any, *, actor: Principal,
                         request: Request | None = None) -> None:
        target = body.get("roleEntityRef") if isinstance(body, dict) else None
        with self._operation("condition-write", action="update", target=target, actor=actor, request=request,
                             meta={"id": condition_id}) as op:
            self._require_user(actor)
            grant = self._checked_condition(body, condition_id)
            with self.store.transaction() as connection:
                current = self.store.condition(connection, condition_id)
                if current is None:
                    raise NotFoundError(f"Condition with id {condition_id} was not found")
                self._check_condition_role(connection, grant, exclude=condition_id)
                self.store.update_condition(connection, condition_id, grant)
                op.record(connection, meta={"condition": grant.to_json(), "old": current.to_json()})
        self._changed()

    def delete_condition(self, condition_id: int, *, actor: Principal, request: Request | None = None) -> None:
        with self._operation("condition-write", action="delete", target=None, actor=actor, request=request,
                             meta={"id": condition_id}) as op:
            self._require_user(actor)
            with self.store.transaction() as connection:
                current = self.store.condition(connection, condition_id)
                if current is None:
                    raise NotFoundError(f"Condition with id {condition_id} was not found")
                self.store.delete_condition(connection, condition_id)
                op.record(connection, target=current.role, meta={"condition": current.to_json()})
        self._changed()

    # -- for explain and reviews ------------------------------------------------------------
    def grants_of(self, role: str) -> list[Grant]:
        return self.snapshot.grants_of(role)
