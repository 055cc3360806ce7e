"""Roles, members, grants and conditions stored through the REST API (SQLite and PostgreSQL).

Every change runs in one transaction that first bumps `rbac_state.version`: that serialises
writers (so a check made inside the transaction still holds when it commits) and tells other
processes to reload. The caller passes the open connection to whatever must commit with the
change (the audit event).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, insert, select, update

from greenroom.db.engine import Database
from greenroom.plugins.permission import tables
from greenroom.plugins.permission.model import (
    DB_ORIGIN,
    ConditionalGrant,
    DatabaseState,
    Grant,
    Membership,
    RoleMeta,
)


def _role(row: Any) -> RoleMeta:
    return RoleMeta(row.role_ref, "rest", description=row.description, owner=row.owner, author=row.author,
                    modified_by=row.modified_by, created_at=int(row.created_at), last_modified=int(row.last_modified))


def _condition(row: Any) -> ConditionalGrant:
    mapping = tuple((str(m["name"]), str(m["action"])) for m in orjson.loads(row.permission_mapping))
    return ConditionalGrant(role=row.role_ref, plugin_id=row.plugin_id, resource_type=row.resource_type,
                            mapping=mapping, criteria=orjson.loads(row.conditions), origin=DB_ORIGIN, id=int(row.id))


class RbacStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def version(self) -> int:
        with self.database.engine.connect() as connection:
            return int(connection.execute(select(tables.state.c.version).where(tables.state.c.id == 1)).scalar() or 0)

    def load(self) -> DatabaseState:
        with self.database.engine.connect() as connection:
            version = int(connection.execute(select(tables.state.c.version).where(tables.state.c.id == 1)).scalar()
                          or 0)
            roles = {row.role_ref: _role(row) for row in connection.execute(select(tables.roles))}
            members = [Membership(row.member_ref, row.role_ref, DB_ORIGIN)
                       for row in connection.execute(select(tables.members).order_by(tables.members.c.role_ref,
                                                                                     tables.members.c.member_ref))]
            p = tables.policies
            grants = [Grant(row.role_ref, row.permission, row.action, row.effect, DB_ORIGIN)
                      for row in connection.execute(select(p).order_by(p.c.role_ref, p.c.permission, p.c.action))]
            conditions = [_condition(row) for row in
                          connection.execute(select(tables.conditions).order_by(tables.conditions.c.id))]
        return DatabaseState(version=version, roles=roles, memberships=members, grants=grants, conditions=conditions)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, serialised against every other writer."""
        with self.database.engine.begin() as connection:
            s = tables.state
            connection.execute(update(s).where(s.c.id == 1).values(version=s.c.version + 1))
            yield connection

    # -- reads inside a transaction -------------------------------------------------------
    @staticmethod
    def role(connection: Connection, ref: str) -> RoleMeta | None:
        row = connection.execute(select(tables.roles).where(tables.roles.c.role_ref == ref)).first()
        return None if row is None else _role(row)

    @staticmethod
    def members(connection: Connection, ref: str) -> list[str]:
        m = tables.members
        return list(connection.execute(select(m.c.member_ref).where(m.c.role_ref == ref)
                                       .order_by(m.c.member_ref)).scalars())

    @staticmethod
    def grants(connection: Connection, ref: str) -> set[tuple[str, str, str, str]]:
        p = tables.policies
        rows = connection.execute(
            select(p.c.role_ref, p.c.permission, p.c.action, p.c.effect).where(p.c.role_ref == ref))
        return {(r.role_ref, r.permission, r.action, r.effect) for r in rows}

    @staticmethod
    def condition(connection: Connection, condition_id: int) -> ConditionalGrant | None:
        row = connection.execute(select(tables.conditions).where(tables.conditions.c.id == condition_id)).first()
        return None if row is None else _condition(row)

    @staticmethod
    def conditions(connection: Connection, ref: str) -> list[ConditionalGrant]:
        c = tables.conditions
        return [_condition(row) for row in connection.execute(select(c).where(c.c.role_ref == ref).order_by(c.c.id))]

    # -- writes ---------------------------------------------------------------------------
    @staticmethod
    def insert_role(connection: Connection, meta: RoleMeta, members: Sequence[str]) -> None:
        now = int(time.time())
        connection.execute(insert(tables.roles).values(
            role_ref=meta.name, description=meta.description, owner=meta.owner, author=meta.author,
            modified_by=meta.modified_by, created_at=now, last_modified=now))
        if members:
            connection.execute(insert(tables.members), [{"role_ref": meta.name, "member_ref": m} for m in members])

    @staticmethod
    def update_role(connection: Connection, old_ref: str, meta: RoleMeta, members: Sequence[str]) -> None:
        """Replace a role's metadata and members; a new name moves its grants and conditions."""
        now = int(time.time())
        r, m = tables.roles, tables.members
        connection.execute(update(r).where(r.c.role_ref == old_ref).values(
            role_ref=meta.name, description=meta.description, owner=meta.owner, modified_by=meta.modified_by,
            last_modified=now))
        connection.execute(delete(m).where(m.c.role_ref == old_ref))
        if members:
            connection.execute(insert(m), [{"role_ref": meta.name, "member_ref": ref} for ref in members])
        if meta.name != old_ref:
            for table in (tables.policies, tables.conditions):
                connection.execute(update(table).where(table.c.role_ref == old_ref).values(role_ref=meta.name))

    @staticmethod
    def touch_role(connection: Connection, ref: str, modified_by: str) -> None:
        r = tables.roles
        connection.execute(update(r).where(r.c.role_ref == ref).values(modified_by=modified_by,
                                                                        last_modified=int(time.time())))

    @staticmethod
    def delete_members(connection: Connection, ref: str, members: Sequence[str]) -> None:
        m = tables.members
        connection.execute(delete(m).where(m.c.role_ref == ref, m.c.member_ref.in_(list(members))))

    @staticmethod
    def delete_role(connection: Connection, ref: str) -> None:
        for table in (tables.members, tables.policies, tables.conditions, tables.roles):
            connection.execute(delete(table).where(table.c.role_ref == ref))

    @staticmethod
    def insert_grants(connection: Connection, grants: Sequence[tuple[str, str, str, str]]) -> None:
        if grants:
            connection.execute(insert(tables.policies), [
                {"role_ref": r, "permission": p, "action": a, "effect": e} for r, p, a, e in grants])

    @staticmethod
    def delete_grants(connection: Connection, grants: Sequence[tuple[str, str, str, str]]) -> None:
        p = tables.policies
        for role, permission, action, effect in grants:
            connection.execute(delete(p).where(and_(p.c.role_ref == role, p.c.permission == permission,
                                                    p.c.action == action, p.c.effect == effect)))

    @staticmethod
    def insert_condition(connection: Connection, grant: ConditionalGrant) -> int:
        c = tables.conditions
        result = connection.execute(insert(c).values(
            role_ref=grant.role, plugin_id=grant.plugin_id, resource_type=grant.resource_type,
            permission_mapping=orjson.dumps([{"name": n, "action": a} for n, a in grant.mapping]).decode(),
            conditions=orjson.dumps(grant.criteria).decode(), created_at=int(time.time())))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    @staticmethod
    def update_condition(connection: Connection, condition_id: int, grant: ConditionalGrant) -> None:
        c = tables.conditions
        connection.execute(update(c).where(c.c.id == condition_id).values(
            role_ref=grant.role, plugin_id=grant.plugin_id, resource_type=grant.resource_type,
            permission_mapping=orjson.dumps([{"name": n, "action": a} for n, a in grant.mapping]).decode(),
            conditions=orjson.dumps(grant.criteria).decode()))

    @staticmethod
    def delete_condition(connection: Connection, condition_id: int) -> None:
        connection.execute(delete(tables.conditions).where(tables.conditions.c.id == condition_id))
