"""Whether the permission framework decides anything, and who sits above it."""

from __future__ import annotations

from collections.abc import Iterator

from greenroom.posture.checks.common import by_deployment, falsy, show, truthy
from greenroom.posture.context import AuditContext
from greenroom.posture.model import Location, Severity
from greenroom.posture.registry import Hit, check

ALLOW_ALL_MODULE = "@backstage/plugin-permission-backend-module-allow-all-policy"
GUEST_REFS = ("user:default/guest", "user:development/guest", "user:guest", "guest")


@check(
    id="GR-PERM-001",
    title="Permission framework disabled",
    severity=Severity.HIGH,
    severity_note="high in production, medium otherwise",
    category="permissions",
    why="""With `permission.enabled` false or absent, Backstage authorizes nothing: every signed-in
    user (and every service) can read, register, refresh and delete any entity and run any
    template. greenroom never turns its permission system off, so there the key is a
    misunderstanding to remove.""",
    remediation="""
        permission:
          enabled: true
          rbac:
            policies-csv-file: /opt/app-root/rbac/rbac-policy.csv
            admin:
              users:
                - name: group:default/platform-admins
    """,
)
def permissions_disabled(ctx: AuditContext) -> Iterator[Hit]:
    """Backstage: reports `permission.enabled` missing or false. greenroom: reports an explicit
    `permission.enabled: false`, which greenroom does not honour."""
    if ctx.unresolved("permission.enabled"):
        return
    value = ctx.get("permission.enabled")
    if ctx.flavor == "greenroom":
        if falsy(value):
            yield Hit(
                "permission.enabled is false; greenroom ignores it and keeps denying by default",
                key="permission.enabled",
                evidence="permission.enabled: false",
                severity=Severity.MEDIUM,
            )
        return
    if truthy(value):
        return
    evidence = "permission.enabled: false" if value is not None else "permission.enabled not set"
    yield Hit(
        "the permission framework is off: every signed-in user may do everything",
        key="permission.enabled",
        evidence=evidence,
        severity=by_deployment(ctx, Severity.HIGH, Severity.MEDIUM),
    )


@check(
    id="GR-PERM-002",
    title="Allow-all permission policy installed",
    severity=Severity.CRITICAL,
    severity_note="critical in production, high otherwise",
    category="permissions",
    flavors=("backstage",),
    needs="packages",
    why="""`@backstage/plugin-permission-backend-module-allow-all-policy` answers ALLOW to every
    request: the permission framework looks enabled but protects nothing. `create-app` installs
    it by default.""",
    remediation="""
        # packages/backend/package.json: replace the allow-all module with a real policy, e.g. RBAC
        dependencies:
          "@backstage-community/plugin-rbac-backend": "7.2.0"
        # and in packages/backend/src/index.ts remove
        #   backend.add(import('@backstage/plugin-permission-backend-module-allow-all-policy'));
    """,
)
def allow_all_policy(ctx: AuditContext) -> Iterator[Hit]:
    """With `--packages`: reports `@backstage/plugin-permission-backend-module-allow-all-policy` among the
    backend's dependencies or registered in its `src/index.ts`."""
    inventory = ctx.inventory
    if inventory is None or inventory.kind != "npm":
        return
    severity = by_deployment(ctx, Severity.CRITICAL, Severity.HIGH)
    for dep in inventory.direct:
        if dep.name == ALLOW_ALL_MODULE and not dep.dev:
            yield Hit(
                "the backend depends on the allow-all permission policy",
                location=Location(dep.manifest, dep.line, dep.name),
                evidence=f'"{dep.name}": "{dep.spec}"',
                severity=severity,
            )
    if inventory.entry_source is not None:
        file, text = inventory.entry_source
        for number, line in enumerate(text.splitlines(), 1):
            if ALLOW_ALL_MODULE in line and not line.lstrip().startswith("//"):
                yield Hit(
                    "the backend registers the allow-all permission policy",
                    location=Location(file, number, None),
                    evidence=line.strip(),
                    severity=severity,
                )


