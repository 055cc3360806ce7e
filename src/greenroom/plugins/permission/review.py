"""Access review: who can do what, and what in the policy deserves a second look.

Per user (every catalog User, every user a role names, every user who has signed in): their
roles and how they hold them, and for every permission of every loaded plugin whether it is
allowed, denied or conditional. Per role: its members, grants and conditions with where each
is defined. Findings: super-users, roles with no members, members that name a user or group
that is not in the catalog (a deleted group keeps its grant until someone notices), and users
not seen for N days (no sign-in, refresh or cookie use of any session).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from greenroom.permissions.model import Permission, Result
from greenroom.plugins.permission.service import RbacService

ResultName = str


def _catalog_users(rbac: RbacService) -> list[str]:
    catalog = rbac.catalog
    queries = getattr(catalog, "queries", None)
    if queries is None:
        return []
    refs = []
    for raw in queries.list_all({"kind": "user"}, []):
        entity = orjson.loads(raw)
        metadata = entity.get("metadata") or {}
        refs.append(f"user:{metadata.get('namespace') or 'default'}/{metadata.get('name')}".lower())
    return refs


def access_review(
    rbac: RbacService,
    *,
    last_seen: Mapping[str, int],
    inactive_days: int = 90,
    now: float | None = None,
) -> dict[str, Any]:
    rbac.refresh(force=True)
    snapshot = rbac.snapshot
    now = time.time() if now is None else now
    permissions: list[Permission] = [p for ps in rbac.permissions.permissions_by_plugin().values() for p in ps]
    role_member_users = [m.member for m in snapshot.memberships if m.member.startswith("user:")]
    users = sorted({*_catalog_users(rbac), *role_member_users, *(u.lower() for u in last_seen)} - {""})
    groups = rbac.groups.groups_of_many(users)
    cutoff = now - inactive_days * 86400

    user_rows = []
    for user in users:
        refs = list(dict.fromkeys([user, *(g for g, path in groups[user].items() if len(path) == 2)]))
        results: dict[ResultName, list[str]] = {"ALLOW": [], "DENY": [], "CONDITIONAL": []}
        super_user = snapshot.super_user_entry(user, refs)
        user_groups = _constant(groups[user])
        for permission in permissions:
            evaluation = snapshot.evaluate(user, refs, permission, user_groups, rbac.permissions.plugin_of)
            results[evaluation.result.value].append(permission.name)
        seen = last_seen.get(user)
        roles = snapshot.roles_for(user, groups[user])
        user_rows.append({
            "ref": user,
            "superUser": super_user is not None,
            "roles": [{"role": via.role, "path": list(via.path), "membership": str(via.origin)} for via in roles],
            "allow": results[Result.ALLOW.value],
            "conditional": results[Result.CONDITIONAL.value],
            "deny": results[Result.DENY.value],
            "lastSeen": _iso(seen),
            "inactive": seen is None or seen < cutoff,
        })

    role_rows = []
    for name in sorted(snapshot.roles):
        meta = snapshot.roles[name]
        members = snapshot.members_of(name)
        role_rows.append({
            "name": name,
            "source": meta.source,
            "members": [{"ref": m.member, "origin": str(m.origin)} for m in members],
            "grants": [{"permission": g.permission, "action": g.action, "effect": g.effect, "origin": str(g.origin)}
                       for g in snapshot.grants_of(name)],
            "conditions": [{"permissionMapping": c.actions, "resourceType": c.resource_type,
                            "conditions": c.criteria, "origin": str(c.origin)} for c in snapshot.conditions_of(name)],
        })

    member_refs = sorted({m.member for m in snapshot.memberships})
    existing = _existing(rbac, member_refs)
    missing = [{"role": m.role, "member": m.member, "kind": m.member.split(":", 1)[0], "origin": str(m.origin)}
               for m in snapshot.memberships if existing is not None and m.member not in existing]
    return {
        "generatedAt": _iso(int(now)),
        "inactiveDays": inactive_days,
        "superUsers": [{"ref": ref, "configKey": key} for ref, key in rbac.settings.super_users],
        "rolesWithoutMembers": [r["name"] for r in role_rows if not r["members"]],
        "missingMembers": missing,
        "inactiveUsers": [{"ref": u["ref"], "lastSeen": u["lastSeen"]} for u in user_rows if u["inactive"]],
        "roles": role_rows,
        "users": user_rows,
    }


def _constant(value: Mapping[str, tuple[str, ...]]) -> Callable[[], Mapping[str, tuple[str, ...]]]:
    return lambda: value


def _existing(rbac: RbacService, refs: Sequence[str]) -> set[str] | None:
    existing = getattr(rbac.catalog, "existing_refs", None)
    return set(existing(refs)) if existing is not None else None


def _iso(stamp: int | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


CSV_COLUMNS = ("kind", "subject", "role", "permission", "result", "detail")


def review_rows(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """The report as flat rows (for CSV): one per user permission, role grant and finding."""
    rows: list[dict[str, str]] = []

    def add(kind: str, subject: str, role: str = "", permission: str = "", result: str = "", detail: str = "") -> None:
        rows.append({"kind": kind, "subject": subject, "role": role, "permission": permission, "result": result,
                     "detail": detail})

    for entry in report["superUsers"]:
        add("super-user", entry["ref"], detail=entry["configKey"])
    for name in report["rolesWithoutMembers"]:
        add("role-without-members", name, role=name)
    for entry in report["missingMembers"]:
        add("missing-member", entry["member"], role=entry["role"], detail=entry["origin"])
    for entry in report["inactiveUsers"]:
        add("inactive-user", entry["ref"], detail=f"last seen {entry['lastSeen'] or 'never'}")
    for role in report["roles"]:
        for grant in role["grants"]:
            add("role-grant", role["name"], role=role["name"], permission=f"{grant['permission']} ({grant['action']})",
                result=grant["effect"].upper(), detail=grant["origin"])
        for conditional in role["conditions"]:
            add("role-condition", role["name"], role=role["name"],
                permission=f"{conditional['resourceType']} ({', '.join(conditional['permissionMapping'])})",
                result="CONDITIONAL", detail=conditional["origin"])
    for user in report["users"]:
        roles = ";".join(dict.fromkeys(r["role"] for r in user["roles"]))
        for result in ("allow", "conditional", "deny"):
            for permission in user[result]:
                add("user-permission", user["ref"], role=roles, permission=permission, result=result.upper(),
                    detail="super-user" if user["superUser"] else "")
    return rows
