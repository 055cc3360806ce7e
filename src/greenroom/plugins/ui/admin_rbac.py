"""Roles and policies: view, edit and explain a decision, on the permission plugin's `RBAC` service.

Each page and form asks for the permission the matching `/api/permission` route declares:
reading needs `policy.entity.read`, creating a role or adding a policy `policy.entity.create`,
adding members `policy.entity.update`, removing members or policies and deleting a role
`policy.entity.delete`. Changes go through the same service calls as the REST API, with the
viewer as the actor, so they are validated, limited to roles the API may change (roles from the
policy files are read-only, as in RHDH) and audited in the change's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from greenroom.errors import GreenroomError, InputError, NotFoundError
from greenroom.kernel import PluginRouter
from greenroom.plugins.permission.explain import explain, resolve_permission
from greenroom.plugins.permission.permissions import POLICY_CREATE, POLICY_DELETE, POLICY_READ, POLICY_UPDATE
from greenroom.plugins.ui.web import NO_STORE, AdminPage, Ui, Viewer

ACTIONS = ("read", "create", "update", "delete", "use")
NOTICES = {
    "created": "The role is created.",
    "member-added": "The member is added.",
    "member-removed": "The member is removed.",
    "policy-added": "The policy is added.",
    "policy-removed": "The policy is removed.",
    "deleted": "The role is deleted.",
}
MAX_FIELD = 500

PAGE = AdminPage("/admin/rbac", "Roles and policies", "Who may do what: roles, members, policies, conditions; "
                 "explain a decision", POLICY_READ)


def _field(form: FormData, name: str, *, required: bool = True) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InputError(f"{name} is required")
    if len(text) > MAX_FIELD:
        raise InputError(f"{name} is too long")
    return text


def _role_ref(value: str) -> str:
    """`name`, `role:name` or `role:namespace/name`, as a full lower-case role ref."""
    kind, colon, rest = value.partition(":")
    if not colon:
        kind, rest = "role", value
    if "/" not in rest:
        rest = f"default/{rest}"
    return f"{kind}:{rest}".lower()


def _role_path(ref: str) -> str:
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    return f"/admin/rbac/roles/{quote(kind, safe='')}/{quote(namespace, safe='')}/{quote(name, safe='')}"


class RbacPages:
    def __init__(self, ui: Ui, rbac: Any) -> None:
        self.ui = ui
        self.rbac = rbac

    def _permission_names(self) -> list[str]:
        """Permission names and resource types (RHDH policies grant either)."""
        names = []
        for plugin in self.rbac.plugin_policies():
            for policy in plugin.get("policies", []):
                names += [policy.get("name"), policy.get("resourceType")]
        return sorted({n for n in names if isinstance(n, str)})

    def index(self, request: Request, viewer: Viewer, *, error: str | None = None, status: int = 200) -> Response:
        viewer.require(POLICY_READ)
        roles = self.rbac.roles()
        counts: dict[str, int] = {}
        for policy in self.rbac.policies():
            counts[policy["entityReference"]] = counts.get(policy["entityReference"], 0) + 1
        rows = [{"name": r["name"], "path": _role_path(r["name"]), "members": len(r["memberReferences"]),
                 "policies": counts.get(r["name"], 0), "source": r["metadata"].get("source", ""),
                 "description": r["metadata"].get("description", "")} for r in roles]
        return self.ui.render(request, "admin_rbac.html", viewer=viewer, section="admin", status=status, roles=rows,
                              rbac_status=self.rbac.status(), can_create=viewer.may(POLICY_CREATE), error=error,
                              notice=NOTICES.get(request.query_params.get("notice", "")))

    def role(self, request: Request, viewer: Viewer, ref: str, *, error: str | None = None,
             status: int = 200) -> Response:
        viewer.require(POLICY_READ)
        role = self.rbac.role(ref)
        editable = role["metadata"].get("source") == "rest"
        return self.ui.render(
            request, "admin_role.html", viewer=viewer, section="admin", status=status, role=role,
            path=_role_path(ref), policies=self.rbac.policies(entity_ref=ref),
            conditions=self.rbac.conditions(role=ref),
            editable=editable, can_update=viewer.may(POLICY_UPDATE), can_create=viewer.may(POLICY_CREATE),
            can_delete=viewer.may(POLICY_DELETE), permission_names=self._permission_names(), actions=ACTIONS,
            error=error, notice=NOTICES.get(request.query_params.get("notice", "")),
        )

    def explain_page(self, request: Request, viewer: Viewer) -> Response:
        viewer.require(POLICY_READ)
        query = request.query_params
        form = {"user": query.get("user", "").strip()[:MAX_FIELD], "permission": query.get("permission", "").strip()[
            :MAX_FIELD], "resource": query.get("resource", "").strip()[:MAX_FIELD]}
        result, error = None, None
        if form["user"] or form["permission"]:
            try:
                if not form["user"].lower().startswith("user:"):
                    raise InputError("the user must be a user entity ref (user:<namespace>/<name>)")
                permission = resolve_permission(self.rbac.permissions, form["permission"])
                result = explain(self.rbac, user_ref=form["user"], permission=permission,
                                 resource_ref=form["resource"] or None)
            except GreenroomError as exc:
                if exc.status_code >= 500:
                    raise
                error = exc.message
        return self.ui.render(request, "admin_explain.html", viewer=viewer, section="admin", form=form,
                              result=result, error=error, permission_names=self._permission_names())

    # -- changes ---------------------------------------------------------------------------
    def _done(self, path: str, notice: str) -> Response:
        return RedirectResponse(f"{path}?{urlencode({'notice': notice})}", status_code=303, headers=NO_STORE)

    def create_role(self, request: Request, viewer: Viewer, form: FormData) -> Response:
        viewer.require(POLICY_CREATE)
        try:
            ref = _role_ref(_field(form, "name"))
            members = [m.strip() for m in _field(form, "members").replace(",", "\n").splitlines() if m.strip()]
            body = {"name": ref, "memberReferences": members,
                    "metadata": {"description": _field(form, "description", required=False)}}
            self.rbac.create_role(body, actor=viewer.principal, request=request)
        except GreenroomError as exc:
            if exc.status_code >= 500:
                raise
            return self.index(request, viewer, error=exc.message, status=exc.status_code)
        return self._done(_role_path(ref), "created")

    def change(self, request: Request, viewer: Viewer, form: FormData, ref: str, what: str) -> Response:
        permission = {"add-member": POLICY_UPDATE, "remove-member": POLICY_DELETE, "add-policy": POLICY_CREATE,
                      "remove-policy": POLICY_DELETE, "delete": POLICY_DELETE}.get(what)
        if permission is None:
            raise NotFoundError("There is no page at this address.")
        viewer.require(permission)
        rbac, actor = self.rbac, viewer.principal
        try:
            if what == "add-member":
                current = rbac.role(ref)
                member = _field(form, "member")
                rbac.update_role(ref, {"oldRole": {"memberReferences": current["memberReferences"]},
                                       "newRole": {"name": ref, "memberReferences": [*current["memberReferences"],
                                                                                     member]}},
                                 actor=actor, request=request)
                notice = "member-added"
            elif what == "remove-member":
                rbac.delete_role(ref, member=_field(form, "member"), actor=actor, request=request)
                notice = "member-removed"
            elif what == "add-policy":
                rbac.add_policies([{"entityReference": ref, "permission": _field(form, "permission"),
                                    "policy": _field(form, "policy"), "effect": _field(form, "effect")}],
                                  actor=actor, request=request)
                notice = "policy-added"
            elif what == "remove-policy":
                rbac.delete_policies(ref, [{"permission": _field(form, "permission"), "policy": _field(form, "policy"),
                                            "effect": _field(form, "effect")}], actor=actor, request=request)
                notice = "policy-removed"
            else:
                rbac.delete_role(ref, actor=actor, request=request)
                return self._done("/admin/rbac", "deleted")
        except GreenroomError as exc:
            if exc.status_code >= 500:
                raise
            return self.role(request, viewer, ref, error=exc.message, status=exc.status_code)
        return self._done(_role_path(ref), notice)


def register(routers: Mapping[str, PluginRouter], ui: Ui, rbac: Any) -> None:
    pages = RbacPages(ui, rbac)
    ui.extra_admin_pages.append(PAGE)
    admin = routers["/admin"]

    def ref_of(kind: str, namespace: str, name: str) -> str:
        return f"{kind}:{namespace}/{name}".lower()

    @admin.get("/rbac", public=True, include_in_schema=False)
    async def index(request: Request) -> Response:
        return await ui.run(request, lambda viewer: pages.index(request, viewer))

    @admin.post("/rbac/roles", public=True, include_in_schema=False)
    async def create_role(request: Request) -> Response:
        return await ui.run_form(request, lambda viewer, form: pages.create_role(request, viewer, form))

    @admin.get("/rbac/explain", public=True, include_in_schema=False)
    async def explain_decision(request: Request) -> Response:
        return await ui.run(request, lambda viewer: pages.explain_page(request, viewer))

    @admin.get("/rbac/roles/{kind}/{namespace}/{name}", public=True, include_in_schema=False)
    async def role(request: Request, kind: str, namespace: str, name: str) -> Response:
        return await ui.run(request, lambda viewer: pages.role(request, viewer, ref_of(kind, namespace, name)))

    @admin.post("/rbac/roles/{kind}/{namespace}/{name}/{what}", public=True, include_in_schema=False)
    async def change(request: Request, kind: str, namespace: str, name: str, what: str) -> Response:
        return await ui.run_form(
            request, lambda viewer, form: pages.change(request, viewer, form, ref_of(kind, namespace, name), what))
