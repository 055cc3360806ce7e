"""Ingestion as a batch: read a whole location tree, then hand one result to the store.

For one origin location (a config location, or one registered through the API) the pipeline
reads the target, follows `Location` entities to more targets, and processes every document:
placeholders, Backstage's validation, `catalog.rules`, location annotations, relations.
Nothing touches the database here.

Failure units follow Backstage (see docs/catalog.md):

* A *read* is what one parent does: the generated Location entity of the origin reads the
  origin target; a `Location` entity reads its targets. A read fails as a whole when a
  target is missing or unreadable, a document is not valid YAML, is not an object, fails the
  envelope check, or has a kind `catalog.rules` does not allow for the origin. Then nothing
  from that read is taken, the parent entity carries the error, and entities stored earlier
  are kept as they were (nothing is orphaned by a failing run).
* An entity that passes the envelope but fails its kind's schema, a field-format policy, a
  placeholder or a relation ref fails alone: it is not stored (an earlier valid version
  stays, with the error in its `status.items`), and its siblings are stored.

Errors are collected and attributed (location, line, document, entity), never raised.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from greenroom.errors import GreenroomError, NotFoundError
from greenroom.plugins.catalog.model import EntityValidationError, entity_ref_of, relations_for, validate_entity
from greenroom.plugins.catalog.processing.locations import (
    LocationSpec,
    child_spec,
    confine_file,
    expand_file_glob,
    is_glob,
    read_file,
)
from greenroom.plugins.catalog.processing.placeholders import (
    PlaceholderContext,
    may_have_placeholders,
    resolve_placeholders,
)
from greenroom.plugins.catalog.processing.rules import RulesEnforcer
from greenroom.plugins.catalog.store.search import check_key_casing
from greenroom.yamlsafe import YamlError, load_all

MANAGED_BY_LOCATION = "backstage.io/managed-by-location"
MANAGED_BY_ORIGIN = "backstage.io/managed-by-origin-location"
VIEW_URL = "backstage.io/view-url"
EDIT_URL = "backstage.io/edit-url"
SOURCE_LOCATION = "backstage.io/source-location"
ALLOWED_CHILD_LOCATION_TYPES = ("url",)
MAX_LOCATION_DEPTH = 32
MAX_FILES_PER_TREE = 20_000
MAX_ENTITIES_PER_TREE = 500_000


@dataclass(slots=True)
class ProcessingError:
    """An error attributed to where it happened, serialised like Backstage's errors."""

    location: str
    message: str
    name: str = "InputError"
    line: int | None = None
    document: int | None = None
    entity_ref: str | None = None
    cause: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "message": self.message}
        if self.cause is not None:
            out["cause"] = self.cause
        out["location"] = self.location
        if self.line is not None:
            out["line"] = self.line
        if self.document is not None:
            out["document"] = self.document
        if self.entity_ref is not None:
            out["entityRef"] = self.entity_ref
        return out

    @classmethod
    def from_exception(cls, exc: GreenroomError, location: str, **where: Any) -> ProcessingError:
        cause = None
        if isinstance(exc, EntityValidationError) and exc.cause_name is not None:
            cause = {"name": exc.cause_name, "message": exc.cause_message or ""}
        return cls(location, exc.message, exc.name, cause=cause, **where)


@dataclass(slots=True)
class Emitted:
    """A valid, processed entity ready for the store.

    Only the JSON is kept, not the parsed entity: a 100k-entity tree held as dicts would
    take gigabytes, as JSON about a tenth of that. `entity` parses it when needed.
    """

    key: str  # the lowercased ref, also the lookup key
    kind: str
    namespace: str
    name: str
    location_key: str
    relations: list[tuple[str, str, str]]
    body: bytes  # JSON of the processed entity, in its natural key order
    hash: str
    parent: str | None = None  # ref key of the Location entity that read it

    @property
    def entity(self) -> dict[str, Any]:
        entity: dict[str, Any] = orjson.loads(self.body)
        return entity


