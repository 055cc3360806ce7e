"""Search rows: the fast builder agrees with the reference on varied and adversarial entities."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import orjson
import pytest

from greenroom.plugins.catalog.store.search import search_rows, search_rows_reference

HARNESS = Path(__file__).resolve().parents[5] / "shared" / "bench" / "backstage"


def final(entity):
    entity = dict(entity)
    entity["metadata"] = {**entity["metadata"], "uid": "u-1", "etag": "e"}
    entity.setdefault("relations", [{"type": "ownedBy", "targetRef": "group:default/Team-A"}])
    return entity


CASES = [
    {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
     "metadata": {"name": "Pay-Service", "namespace": "default", "tags": ["java", "Java", "x"],
                  "labels": {"tier": "Gold"}, "description": "d" * 201,
                  "links": [{"url": "https://x", "title": "D"}], "annotations": {"a.b/c": "V"}},
     "spec": {"type": "service", "flag": True, "off": False, "count": 3, "ratio": 1.5, "big": 1e21,
              "nothing": None, "nested": [{"name": "one"}, {"name": "two"}], "empty": [], "obj": {},
              "mixed": ["a", 1, None, True, {"k": "v"}, ["deep", "Deep"]], "k" * 250: "long key"}},
    {"apiVersion": "v1", "kind": "User", "metadata": {"name": "u"}, "spec": {}},
    {"apiVersion": "v1", "kind": "Group", "metadata": {"name": "g", "namespace": ""},
     "spec": {"children": ["A", "a", "B"], "status": "x"}, "status": {"items": [1]}},
]


@pytest.mark.parametrize("entity", CASES)
def test_fast_rows_equal_reference(entity):
    entity = final(entity)
    assert search_rows(7, entity) == search_rows_reference(7, entity)


def test_fast_rows_equal_reference_on_the_benchmark_catalog():
    sys.path.insert(0, str(HARNESS))
    import io

    import gen_catalog
    import yaml

    buffer = io.StringIO()
    gen_catalog.generate(400, buffer, seed=7)
    rng = random.Random(3)
    for i, doc in enumerate(yaml.safe_load_all(buffer.getvalue())):
        entity = final(orjson.loads(orjson.dumps(doc)))
        if rng.random() < 0.3:
            entity["metadata"]["tags"] = [rng.choice(["Java", "java", "GO"]) for _ in range(3)]
        assert search_rows(i, entity) == search_rows_reference(i, entity)


@pytest.mark.parametrize(
    ("entity", "collides"),
    [
        ({"spec": {"foo": 1, "Foo": 2}}, True),
        ({"spec": {"list": [{"x": 1}, {"X": 2}]}}, True),
        ({"spec": {"a.b": 1, "A": {"b": 2}}}, True),
        ({"spec": {"foo": 1}, "Spec": {"x": 1}}, False),
        ({"spec": {"foo": 1}, "Spec": {"foo": 1}}, True),
        ({"spec": {"tags": ["Java", "java"]}}, False),
        ({"spec": {"foo": {"bar": 1}, "bar": {"foo": 2}}}, False),
        ({"metadata": {"name": "a", "Name": "b"}}, True),
    ],
)
def test_key_casing_check_agrees_with_reference(entity, collides):
    from greenroom.errors import InputError
    from greenroom.plugins.catalog.store.search import check_key_casing, flatten

    raw = [k for k, _ in flatten(entity)]
    reference = len({k.lower() for k in raw}) != len(set(raw))
    assert reference == collides
    if collides:
        with pytest.raises(InputError):
            check_key_casing(entity)
    else:
        check_key_casing(entity)
