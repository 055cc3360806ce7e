"""The catalog REST API under `/api/catalog`, with Backstage's routes, shapes and errors."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import ColumnElement, false
from starlette.requests import Request
from starlette.responses import Response

from greenroom.errors import InputError, NotAllowedError, NotFoundError
from greenroom.kernel import Authorization, PluginRouter, Result, authorization
from greenroom.permissions.policy import PermissionService
from greenroom.plugins.catalog import permissions as P
from greenroom.plugins.catalog.authorized import read_condition
from greenroom.plugins.catalog.http_params import Params, check_fields, json_body, require_object
from greenroom.plugins.catalog.openapi import describe
from greenroom.plugins.catalog.permission_rules import criteria_to_sql
from greenroom.plugins.catalog.processing.pipeline import generated_location_ref, processing_order
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog.store.filters import location_matches, parse_filter_params
from greenroom.plugins.catalog.store.queries import OrderField, QueryRequest, decode_cursor, project

JSON = "application/json; charset=utf-8"
_ORDER = re.compile(r"^(asc|desc):(.+)$")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)


def _raw(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def _array(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


def _restrict(authz: Authorization) -> ColumnElement[bool] | None:
    """The SQL condition a read decision imposes (None: everything the query selects)."""
    if authz.decision.result is Result.DENY:
        raise NotAllowedError(f"Missing permission {authz.permission.name}")
    return read_condition(authz.decision)


def _order_fields(values: list[str]) -> list[OrderField]:
    out = []
    for value in values:
        field, _, order = value.partition(",")
        order = order.strip().lower() or "asc"
        if order not in ("asc", "desc"):
            raise InputError("Invalid order field order, must be asc or desc")
        out.append(OrderField(field.strip(), order))
    return out


def _audited(service: CatalogService, request: Request, event_id: str, **fields: Any) -> Any:
    """An audited change (Backstage's catalog event ids: entity-mutate, location-mutate)."""
    if service.audit is None or not service.audit.enabled:
        return contextlib.nullcontext()
    return service.audit.operation(event_id, request=request, severity="medium", **fields)


def register(router: PluginRouter, service: CatalogService, permissions: PermissionService | None = None) -> None:
    queries = service.queries

    def entity_read(request: Request) -> ColumnElement[bool] | None:
        """The caller's `catalog.entity.read` restriction, for routes guarded by another permission
        (locations): what they say about entities must not reveal entities the caller cannot read."""
        if permissions is None:
            return None
        decision = permissions.authorize(authorization(request).principal, P.ENTITY_READ, plugin_id="catalog")
        if decision.result is Result.ALLOW:
            return None
        if decision.result is Result.CONDITIONAL:
            return criteria_to_sql(decision.conditions)
        return false()

    # -- entities ----------------------------------------------------------------------------
    # by-name first: it is the most frequent request and routes are matched in order
    @router.get("/entities/by-name/{kind}/{namespace}/{name}", permission=P.ENTITY_READ)
    async def get_by_name(kind: str, namespace: str, name: str, request: Request) -> Response:
        authz = authorization(request)
        if request.scope["query_string"]:
            Params(request, ())
        entity = queries.by_ref(f"{kind}:{namespace}/{name}", _restrict(authz))
        if entity is None:
            raise NotFoundError(f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'")
        return _raw(entity)

    @router.get("/entities", permission=P.ENTITY_READ,
                openapi_extra=describe("filter", "fields", "order", "limit", "offset", "after"))
    async def get_entities(request: Request) -> Response:
        authz = authorization(request)
        params = Params(request, ("filter", "fields", "order", "limit", "offset", "after"))
        restrict = _restrict(authz)
        predicate = parse_filter_params(params.all("filter"))
        fields = check_fields(params.split("fields"))
        order = []
        for value in params.all("order"):
            match = _ORDER.match(value)
            if not match:
                raise InputError(f'Invalid order parameter "{value}", expected "<asc or desc>:<field name>"')
            order.append(OrderField(match[2], match[1]))
        limit, offset, after = params.integer("limit"), params.integer("offset"), params.one("after")
        if limit is None and offset is None and after is None:
            items = queries.list_all(predicate, order, restrict)
            return _raw(_array([project(i, fields) for i in items]))
        if after is not None:
            try:
                cursor = orjson.loads(base64.b64decode(after))
            except (binascii.Error, ValueError):
                raise InputError("Malformed after cursor, could not be parsed") from None
            if not isinstance(cursor, dict):
                raise InputError("Malformed after cursor, could not be parsed")
            if cursor.get("limit") is not None and not isinstance(cursor["limit"], int):
                raise InputError("Malformed after cursor, limit was not an number")
            if cursor.get("offset") is not None and not isinstance(cursor["offset"], int):
                raise InputError("Malformed after cursor, offset was not a number")
            limit = cursor.get("limit", limit)
            offset = cursor.get("offset", offset)
        if limit is not None and limit <= 0:
            raise InputError("Invalid limit, must be greater than zero")
        offset = offset or 0
        items, more = queries.list_page(predicate, order, limit, offset, restrict)
        headers = None
        if more and limit is not None:
            next_after = base64.b64encode(orjson.dumps({"limit": limit, "offset": offset + limit})).decode()
            query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "after", "limit")]
            query.append(("limit", str(limit)))
            query.append(("after", next_after))
            headers = {"link": f"</entities?{urlencode(query)}>; rel=\"next\""}
        return _raw(_array([project(i, fields) for i in items]), headers=headers)

    def _query_response(page: Any, fields: list[str] | None) -> Response:
        page_info = b"{}"
        info: dict[str, str] = {}
        if page.next_cursor:
            info["nextCursor"] = page.next_cursor
        if page.prev_cursor:
            info["prevCursor"] = page.prev_cursor
        if info:
            page_info = orjson.dumps(info)
        body = (
            b'{"items":' + _array([project(i, fields) for i in page.items])
            + b',"totalItems":' + str(page.total_items).encode() + b',"pageInfo":' + page_info + b"}"
        )
        return _raw(body)

    @router.get("/entities/by-query", permission=P.ENTITY_READ, openapi_extra=describe(
        "filter", "fields", "orderField", "fullTextFilterTerm", "fullTextFilterFields", "cursor", "limit", "offset",
        "totalItems"))
    async def query_entities(request: Request) -> Response:
        authz = authorization(request)
        params = Params(
            request,
            ("filter", "fields", "orderField", "fullTextFilterTerm", "fullTextFilterFields", "cursor", "limit",
             "offset", "totalItems"),
        )
        restrict = _restrict(authz)
        fields = check_fields(params.split("fields"))
        limit = params.integer("limit")
        total_items = params.one("totalItems")
        if total_items not in (None, "include", "exclude"):
            raise InputError(f'Invalid totalItems parameter "{total_items}", expected one of: include, exclude')
        cursor_raw = params.one("cursor")
        request_obj = QueryRequest(
            limit=200 if limit is None else limit,
            offset=params.integer("offset") or 0,
            include_total=total_items != "exclude",
        )
        if cursor_raw is not None:
            request_obj.cursor = decode_cursor(cursor_raw)
        else:
            request_obj.predicate = parse_filter_params(params.all("filter"))
            request_obj.order_fields = _order_fields(params.all("orderField"))
            request_obj.full_text_term = params.one("fullTextFilterTerm") or ""
            request_obj.full_text_fields = params.split("fullTextFilterFields")
        return _query_response(queries.query(request_obj, restrict), fields)

    @router.post("/entities/by-query", permission=P.ENTITY_READ, openapi_extra=describe(body="by-query"))
    async def query_entities_post(request: Request) -> Response:
        authz = authorization(request)
        Params(request, ())
        body = require_object(await json_body(request))
        restrict = _restrict(authz)
        fields = body.get("fields")
        if fields is not None:
            if not isinstance(fields, list):
                raise InputError("request/body/fields must be array")
            fields = check_fields([p.strip() for f in fields for p in str(f).split(",") if p.strip()])
        limit = body.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InputError("request/body/limit must be a non-negative integer")
        total_items = body.get("totalItems")
        if total_items not in (None, "include", "exclude"):
            raise InputError(f'Invalid totalItems value "{total_items}", expected one of: include, exclude')
        request_obj = QueryRequest(
            limit=200 if limit is None else limit,
            offset=int(body.get("offset") or 0),
            include_total=total_items != "exclude",
            legacy_full_text=False,
        )
        if "cursor" in body:
            if not body["cursor"]:
                raise InputError("Cursor cannot be empty")
            request_obj.cursor = decode_cursor(str(body["cursor"]))
        else:
            query = body.get("query")
            if query is not None and not isinstance(query, dict):
                raise InputError("request/body/query must be object")
            request_obj.predicate = query
            order_by = body.get("orderBy") or []
            if not isinstance(order_by, list):
                raise InputError("request/body/orderBy must be array")
            request_obj.order_fields = []
            for item in order_by:
                order = str(item.get("order") or "asc").lower()
                if order not in ("asc", "desc"):
                    raise InputError("Invalid order field order, must be asc or desc")
                request_obj.order_fields.append(OrderField(str(item.get("field")), order))
            full_text = body.get("fullTextFilter")
            if isinstance(full_text, dict):
                request_obj.raw_full_text = full_text
                request_obj.full_text_term = str(full_text.get("term") or "")
                request_obj.full_text_fields = full_text.get("fields")
        return _query_response(queries.query(request_obj, restrict), fields)

    @router.get("/entities/by-uid/{uid}", permission=P.ENTITY_READ)
    async def get_by_uid(uid: str, request: Request) -> Response:
        authz = authorization(request)
        Params(request, ())
        entity = queries.by_uid(uid, _restrict(authz))
        if entity is None:
            raise NotFoundError(f"No entity with uid {uid}")
        return _raw(entity)

    @router.delete("/entities/by-uid/{uid}", permission=P.ENTITY_DELETE, status_code=204)
    def delete_by_uid(uid: str, request: Request) -> Response:
        authz = authorization(request)
        Params(request, ())
        restrict = _restrict(authz)
        with _audited(service, request, "entity-mutate", action="delete", target=uid, meta={"uid": uid}) as op:
            if restrict is not None and queries.by_uid(uid, restrict) is None:
                raise NotAllowedError(f"Missing permission {P.ENTITY_DELETE.name}")
            service.delete_entity(uid, cause=op)
        return Response(status_code=204)

    @router.get("/entities/by-name/{kind}/{namespace}/{name}/ancestry", permission=P.ENTITY_READ)
    async def get_ancestry(kind: str, namespace: str, name: str, request: Request) -> Response:
        authz = authorization(request)
        Params(request, ())
        restrict = _restrict(authz)
        key = f"{kind}:{namespace}/{name}".lower()
        if restrict is not None and queries.by_ref(key, restrict) is None:
            raise NotFoundError(f"No such entity {key}")
        chain = queries.ancestry(key)
        if chain is None:
            raise NotFoundError(f"No such entity {key}")
        if restrict is not None:  # as Backstage: only the ancestors the caller may read
            chain = [(entity, parents) for entity, parents in chain
                     if queries.by_uid(str(orjson.loads(entity)["metadata"]["uid"]), restrict) is not None]
        items = b",".join(
            b'{"entity":' + entity + b',"parentEntityRefs":' + orjson.dumps(parents) + b"}"
            for entity, parents in chain
        )
        return _raw(b'{"rootEntityRef":' + orjson.dumps(key) + b',"items":[' + items + b"]}")

    @router.post("/entities/by-refs", permission=P.ENTITY_READ, openapi_extra=describe("filter", body="by-refs"))
    async def get_by_refs(request: Request) -> Response:
        authz = authorization(request)
        params = Params(request, ("filter",))
        body = require_object(await json_body(request))
        restrict = _restrict(authz)
        refs = body.get("entityRefs")
        if refs is None:
            raise InputError("request/body must have required property 'entityRefs'")
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise InputError("request/body/entityRefs must be array")
        fields = body.get("fields")
        if fields is not None and not isinstance(fields, list):
            raise InputError("request/body/fields must be array")
        fields = check_fields([p.strip() for f in fields or [] for p in str(f).split(",") if p.strip()] or None)
        predicate = parse_filter_params(params.all("filter"))
        query = body.get("query")
        if query is not None:
            if not isinstance(query, dict):
                raise InputError("request/body/query must be object")
            predicate = query if predicate is None else {"$all": [predicate, query]}
        found = queries.by_refs(refs, predicate, restrict)
        items = [b"null" if e is None else project(e, fields) for e in found]
        return _raw(b'{"items":' + _array(items) + b"}")

    def _facets(names: list[str], predicate: Any, authz: Authorization) -> Response:
        return _json({"facets": queries.facets(names, predicate, _restrict(authz))})

    @router.get("/entity-facets", permission=P.ENTITY_READ, openapi_extra=describe("facet", "filter"))
    async def get_facets(request: Request) -> Response:
        authz = authorization(request)
        params = Params(request, ("facet", "filter"))
        names = [f for f in params.all("facet") if f]
        if not request.query_params.getlist("facet"):
            raise InputError("request/query must have required property 'facet'")
        if not names:
            raise InputError("Missing facet parameter")
        return _facets(names, parse_filter_params(params.all("filter")), authz)

    @router.post("/entity-facets", permission=P.ENTITY_READ, openapi_extra=describe(body="facets"))
    async def post_facets(request: Request) -> Response:
        authz = authorization(request)
        Params(request, ())
        body = require_object(await json_body(request))
        names = body.get("facets")
        if not isinstance(names, list) or not names:
            raise InputError("Missing or empty facets parameter")
        query = body.get("query")
        if query is not None and not isinstance(query, dict):
            raise InputError("request/body/query must be object")
        return _facets([str(n) for n in names], query, authz)

    @router.post("/refresh", permission=P.ENTITY_REFRESH, openapi_extra=describe(body="refresh"))
    async def refresh(request: Request) -> Response:
        authz = authorization(request)
        Params(request, ())
        body = require_object(await json_body(request))
        extra = set(body) - {"entityRef", "authorizationToken"}
        if extra:
            raise InputError("request/body must NOT have additional properties")
        ref = body.get("entityRef")
        if not isinstance(ref, str):
            raise InputError("request/body must have required property 'entityRef'")
        restrict = _restrict(authz)
        if restrict is not None and queries.by_ref(ref, restrict) is None:
            raise NotFoundError(f"Entity {ref.lower()} not found")
        from starlette.concurrency import run_in_threadpool

        def refresh_now() -> None:
            with _audited(service, request, "entity-mutate", action="refresh", target=ref.lower(),
                          meta={"entityRef": ref}) as op:
                service.refresh(ref, cause=op)

        await run_in_threadpool(refresh_now)
        return Response(status_code=200)

    @router.post("/validate-entity", permission=P.ENTITY_VALIDATE, openapi_extra=describe(body="validate"))
    async def validate_entity(request: Request) -> Response:
        Params(request, ())
        body = require_object(await json_body(request))
        if "entity" not in body:
            raise InputError("request/body must have required property 'entity'")
        if "location" not in body:
            raise InputError("request/body must have required property 'location'")
        if not isinstance(body["entity"], dict):
            raise InputError("request/body/entity must be object")
        location = body["location"]
        if not isinstance(location, str) or ":" not in location:
            message = (f"Unable to parse location ref '{location}', expected '<type>:<target>', "
                       "e.g. 'url:https://host/path'")
            return _json({"errors": [{"name": "TypeError", "message": message}]}, 400)
        errors = service.validate(body["entity"], location)
        if errors:
            return _json({"errors": errors}, 400)
        return Response(status_code=200)

    @router.post("/analyze-location", permission=P.LOCATION_ANALYZE, openapi_extra=describe(body="analyze"))
    async def analyze_location(request: Request) -> Response:
        Params(request, ())
        body = require_object(await json_body(request))
        location = body.get("location")
        if not isinstance(location, dict) or not isinstance(location.get("target"), str):
            raise InputError("request/body must have required property 'location'")
        target = location["target"]
        match = re.match(r"^https?://[^/]+/(?P<path>.+)$", target)
        if match is None:
            raise InputError("The given location.target is not a URL")
        parts = [p for p in match["path"].split("/") if p]
        name = parts[1] if len(parts) > 1 and "github.com" in target else parts[-1]
        name = re.sub(r"\.git$", "", name)
        entity: dict[str, Any] = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                                  "metadata": {"name": name}, "spec": {"type": "other", "lifecycle": "unknown"}}
        if "github.com" in target and len(parts) > 1:
            entity["metadata"]["annotations"] = {"github.com/project-slug": f"{parts[0]}/{parts[1]}"}
        return _json({"existingEntityFiles": [], "generateEntities": [{"entity": entity, "fields": []}]})

    # -- locations ---------------------------------------------------------------------------
    @router.get("/locations", permission=P.LOCATION_READ)
    async def get_locations(request: Request) -> Response:
        Params(request, ())
        return _json([{"data": loc.to_json()} for loc in service.registered_locations()])

    @router.post("/locations", permission=P.LOCATION_CREATE, status_code=201,
                 openapi_extra=describe("dryRun", body="location"))
    async def post_location(request: Request) -> Response:
        params = Params(request, ("dryRun", "onConflict"))
        body = require_object(await json_body(request))
        extra = set(body) - {"type", "target", "presence"}
        if extra:
            raise InputError(f"Malformed request: unrecognized keys {sorted(extra)}")
        for key in ("type", "target"):
            if not isinstance(body.get(key), str):
                raise InputError(f"request/body must have required property '{key}'")
        spec = service.check_api_location(body["type"], body["target"])
        dry_run = (params.one("dryRun") or "false").lower() in ("true", "yes", "y", "1", "on")
        from starlette.concurrency import run_in_threadpool

        if dry_run:
            exists, result = await run_in_threadpool(service.dry_run, spec)
            if result.errors:
                raise InputError(", ".join(f"{e.name}: {e.message}" for e in result.errors))
            location = {"type": spec.type, "target": spec.target, "id": spec.key,
                        "entityRef": generated_location_ref(spec)}
            entities = [e.entity for e in processing_order(result)]
            return _json({"exists": exists, "location": location, "entities": entities}, 201)

        def create() -> Any:
            with _audited(service, request, "location-mutate", action="create", target=spec.key,
                          meta={"location": {"type": spec.type, "target": spec.target}, "isDryRun": False}) as op:
                return service.add_location(spec, cause=op)

        created = await run_in_threadpool(create)
        return _json({"location": created.to_json(), "entities": []}, 201)

    @router.post("/locations/by-query", permission=P.LOCATION_READ, openapi_extra=describe(body="locations-query"))
    async def query_locations(request: Request) -> Response:
        Params(request, ())
        body = require_object(await json_body(request))
        limit = body.get("limit", 1000)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InputError("Limit must be a positive integer >= 1")
        after_id = None
        query = body.get("query")
        if body.get("cursor") is not None:
            try:
                cursor = orjson.loads(base64.b64decode(str(body["cursor"])))
                after_id = str(cursor["afterId"])
                query = cursor.get("query")
            except (binascii.Error, ValueError, KeyError, TypeError):
                raise InputError("Malformed cursor, unknown encoding") from None
        if query is not None and not isinstance(query, dict):
            raise InputError("request/body/query must be object")
        matches = sorted(
            (loc for loc in service.registered_locations() if location_matches(loc.to_json(), query)),
            key=lambda loc: loc.id,
        )
        total = len(matches)
        if after_id is not None:
            matches = [loc for loc in matches if loc.id > after_id]
        page = matches[:limit]
        info: dict[str, str] = {}
        if len(matches) > limit:
            state: dict[str, Any] = {"limit": limit, "afterId": page[-1].id}
            if query is not None:
                state["query"] = query
            info["nextCursor"] = base64.b64encode(orjson.dumps(state)).decode()
        items = [{"id": loc.id, "target": loc.target, "type": loc.type, "entityRef": loc.to_json()["entityRef"]}
                 for loc in page]
        return _json({"items": items, "totalItems": total, "pageInfo": info})

    @router.get("/locations/by-entity/{kind}/{namespace}/{name}", permission=P.LOCATION_READ)
    async def get_location_by_entity(kind: str, namespace: str, name: str, request: Request) -> Response:
        Params(request, ())
        key = f"{kind}:{namespace}/{name}"
        restrict = entity_read(request)
        if restrict is not None and queries.by_ref(key, restrict) is None:
            raise NotFoundError(f"found no entity for ref {key}")  # the same answer as for no entity
        return _json(service.location_by_entity(key).to_json())

    @router.get("/locations/{location_id}", permission=P.LOCATION_READ)
    async def get_location(location_id: str, request: Request) -> Response:
        Params(request, ())
        return _json(service.location(location_id).to_json())

    @router.put("/locations/{location_id}", permission=P.LOCATION_CREATE, openapi_extra=describe(body="location"))
    async def put_location(location_id: str, request: Request) -> Response:
        Params(request, ())
        body = require_object(await json_body(request))
        for key in ("type", "target"):
            if not isinstance(body.get(key), str):
                raise InputError(f"request/body must have required property '{key}'")
        spec = service.check_api_location(body["type"], body["target"])
        from starlette.concurrency import run_in_threadpool


        def put() -> Any:
            with _audited(service, request, "location-mutate", action="update", target=location_id) as op:
                return service.update_location(location_id, spec, cause=op)

        updated = await run_in_threadpool(put)
        return _json(updated.to_json())

    @router.delete("/locations/{location_id}", permission=P.LOCATION_DELETE, status_code=204)
    def delete_location(location_id: str, request: Request) -> Response:
        Params(request, ())
        with _audited(service, request, "location-mutate", action="delete", target=location_id) as op:
            service.delete_location(location_id, cause=op)
        return Response(status_code=204)

    # -- greenroom extension: what ingestion found, even for locations with no entities --------
    @router.get("/x-greenroom/location-status", permission=P.LOCATION_READ)
    async def location_status(request: Request) -> Response:
        Params(request, ())
        return _json({"items": service.location_status(entity_read(request))})
