"""Validation and relations in one call: what the ingestion pipeline runs per entity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenroom.plugins.catalog.model.relations import Relation, relations_for
from greenroom.plugins.catalog.model.validation import validate_entity


def process_entity(entity: Mapping[str, Any]) -> tuple[dict[str, Any], list[Relation]]:
    """The stored form of the entity and its relations; raises `EntityValidationError` like Backstage.

    Backstage emits relations only for entities that passed validation, and a ref that does not
    parse fails the entity, so both steps succeed or fail together.
    """
    completed = validate_entity(entity)
    return completed, relations_for(completed)
