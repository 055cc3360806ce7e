from __future__ import annotations

COMPONENT = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: pay
spec:
  type: service
  lifecycle: production
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
"""


def test_ingested_entity_has_relations_both_ways(catalog):
    harness = catalog({"all.yaml": COMPONENT})
    pay = harness.entity("component:default/pay")
    assert pay is not None
    assert {"type": "ownedBy", "targetRef": "group:default/team-a"} in pay["relations"]
    team = harness.entity("group:default/team-a")
    assert {"type": "ownerOf", "targetRef": "component:default/pay"} in team["relations"]
