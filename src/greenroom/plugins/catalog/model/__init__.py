"""The catalog's entity model: refs, validation and relations, pure and database-free.

Everything here reproduces `@backstage/catalog-model` 1.10.3 and the entity processing of
`@backstage/plugin-catalog-backend` 4.0.5 (with the scaffolder entity-model module), including
error messages, so that greenroom accepts, refuses and relates entities exactly as Backstage does.
"""

from greenroom.plugins.catalog.model.kinds import KNOWN_API_VERSIONS, KNOWN_KINDS
from greenroom.plugins.catalog.model.processing import process_entity
from greenroom.plugins.catalog.model.refs import (
    DEFAULT_NAMESPACE,
    EntityRef,
    EntityRefError,
    compound_ref_of,
    entity_ref_of,
    parse_entity_ref,
    ref_key,
)
from greenroom.plugins.catalog.model.relations import (
    INVERSE_RELATION,
    RELATION_PAIRS,
    Relation,
    relations_for,
)
from greenroom.plugins.catalog.model.validation import EntityValidationError, validate_entity

__all__ = [
    "DEFAULT_NAMESPACE",
    "INVERSE_RELATION",
    "KNOWN_API_VERSIONS",
    "KNOWN_KINDS",
    "RELATION_PAIRS",
    "EntityRef",
    "EntityRefError",
    "EntityValidationError",
    "Relation",
    "compound_ref_of",
    "entity_ref_of",
    "parse_entity_ref",
    "process_entity",
    "ref_key",
    "relations_for",
    "validate_entity",
]
