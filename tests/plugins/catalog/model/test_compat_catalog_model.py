"""greenroom's catalog model against Backstage's own code, on a corpus of 560+ entities.

The corpus (`compat/corpus.json`, rebuilt by `compat/build_corpus.py`) holds every document of the
real-world catalog and template fixtures, 300 entities from the benchmark generator and the
hand-made edge cases of `compat/edge_cases.py`. For each entity the comparison covers the verdict,
the full error message (and its cause), the completed entity as JSON (key order included) and the
emitted relations.

- The `node` test installs the pinned Backstage packages with npm (into `.cache/npm-compat/`,
  once) and runs `compat/backstage_process.cjs`, which drives Backstage's validators, policies and
  processors in the catalog backend's order; greenroom must give the same answer for every entity,
  and the answers recorded in the corpus must still be Backstage's.
- The recorded answers let the same comparison run without Node.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from greenroom.plugins.catalog.model import EntityValidationError, process_entity
from greenroom.plugins.catalog.model.jsvalues import js_json_stringify

COMPAT_DIR = Path(__file__).parent / "compat"
CASES: list[dict[str, Any]] = json.loads((COMPAT_DIR / "corpus.json").read_text(encoding="utf-8"))["cases"]


def _npm_backstage() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalog_model_npm_backstage", COMPAT_DIR / "npm_backstage.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def greenroom_answer(entity: Any) -> dict[str, Any]:
    """greenroom's outcome in the shape `backstage_process.cjs` reports Backstage's."""
    try:
        completed, relations = process_entity(entity)
    except EntityValidationError as error:
        return {
            "ok": False,
            "error": {
                "name": error.name,
                "message": error.message,
                "causeName": error.cause_name,
                "causeMessage": error.cause_message,
            },
            "entity": None,
            "relations": [],
        }
    return {
        "ok": True,
        "error": None,
        "entity": js_json_stringify(completed),
        "relations": [list(relation) for relation in relations],
    }


def _differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    return [
        f"{key}:\n    backstage: {expected.get(key)!r}\n    greenroom: {actual.get(key)!r}"
        for key in ("ok", "error", "entity", "relations")
        if expected.get(key) != actual.get(key)
    ]


def test_corpus_covers_what_it_claims() -> None:
    sources = {case["id"].split(":", 1)[0] for case in CASES}
    assert sources == {"fixture", "generated", "edge"}
    assert sum(case["id"].startswith("edge:") for case in CASES) >= 60
    assert sum(case["id"].startswith("generated:") for case in CASES) >= 200
    templates = [case for case in CASES if case["id"].startswith("fixture:templates/")]
    assert templates
    assert all(case["backstage"]["ok"] for case in templates)
    # Fixture kinds a default Backstage does not know are refused.
    ai_resources = [
        case for case in CASES if isinstance(case["entity"], dict) and case["entity"].get("kind") == "AiResource"
    ]
    assert ai_resources
    assert not any(case["backstage"]["ok"] for case in ai_resources)
    verdicts = {case["backstage"]["ok"] for case in CASES}
    assert verdicts == {True, False}


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_agrees_with_recorded_backstage(case: dict[str, Any]) -> None:
    differences = _differences(case["backstage"], greenroom_answer(case["entity"]))
    assert not differences, "\n".join(differences)


@pytest.mark.node
def test_agrees_with_live_backstage() -> None:
    npm = _npm_backstage()
    if not npm.npm_available():
        pytest.skip("npm/node not on PATH: cannot run Backstage's own validators")
    live = npm.run_backstage(CASES)

    disagreements = []
    stale = []
    for case in CASES:
        backstage = {key: live[case["id"]][key] for key in ("ok", "error", "entity", "relations")}
        differences = _differences(backstage, greenroom_answer(case["entity"]))
        if differences:
            disagreements.append(f"{case['id']}\n  " + "\n  ".join(differences))
        if backstage != case["backstage"]:
            stale.append(case["id"])
    assert not disagreements, f"{len(disagreements)} of {len(CASES)} entities differ:\n" + "\n".join(disagreements[:20])
    assert not stale, f"corpus.json no longer matches Backstage; rebuild it (build_corpus.py): {stale[:20]}"
