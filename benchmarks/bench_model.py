"""How long does the catalog model take per entity? (validate_entity + relations_for)

    python benchmarks/bench_model.py [N] [--shared /work/shared] [--repeat 5]

Generates N entities with the Backstage benchmark's generator (`bench/backstage/gen_catalog.py`,
the same synthetic catalog the Backstage anchor is measured on), parses them once with libyaml,
then times validation plus relation derivation over the whole batch and reports the best of
`--repeat` runs in µs per entity, overall and per kind. CPU time is reported next to wall time
because other work on a small shared machine inflates the latter. Parsing is not timed: it is the
loader's cost.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from greenroom.plugins.catalog.model import relations_for, validate_entity

BUDGET_US = 30.0


def generate(n: int, shared: Path) -> list[dict[str, Any]]:
    path = shared / "bench" / "backstage" / "gen_catalog.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location("gen_catalog", path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"cannot load {path}")
        generator = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(generator)
    finally:
        sys.path.remove(str(path.parent))
    out = io.StringIO()
    generator.generate(n, out)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(out.getvalue(), Loader=loader) if doc]


def run_once(entities: list[dict[str, Any]]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, relations) for one pass over the batch."""
    relations = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for entity in entities:
        relations += len(relations_for(validate_entity(entity)))
    return time.perf_counter() - wall, time.process_time() - cpu, relations


def per_kind(entities: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entity in entities:
        by_kind[entity["kind"]].append(entity)
    return {
        kind: min(run_once(group)[1] for _ in range(repeat)) / len(group) * 1e6
        for kind, group in sorted(by_kind.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--shared", type=Path, default=Path("/work/shared"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    entities = generate(args.n, args.shared)
    kinds = Counter(entity["kind"] for entity in entities)
    best_wall = best_cpu = float("inf")
    relations = 0
    for _ in range(args.repeat):
        wall, cpu, relations = run_once(entities)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    per_entity = 1e6 / len(entities)
    print(f"entities: {len(entities)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    print(f"relations emitted: {relations}")
    print(
        f"validate_entity + relations_for: {best_cpu * per_entity:.2f} µs/entity CPU, "
        f"{best_wall * per_entity:.2f} µs/entity wall (best of {args.repeat}); budget {BUDGET_US} µs"
    )
    print("per kind (CPU):")
    for kind, kind_us in per_kind(entities, args.repeat).items():
        print(f"  {kind:<10} {kind_us:6.2f} µs/entity")
    print(f"batch of {len(entities)}: {best_wall * 1000:.1f} ms wall")


if __name__ == "__main__":
    main()
