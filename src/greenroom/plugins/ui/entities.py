"""How entities are shown: refs and their page paths, overview fields, relations by type.

Everything here reads an entity the viewer may read (fetched through the authorized catalog)
and produces plain values for the templates, which escape them. Links come out of
`links.safe_href` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from greenroom.plugins.ui.links import safe_href, segment

RELATION_LABELS = {
    "ownedBy": "Owned by",
    "ownerOf": "Owner of",
    "partOf": "Part of",
    "hasPart": "Has part",
    "dependsOn": "Depends on",
    "dependencyOf": "Dependency of",
    "providesApi": "Provides API",
    "apiProvidedBy": "API provided by",
    "consumesApi": "Consumes API",
    "apiConsumedBy": "API consumed by",
    "memberOf": "Member of",
    "hasMember": "Has member",
    "childOf": "Child of",
    "parentOf": "Parent of",
}
# Relations drawn to the left of the entity in the graph: what it belongs to and what uses it.
UPSTREAM = frozenset({"ownedBy", "partOf", "childOf", "memberOf", "dependencyOf", "apiConsumedBy", "apiProvidedBy"})
MAX_TEXT = 10_000


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """Any entity value as bounded text (entity data is untrusted: it may not be a string)."""
    if value is None:
        return ""
    out = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
    return out if len(out) <= limit else out[: limit - 1] + "…"


@dataclass(frozen=True)
class Ref:
    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}".lower()

    @property
    def path(self) -> str:
        return f"/catalog/{segment(self.namespace.lower())}/{segment(self.kind.lower())}/{segment(self.name)}"

    @property
    def short(self) -> str:
        """Backstage's humanised ref: the namespace only when it is not the default."""
        ns = "" if self.namespace.lower() == "default" else f"{self.namespace}/"
        return f"{self.kind.lower()}:{ns}{self.name}"


def parse_ref(value: Any, *, default_kind: str | None = None, default_namespace: str = "default") -> Ref | None:
    """`kind:namespace/name`, with the parts the shorthand leaves out taken from the defaults."""
    if not isinstance(value, str) or not value:
        return None
    kind, colon, rest = value.partition(":")
    if not colon:
        kind, rest = default_kind or "", value
    namespace, slash, name = rest.partition("/")
    if not slash:
        namespace, name = default_namespace, rest
    if not kind or not namespace or not name:
        return None
    return Ref(kind, namespace, name)


def ref_of(entity: Mapping[str, Any]) -> Ref:
    metadata = entity.get("metadata") or {}
    return Ref(str(entity.get("kind", "")), str(metadata.get("namespace") or "default"), str(metadata.get("name", "")))


def display_name(entity: Mapping[str, Any]) -> str:
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") or {}
    profile = spec.get("profile") if isinstance(spec, Mapping) else None
    for candidate in (metadata.get("title"), profile.get("displayName") if isinstance(profile, Mapping) else None):
        if isinstance(candidate, str) and candidate.strip():
            return text(candidate, 200)
    return text(metadata.get("name"), 200)


@dataclass(frozen=True)
class Link:
    href: str | None  # None: not a safe URL, shown as text
    title: str
    url: str


@dataclass(frozen=True)
class Annotation:
    key: str
    value: str
    href: str | None


@dataclass(frozen=True)
class RelatedEntity:
    """One end of a relation: its ref, and its title when the viewer may read it."""

    ref: Ref
    visible: bool
    title: str
    kind: str


@dataclass(frozen=True)
class RelationGroup:
    type: str
    label: str
    targets: list[RelatedEntity]


@dataclass
class EntityView:
    entity: dict[str, Any]
    ref: Ref
    title: str
    description: str
    tags: list[str]
    labels: list[tuple[str, str]]
    links: list[Link]
    annotations: list[Annotation]
    owner: RelatedEntity | None
    system: RelatedEntity | None
    domain: RelatedEntity | None
    lifecycle: str
    type: str
    relations: list[RelationGroup]
    errors: list[dict[str, str]]
    profile: dict[str, str] = field(default_factory=dict)

    def related(self, *types: str) -> list[RelatedEntity]:
        return [t for g in self.relations if g.type in types for t in g.targets]

    @property
    def yaml(self) -> str:
        return yaml.safe_dump(self.entity, sort_keys=False, allow_unicode=True, default_flow_style=False)


def relation_refs(entity: Mapping[str, Any]) -> list[str]:
    refs = []
    for relation in entity.get("relations") or []:
        if isinstance(relation, Mapping) and isinstance(relation.get("targetRef"), str):
            refs.append(relation["targetRef"])
    return refs


