"""`/api/permission`: Backstage's `/authorize` and RHDH's RBAC REST API, plus "explain".

    POST   /authorize                               Backstage: decisions for the caller
    GET    /roles                                   RHDH: every role
    POST   /roles                                   RHDH: create a role (201)
    GET    /roles/:kind/:namespace/:name            RHDH: one role (as a one-item array)
    PUT    /roles/:kind/:namespace/:name            RHDH: {oldRole, newRole}
    DELETE /roles/:kind/:namespace/:name            RHDH: the role, or ?memberReferences=<one member>
    GET    /policies                                RHDH: ?entityRef=&permission=&policy=&effect=
    POST   /policies                                RHDH: an array of policies (201)
    GET    /policies/:kind/:namespace/:name         RHDH: a role's policies
    PUT    /policies/:kind/:namespace/:name         RHDH: {oldPolicy: [...], newPolicy: [...]}
    DELETE /policies/:kind/:namespace/:name         RHDH: an array body (or ?permission=&policy=&effect=)
    GET    /roles/conditions                        RHDH: ?roleEntityRef=&pluginId=&resourceType=&actions=
    POST   /roles/conditions                        RHDH: create (201, {id})
    GET    /roles/conditions/:id, PUT, DELETE       RHDH
    GET    /plugins/policies                        RHDH: every plugin's permissions
    GET    /plugins/condition-rules                 RHDH: every plugin's rules and their parameters
    GET    /.well-known/backstage/permissions/metadata   Backstage: this plugin's permissions
    POST   /x-greenroom/explain                     greenroom: {user?, permission, resourceRef?}
    GET    /x-greenroom/status                      greenroom: policy files, problems, counts

Roles, policies and conditions that come from the policy files or the app config are
read-only here, with RHDH's "source does not match originating role" refusal.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from greenroom.errors import InputError, NotFoundError
from greenroom.kernel import PluginRouter, authorization
from greenroom.permissions.model import Permission, Result
from greenroom.plugins.permission import permissions as P
from greenroom.plugins.permission.explain import explain, resolve_permission
from greenroom.plugins.permission.model import ACTIONS
from greenroom.plugins.permission.refs import ref_problem
from greenroom.plugins.permission.service import RbacService

JSON = "application/json; charset=utf-8"
MAX_AUTHORIZE_ITEMS = 1000


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


async def _body(request: Request) -> Any:
    content_type = request.headers.get("content-type")
    if content_type is None or content_type.split(";")[0].strip().lower() != "application/json":
        media = content_type.split(";")[0].strip() if content_type else "undefined"
        raise InputError(f"unsupported media type {media}")
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"Invalid JSON body: {exc}") from None


def _query(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            raise InputError(f"Unknown query parameter '{key}'")
        out.setdefault(key, value)  # RHDH takes the first of a repeated parameter
    return out


def _entity_ref(kind: str, namespace: str, name: str) -> str:
    return f"{kind}:{namespace}/{name}"


def _condition_id(raw: str) -> int:
    try:
        value = int(raw, 10)
    except ValueError:
        raise InputError("Id is not a valid number.") from None
    if value < 0 or value > 2**31:
        raise InputError("Id is not a valid number.")
    return value


def _requested_permission(item: dict[str, Any], index: int) -> Permission:
    raw = item.get("permission")
    where = f"items[{index}].permission"
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be an object")
    kind, name = raw.get("type"), raw.get("name")
    if kind not in ("basic", "resource"):
        raise InputError(f"{where}.type must be 'basic' or 'resource'")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}.name must be a non-empty string")
    attributes = raw.get("attributes")
    if not isinstance(attributes, dict):
        raise InputError(f"{where}.attributes must be an object")
    action = attributes.get("action")
    if action is not None and action not in ("create", "read", "update", "delete"):
        raise InputError(f"{where}.attributes.action must be create, read, update or delete")
    resource_type = raw.get("resourceType")
    if kind == "resource" and (not isinstance(resource_type, str) or not resource_type):
        raise InputError(f"{where}.resourceType is required for a resource permission")
    return Permission(name, action or "use", resource_type if kind == "resource" else None)


def register(router: PluginRouter, rbac: RbacService) -> None:
    permissions = rbac.permissions

    @router.get("/", permission=P.POLICY_READ)
    async def status_authorized(request: Request) -> Response:
        _query(request, ())
        return _json({"status": "Authorized"})

    # -- Backstage's authorize ----------------------------------------------------------------
    @router.post("/authorize", permission=P.AUTHORIZE)
    async def authorize(request: Request) -> Response:
        principal = authorization(request).principal
        body = await _body(request)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise InputError("request/body must have required property 'items' (an array)")
        if len(items) > MAX_AUTHORIZE_ITEMS:
            raise InputError(f"at most {MAX_AUTHORIZE_ITEMS} items per request")
        queries = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise InputError(f"items[{index}] must be an object with a string id")
            resource_ref = item.get("resourceRef")
            if resource_ref is not None and not isinstance(resource_ref, str):
                raise InputError(f"items[{index}].resourceRef must be a string")
            requested = _requested_permission(item, index)
            # A permission a plugin declares is decided as declared (its type and resource type
            # decide which grants and conditions apply), whatever shape the caller sent.
            queries.append((item["id"], permissions.permission(requested.name) or requested, resource_ref))

        def decide() -> list[dict[str, Any]]:
            out = []
            for item_id, permission, resource_ref in queries:
                plugin_id = permissions.plugin_of(permission.name) or "unknown"
                decision = permissions.authorize(principal, permission, plugin_id=plugin_id)
                if decision.result is Result.CONDITIONAL:
                    if permission.resource_type is None or decision.resource_type != permission.resource_type:
                        out.append({"id": item_id, "result": Result.DENY.value})
                        continue
                    if resource_ref is not None:
                        resource_type = permissions.resource_type(permission.resource_type)
                        allowed = resource_type.apply(resource_ref, decision.conditions) if resource_type else None
                        out.append({"id": item_id, "result": (Result.ALLOW if allowed else Result.DENY).value})
                        continue
                out.append({"id": item_id, **decision.to_json()})
            return out

        return _json({"items": await run_in_threadpool(decide)})

    # -- policies -------------------------------------------------------------------------------
    @router.get("/policies", permission=P.POLICY_READ)
    def list_policies(request: Request) -> Response:
        query = _query(request, ("entityRef", "permission", "policy", "effect"))
        return _json(rbac.policies(entity_ref=query.get("entityRef"), permission=query.get("permission"),
                                   action=query.get("policy"), effect=query.get("effect")))

    @router.get("/policies/{kind}/{namespace}/{name}", permission=P.POLICY_READ)
    def role_policies(kind: str, namespace: str, name: str, request: Request) -> Response:
        _query(request, ())
        found = rbac.policies(entity_ref=_entity_ref(kind, namespace, name))
        if not found:
            raise NotFoundError(f"no permission policies for {_entity_ref(kind, namespace, name)}")
        return _json(found)

    @router.post("/policies", permission=P.POLICY_CREATE, status_code=201)
    async def create_policies(request: Request) -> Response:
        _query(request, ())
        principal = authorization(request).principal
        body = await _body(request)
        await run_in_threadpool(lambda: rbac.add_policies(body, actor=principal, request=request))
        return Response(status_code=201)

    @router.put("/policies/{kind}/{namespace}/{name}", permission=P.POLICY_UPDATE)
    async def update_policies(kind: str, namespace: str, name: str, request: Request) -> Response:
        _query(request, ())
        principal = authorization(request).principal
        body = await _body(request)
        await run_in_threadpool(lambda: rbac.update_policies(_entity_ref(kind, namespace, name), body,
                                                              actor=principal, request=request))
        return Response(status_code=200)

    @router.delete("/policies/{kind}/{namespace}/{name}", permission=P.POLICY_DELETE, status_code=204)
    async def delete_policies(kind: str, namespace: str, name: str, request: Request) -> Response:
        query = _query(request, ("permission", "policy", "effect"))
        principal = authorization(request).principal
        ref = _entity_ref(kind, namespace, name)
        if query:
            body: Any = [{"permission": query.get("permission"), "policy": query.get("policy"),
                          "effect": query.get("effect")}]
        else:
            body = await _body(request)
        await run_in_threadpool(lambda: rbac.delete_policies(ref, body, actor=principal, request=request))
        return Response(status_code=204)

    # -- roles ------------------------------------------------------------------------------
    @router.get("/roles", permission=P.POLICY_READ)
    def list_roles(request: Request) -> Response:
        _query(request, ())
        return _json(rbac.roles())

    @router.post("/roles", permission=P.POLICY_CREATE, status_code=201)
    async def create_role(request: Request) -> Response:
        _query(request, ())
        principal = authorization(request).principal
        body = await _body(request)
        await run_in_threadpool(lambda: rbac.create_role(body, actor=principal, request=request))
        return Response(status_code=201)

    # conditions before the three-segment role routes is not needed (segment counts differ)
    @router.get("/roles/conditions", permission=P.POLICY_READ)
    def list_conditions(request: Request) -> Response:
        allowed = ("roleEntityRef", "pluginId", "resourceType", "actions")
        for key, _value in request.query_params.multi_items():
            if key not in allowed:
                raise InputError(f"Unknown query parameter '{key}'")
        actions = request.query_params.getlist("actions")
        for action in actions:
            if action not in ACTIONS:
                raise InputError(f"Invalid permission action query value: {action}. Permission name should be string.")
        query = request.query_params
        return _json(rbac.conditions(role=query.get("roleEntityRef"), plugin_id=query.get("pluginId"),
                                     resource_type=query.get("resourceType"), actions=actions or None))

    @router.post("/roles/conditions", permission=P.POLICY_CREATE, status_code=201)
    async def create_condition(request: Request) -> Response:
        _query(request, ())
        principal = authorization(request).principal
        body = await _body(request)
        condition_id = await run_in_threadpool(lambda: rbac.create_condition(body, actor=principal, request=request))
        return _json({"id": condition_id}, 201)

    @router.get("/roles/conditions/{condition_id}", permission=P.POLICY_READ)
    def get_condition(condition_id: str, request: Request) -> Response:
        _query(request, ())
        return _json(rbac.condition(_condition_id(condition_id)))

    @router.put("/roles/conditions/{condition_id}", permission=P.POLICY_UPDATE)
    async def update_condition(condition_id: str, request: Request) -> Response:
        _query(request, ())
        principal = authorization(request).principal
        number = _condition_id(condition_id)
        body = await _body(request)
        await run_in_threadpool(lambda: rbac.update_condition(number, body, actor=principal, request=request))
        return Response(status_code=200)

    @router.delete("/roles/conditions/{condition_id}", permission=P.POLICY_DELETE, status_code=204)
    def delete_condition(condition_id: str, request: Request) -> Response:
        _query(request, ())
        principal = authorization(request).principal
        rbac.delete_condition(_condition_id(condition_id), actor=principal, request=request)
        return Response(status_code=204)

    @router.get("/roles/{kind}/{namespace}/{name}", permission=P.POLICY_READ)
    def get_role(kind: str, namespace: str, name: str, request: Request) -> Response:
        _query(request, ())
        ref = _entity_ref(kind, namespace, name)
        problem = ref_problem(ref, kinds=("role",))
        if problem:
            raise InputError(problem)
        return _json([rbac.role(ref)])

    @router.put("/roles/{kind}/{namespace}/{name}", permission=P.POLICY_UPDATE)
    async def update_role(kind: str, namespace: str, name: str, request: Request) -> Response:
        _query(request, ())
        principal = authorization(request).principal
        body = await _body(request)
        await run_in_threadpool(lambda: rbac.update_role(_entity_ref(kind, namespace, name), body, actor=principal,
                                                          request=request))
        return Response(status_code=200)

    @router.delete("/roles/{kind}/{namespace}/{name}", permission=P.POLICY_DELETE, status_code=204)
    def delete_role(kind: str, namespace: str, name: str, request: Request) -> Response:
        query = _query(request, ("memberReferences",))
        principal = authorization(request).principal
        rbac.delete_role(_entity_ref(kind, namespace, name), member=query.get("memberReferences"), actor=principal,
                         request=request)
        return Response(status_code=204)

    # -- plugins ------------------------------------------------------------------------------
    @router.get("/plugins/policies", permission=P.POLICY_READ)
    def plugin_policies(request: Request) -> Response:
        _query(request, ())
        return _json(rbac.plugin_policies())

    @router.get("/plugins/condition-rules", permission=P.POLICY_READ)
    def condition_rules(request: Request) -> Response:
        _query(request, ())
        return _json(rbac.condition_rules())

    @router.get("/.well-known/backstage/permissions/metadata", permission=P.POLICY_READ)
    def metadata(request: Request) -> Response:
        _query(request, ())
        return _json({"permissions": [p.to_json() for p in P.ALL if p is not P.AUTHORIZE], "rules": []})

    # -- greenroom: explain and status --------------------------------------------------------
    @router.post("/x-greenroom/explain", permission=P.POLICY_READ)
    async def explain_decision(request: Request) -> Response:
        _query(request, ())
        principal = authorization(request).principal
        body = await _body(request)
        if not isinstance(body, dict):
            raise InputError("request/body must be object")
        unknown = set(body) - {"user", "permission", "resourceRef", "ownershipRefs"}
        if unknown:
            raise InputError(f"request/body has unknown property '{sorted(unknown)[0]}'")
        user = body.get("user", principal.subject if principal.type == "user" else None)
        if not isinstance(user, str) or not user.lower().startswith("user:"):
            raise InputError("request/body/user must be a user entity ref (user:<namespace>/<name>)")
        name = body.get("permission")
        if not isinstance(name, str):
            raise InputError("request/body must have required property 'permission' (a permission name)")
        resource_ref = body.get("resourceRef")
        if resource_ref is not None and not isinstance(resource_ref, str):
            raise InputError("request/body/resourceRef must be a string")
        refs = body.get("ownershipRefs")
        if refs is not None and (not isinstance(refs, list) or not all(isinstance(r, str) for r in refs)):
            raise InputError("request/body/ownershipRefs must be an array of entity refs")
        permission = resolve_permission(permissions, name)
        return _json(await run_in_threadpool(lambda: explain(rbac, user_ref=user, permission=permission,
                                                             resource_ref=resource_ref, ownership_refs=refs)))

    @router.get("/x-greenroom/status", permission=P.POLICY_READ)
    def status(request: Request) -> Response:
        _query(request, ())
        return _json(rbac.status())