@dataclass
class TreeResult:
    origin: LocationSpec
    entities: dict[str, Emitted] = field(default_factory=dict)
    errors: list[ProcessingError] = field(default_factory=list)
    warnings: list[ProcessingError] = field(default_factory=list)
    failed_refs: dict[str, ProcessingError] = field(default_factory=dict)
    partial: bool = False
    files_read: int = 0
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Read:
    """One parent's read: the targets it names and what came out of them."""

    parent_key: str | None  # ref key of the Location entity doing the reading
    parent_location: str  # the location key the parent itself was read from
    specs: list[LocationSpec]
    depth: int
    ancestry: tuple[str, ...]
    entities: dict[str, Emitted] = field(default_factory=dict)
    children: list[tuple[str, list[LocationSpec]]] = field(default_factory=list)
    failure: ProcessingError | None = None


def entity_body(entity: dict[str, Any]) -> tuple[bytes, str]:
    body = orjson.dumps(entity)
    return body, hashlib.sha256(body).hexdigest()


def _annotate(entity: dict[str, Any], location: LocationSpec, origin: LocationSpec) -> dict[str, Any]:
    """AnnotateLocationEntityProcessor: location annotations first, the entity's own win."""
    metadata = entity["metadata"]
    annotations = metadata.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise GreenroomError("metadata.annotations must be a valid object")
    base: dict[str, str] = {MANAGED_BY_LOCATION: location.key, MANAGED_BY_ORIGIN: origin.key}
    if location.type == "url":
        base[VIEW_URL] = location.target
        edit, source = _scm_urls(location.target)
        if edit:
            base[EDIT_URL] = edit
        if source:
            base[SOURCE_LOCATION] = source
    merged = {**base, **(annotations or {})}
    # The managed-by annotations say where the catalog read the entity; a file cannot claim
    # to be managed by another location (Backstage lets the entity's own value win here).
    merged[MANAGED_BY_LOCATION] = location.key
    merged[MANAGED_BY_ORIGIN] = origin.key
    out = {"metadata": {**metadata, "annotations": merged}}
    out.update((k, v) for k, v in entity.items() if k != "metadata")
    return out


def _scm_urls(url: str) -> tuple[str | None, str | None]:
    """edit-url and source-location for GitHub and GitLab blob URLs (as Backstage's integrations)."""
    import re

    has_sha = re.search(r"/[0-9a-f]{40,}/", url) is not None
    if url.startswith("https://github.com/") and "/blob/" in url:
        head, _, rest = url.partition("/blob/")
        ref = rest.split("/", 1)[0]
        edit = None if has_sha else f"{head}/edit/{rest}"
        return edit, f"url:{head}/tree/{ref}/"
    if url.startswith("https://gitlab.com/") and "/-/blob/" in url:
        directory = url.rsplit("/", 1)[0] + "/"
        edit = None if has_sha else url.replace("/-/blob/", "/-/edit/", 1)
        return edit, f"url:{directory}"
    return None, None


def generated_location_name(spec: LocationSpec) -> str:
    """Backstage's name for the Location entity of a config or registered location."""
    return "generated-" + hashlib.sha1(spec.key.encode("utf-8"), usedforsecurity=False).hexdigest()


def generated_location_ref(spec: LocationSpec) -> str:
    return f"location:default/{generated_location_name(spec)}"


def generated_location_entity(spec: LocationSpec) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": generated_location_name(spec)},
        "spec": {"type": spec.type, "target": spec.target},
    }


