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
    DEFAULT_MAX_FILE_BYTES,
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
from greenroom.yamlsafe import Document, YamlError, iter_all

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
    failed_refs: dict[str, list[ProcessingError]] = field(default_factory=dict)
    failed_parents: set[str] = field(default_factory=set)  # Location entities whose read failed
    partial: bool = False  # a tree-wide limit was hit: keep everything stored before
    files_read: int = 0
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


class _ReadAbandoned(Exception):
    """The current read stops here; its failures say why."""


@dataclass
class _Child:
    """A Location entity's targets, resolved, or why some could not be."""

    parent_key: str
    specs: list[LocationSpec]
    errors: list[ProcessingError]
    optional: bool


@dataclass
class _Read:
    """One parent's read: the targets it names and what came out of them."""

    parent_key: str | None  # ref key of the Location entity doing the reading
    parent_location: str  # the location key the parent itself was read from
    specs: list[LocationSpec]
    depth: int
    ancestry: tuple[str, ...]
    optional: bool = False  # `spec.presence: optional`: missing targets are not errors
    entities: dict[str, Emitted] = field(default_factory=dict)
    children: list[_Child] = field(default_factory=list)
    failures: list[ProcessingError] = field(default_factory=list)

    def fail(self, location: str, message: str, name: str = "InputError", **where: Any) -> None:
        self.failures.append(ProcessingError(location, message, name, entity_ref=self.parent_key, **where))


def compact_json(value: Any) -> bytes:
    """JSON bytes in an allocation of their own size.

    orjson returns bytes that keep its whole growth buffer (several KB for a 1 KB entity);
    held for every entity of a large tree that is most of the process's memory.
    """
    return memoryview(orjson.dumps(value)).tobytes()


def entity_body(entity: dict[str, Any]) -> tuple[bytes, str]:
    body = compact_json(entity)
    return body, hashlib.sha256(body).hexdigest()


