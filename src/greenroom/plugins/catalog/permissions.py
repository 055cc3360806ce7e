"""The catalog's permissions, with Backstage's names and resource type."""

from __future__ import annotations

from greenroom.kernel import Permission

RESOURCE_TYPE_ENTITY = "catalog-entity"
RESOURCE_TYPE_LOCATION = "catalog-location"

ENTITY_READ = Permission("catalog.entity.read", "read", RESOURCE_TYPE_ENTITY, "read catalog entities")
ENTITY_CREATE = Permission("catalog.entity.create", "create", None, "register entities (via locations)")
ENTITY_REFRESH = Permission("catalog.entity.refresh", "update", RESOURCE_TYPE_ENTITY, "refresh an entity")
ENTITY_DELETE = Permission("catalog.entity.delete", "delete", RESOURCE_TYPE_ENTITY, "delete an entity")
ENTITY_VALIDATE = Permission("catalog.entity.validate", "use", None, "validate an entity descriptor", mutates=False)
LOCATION_READ = Permission("catalog.location.read", "read", None, "read registered locations")
LOCATION_CREATE = Permission("catalog.location.create", "create", None, "register a location")
LOCATION_DELETE = Permission("catalog.location.delete", "delete", None, "unregister a location")
LOCATION_ANALYZE = Permission("catalog.location.analyze", "use", None, "analyze a location", mutates=False)

ALL = (
    ENTITY_READ,
    ENTITY_CREATE,
    ENTITY_REFRESH,
    ENTITY_DELETE,
    ENTITY_VALIDATE,
    LOCATION_READ,
    LOCATION_CREATE,
    LOCATION_DELETE,
    LOCATION_ANALYZE,
)
