"""Rebuild `corpus.json`: the entities the compatibility tests run, and Backstage's answers.

    python tests/plugins/catalog/model/compat/build_corpus.py [--shared /work/shared]

Sources: every document of the real-world fixtures (`fixtures/real-world/catalog/*.yaml` and
`templates/*.yaml`), the benchmark generator's catalog for a few hundred entities
(`bench/backstage/gen_catalog.py`), and the hand-made cases of `edge_cases.py`. Each case records
what Backstage (the npm packages pinned in `package-lock.json`, run by `backstage_process.cjs`)
does with it, so the tests can compare greenroom without Node; the Node-marked test re-runs
Backstage to prove the recording is still true.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

COMPAT_DIR = Path(__file__).resolve().parent
CORPUS_PATH = COMPAT_DIR / "corpus.json"
GENERATED_ENTITIES = 300


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fixture_cases(shared: Path) -> list[dict[str, Any]]:
    root = shared / "fixtures" / "real-world"
    cases = []
    for folder in ("catalog", "templates"):
        for path in sorted((root / folder).glob("*.yaml")):
            for index, document in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
                if document is None:
                    continue
                cases.append({"id": f"fixture:{folder}/{path.name}#{index}", "entity": document})
    return cases


def generated_cases(shared: Path) -> list[dict[str, Any]]:
    generator = _load("gen_catalog", shared / "bench" / "backstage" / "gen_catalog.py")
    out = io.StringIO()
    generator.generate(GENERATED_ENTITIES, out)
    documents = yaml.safe_load_all(out.getvalue())
    return [{"id": f"generated:{index}", "entity": doc} for index, doc in enumerate(documents) if doc]


def edge_cases() -> list[dict[str, Any]]:
    module = _load("catalog_model_edge_cases", COMPAT_DIR / "edge_cases.py")
    return [{"id": f"edge:{name}", "entity": make()} for name, make in module.CASES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    args = parser.parse_args()
    cases = fixture_cases(args.shared) + generated_cases(args.shared) + edge_cases()
    ids = [case["id"] for case in cases]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate case ids")
    npm = _load("npm_backstage", COMPAT_DIR / "npm_backstage.py")
    answers = npm.run_backstage(cases)
    for case in cases:
        answer = answers[case["id"]]
        case["backstage"] = {key: answer[key] for key in ("ok", "error", "entity", "relations")}
    # One case per line keeps diffs of a rebuilt corpus readable.
    lines = ",\n".join(json.dumps(case, ensure_ascii=False) for case in cases)
    CORPUS_PATH.write_text('{"cases": [\n' + lines + "\n]}\n", encoding="utf-8")
    accepted = sum(case["backstage"]["ok"] for case in cases)
    print(f"{len(cases)} cases ({accepted} accepted by Backstage) -> {CORPUS_PATH}")


if __name__ == "__main__":
    main()
