"""The relations a validated entity emits, in both directions, as Backstage's processors emit them.

Follows `BuiltinKindsEntityProcessor.postProcessEntity` (`@backstage/plugin-catalog-backend` 4.0.5)
and, for Templates, `ScaffolderEntitiesProcessor` (scaffolder entity-model module): for every ref in
a spec field, one relation from the entity and the inverse one back to it. Refs in a field default
to the field's kind (none for `dependsOn`/`dependencyOf`, which must then say their kind) and to the
*entity's own* namespace. Both ends are printed with `stringifyEntityRef`, i.e. fully lowercased.

The list is in emission order and may hold duplicates (a ref listed twice); Backstage removes
duplicates only when it stores them. A ref that does not parse fails the whole entity, as it does in
Backstage, with "Processor <name> threw an error while postprocessing; caused by ...".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from greenroom.plugins.catalog.model.jsvalues import js_truthy
from greenroom.plugins.catalog.model.kinds import (
    BUILTIN_PROCESSOR,
    SCAFFOLDER_PROCESSOR,
    TEMPLATE_API_VERSION,
)
from greenroom.plugins.catalog.model.refs import DEFAULT_NAMESPACE, EntityRefError, parse_entity_ref
from greenroom.plugins.catalog.model.validation import EntityValidationError

RELATION_OWNED_BY: Final = "ownedBy"
RELATION_OWNER_OF: Final = "ownerOf"
RELATION_CONSUMES_API: Final = "consumesApi"
RELATION_API_CONSUMED_BY: Final = "apiConsumedBy"
RELATION_PROVIDES_API: Final = "providesApi"
RELATION_API_PROVIDED_BY: Final = "apiProvidedBy"
RELATION_DEPENDS_ON: Final = "dependsOn"
RELATION_DEPENDENCY_OF: Final = "dependencyOf"
RELATION_PARENT_OF: Final = "parentOf"
RELATION_CHILD_OF: Final = "childOf"
RELATION_MEMBER_OF: Final = "memberOf"
RELATION_HAS_MEMBER: Final = "hasMember"
RELATION_PART_OF: Final = "partOf"
RELATION_HAS_PART: Final = "hasPart"

RELATION_PAIRS: Final[tuple[tuple[str, str], ...]] = (
    (RELATION_OWNED_BY, RELATION_OWNER_OF),
    (RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY),
    (RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY),
    (RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF),
    (RELATION_PARENT_OF, RELATION_CHILD_OF),
    (RELATION_MEMBER_OF, RELATION_HAS_MEMBER),
    (RELATION_PART_OF, RELATION_HAS_PART),
)
"""(forward, reverse) for every relation type the built-in processors emit."""

INVERSE_RELATION: Final[Mapping[str, str]] = {
    **dict(RELATION_PAIRS),
    **{reverse: forward for forward, reverse in RELATION_PAIRS},
}

Relation = tuple[str, str, str]
"""(source ref, relation type, target ref), refs as `stringifyEntityRef` prints them."""

# (spec field, default kind of its refs, relation from the entity, relation back), in the order
# the processor emits them.
_FieldRule = tuple[str, str | None, str, str]
_OWNER: Final[_FieldRule] = ("owner", "Group", RELATION_OWNED_BY, RELATION_OWNER_OF)
_SYSTEM: Final[_FieldRule] = ("system", "System", RELATION_PART_OF, RELATION_HAS_PART)
_DEPENDS_ON: Final[_FieldRule] = ("dependsOn", None, RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF)
_DEPENDENCY_OF: Final[_FieldRule] = ("dependencyOf", None, RELATION_DEPENDENCY_OF, RELATION_DEPENDS_ON)

_BUILTIN_RULES: Final[dict[str, tuple[_FieldRule, ...]]] = {
    "Component": (
        _OWNER,
        ("subcomponentOf", "Component", RELATION_PART_OF, RELATION_HAS_PART),
        ("providesApis", "API", RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY),
        ("consumesApis", "API", RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY),
        _DEPENDS_ON,
        _DEPENDENCY_OF,
        _SYSTEM,
    ),
    "API": (_OWNER, _SYSTEM),
    "Resource": (_OWNER, _DEPENDS_ON, _DEPENDENCY_OF, _SYSTEM),
    "User": (("memberOf", "Group", RELATION_MEMBER_OF, RELATION_HAS_MEMBER),),
    "Group": (
        ("parent", "Group", RELATION_CHILD_OF, RELATION_PARENT_OF),
        ("children", "Group", RELATION_PARENT_OF, RELATION_CHILD_OF),
        ("members", "User", RELATION_HAS_MEMBER, RELATION_MEMBER_OF),
    ),
    "System": (_OWNER, ("domain", "Domain", RELATION_PART_OF, RELATION_HAS_PART)),
    "Domain": (_OWNER, ("subdomainOf", "Domain", RELATION_PART_OF, RELATION_HAS_PART)),
}


def relations_for(entity: Mapping[str, Any]) -> list[Relation]:
    """Relations of an entity returned by `validate_entity` (pass that, so arrays are sorted)."""
    metadata = entity["metadata"]
    kind = entity["kind"]
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    self_ref = f"{kind}:{namespace}/{metadata['name']}".lower()
    spec = entity.get("spec")
    if not isinstance(spec, Mapping):
        spec = {}
    out: list[Relation] = []

    rules = _BUILTIN_RULES.get(kind)
    if rules is not None:
        try:
            for field, default_kind, forward, reverse in rules:
                targets = spec.get(field)
                if targets is None or (not targets and not js_truthy(targets)):
                    continue
                # `[targets].flat()`: a list contributes its items, anything else itself.
                for target in targets if type(targets) is list else (targets,):
                    target_ref = _target_ref(target, default_kind, namespace)
                    out += ((self_ref, forward, target_ref), (target_ref, reverse, self_ref))
        except EntityRefError as error:
            raise _postprocess_error(BUILTIN_PROCESSOR, error) from None

    if kind == "Template" and entity.get("apiVersion") == TEMPLATE_API_VERSION:
        owner = spec.get("owner")
        if js_truthy(owner):
            try:
                target_ref = _target_ref(owner, "Group", namespace)
            except EntityRefError as error:
                raise _postprocess_error(SCAFFOLDER_PROCESSOR, error) from None
            out.append((self_ref, RELATION_OWNED_BY, target_ref))
            out.append((target_ref, RELATION_OWNER_OF, self_ref))
    return out


_REF_MEMO_LIMIT = 50_000
# Owners, systems and APIs are referenced by many entities; parsing each distinct ref once per
# (default kind, namespace) keeps relation derivation cheap over a whole catalog.
_ref_memo: dict[tuple[str, str | None, str], str] = {}


def _target_ref(target: Any, default_kind: str | None, default_namespace: str) -> str:
    if type(target) is not str:
        ref = parse_entity_ref(target, default_kind=default_kind, default_namespace=default_namespace)
        return f"{ref.kind}:{ref.namespace}/{ref.name}".lower()
    memo_key = (target, default_kind, default_namespace)
    known = _ref_memo.get(memo_key)
    if known is not None:
        return known
    # The same split as parse_entity_ref, without building an EntityRef; errors go the long way.
    colon = target.find(":")
    slash = target.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    name = target[max(colon, slash) + 1 :]
    kind = default_kind if colon == -1 else target[:colon]
    namespace = default_namespace if slash == -1 else target[colon + 1 : slash]
    if not (kind and namespace and name):
        # Some part is empty or missing: let the full parser raise Backstage's error for it.
        ref = parse_entity_ref(target, default_kind=default_kind, default_namespace=default_namespace)
        return f"{ref.kind}:{ref.namespace}/{ref.name}".lower()
    result = f"{kind}:{namespace}/{name}".lower()
    if len(_ref_memo) >= _REF_MEMO_LIMIT:
        _ref_memo.clear()
    _ref_memo[memo_key] = result
    return result


def _postprocess_error(processor: str, error: EntityRefError) -> EntityValidationError:
    return EntityValidationError(
        f"Processor {processor} threw an error while postprocessing",
        stage="relations",
        cause_name=error.js_name,
        cause_message=error.message,
    )
