"""A small catalog used by the API tests (names chosen to exercise sorting and case)."""

from __future__ import annotations

ORG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: org-root
spec:
  type: organization
  children: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: Team-A
  description: The A team
spec:
  type: team
  parent: org-root
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: alice
spec:
  profile: {email: alice@example.com}
  memberOf: [team-a]
"""

SYSTEMS = """
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: payments
spec:
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: pay-system
spec:
  owner: team-a
  domain: payments
"""

COMPONENTS = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: pay-service
  title: Payment Service
  description: Takes payments
  tags: [java, payments]
  labels: {tier: Gold}
  annotations:
    github.com/project-slug: acme/pay
  links:
    - url: https://example.com/dash
      title: Dashboard
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: pay-system
  providesApis: [pay-api]
  dependsOn: [resource:pay-db]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  tags: [python]
spec:
  type: website
  lifecycle: experimental
  owner: team-a
  consumesApis: [pay-api]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
spec:
  type: library
  lifecycle: production
  owner: group:default/org-root
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: pay-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  system: pay-system
  definition: "openapi: 3.0.0"
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: pay-db
spec:
  type: database
  owner: team-a
  system: pay-system
"""

ALL = """
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: example
spec:
  targets: [./org.yaml, ./systems.yaml, ./components.yaml]
"""

FILES = {"all.yaml": ALL, "org.yaml": ORG, "systems.yaml": SYSTEMS, "components.yaml": COMPONENTS}
# every entity above, the config location's generated Location entity and the `example` Location
ENTITY_COUNT = 3 + 2 + 5 + 2
