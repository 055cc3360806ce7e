"""OpenAPI descriptions of the catalog routes (parameters and bodies, as Backstage documents them).

The routes parse requests themselves, to reproduce Backstage's validation messages, so
FastAPI cannot infer their parameters; these annotations put them in `/api/openapi.json`.
"""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}

PARAMETERS: dict[str, dict[str, Any]] = {
    "filter": {"schema": _STRINGS, "style": "form", "explode": True,
               "description": "Filter set `key=value,key2=value2` (AND); repeat the parameter to OR sets; "
                              "a bare `key` tests existence."},
    "fields": {"schema": _STRING, "description": "Comma-separated dotted paths to return, e.g. `kind,metadata.name`."},
    "order": {"schema": _STRINGS, "style": "form", "explode": True,
              "description": "`asc:<field>` or `desc:<field>`; repeatable."},
    "limit": {"schema": {"type": "integer", "minimum": 0}, "description": "Maximum number of items."},
    "offset": {"schema": {"type": "integer", "minimum": 0}, "description": "Items to skip."},
    "after": {"schema": _STRING, "description": "Pagination cursor from a previous response's Link header."},
    "orderField": {"schema": _STRINGS, "style": "form", "explode": True,
                   "description": "`<field>[,asc|desc]`; only the first is used for sorting."},
    "fullTextFilterTerm": {"schema": _STRING, "description": "Case-insensitive substring to search for."},
    "fullTextFilterFields": {"schema": _STRING,
                             "description": "Comma-separated fields to search; default: the sort field."},
    "cursor": {"schema": _STRING, "description": "Cursor from `pageInfo`; other filters are then ignored."},
    "totalItems": {"schema": {"type": "string", "enum": ["include", "exclude"]},
                   "description": "Whether to count all matches."},
    "facet": {"schema": _STRINGS, "style": "form", "explode": True, "required": True,
              "description": "Field to count values of; repeatable."},
    "dryRun": {"schema": {"type": "boolean"}, "description": "Read the location without storing anything."},
}

_OBJECT = {"type": "object"}
BODIES: dict[str, dict[str, Any]] = {
    "by-refs": {"type": "object", "required": ["entityRefs"],
                "properties": {"entityRefs": _STRINGS, "fields": _STRINGS, "query": _OBJECT}},
    "by-query": {"type": "object", "properties": {
        "cursor": _STRING, "limit": {"type": "integer"}, "offset": {"type": "integer"}, "fields": _STRINGS,
        "query": _OBJECT, "orderBy": {"type": "array", "items": {"type": "object", "properties": {
            "field": _STRING, "order": {"type": "string", "enum": ["asc", "desc"]}}}},
        "fullTextFilter": {"type": "object", "properties": {"term": _STRING, "fields": _STRINGS}},
        "totalItems": {"type": "string", "enum": ["include", "exclude"]}}},
    "facets": {"type": "object", "required": ["facets"], "properties": {"facets": _STRINGS, "query": _OBJECT}},
    "refresh": {"type": "object", "required": ["entityRef"], "additionalProperties": False,
                "properties": {"entityRef": _STRING, "authorizationToken": _STRING}},
    "validate": {"type": "object", "required": ["entity", "location"],
                 "properties": {"entity": _OBJECT, "location": _STRING}},
    "analyze": {"type": "object", "required": ["location"], "properties": {
        "location": {"type": "object", "properties": {"type": _STRING, "target": _STRING}},
        "catalogFilename": _STRING}},
    "location": {"type": "object", "required": ["type", "target"], "additionalProperties": False,
                 "properties": {"type": {"type": "string", "enum": ["url"]}, "target": _STRING,
                                "presence": {"type": "string", "enum": ["optional", "required"]}}},
    "locations-query": {"type": "object", "properties": {"cursor": _STRING, "limit": {"type": "integer"},
                                                         "query": _OBJECT}},
}


def describe(*parameters: str, body: str | None = None) -> dict[str, Any]:
    """`openapi_extra` for a route taking these query parameters and this JSON body."""
    extra: dict[str, Any] = {}
    if parameters:
        extra["parameters"] = [
            {"name": name, "in": "query", "required": PARAMETERS[name].get("required", False),
             **{k: v for k, v in PARAMETERS[name].items() if k != "required"}}
            for name in parameters
        ]
    if body is not None:
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": BODIES[body]}}}
    return extra