def _ref_of_raw(raw: Any) -> str | None:
    """The ref of a document that failed validation, when it names enough to have one."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("kind")
    metadata = raw.get("metadata")
    if not isinstance(kind, str) or not isinstance(metadata, dict):
        return None
    name = metadata.get("name")
    namespace = metadata.get("namespace") or "default"
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        return None
    return f"{kind}:{namespace}/{name}".lower()


class TreeReader:
    """Reads one origin location's whole tree into a `TreeResult`."""

    def __init__(
        self,
        *,
        rules: RulesEnforcer,
        read_url: Callable[[str], bytes],
        progress: Callable[[int], None] | None = None,
        on_file: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.rules = rules
        self.read_url = read_url
        self.progress = progress
        self.on_file = on_file
        self._location_specs: dict[str, Any] = {}

    # -- the tree --------------------------------------------------------------------------
    def read(self, origin: LocationSpec) -> TreeResult:
        started = time.perf_counter()
        result = TreeResult(origin=origin)
        root_dir = Path(origin.target).parent if origin.type == "file" else None
        generated = self._prepare(generated_location_entity(origin), origin, origin, result, line=None, doc=None)
        assert generated is not None
        queue = [_Read(generated.key, origin.key, [origin], depth=0, ancestry=())]
        seen: set[str] = set()
        result.entities[generated.key] = generated
        while queue:
            read = queue.pop(0)
            self._run(read, origin, root_dir, result, seen)
            if read.failure is not None:
                result.partial = True
                result.errors.append(read.failure)
                if read.parent_key is not None:
                    result.entities.pop(read.parent_key, None)
                    result.failed_refs[read.parent_key] = read.failure
                continue
            for key, emitted in read.entities.items():
                self._accept(key, emitted, result.entities, result)
            for parent_key, specs in read.children:
                if parent_key not in result.entities:
                    continue
                parent = result.entities[parent_key]
                queue.append(
                    _Read(parent_key, parent.location_key, specs, depth=read.depth + 1,
                          ancestry=(*read.ancestry, *(s.key for s in read.specs)))
                )
            if len(result.entities) > MAX_ENTITIES_PER_TREE:
                result.errors.append(
                    ProcessingError(origin.key, f"More than {MAX_ENTITIES_PER_TREE} entities in one location tree")
                )
                result.partial = True
                break
            if self.progress is not None:
                self.progress(len(result.entities))
        result.duration_s = time.perf_counter() - started
        return result

    @staticmethod
    def _accept(key: str, emitted: Emitted, into: dict[str, Emitted], result: TreeResult) -> None:
        """Last copy wins within one file; across files the first one read keeps the entity."""
        existing = into.get(key)
        if existing is not None and existing.location_key != emitted.location_key:
            # Backstage keeps the first owner and drops the copy; we also say so.
            result.warnings.append(
                ProcessingError(
                    emitted.location_key,
                    f"Detected conflicting entityRef {key} already referenced by {existing.location_key} "
                    f"and now also {emitted.location_key}",
                    "ConflictError",
                    entity_ref=key,
                )
            )
            return
        into[key] = emitted

    def _run(
        self, read: _Read, origin: LocationSpec, root_dir: Path | None, result: TreeResult, seen: set[str]
    ) -> None:
        if read.depth > MAX_LOCATION_DEPTH:
            read.failure = ProcessingError(
                read.parent_location, f"Locations nested more than {MAX_LOCATION_DEPTH} deep"
            )
            return
        for spec in read.specs:
            if spec.key in read.ancestry:
                chain = " -> ".join((*read.ancestry, spec.key))
                read.failure = ProcessingError(read.parent_location, f"Location cycle detected: {chain}",
                                               entity_ref=read.parent_key)
                return
        for spec in read.specs:
            for file_spec in self._expand(spec, root_dir, read):
                if read.failure is not None:
                    return
                if file_spec.key in seen:
                    continue  # the same file reached twice (not a cycle): read once
                seen.add(file_spec.key)
                if result.files_read >= MAX_FILES_PER_TREE:
                    read.failure = ProcessingError(
                        origin.key, f"More than {MAX_FILES_PER_TREE} files in one location tree"
                    )
                    return
                self._read_file(file_spec, read, origin, root_dir, result)
            if read.failure is not None:
                return

    def _expand(self, spec: LocationSpec, root_dir: Path | None, read: _Read) -> list[LocationSpec]:
        if spec.type == "file":
            assert root_dir is not None
            if spec.target.endswith(("/", "\\")):
                read.failure = ProcessingError(
                    read.parent_location,
                    f"LocationEntityProcessor cannot handle file type location with target "
                    f"{read.parent_location.partition(':')[2]} that ends with a path separator",
                    entity_ref=read.parent_key,
                )
                return []
            try:
                matches = expand_file_glob(spec, root_dir) if is_glob(spec.target) else [spec]
                if is_glob(spec.target) and self.on_file is not None:
                    self.on_file(f"glob:{spec.target}", "\n".join(m.target for m in matches).encode())
            except GreenroomError as exc:
                read.failure = ProcessingError.from_exception(exc, spec.key, entity_ref=read.parent_key)
                return []
            if not matches:
                read.failure = ProcessingError(spec.key, f"file {spec.target} does not exist", "NotFoundError",
                                               entity_ref=read.parent_key)
            return matches
        if spec.type == "url":
            if is_glob(spec.target.split("?", 1)[0].rsplit("/", 1)[-1]):
                read.failure = ProcessingError(spec.key, "glob patterns are not supported for url locations",
                                               entity_ref=read.parent_key)
                return []
            return [spec]
        read.failure = ProcessingError(read.parent_location, f"No processor was able to handle reading of {spec.key}",
                                       entity_ref=read.parent_key)
        return []

    def _read_bytes(self, spec: LocationSpec, root_dir: Path | None) -> bytes:
        if spec.type == "file":
            assert root_dir is not None
            try:
                data = read_file(spec, root_dir)
            except NotFoundError as exc:
                raise NotFoundError(f"file {spec.target} does not exist") from exc
            if self.on_file is not None:
                self.on_file(spec.key, data)
            return data
        try:
            return self.read_url(spec.target)
        except NotFoundError as exc:
            raise NotFoundError(f"Unable to read url, no matching files found for {spec.target}") from exc

    # -- one file ----------------------------------------------------------------------------
    def _read_file(
        self, spec: LocationSpec, read: _Read, origin: LocationSpec, root_dir: Path | None, result: TreeResult
    ) -> None:
        try:
            data = self._read_bytes(spec, root_dir)
            documents = load_all(data, source=spec.target)
        except YamlError as exc:
            read.failure = ProcessingError(spec.key, f"YAML error at {spec.key}, {exc.reason}", "Error",
                                           line=exc.line, entity_ref=read.parent_key)
            return
        except GreenroomError as exc:
            read.failure = ProcessingError.from_exception(exc, spec.key, entity_ref=read.parent_key)
            if spec.type == "url" and not exc.message.startswith("Unable to read url"):
                read.failure.message = f"Unable to read url, {exc.message}"
            return
        result.files_read += 1
        placeholders = may_have_placeholders(data)
        for index, document in enumerate(documents):
            raw = document.value
            if raw is None:
                continue
            if not isinstance(raw, dict):
                kind = "object" if isinstance(raw, list) else type(raw).__name__.replace("str", "string")
                read.failure = ProcessingError(spec.key, f"Expected object at root, got {kind}", "Error",
                                               line=document.line, document=index, entity_ref=read.parent_key)
                return
            if placeholders:
                ctx = PlaceholderContext(spec, root_dir, self.read_url, self.on_file)
                try:
                    raw = resolve_placeholders(raw, ctx)
                except GreenroomError as exc:
                    message = (
                        "Processor PlaceholderProcessor threw an error while preprocessing; "
                        f"caused by Error: {exc.message}"
                    )
                    self._entity_failed(raw, result, ProcessingError(
                        spec.key, message, "InputError", line=document.line, document=index,
                        entity_ref=_ref_of_raw(raw), cause={"name": "Error", "message": exc.message}))
                    continue
            emitted = self._prepare(raw, spec, origin, result, line=document.line, doc=index, read=read)
            if read.failure is not None:
                return
            if emitted is None:
                continue
            emitted.parent = read.parent_key
            self._accept(emitted.key, emitted, read.entities, result)
            if emitted.kind == "Location":
                targets = self._location_targets(emitted, spec, read, root_dir)
                if read.failure is not None:
                    return
                if targets:
                    read.children.append((emitted.key, targets))

    def _entity_failed(self, raw: Any, result: TreeResult, error: ProcessingError) -> None:
        result.errors.append(error)
        ref = error.entity_ref or _ref_of_raw(raw)
        if ref is not None:
            result.failed_refs[ref] = error

    def _prepare(
        self,
        raw: dict[str, Any],
        spec: LocationSpec,
        origin: LocationSpec,
        result: TreeResult,
        *,
        line: int | None,
        doc: int | None,
        read: _Read | None = None,
    ) -> Emitted | None:
        try:
            entity = validate_entity(raw)
            if read is not None and not self.rules.is_allowed(entity, origin):
                read.failure = ProcessingError(
                    read.parent_location,
                    f"Entity {entity_ref_of(entity)} at {read.parent_location}, originated at {origin.key}, "
                    "is not of an allowed kind for that location",
                    "NotAllowedError",
                    line=line,
                    document=doc,
                    entity_ref=read.parent_key,
                )
                return None
            entity = _annotate(entity, spec, origin)
            check_key_casing(entity)
            relations = relations_for(entity)
        except EntityValidationError as exc:
            error = ProcessingError.from_exception(exc, spec.key, line=line, document=doc, entity_ref=_ref_of_raw(raw))
            if exc.stage == "envelope" and read is not None:
                error.entity_ref = read.parent_key
                read.failure = error
                return None
            self._entity_failed(raw, result, error)
            return None
        except GreenroomError as exc:
            self._entity_failed(raw, result, ProcessingError.from_exception(
                exc, spec.key, line=line, document=doc, entity_ref=_ref_of_raw(raw)))
            return None
        body, digest = entity_body(entity)
        metadata = entity["metadata"]
        emitted = Emitted(
            key=entity_ref_of(entity),
            kind=entity["kind"],
            namespace=metadata.get("namespace") or "default",
            name=metadata["name"],
            location_key=spec.key,
            relations=relations,
            body=body,
            hash=digest,
        )
        if entity["kind"] == "Location":
            self._location_specs[emitted.key] = entity.get("spec") or {}
        return emitted

    def _location_targets(
        self, emitted: Emitted, spec: LocationSpec, read: _Read, root_dir: Path | None
    ) -> list[LocationSpec]:
        loc_spec = self._location_specs.pop(emitted.key, {})
        type_ = loc_spec.get("type") or spec.type
        if type_ != spec.type and type_ not in ALLOWED_CHILD_LOCATION_TYPES:
            read.failure = ProcessingError(
                spec.key, 'Registered locations must be of an allowed type ["url"]', entity_ref=emitted.key
            )
            return []
        targets: list[str] = []
        if isinstance(loc_spec.get("target"), str):
            targets.append(loc_spec["target"])
        targets.extend(t for t in loc_spec.get("targets") or [] if isinstance(t, str))
        out = []
        for target in targets:
            try:
                child = child_spec(spec, target, type_)
                if child.type == "file" and not is_glob(child.target) and not child.target.endswith("/"):
                    assert root_dir is not None
                    confine_file(child.target, root_dir)
            except GreenroomError as exc:
                read.failure = ProcessingError.from_exception(exc, spec.key, entity_ref=emitted.key)
                return []
            out.append(child)
        return out


def validate_document(raw: Any) -> dict[str, Any]:
    """Validate one entity the way ingestion would (validate-entity route, CLI)."""
    return validate_entity(raw)