def _related(ref: Ref, readable: Mapping[str, dict[str, Any]]) -> RelatedEntity:
    found = readable.get(ref.key)
    if found is None:
        return RelatedEntity(ref, False, ref.short, ref.kind)
    return RelatedEntity(ref, True, display_name(found), str(found.get("kind", ref.kind)))


def _strings(values: Any) -> list[str]:
    return [text(v, 200) for v in values] if isinstance(values, list) else []


def build_view(entity: dict[str, Any], readable: Mapping[str, dict[str, Any]]) -> EntityView:
    """The page model of `entity`; `readable` holds the related entities the viewer may read."""
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") if isinstance(entity.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    ref = ref_of(entity)
    groups: dict[str, list[RelatedEntity]] = {}
    for relation in entity.get("relations") or []:
        if not isinstance(relation, Mapping):
            continue
        target = parse_ref(relation.get("targetRef"))
        rel_type = relation.get("type")
        if target is None or not isinstance(rel_type, str):
            continue
        groups.setdefault(rel_type, []).append(_related(target, readable))
    order = {t: i for i, t in enumerate(RELATION_LABELS)}
    relations = [
        RelationGroup(t, RELATION_LABELS.get(t, t), sorted(groups[t], key=lambda r: r.ref.key))
        for t in sorted(groups, key=lambda t: (order.get(t, len(order)), t))
    ]

    def first(rel_type: str, kind: str | None = None) -> RelatedEntity | None:
        for target in groups.get(rel_type, []):
            if kind is None or target.ref.kind.lower() == kind:
                return target
        return None

    links = []
    for link in metadata.get("links") or []:
        if isinstance(link, Mapping):
            url = text(link.get("url"), 2048)
            links.append(Link(safe_href(link.get("url")), text(link.get("title"), 200) or url, url))
    annotations = []
    raw_annotations = metadata.get("annotations")
    if isinstance(raw_annotations, Mapping):
        for key, value in sorted(raw_annotations.items()):
            shown = text(value, 2000)
            href = safe_href(value) if isinstance(value, str) and value.startswith(("http://", "https://")) else None
            annotations.append(Annotation(text(key, 300), shown, href))
    labels = []
    raw_labels = metadata.get("labels")
    if isinstance(raw_labels, Mapping):
        labels = [(text(k, 300), text(v, 300)) for k, v in sorted(raw_labels.items())]
    status = entity.get("status") if isinstance(entity.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    errors = []
    for item in status.get("items") or []:
        if isinstance(item, Mapping):
            error = item.get("error") if isinstance(item.get("error"), Mapping) else {}
            assert isinstance(error, Mapping)
            errors.append({"level": text(item.get("level"), 50), "type": text(item.get("type"), 200),
                           "name": text(error.get("name"), 200), "message": text(error.get("message"))})
    profile = {}
    raw_profile = spec.get("profile")
    if isinstance(raw_profile, Mapping):
        for key in ("displayName", "email"):
            if raw_profile.get(key):
                profile[key] = text(raw_profile.get(key), 300)
        picture = safe_href(raw_profile.get("picture"))
        if picture:
            profile["picture"] = picture
        email = profile.get("email")
        if email and safe_href(f"mailto:{email}"):
            profile["mailto"] = f"mailto:{email}"
    return EntityView(
        entity=entity,
        ref=ref,
        title=display_name(entity),
        description=text(metadata.get("description")),
        tags=_strings(metadata.get("tags")),
        labels=labels,
        links=links,
        annotations=annotations,
        owner=first("ownedBy"),
        system=first("partOf", "system"),
        domain=first("partOf", "domain"),
        lifecycle=text(spec.get("lifecycle"), 100),
        type=text(spec.get("type"), 100),
        relations=relations,
        errors=errors,
        profile=profile,
    )


@dataclass(frozen=True)
class Row:
    """A catalog table row."""

    ref: Ref
    title: str
    kind: str
    type: str
    owner: Ref | None
    lifecycle: str
    tags: list[str]
    description: str


def row_of(entity: Mapping[str, Any]) -> Row:
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") if isinstance(entity.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    owner = None
    for relation in entity.get("relations") or []:
        if isinstance(relation, Mapping) and relation.get("type") == "ownedBy":
            owner = parse_ref(relation.get("targetRef"))
            break
    return Row(
        ref=ref_of(entity),
        title=display_name(entity),
        kind=text(entity.get("kind"), 100),
        type=text(spec.get("type"), 100),
        owner=owner,
        lifecycle=text(spec.get("lifecycle"), 100),
        tags=_strings(metadata.get("tags")),
        description=text(metadata.get("description"), 300),
    )


def rows(entities: Iterable[Mapping[str, Any]]) -> list[Row]:
    return [row_of(e) for e in entities]