def _rbac(ctx: AuditContext) -> dict[str, object] | None:
    rbac = ctx.get("permission.rbac")
    return rbac if isinstance(rbac, dict) and truthy(ctx.get("permission.enabled", True)) else None


def _names(entries: object) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [str(e.get("name")) for e in entries if isinstance(e, dict) and e.get("name")]


@check(
    id="GR-PERM-003",
    title="RBAC has no administrator",
    severity=Severity.LOW,
    category="permissions",
    why="""With RBAC on and no `permission.rbac.admin.users`, nobody can review or change roles at
    run time: revoking a role during an incident needs a redeploy, and role changes happen
    outside the audit trail.""",
    remediation="""
        permission:
          rbac:
            admin:
              users:
                - name: group:default/platform-admins
    """,
)
def rbac_without_admin(ctx: AuditContext) -> Iterator[Hit]:
    """When RBAC (`permission.rbac`, RHDH's format) is configured, reports that
    `permission.rbac.admin.users` names nobody."""
    rbac = _rbac(ctx)
    if rbac is None or ctx.unresolved_under("permission.rbac.admin"):
        return
    if not _names(ctx.get("permission.rbac.admin.users")):
        yield Hit(
            "RBAC is configured without administrators",
            key="permission.rbac.admin.users",
            evidence="permission.rbac.admin.users: none",
        )


@check(
    id="GR-PERM-004",
    title="RBAC super-users or a guest administrator",
    severity=Severity.HIGH,
    severity_note="high for guest or group super-users, medium for named super-users",
    category="permissions",
    why="""Super-users bypass every policy, deny rules included (an explanation can only say
    "super-user", and Backstage/RHDH give none); making the guest user (or a whole group) an
    administrator or super-user hands the portal to anyone who can sign in as them.""",
    remediation="""
        permission:
          rbac:
            admin:
              users:
                - name: group:default/platform-admins   # manage roles; still subject to policy
              superUsers: []                           # break-glass only, time-boxed
    """,
)
def super_users(ctx: AuditContext) -> Iterator[Hit]:
    """Reports every `permission.rbac.admin.superUsers` entry, and a guest user among
    `permission.rbac.admin.users`."""
    if _rbac(ctx) is None:
        return
    for index, name in enumerate(_names(ctx.get("permission.rbac.admin.superUsers"))):
        risky = name.lower() in GUEST_REFS or name.lower().startswith("group:")
        yield Hit(
            f"'{name}' is a super-user and bypasses every permission policy",
            key=f"permission.rbac.admin.superUsers[{index}]",
            evidence=f"superUsers: {show(name)}",
            severity=Severity.HIGH if risky else Severity.MEDIUM,
        )
    for index, name in enumerate(_names(ctx.get("permission.rbac.admin.users"))):
        if name.lower() in GUEST_REFS:
            yield Hit(
                "the guest user is an RBAC administrator",
                key=f"permission.rbac.admin.users[{index}]",
                evidence=f"admin.users: {name}",
            )


@check(
    id="GR-PERM-005",
    title="Default auth policy disabled",
    severity=Severity.CRITICAL,
    severity_note="critical in production, high otherwise",
    category="permissions",
    why="""`backend.auth.dangerouslyDisableDefaultAuthPolicy` lets requests without any credentials
    reach every backend route: catalog reads, scaffolder logs, location registration and
    deletion become anonymous.""",
    remediation="""
        backend:
          auth:
            dangerouslyDisableDefaultAuthPolicy: false   # or remove the key
    """,
)
def default_auth_policy_disabled(ctx: AuditContext) -> Iterator[Hit]:
    """Reports `backend.auth.dangerouslyDisableDefaultAuthPolicy: true`."""
    path = "backend.auth.dangerouslyDisableDefaultAuthPolicy"
    if truthy(ctx.get(path)):
        yield Hit(
            "unauthenticated requests are allowed to every backend route",
            key=path,
            evidence="dangerouslyDisableDefaultAuthPolicy: true",
            severity=by_deployment(ctx, Severity.CRITICAL, Severity.HIGH),
        )
