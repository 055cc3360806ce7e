"""greenroom ingests Backstage's example catalogs and real-world descriptor files the way a real
Backstage does.

The expected results are goldens recorded from a real Backstage catalog backend by
`make_golden.py` (see its docstring; the goldens are committed, so these tests never run
Backstage). For every scenario the same input files are written under a fresh root, the same
`catalog.locations`/`catalog.rules` are configured, greenroom ingests them on SQLite and on
PostgreSQL, and then:

* the set of entity refs served by `GET /api/catalog/entities` is the same;
* every served entity is the same JSON, without `metadata.uid`/`metadata.etag` and with the
  root path and generated Location names normalised (metadata, spec, annotations including
  managed-by-location and managed-by-origin-location, the relations list exactly, status);
* the verdict is the same (`ingested`, `partial`, `rejected`), the same entities are never
  served, and greenroom reports for each of them the errors Backstage stored for it.

Where greenroom differs from Backstage on purpose the difference is written out below, next
to the comparison it changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from greenroom.app import Portal
from greenroom.plugins.catalog.plugin import CATALOG
from tests.compat import scenarios as sc
from tests.conftest import BENCH_TOKEN, REAL_WORLD

SCENARIOS = [s.name for s in sc.scenarios()]
REAL_WORLD_SCENARIOS = [name for name in SCENARIOS if name.startswith("real-world/")]
# (scenario, run): run 2 exists for scenarios whose files change before a second ingestion
CASES = [(name, 1) for name in SCENARIOS] + [(s.name, 2) for s in sc.scenarios() if s.phase2]

# A `$text` placeholder whose URL cannot be read: Backstage's message ends with the reader's
# error, which depends on the network around it (the goldens were recorded with github.com
# pointed at a closed local port: "FetchError: ... ECONNREFUSED"; greenroom, whose reading
# allow-list is empty by default, refuses to read it at all). Only the part of the message
# that names the placeholder and its URL is compared for these.
PLACEHOLDER_READ = (
    "Processor PlaceholderProcessor threw an error while preprocessing; caused by Error: "
    "Placeholder $text could not read location "
)
ENVIRONMENT_DEPENDENT_READS = ("https://github.com/",)
PLACEHOLDER_FAILED = "Processor PlaceholderProcessor threw an error while preprocessing; caused by Error: "


@dataclass
class Ingested:
    served: dict[str, dict[str, Any]]  # normalised ref -> normalised entity, uid/etag dropped
    errors: dict[str, list[dict[str, Any]]]  # normalised ref -> the errors of the last run
    unattributed: list[dict[str, Any]]
    roots: list[str]


def ingest(make_portal: Callable[..., Portal], tmp_path: Path, scenario: sc.Scenario, runs: int = 1) -> Ingested:
    root = tmp_path / "root"
    scenario.write_inputs(root)
    locations = scenario.config_locations(root)
    # The goldens were recorded with `orphanStrategy: keep` (Backstage 4.0.5 defaults to
    # `delete`, and then an orphan disappears after a while instead of being flagged);
    # greenroom keeps orphans, with the orphan annotation, by default: the setting is left out
    # on purpose so that the default is what is compared.
    portal = make_portal({"catalog": {"rules": scenario.rules, "locations": locations}})
    service = portal.registry.services.get(CATALOG)
    stats = service.ingest_all(force=True)
    if runs == 2:
        scenario.write_inputs(root, phase=2)
        stats = service.ingest_all()  # not forced: greenroom must notice the changed files itself
    client = TestClient(portal.app, headers={"Authorization": f"Bearer {BENCH_TOKEN}"})
    response = client.get("/api/catalog/entities")
    assert response.status_code == 200, response.text
    norm = sc.Normalizer.for_root(root, [sc.location_key(loc) for loc in locations])
    served = {norm(sc.entity_ref(e)): norm(sc.strip_volatile(e)) for e in response.json()}
    errors: dict[str, list[dict[str, Any]]] = {}
    unattributed = []
    for stat in stats.values():
        for raw in stat.errors:
            error = norm(raw)
            if error.get("entityRef"):
                errors.setdefault(error["entityRef"], []).append(error)
            else:
                unattributed.append(error)
    roots = [norm(f"location:default/generated-{sc.sha1(sc.location_key(loc))}") for loc in locations]
    return Ingested(served, errors, unattributed, roots)


# -- deliberate differences -----------------------------------------------------------------


def _relative_placeholder_is_resolved(view: dict[str, Any]) -> None:
    """greenroom resolves a relative `$text` under a file location, confined to the location's
    directory (docs/catalog.md); Backstage cannot form a URL out of a file path and a relative
    path, so it never ingests such an entity. The input has a twin, `placeholder-inline`, with
    the text written out: greenroom must serve `placeholder-relative` exactly as Backstage
    serves the twin, and the owner gets the extra `ownerOf` relation.
    """
    ref = "component:default/placeholder-relative"
    twin = json.loads(json.dumps(view["entities"]["component:default/placeholder-inline"]))
    twin["metadata"]["name"] = "placeholder-relative"
    del view["absent"][ref]
    view["entities"][ref] = twin
    view["refs"] = sorted([*view["refs"], ref])
    owner = view["entities"]["group:default/team-a"]
    owner["relations"] = sorted([*owner["relations"], {"type": "ownerOf", "targetRef": ref}],
                                key=lambda r: (r["type"], r["targetRef"]))


DELIBERATE = {"edge-cases": [_relative_placeholder_is_resolved]}

# Both reject a placeholder that leaves the tree, for different reasons: Backstage because it
# cannot form a URL out of a file path, greenroom because the path escapes the location's
# directory. Only the wrapping of the message is compared.
ESCAPING_PLACEHOLDERS = {"component:default/placeholder-escape"}


# The YAML parsers differ (Backstage: the `yaml` npm package; greenroom: libyaml), so a syntax
# error is worded by each parser in its own way and may point at another column. What is
# compared: the prefix naming the file, the error class, and the line.
_YAML_ERROR = re.compile(r"^(YAML error at \S+, YAMLParseError: ).*? at line (\d+)(?:, column \d+)?.*$", re.DOTALL)


def _yaml_parser_wording(text: str) -> str:
    return _YAML_ERROR.sub(r"\1<parser message> at line \2", text)


def _normalise_yaml_errors(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise_yaml_errors(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_yaml_errors(v) for v in value]
    if isinstance(value, str) and "YAMLParseError" in value:
        prefix, sep, rest = value.partition("YAML error at ")
        return prefix + _yaml_parser_wording(sep + rest) if sep else value
    return value


def expected_view(name: str, run: int) -> dict[str, Any]:
    golden = sc.load_golden(name)
    view: dict[str, Any] = json.loads(json.dumps(golden if run == 1 else golden["phase2"]))
    for adjust in DELIBERATE.get(name, []):
        adjust(view)
    return view


# One ingestion per (scenario, run, database), shared by the tests that look at its result.
_INGESTED: dict[tuple[str, int, str], Ingested] = {}


def ingested(request: pytest.FixtureRequest, database: dict[str, Any], name: str, run: int) -> Ingested:
    key = (name, run, database["client"])
    if key not in _INGESTED:
        scenario = sc.scenario(name)
        assert sc.load_golden(name)["inputs"] == scenario.input_digests(), "inputs changed since the golden"
        tmp_path: Path = request.getfixturevalue("tmp_path")
        make_portal: Callable[..., Portal] = request.getfixturevalue("make_portal")
        _INGESTED[key] = ingest(make_portal, tmp_path / f"{len(_INGESTED)}", scenario, runs=run)
    return _INGESTED[key]


@pytest.fixture(params=CASES, ids=[f"{name}-run{run}" for name, run in CASES])
def case(request: pytest.FixtureRequest, database_config: dict[str, Any]) -> tuple[dict[str, Any], Ingested]:
    name, run = request.param
    return expected_view(name, run), ingested(request, database_config, name, run)


def test_same_entity_refs_are_served(case: tuple[dict[str, Any], Ingested]) -> None:
    expected, got = case
    assert sorted(got.served) == expected["refs"]


def test_every_served_entity_is_the_same_json(case: tuple[dict[str, Any], Ingested]) -> None:
    expected, got = case
    mismatches = {}
    for ref, want in expected["entities"].items():
        have = got.served.get(ref)
        want, have = _normalise_yaml_errors(want), _normalise_yaml_errors(have)
        if have is not None and have != want:
            mismatches[ref] = {"backstage": want, "greenroom": have}
    assert not mismatches, json.dumps(mismatches, indent=1, ensure_ascii=False)


def _key(ref: str, error: dict[str, Any]) -> tuple[str, str]:
    message = error.get("message", "")
    if message.startswith(PLACEHOLDER_READ):
        url = message[len(PLACEHOLDER_READ):].split(", ", 1)[0]
        if url.startswith(ENVIRONMENT_DEPENDENT_READS):
            message = f"{PLACEHOLDER_READ}{url}, <read error>"
    if ref in ESCAPING_PLACEHOLDERS and message.startswith(PLACEHOLDER_FAILED):
        message = f"{PLACEHOLDER_FAILED}<escapes the location>"
    return error.get("name", ""), _yaml_parser_wording(message)


def test_same_verdict(case: tuple[dict[str, Any], Ingested]) -> None:
    expected, got = case
    has_errors = bool(got.errors or got.unattributed)
    assert sc.verdict(set(got.served), got.roots, has_errors=has_errors) == expected["verdict"]


def test_same_errors_for_the_same_entities(case: tuple[dict[str, Any], Ingested]) -> None:
    """Each entity Backstage could not process has the same errors in greenroom's report.

    Backstage keeps these only in its database (`refresh_state.errors`); greenroom returns them
    from ingestion (and shows them on the location's status).
    """
    expected, got = case
    failed = {**expected["absent"], **expected["errorsOnServed"]}
    want = {ref: [_key(ref, e) for e in errs] for ref, errs in failed.items()}
    have = {ref: [_key(ref, e) for e in errs] for ref, errs in got.errors.items()}
    assert have == want
    assert got.unattributed == []


def test_unprocessed_entities_are_absent_not_served_with_status(case: tuple[dict[str, Any], Ingested]) -> None:
    """An entity that never processed successfully is absent; `status` only where Backstage has one."""
    expected, got = case
    for ref in expected["absent"]:
        assert ref not in got.served
    for ref, entity in got.served.items():
        assert ("status" in entity) == ("status" in expected["entities"].get(ref, {})), ref


def _key_orders(value: Any, path: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(value, dict):
        out[path or "."] = list(value)
        for key, item in value.items():
            out.update(_key_orders(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.update(_key_orders(item, f"{path}[{index}]"))
    return out


def test_served_entities_keep_backstage_key_order(
    request: pytest.FixtureRequest, database_config: dict[str, Any]
) -> None:
    """Cosmetic, but documented and reproducible (spec §7.2): the order of keys as served.

    JSON clients do not depend on it, so this is one test over every scenario rather than
    one per scenario; it lists each object whose keys come in another order than Backstage's.
    """
    mismatches = []
    for name in SCENARIOS:
        golden = expected_view(name, 1)
        got = ingested(request, database_config, name, 1)
        for ref, expected in golden["entities"].items():
            actual = got.served.get(ref)
            if actual is None:
                continue
            want, have = _key_orders(expected), _key_orders(actual)
            mismatches += [f"{name} {ref} {path}: backstage {keys} greenroom {have.get(path)}"
                           for path, keys in want.items() if have.get(path) != keys]
    assert not mismatches, f"{len(mismatches)} objects differ in key order:\n" + "\n".join(mismatches[:40])


@pytest.mark.parametrize("name", REAL_WORLD_SCENARIOS)
def test_committed_inputs_are_the_shared_fixtures(name: str) -> None:
    """The inputs are committed copies so CI needs nothing else; they must not drift."""
    scenario = sc.scenario(name)
    for rel, source in scenario.files.items():
        shared = REAL_WORLD / "catalog" / source.name
        if not shared.exists():
            if source.parent.name == "real-world":
                pytest.skip(f"{REAL_WORLD} is not present in this checkout")
            continue
        assert shared.read_bytes() == source.read_bytes(), rel
