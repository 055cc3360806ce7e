"""Entity references: `[<kind>:][<namespace>/]<name>`, parsed and printed the way Backstage does.

Semantics follow `packages/catalog-model/src/entity/ref.ts` of `@backstage/catalog-model` 1.10.3:

- `stringifyEntityRef` lowercases all three parts (kind, namespace *and* name), so the string form is
  also the case-insensitive lookup key that the catalog compares on;
- parsing a string splits on the first `:` and the first `/`, except that a `/` before the first `:`
  means there is no kind (`a/b:c` is namespace `a`, name `b:c`);
- an empty part is a `TypeError`, a part missing with no default is an `Error`; the messages are
  Backstage's, so they can be shown to users unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from greenroom.errors import InputError
from greenroom.plugins.catalog.model.jsvalues import js_json_stringify, js_truthy

DEFAULT_NAMESPACE = "default"


class EntityRefError(InputError):
    """A reference Backstage's `parseEntityRef` would refuse.

    `js_name` is the JavaScript error class Backstage throws (`TypeError` or `Error`); callers that
    wrap this error the way the catalog backend does need it for the "caused by" text.
    """

    def __init__(self, message: str, *, js_name: str = "Error") -> None:
        super().__init__(message)
        self.js_name = js_name


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A compound reference; the fields keep the case they were written in."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}".lower()

    @property
    def key(self) -> str:
        """The lowercased form Backstage compares refs by (equal to `str(self)`)."""
        return str(self)


def ref_key(kind: str, namespace: str, name: str) -> str:
    """The lookup key for a ref given by parts: Backstage compares refs case-insensitively."""
    return f"{kind}:{namespace}/{name}".lower()


def entity_ref_of(entity: Mapping[str, Any]) -> str:
    """`stringifyEntityRef(entity)`: the lowercased ref of an entity, namespace defaulting to "default"."""
    metadata = entity["metadata"]
    namespace = metadata.get("namespace")
    if namespace is None:
        namespace = DEFAULT_NAMESPACE
    return f"{entity['kind']}:{namespace}/{metadata['name']}".lower()


def compound_ref_of(entity: Mapping[str, Any]) -> EntityRef:
    """`getCompoundEntityRef(entity)`: an empty namespace counts as missing here (`||`, not `??`)."""
    metadata = entity["metadata"]
    return EntityRef(entity["kind"], metadata.get("namespace") or DEFAULT_NAMESPACE, metadata["name"])


def parse_entity_ref(
    ref: str | Mapping[str, Any],
    *,
    default_kind: str | None = None,
    default_namespace: str | None = DEFAULT_NAMESPACE,
) -> EntityRef:
    """Backstage's `parseEntityRef(ref, {defaultKind, defaultNamespace})`.

    A falsy `default_namespace` falls back to "default", as in Backstage; so only a kind can be
    missing for a string ref. Raises `EntityRefError` with Backstage's message.
    """
    if not js_truthy(ref):
        raise EntityRefError("Entity reference must not be empty")
    namespace_fallback = default_namespace or DEFAULT_NAMESPACE
    kind: Any
    namespace: Any
    name: Any
    if isinstance(ref, str):
        colon = ref.find(":")
        slash = ref.find("/")
        if slash != -1 and slash < colon:
            colon = -1
        kind = None if colon == -1 else ref[:colon]
        namespace = None if slash == -1 else ref[colon + 1 : slash]
        name = ref[max(colon + 1, slash + 1) :]
        if kind == "" or namespace == "" or name == "":
            raise EntityRefError(
                f'Entity reference "{ref}" was not on the form [<kind>:][<namespace>/]<name>',
                js_name="TypeError",
            )
        if kind is None:
            kind = default_kind
        if namespace is None:
            namespace = namespace_fallback
    else:
        # Anything that is not a string is read like an object: missing members are `undefined`.
        fields: Mapping[str, Any] = ref if isinstance(ref, Mapping) else {}
        kind = fields.get("kind")
        namespace = fields.get("namespace")
        name = fields.get("name")
        if kind is None:
            kind = default_kind
        if namespace is None:
            namespace = namespace_fallback
    if not js_truthy(kind):
        raise EntityRefError(
            f"Entity reference {js_json_stringify(ref)} had missing or empty kind "
            '(e.g. did not start with "component:" or similar)'
        )
    if not js_truthy(namespace):
        raise EntityRefError(f"Entity reference {js_json_stringify(ref)} had missing or empty namespace")
    if not js_truthy(name):
        raise EntityRefError(f"Entity reference {js_json_stringify(ref)} had missing or empty name")
    for part in (kind, namespace, name):
        if not isinstance(part, str):
            # Backstage accepts these here and only fails later, outside validation, when it
            # lowercases the parts (`toLowerCase is not a function`); refusing them now is kinder.
            text = js_json_stringify(ref)
            raise EntityRefError(
                f"Entity reference {text} had a kind, namespace or name that is not a string",
                js_name="TypeError",
            )
    return EntityRef(kind, namespace, name)
