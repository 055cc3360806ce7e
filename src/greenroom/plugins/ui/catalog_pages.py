"""Home, the catalog list, entity pages (with tabs) and registering a location.

Every read goes through `viewer.catalog`, the catalog restricted by the viewer's
`catalog.entity.read` decision, so lists, counts, facet values, relation targets and owned
entities only ever include what the same viewer would get from `/api/catalog`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from greenroom.errors import InputError, NotFoundError
from greenroom.kernel import PluginRouter, TabView
from greenroom.plugins.catalog.authorized import AuthorizedCatalog, preview_location
from greenroom.plugins.catalog.permissions import ENTITY_READ, LOCATION_CREATE, LOCATION_READ
from greenroom.plugins.catalog.processing.locations import LocationSpec
from greenroom.plugins.catalog.store.filters import Predicate
from greenroom.plugins.catalog.store.queries import OrderField, QueryRequest, decode_cursor
from greenroom.plugins.ui.entities import build_view, parse_ref, ref_of, relation_refs, row_of, rows
from greenroom.plugins.ui.graph import layout
from greenroom.plugins.ui.web import Ui, Viewer

LIMITS = (25, 50, 100)
DEFAULT_LIMIT = 25
FULL_TEXT_FIELDS = ["metadata.name", "metadata.title", "spec.profile.displayName"]
SORTS = {
    "name": ("Name (A to Z)", "metadata.name", "asc"),
    "-name": ("Name (Z to A)", "metadata.name", "desc"),
    "kind": ("Kind", "kind", "asc"),
    "type": ("Type", "spec.type", "asc"),
    "owner": ("Owner", "spec.owner", "asc"),
    "lifecycle": ("Lifecycle", "spec.lifecycle", "asc"),
}
# (query parameter, label, catalog field)
FACETS = (
    ("kind", "Kind", "kind"),
    ("type", "Type", "spec.type"),
    ("lifecycle", "Lifecycle", "spec.lifecycle"),
    ("owner", "Owner", "relations.ownedBy"),
    ("tag", "Tag", "metadata.tags"),
)
MAX_FACET_OPTIONS = 200
# Fields every entity has: sorting by them drops nothing, so the count needs no condition on them.
ALWAYS_PRESENT = frozenset({"metadata.name", "kind"})
FACET_TTL = 30.0
MAX_FACET_ENTRIES = 512
MAX_PARAM = 300
OWNED_PREVIEW = 20
ORIGIN_ANNOTATION = "metadata.annotations.backstage.io/managed-by-origin-location"


def _all(predicates: list[Predicate]) -> Predicate | None:
    if not predicates:
        return None
    return predicates[0] if len(predicates) == 1 else {"$all": predicates}


def _owned_predicate(viewer: Viewer) -> Predicate:
    refs = [r.lower() for r in viewer.principal.ownership_refs] or [viewer.subject.lower()]
    return {"relations.ownedBy": {"$in": refs}}


@dataclass
class CatalogForm:
    q: str
    values: dict[str, str]
    sort: str
    limit: int
    owned: bool
    cursor: str | None

    @property
    def active(self) -> bool:
        return any(self.values.values())


def _param(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if len(value) > MAX_PARAM:
        raise InputError(f"The {name} parameter is too long")
    return value.strip()


class FacetCache:
    """Facet menus for a few seconds: at 100k entities each facet is a pass over the matching
    rows. Keyed by the viewer's read restriction (the decision and its conditions) and the scope,
    and for a conditional decision also by who the viewer is, so a cached menu never holds what
    another viewer may read; counts may lag a change by up to FACET_TTL seconds (rows and totals
    never do)."""

    def __init__(self, ttl: float = FACET_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, dict[str, list[dict[str, Any]]]]] = {}
        self._lock = threading.Lock()

    def get(self, viewer: Viewer, names: list[str], scope: Predicate | None) -> dict[str, Any]:
        catalog = viewer.catalog
        decision = catalog.decision
        who = None if decision.allowed else [viewer.subject, sorted(viewer.principal.ownership_refs)]
        key = orjson.dumps([str(decision.result), decision.conditions, who, names, scope],
                           option=orjson.OPT_SORT_KEYS).decode()
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and now - found[0] < self.ttl:
            return dict(found[1])
        value = catalog.facets(names, scope)
        with self._lock:
            if len(self._entries) >= MAX_FACET_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now, value)
        return dict(value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def parse_form(params: Mapping[str, str]) -> CatalogForm:
    sort = _param(params, "sort") or "name"
    if sort not in SORTS:
        raise InputError(f"Unknown sort '{sort}'")
    raw_limit = _param(params, "limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or int(raw_limit) not in LIMITS:
        raise InputError(f"limit must be one of {', '.join(map(str, LIMITS))}")
    cursor = params.get("cursor") or None
    if cursor is not None and len(cursor) > 8192:
        raise InputError("The cursor parameter is too long")
    return CatalogForm(
        q=_param(params, "q"),
        values={param: _param(params, param) for param, _label, _field in FACETS},
        sort=sort,
        limit=int(raw_limit),
        owned=params.get("owned") == "1",
        cursor=cursor,
    )


def _facet_options(facet: list[dict[str, Any]], selected: str, param: str) -> list[dict[str, Any]]:
    options = []
    for item in facet[:MAX_FACET_OPTIONS]:
        value = str(item["value"])
        label = value
        if param == "owner":
            ref = parse_ref(value)
            label = ref.short if ref else value
        options.append({"value": value, "label": label, "count": item["count"],
                        "selected": value.lower() == selected.lower()})
    if selected and not any(o["selected"] for o in options):
        options.append({"value": selected, "label": selected, "count": 0, "selected": True})
    return options


def catalog_page(ui: Ui, request: Request, viewer: Viewer, facet_cache: FacetCache) -> Response:
    form = parse_form(request.query_params)
    catalog = viewer.catalog
    base: list[Predicate] = [_owned_predicate(viewer)] if form.owned else []
    filters = list(base)
    for param, _label, field in FACETS:
        if form.values[param]:
            filters.append({field: form.values[param]})
    label, field, order = SORTS[form.sort]
    full_text_fields = FULL_TEXT_FIELDS if form.q else None
    if form.cursor is not None:
        query = QueryRequest(cursor=decode_cursor(form.cursor), limit=form.limit, include_total=False)
    else:
        query = QueryRequest(predicate=_all(filters), order_fields=[OrderField(field, order)], full_text_term=form.q,
                             full_text_fields=full_text_fields, limit=form.limit, include_total=False)
    entities, page = catalog.query(query)
    # The count, from the same filters and restriction without the sort's join (which costs a
    # pass over every row at 100k entities); sorting by a field drops entities without it.
    counted = [*filters, *([] if field in ALWAYS_PRESENT else [{field: {"$exists": True}}])]
    _none, count = catalog.query(QueryRequest(predicate=_all(counted), full_text_term=form.q,
                                              full_text_fields=full_text_fields, limit=0))
    # Facet counts come from the same restricted rows: the kind menu over everything the viewer
    # may read (within "owned"), the others within the chosen kind.
    kind_scope = _all(base)
    other_scope = _all([*base, *([{"kind": form.values["kind"]}] if form.values["kind"] else [])])
    facets_all = facet_cache.get(viewer, ["kind"], kind_scope)
    facets_all.update(facet_cache.get(viewer, [f for p, _l, f in FACETS if p != "kind"], other_scope))
    facets = [
        {"param": param, "label": flabel, "options": _facet_options(facets_all.get(ffield, []), form.values[param],
                                                                       param)}
        for param, flabel, ffield in FACETS
    ]
    keep = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    next_url = f"/catalog?{urlencode([*keep, ('cursor', page.next_cursor)])}" if page.next_cursor else None
    prev_url = f"/catalog?{urlencode([*keep, ('cursor', page.prev_cursor)])}" if page.prev_cursor else None
    sort_note = None
    if field not in ("metadata.name", "kind"):
        sort_note = f"sorted by {label.lower()}: entities without one are not listed"
    return ui.render(
        request, "catalog.html", viewer=viewer, section="catalog", form=form, rows=rows(entities),
        total=count.total_items, facets=facets, sorts=[(k, v[0]) for k, v in SORTS.items()], limits=LIMITS,
        next_url=next_url, prev_url=prev_url, sort_note=sort_note,
    )


@dataclass(frozen=True)
class Change:
    ref: Any
    title: str
    kind: str
    updated_at: Any


def home_page(ui: Ui, request: Request, viewer: Viewer) -> Response:
    can_read = viewer.may(ENTITY_READ)
    owned: list[Any] = []
    owned_total = 0
    recent: list[Change] = []
    if can_read and ui.services.catalog is not None:
        catalog = viewer.catalog
        entities, page = catalog.query(QueryRequest(predicate=_owned_predicate(viewer),
                                                    order_fields=[OrderField("metadata.name")], limit=OWNED_PREVIEW))
        owned, owned_total = rows(entities), page.total_items
        for change in catalog.recently_changed(10):
            row = row_of(change.entity)
            recent.append(Change(row.ref, row.title, row.kind, change.updated_at))
    return ui.render(request, "home.html", viewer=viewer, section="home", can_read=can_read, owned=owned,
                     owned_total=owned_total, recent=recent)


@dataclass(frozen=True)
class Tab:
    key: str
    title: str
    href: str


def _owned_by(catalog: AuthorizedCatalog, ref_key: str) -> tuple[list[Any], int]:
    entities, page = catalog.query(QueryRequest(predicate={"relations.ownedBy": ref_key},
                                                order_fields=[OrderField("metadata.name")], limit=OWNED_PREVIEW))
    return rows(entities), page.total_items


def _location_of(ui: Ui, viewer: Viewer, entity: Mapping[str, Any]) -> dict[str, Any] | None:
    service = ui.services.catalog
    if service is None or not viewer.may(LOCATION_READ):
        return None
    annotations = (entity.get("metadata") or {}).get("annotations") or {}
    origin = annotations.get("backstage.io/managed-by-origin-location") if isinstance(annotations, Mapping) else None
    if not isinstance(origin, str):
        return None
    try:
        key = LocationSpec.parse_ref(origin).key
    except InputError:
        return None
    # What the API's location routes show this viewer: counts and errors under their restriction.
    found = service.location_status(viewer.catalog.restrict, only=key)
    return found[0] if found else None


def entity_page(ui: Ui, request: Request, viewer: Viewer, namespace: str, kind: str, name: str,
                tab: str = "overview") -> Response:
    catalog = viewer.catalog
    entity = catalog.by_ref(f"{kind}:{namespace}/{name}")
    if entity is None:
        # The same answer for "does not exist" and "you may not see it", as the API gives.
        raise NotFoundError(f"No {kind} named '{name}' in namespace '{namespace}' that you can see")
    view = build_view(entity, catalog.by_refs(relation_refs(entity)))
    base = view.ref.path
    tabs = [Tab("overview", "Overview", base), Tab("yaml", "Raw YAML", f"{base}/yaml")]
    plugin_tabs = {}
    for contributed in ui.services.directory.entity_tabs():
        if contributed.applies_to(view.ref.kind) and viewer.may(contributed.permission):
            plugin_tabs[contributed.key] = contributed
            tabs.append(Tab(contributed.key, contributed.title, f"{base}/{contributed.key}"))
    context: dict[str, Any] = {"view": view, "tabs": tabs, "active_tab": tab, "graph": None, "owned": None,
                               "owned_total": 0, "location": None, "tab_title": "", "tab_body": ""}
    if tab == "overview":
        context["graph"] = layout(view)
        if view.ref.kind.lower() in ("group", "user"):
            context["owned"], context["owned_total"] = _owned_by(catalog, view.ref.key)
        context["location"] = _location_of(ui, viewer, entity)
    elif tab != "yaml":
        extension = plugin_tabs.get(tab)
        if extension is None:
            for known in ui.services.directory.entity_tabs():
                if known.key == tab and known.applies_to(view.ref.kind):
                    viewer.require(known.permission)  # a tab the viewer may not open: say which permission
            raise NotFoundError(f"This entity has no tab '{tab}'")
        decision = viewer.require(extension.permission)
        fragment = extension.render(TabView(viewer.principal, decision, entity))
        context["tab_title"] = fragment.title or extension.title
        context["tab_body"] = Markup(ui.fragment(fragment))  # noqa: S704 - rendered by the autoescaping sandbox
    return ui.render(request, "entity.html", viewer=viewer, section="catalog", **context)


def register_page(ui: Ui, request: Request, viewer: Viewer, form: FormData | None,
                  facet_cache: FacetCache | None = None) -> Response:
    viewer.require(LOCATION_CREATE)
    service = ui.services.catalog
    if service is None:
        raise NotFoundError("The catalog plugin is not loaded")
    context: dict[str, Any] = {"target": "", "error": None, "preview": None, "preview_rows": [],
                               "imported": None, "imported_rows": []}
    if form is not None:
        action = form.get("action")
        target = form.get("target")
        if not isinstance(target, str) or not target.strip():
            raise InputError("Enter the URL of a descriptor file")
        target = target.strip()
        context["target"] = target
        if action not in ("analyze", "import"):
            raise InputError("Unknown action")
        try:
            if action == "analyze":
                preview = preview_location(service, "url", target)
                context["preview"] = preview
                context["preview_rows"] = [_preview_row(e) for e in preview.entities]
            else:
                location = service.add_location(service.check_api_location("url", target))
                if facet_cache is not None:
                    facet_cache.clear()
                context["imported"] = location
                entities, _page = viewer.catalog.query(QueryRequest(
                    predicate={ORIGIN_ANNOTATION: f"url:{location.target}"},
                    order_fields=[OrderField("metadata.name")], limit=50))
                context["imported_rows"] = rows(entities)
        except InputError as exc:
            context["error"] = exc.message
    return ui.render(request, "register.html", viewer=viewer, section="register", **context)


@dataclass(frozen=True)
class PreviewRow:
    ref: Any
    kind: str
    description: str


def _preview_row(entity: Mapping[str, Any]) -> PreviewRow:
    row = row_of(entity)
    return PreviewRow(ref_of(entity), row.kind, row.description)


def register(routers: Mapping[str, PluginRouter], ui: Ui) -> None:
    facet_cache = FacetCache()

    @routers["/"].get("/", public=True, include_in_schema=False)
    async def home(request: Request) -> Response:
        return await ui.run(request, lambda viewer: home_page(ui, request, viewer))

    catalog = routers["/catalog"]

    @catalog.get("", public=True, include_in_schema=False)
    async def catalog_list(request: Request) -> Response:
        return await ui.run(request, lambda viewer: catalog_page(ui, request, viewer, facet_cache))

    @catalog.get("/{namespace}/{kind}/{name}", public=True, include_in_schema=False)
    async def entity(request: Request, namespace: str, kind: str, name: str) -> Response:
        return await ui.run(request, lambda viewer: entity_page(ui, request, viewer, namespace, kind, name))

    @catalog.get("/{namespace}/{kind}/{name}/{tab}", public=True, include_in_schema=False)
    async def entity_tab(request: Request, namespace: str, kind: str, name: str, tab: str) -> Response:
        return await ui.run(request, lambda viewer: entity_page(ui, request, viewer, namespace, kind, name, tab))

    imports = routers["/catalog-import"]

    @imports.get("", public=True, include_in_schema=False)
    async def register_form(request: Request) -> Response:
        return await ui.run(request, lambda viewer: register_page(ui, request, viewer, None))

    @imports.post("", public=True, include_in_schema=False)
    async def register_submit(request: Request) -> Response:
        return await ui.run_form(request, lambda viewer, form: register_page(ui, request, viewer, form,
                                                                              facet_cache))
