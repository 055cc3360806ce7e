"""The catalogs compared with a real Backstage, and how their results are normalised.

Shared by `make_golden.py` (which feeds them to a real Backstage backend) and by
`test_ingest_matches_backstage.py` (which feeds them to greenroom). A scenario is a set of
input files laid out under a root directory plus the `catalog.locations` (file targets
relative to that root) and `catalog.rules` to configure. Everything that depends on where
the root lives on disk is normalised: the root path becomes `<ROOT>`, and the name of a
generated Location entity (`generated-<sha1 of "type:target">`) becomes
`generated-<sha1 of "type:<normalised target>">` so it is the same on every machine.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
GOLDEN = HERE / "golden"
ROOT_PLACEHOLDER = "<ROOT>"

ALL_KINDS = ["Component", "API", "System", "Domain", "Resource", "Group", "User", "Location", "Template"]
ALL_KINDS_RULES: list[dict[str, Any]] = [{"allow": ALL_KINDS}]

# The catalog-model examples as they sit in the backstage/backstage repository
# (packages/catalog-model/examples/...), rebuilt from the flattened fixture names.
CATALOG_MODEL_PREFIX = "backstage__backstage__packages__catalog-model__examples__"


@dataclass(frozen=True)
class Scenario:
    name: str
    files: dict[str, Path]  # path under the root -> committed input file
    locations: list[dict[str, Any]]  # catalog.locations with targets relative to the root
    rules: list[dict[str, Any]] = field(default_factory=lambda: list(ALL_KINDS_RULES))
    description: str = ""
    phase2: dict[str, Path] = field(default_factory=dict)  # files replaced before a second run

    @property
    def golden_path(self) -> Path:
        return GOLDEN / f"{self.name}.json"

    def write_inputs(self, root: Path, phase: int = 1) -> None:
        for rel, source in (self.files if phase == 1 else self.phase2).items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())

    def config_locations(self, root: Path) -> list[dict[str, Any]]:
        out = []
        for loc in self.locations:
            resolved = dict(loc)
            if resolved["type"] == "file":
                resolved["target"] = str(root / resolved["target"])
            out.append(resolved)
        return out

    def input_digests(self) -> dict[str, str]:
        digests = {rel: hashlib.sha256(src.read_bytes()).hexdigest() for rel, src in sorted(self.files.items())}
        digests.update(
            (f"phase2:{rel}", hashlib.sha256(src.read_bytes()).hexdigest()) for rel, src in sorted(self.phase2.items())
        )
        return digests


def _create_app_files() -> dict[str, Path]:
    return _tree(INPUTS / "create-app")


def _tree(base: Path) -> dict[str, Path]:
    return {str(p.relative_to(base)): p for p in sorted(base.rglob("*")) if p.is_file()}


def _real_world_files() -> list[Path]:
    return sorted((INPUTS / "real-world").glob("*.yaml"))


def scenarios() -> list[Scenario]:
    create_app_locations: list[dict[str, Any]] = [
        # the three locations of create-app's app-config.yaml (templates/default-app)
        {"type": "file", "target": "examples/entities.yaml"},
        {"type": "file", "target": "examples/template/template.yaml", "rules": [{"allow": ["Template"]}]},
        {"type": "file", "target": "examples/org.yaml", "rules": [{"allow": ["User", "Group"]}]},
    ]
    out = [
        Scenario(
            "create-app",
            _create_app_files(),
            [{k: v for k, v in loc.items() if k != "rules"} for loc in create_app_locations],
            description="@backstage/create-app 0.9.2 templates/default-app/examples, all kinds allowed",
        ),
        Scenario(
            "create-app-own-rules",
            _create_app_files(),
            create_app_locations,
            rules=[{"allow": ["Component", "System", "API", "Resource", "Location"]}],
            description="the same with create-app's own catalog.rules and per-location rules",
        ),
    ]
    model_files = {
        "examples/" + p.name[len(CATALOG_MODEL_PREFIX):].replace("__", "/"): p
        for p in _real_world_files()
        if p.name.startswith(CATALOG_MODEL_PREFIX)
    }
    out.append(
        Scenario(
            "catalog-model-examples",
            model_files,
            [{"type": "file", "target": rel} for rel in sorted(model_files)],
            description="@backstage/catalog-model examples present in the real-world fixtures, at their "
            "repository paths, each a config location of one catalog",
        )
    )
    for p in _real_world_files():
        out.append(
            Scenario(
                "real-world/" + p.stem,
                {p.name: p},
                [{"type": "file", "target": p.name}],
                description=f"real-world fixture {p.name} on its own",
            )
        )
    edge = INPUTS / "edge"
    out.append(
        Scenario(
            "edge-cases",
            _tree(edge / "phase1"),
            [{"type": "file", "target": "catalog-info.yaml"}, {"type": "file", "target": "second.yaml"}],
            description="edge cases of our own (placeholders, nested and glob locations, refs, YAML 1.2 values, "
            "URL sanitising), then a second run where an entity disappears (orphan), an entity starts "
            "failing (status.items) and a location file breaks",
            phase2=_tree(edge / "phase2"),
        )
    )
    orphan = INPUTS / "orphan-beside-failure"
    out.append(
        Scenario(
            "orphan-beside-failure",
            _tree(orphan / "phase1"),
            [{"type": "file", "target": "all.yaml"}],
            description="an entity disappears from a nested location while a sibling location keeps failing",
            phase2=_tree(orphan / "phase2"),
        )
    )
    template_content = INPUTS / "create-app" / "examples" / "template" / "content" / "catalog-info.yaml"
    out.append(
        Scenario(
            "real-world/create-app__examples__template__content__catalog-info",
            {"catalog-info.yaml": template_content},
            [{"type": "file", "target": "catalog-info.yaml"}],
            description="create-app's template skeleton catalog-info.yaml (an unrendered ${{ }} name) on its own",
        )
    )
    return out


def scenario(name: str) -> Scenario:
    for s in scenarios():
        if s.name == name:
            return s
    raise KeyError(name)


# -- normalisation --------------------------------------------------------------------------


def location_key(loc: dict[str, Any]) -> str:
    return f"{loc['type']}:{loc['target']}"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


class Normalizer:
    """Rewrites machine-specific strings (paths, ports, generated names) to placeholders."""

    def __init__(self, replacements: Iterable[tuple[str, str]] = ()) -> None:
        self.replacements: list[tuple[str, str]] = [(a, b) for a, b in replacements if a]

    @classmethod
    def for_root(
        cls, root: Path | str, location_keys: Iterable[str], extra: Iterable[tuple[str, str]] = ()
    ) -> Normalizer:
        root = str(root)
        extra = list(extra)
        pairs: list[tuple[str, str]] = []
        for key in location_keys:
            normal = key.replace(root, ROOT_PLACEHOLDER)
            for a, b in extra:
                normal = normal.replace(a, b)
            pairs.append((sha1(key), sha1(normal)))
        pairs.append((root, ROOT_PLACEHOLDER))
        pairs.extend(extra)
        return cls(pairs)

    def text(self, value: str) -> str:
        for a, b in self.replacements:
            if a in value:
                value = value.replace(a, b)
        return value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self(v) for k, v in value.items()}
        return value


def entity_ref(entity: dict[str, Any]) -> str:
    metadata = entity["metadata"]
    return f"{entity['kind']}:{metadata.get('namespace') or 'default'}/{metadata['name']}".lower()


def strip_volatile(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity without `metadata.uid` and `metadata.etag` (random or derived from the uid)."""
    entity = json.loads(json.dumps(entity))
    entity["metadata"].pop("uid", None)
    entity["metadata"].pop("etag", None)
    return entity