def _annotate(
    entity: dict[str, Any], location: LocationSpec, origin: LocationSpec, *, namespace_defaulted: bool
) -> dict[str, Any]:
    """AnnotateLocationEntityProcessor: location annotations first, the entity's own win.

    Key order follows Backstage's merges: `metadata` first; in it the defaulted namespace
    (when the source had none), then `annotations`, then the source's keys.
    """
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
    ordered: dict[str, Any] = {"namespace": metadata["namespace"]} if namespace_defaulted else {}
    ordered["annotations"] = merged
    ordered.update((k, v) for k, v in metadata.items() if k not in ordered)
    out = {"metadata": ordered}
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
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> None:
        self.rules = rules
        self.max_file_bytes = max_file_bytes
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
            if read.failures:
                # Backstage: the parent's processing fails; nothing it read is taken, and
                # whatever it produced before stays as it was.
                result.errors.extend(read.failures)
                if read.parent_key is not None:
                    result.entities.pop(read.parent_key, None)
                    result.failed_refs[read.parent_key] = read.failures
                    result.failed_parents.add(read.parent_key)
                continue
            for key, emitted in read.entities.items():
                self._accept(key, emitted, result.entities, result)
            for child in read.children:
                if result.entities.get(child.parent_key) is None:
                    continue
                parent = result.entities[child.parent_key]
                queue.append(
                    _Read(child.parent_key, parent.location_key, child.specs, depth=read.depth + 1,
                          ancestry=(*read.ancestry, *(s.key for s in read.specs)), optional=child.optional,
                          failures=list(child.errors))
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
        """Read every target of `read`, collecting every failure (as Backstage reports them all)."""
        if read.depth > MAX_LOCATION_DEPTH:
            read.fail(read.parent_location, f"Locations nested more than {MAX_LOCATION_DEPTH} deep")
            return
        for spec in read.specs:
            if spec.key in read.ancestry:
                read.fail(read.parent_location, f"Location cycle detected: {' -> '.join((*read.ancestry, spec.key))}")
                continue
            for file_spec in self._expand(spec, root_dir, read):
                if file_spec.key in seen:
                    continue  # the same file reached twice (not a cycle): read once
                seen.add(file_spec.key)
                if result.files_read >= MAX_FILES_PER_TREE:
                    read.fail(origin.key, f"More than {MAX_FILES_PER_TREE} files in one location tree")
                    result.partial = True
                    return
                try:
                    self._read_file(file_spec, read, origin, root_dir, result)
                except _ReadAbandoned:
                    return

    def _expand(self, spec: LocationSpec, root_dir: Path | None, read: _Read) -> list[LocationSpec]:
        if spec.type == "file":
            assert root_dir is not None
            if not is_glob(spec.target):
                return [spec]
            try:
                matches = expand_file_glob(spec, root_dir)
            except GreenroomError as exc:
                read.failures.append(ProcessingError.from_exception(exc, spec.key, entity_ref=read.parent_key))
                return []
            if self.on_file is not None:
                self.on_file(f"glob:{spec.target}", "\n".join(m.target for m in matches).encode())
            if not matches and not read.optional:
                read.fail(spec.key, f"file {spec.target} does not exist", "NotFoundError")
            return matches
        if spec.type == "url":
            if is_glob(spec.target.split("?", 1)[0].rsplit("/", 1)[-1]):
                read.fail(spec.key, "glob patterns are not supported for url locations")
                return []
            return [spec]
        read.fail(read.parent_location, f"No processor was able to handle reading of {spec.key}")
        return []

    def _read_bytes(self, spec: LocationSpec, root_dir: Path | None) -> bytes:
        if spec.type == "file":
            assert root_dir is not None
            try:
                data = read_file(spec, root_dir, self.max_file_bytes)
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
            documents = iter_all(data, source=spec.target, max_bytes=self.max_file_bytes)
            result.files_read += 1
            placeholders = may_have_placeholders(data)
            for index, document in enumerate(documents):
                self._document(document, index, spec, read, origin, root_dir, result, placeholders)
        except YamlError as exc:
            where = f" at line {exc.line}, column {exc.column}" if exc.line is not None and exc.column else ""
            read.fail(spec.key, f"YAML error at {spec.key}, YAMLParseError: {exc.problem}{where}", "Error",
                      line=exc.line)
        except NotFoundError as exc:
            if not read.optional:
                read.failures.append(ProcessingError.from_exception(exc, spec.key, entity_ref=read.parent_key))
        except GreenroomError as exc:
            failure = ProcessingError.from_exception(exc, spec.key, entity_ref=read.parent_key)
            if spec.type == "url" and not exc.message.startswith("Unable to read url"):
                failure.message = f"Unable to read url, {exc.message}"
            read.failures.append(failure)

    def _document(
        self,
        document: Document,
        index: int,
        spec: LocationSpec,
        read: _Read,
        origin: LocationSpec,
        root_dir: Path | None,
        result: TreeResult,
        placeholders: bool,
    ) -> None:
        raw = document.value
        if raw is None:
            return
        if not isinstance(raw, dict):
            kind = "object" if isinstance(raw, list) else type(raw).__name__.replace("str", "string")
            read.fail(spec.key, f"Expected object at root, got {kind}", "Error", line=document.line, document=index)
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
                return
        emitted = self._prepare(raw, spec, origin, result, line=document.line, doc=index, read=read)
        if emitted is None:
            return
        emitted.parent = read.parent_key
        self._accept(emitted.key, emitted, read.entities, result)
        if emitted.kind == "Location":
            read.children.append(self._location_targets(emitted, spec, root_dir))

    def _entity_failed(self, raw: Any, result: TreeResult, error: ProcessingError) -> None:
        result.errors.append(error)
        ref = error.entity_ref or _ref_of_raw(raw)
        if ref is not None:
            result.failed_refs[ref] = [error]

    @staticmethod
    def _not_allowed(ref: str | None, read: _Read, origin: LocationSpec, line: int | None, doc: int | None) -> None:
        """A kind the rules refuse: Backstage throws at the first one and abandons the read."""
        read.fail(
            read.parent_location,
            f"Entity {ref} at {read.parent_location}, originated at {origin.key}, "
            "is not of an allowed kind for that location",
            "NotAllowedError",
            line=line,
            document=doc,
        )
        raise _ReadAbandoned

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
        where = {"line": line, "document": doc}
        try:
            entity = validate_entity(raw)
        except EntityValidationError as exc:
            if read is not None and exc.stage == "envelope":
                error = ProcessingError.from_exception(exc, spec.key, **where)
                error.entity_ref = read.parent_key
                read.failures.append(error)
                return None
            # Backstage checks the rules on the emitted child before the child's own
            # validation, so a kind the rules refuse fails the parent whatever else is wrong.
            if read is not None and not self.rules.is_allowed(raw, origin):
                self._not_allowed(_ref_of_raw(raw), read, origin, line, doc)
                return None
            error = ProcessingError.from_exception(exc, spec.key, entity_ref=_ref_of_raw(raw), **where)
            self._entity_failed(raw, result, error)
            return None
        if read is not None and not self.rules.is_allowed(entity, origin):
            self._not_allowed(entity_ref_of(entity), read, origin, line, doc)
            return None
        try:
            metadata = raw.get("metadata")
            defaulted = not (isinstance(metadata, dict) and metadata.get("namespace"))
            entity = _annotate(entity, spec, origin, namespace_defaulted=defaulted)
            check_key_casing(entity)
            relations = relations_for(entity)
        except GreenroomError as exc:
            error = ProcessingError.from_exception(exc, spec.key, entity_ref=_ref_of_raw(raw), **where)
            self._entity_failed(raw, result, error)
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

    def _location_targets(self, emitted: Emitted, spec: LocationSpec, root_dir: Path | None) -> _Child:
        """What a Location entity will read; errors belong to it, not to the file it is in."""
        loc_spec = self._location_specs.pop(emitted.key, {})
        type_ = loc_spec.get("type") or spec.type
        optional = loc_spec.get("presence") == "optional"
        child = _Child(emitted.key, [], [], optional)

        def fail(message: str, name: str = "InputError") -> None:
            child.errors.append(ProcessingError(emitted.location_key, message, name, entity_ref=emitted.key))

        if type_ != spec.type and type_ not in ALLOWED_CHILD_LOCATION_TYPES:
            fail('Registered locations must be of an allowed type ["url"]')
            return child
        targets: list[str] = []
        if isinstance(loc_spec.get("target"), str):
            targets.append(loc_spec["target"])
        targets.extend(t for t in loc_spec.get("targets") or [] if isinstance(t, str))
        for target in targets:
            if type_ == "file" and target.endswith(("/", "\\")):
                fail(f"LocationEntityProcessor cannot handle file type location with target {spec.target} "
                     "that ends with a path separator")
                continue
            if type_ == "url" and spec.type != "url" and "://" not in target:
                fail("Unable to read url, Invalid URL", "Error")  # Backstage reads it verbatim and fails
                continue
            try:
                target_spec = child_spec(spec, target, type_)
                if target_spec.type == "file" and not is_glob(target_spec.target):
                    assert root_dir is not None
                    confine_file(target_spec.target, root_dir)
            except GreenroomError as exc:
                child.errors.append(ProcessingError.from_exception(exc, emitted.location_key, entity_ref=emitted.key))
                continue
            child.specs.append(target_spec)
        return child


def processing_order(result: TreeResult) -> list[Emitted]:
    """The entities in the order Backstage's dry run lists them: its processing stack (LIFO)."""
    children: dict[str | None, list[Emitted]] = {}
    for emitted in result.entities.values():
        children.setdefault(emitted.parent, []).append(emitted)
    out: list[Emitted] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(children.get(current.key, []))
    return out


def validate_document(raw: Any) -> dict[str, Any]:
    """Validate one entity the way ingestion would (validate-entity route, CLI)."""
    return validate_entity(raw)