def strip_stack(error: Any) -> Any:
    """A serialised error without `stack` (development builds of Backstage add it)."""
    if isinstance(error, dict):
        return {k: strip_stack(v) for k, v in error.items() if k != "stack"}
    if isinstance(error, list):
        return [strip_stack(e) for e in error]
    return error


def verdict(served: set[str], roots: list[str], *, has_errors: bool) -> str:
    """`ingested` (no errors), `rejected` (no root location served) or `partial` (the rest)."""
    if not has_errors:
        return "ingested"
    if all(root not in served for root in roots):
        return "rejected"
    return "partial"


def load_golden(name: str) -> dict[str, Any]:
    golden: dict[str, Any] = json.loads(scenario(name).golden_path.read_text(encoding="utf-8"))
    return golden


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- the Node client comparison ---------------------------------------------------------------

WEB_FILES = {
    "catalog-info.yaml": """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web-component
  description: Served over HTTP for addLocation
spec:
  type: service
  lifecycle: experimental
  owner: group:default/org
  providesApis: [web-api]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: web-api
spec:
  type: openapi
  lifecycle: experimental
  owner: group:default/org
  definition: "openapi: 3.0.0"
""",
}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass


@contextlib.contextmanager
def web_server(directory: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_web_repo(directory: Path) -> None:
    repo = directory / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    for name, text in WEB_FILES.items():
        (repo / name).write_text(text, encoding="utf-8")


def client_normalizer(work: Path, web_url: str) -> Normalizer:
    """Paths under the work directory become <ROOT>, the web server's address <WEB>."""
    keys = [f"file:{work / 'catalog-generated.yaml'}", f"url:{web_url}/repo/catalog-info.yaml"]
    return Normalizer.for_root(work, keys, extra=[(web_url, "<WEB>")])


