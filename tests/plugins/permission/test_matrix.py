"""The permission matrix: the real RBAC policy files of RHDH deployments, a catalog with their users
and groups, every catalog route, and the expected answer for each user — over real HTTP with real
user tokens, on SQLite and PostgreSQL.

Lists, queries (every page, through cursors and `after`), totals, facets, by-refs, ancestry and
location status must hold exactly the entities a user may read. The expectations are written by
hand from the policy files (read by a person, not computed by the code under test).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import yaml

from tests.plugins.permission.conftest import RbacPortal
from tests.plugins.permission.test_files import RBAC_FIXTURES

RHDH_CI_CSV = RBAC_FIXTURES / "redhat-developer__rhdh__.ci__pipelines__resources__config_map__rbac-policy.csv"
RHDH_CI_CONDITIONS = RBAC_FIXTURES / ("redhat-developer__rhdh__.ci__pipelines__resources__config_map__"
                                      "conditional-policies.yaml")
INVINCIBLE_CSV = RBAC_FIXTURES / "invincibleJai__todo-app-rbac__rbac-policy.csv"
TESTBED_CONFIG_MAP = RBAC_FIXTURES / "PatAKnight__rhdh-testbed__resources__rhdh__rbac-policies.yaml"


def _entity(kind: str, name: str, spec: dict[str, Any], namespace: str = "default",
            **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, **metadata}, "spec": spec}


def _users(*entries: tuple[str, list[str]], namespace: str = "default") -> list[dict[str, Any]]:
    return [_entity("User", name, {"memberOf": groups}, namespace) for name, groups in entries]


def _component(name: str, owner: str, **metadata: Any) -> dict[str, Any]:
    return _entity("Component", name, {"type": "service", "lifecycle": "production", "owner": owner}, **metadata)


# The people and teams of RHDH's CI policy (.ci/pipelines/resources/config_map), and what they own.
RHDH_CI_ORG = [
    _entity("Group", "rhdh-qe-parent-team", {"type": "team", "children": ["rhdh-qe-child-team"]}),
    _entity("Group", "rhdh-qe-child-team", {"type": "team", "parent": "rhdh-qe-parent-team", "children": []}),
    _entity("Group", "rhdh-qe-2-team", {"type": "team", "children": []}),
    _entity("Group", "rhdh-qe-2-team", {"type": "team", "children": []}, namespace="janus-qe"),
    *_users(("rhdh-qe", []), ("rhdh-qe-2", ["rhdh-qe-2-team"]), ("rhdh-qe-3", ["rhdh-qe-child-team"]),
            ("rhdh-qe-4", ["rhdh-qe-parent-team"]), ("rhdh-qe-5", []), ("rhdh-qe-7", []), ("rhdh-qe-8", []),
            ("rhdh-qe-9", []), ("user_team_a", []), ("guest", []), ("nobody", [])),
    *_users(("user", []), namespace="xyz"),
    _component("c-qe2", "group:default/rhdh-qe-2-team"),
    _component("c-janus", "group:janus-qe/rhdh-qe-2-team"),
    _component("c-child", "group:default/rhdh-qe-child-team"),
    _component("c-parent", "group:default/rhdh-qe-parent-team"),
    _component("c-qe7", "user:default/rhdh-qe-7"),
    _component("c-qe2-user", "user:default/rhdh-qe-2"),
    _component("c-labeled", "user:default/nobody", labels={"test-label": "yes"}),
    _component("c-plain", "user:default/nobody"),
]

ALL = "all"
# Per user: which entities `catalog.entity.read` / `.refresh` / `.delete` reach (ALL, a set of refs,
# or None for DENY), and which basic permissions are allowed.
RHDH_CI_EXPECTED: dict[str, dict[str, Any]] = {
    # team_a (catalog-entity read) and qe_rbac_admin (location create/read, entity create)
    "user:default/rhdh-qe": {"read": ALL, "location.read": True, "location.create": True},
    # via group rhdh-qe-2-team: test2-role, conditional read/update on its janus-qe namesake or
    # $currentUser, and delete on $currentUser
    "user:default/rhdh-qe-2": {"read": {"component:default/c-janus", "component:default/c-qe2-user"},
                               "refresh": {"component:default/c-janus", "component:default/c-qe2-user"},
                               "delete": {"component:default/c-qe2-user"}},
    # via child-team (and its parent): transitive-owner, read where $ownerRefs (user + direct groups) own
    "user:default/rhdh-qe-3": {"read": {"component:default/c-child"}},
    # via parent-team only: the same role, but owning through its own group
    "user:default/rhdh-qe-4": {"read": {"component:default/c-parent"}},
    # catalog_reader grants catalog.entity.read by name
    "user:default/rhdh-qe-5": {"read": ALL},
    # all_resource_reader allows, owned_resource_reader's condition takes precedence (RHDH's default)
    "user:default/rhdh-qe-7": {"read": {"component:default/c-qe7"}},
    # all_resource_denier denies: deny wins over the owner condition (RHDH would let the condition apply)
    "user:default/rhdh-qe-8": {"read": None},
    # all_resource_reader + conditional_denier: only entities labelled test-label
    "user:default/rhdh-qe-9": {"read": {"component:default/c-labeled"}},
    "user:default/user_team_a": {"read": ALL},
    "user:xyz/user": {"read": ALL, "location.read": True, "location.create": True},
    # guests: catalog.entity.create only, which no catalog route uses
    "user:default/guest": {"read": None},
    "user:default/nobody": {"read": None},
}


def _write_catalog(entities: list[dict[str, Any]]) -> str:
    return "\n---\n".join(yaml.safe_dump(e, sort_keys=False) for e in entities)


def _refs(items: list[Any]) -> set[str]:
    return {f"{i['kind'].lower()}:{i['metadata'].get('namespace', 'default')}/{i['metadata']['name']}"
            for i in items if i is not None}


class Matrix:
    """Asks every catalog route as one user and compares with what that user may do."""

    def __init__(self, handle: RbacPortal, server: Any, everything: set[str], uids: dict[str, str],
                 targets: tuple[str, str]) -> None:
        self.handle, self.server, self.everything, self.uids = handle, server, everything, uids
        self.targets = targets  # two components that changes are tried on
        self.failures: list[str] = []
        self.covered: set[tuple[str, str]] = set()

    def check(self, user: str, expected: dict[str, Any]) -> None:
        with self.server.client(headers=self.handle.headers(user)) as client:
            self.user, self.client = user, client
            visible = self._visible(expected.get("read"))
            self._reads(visible)
            self._single(visible)
            self._changes(expected)
            self._locations(expected, visible)

    def _visible(self, reach: Any) -> set[str] | None:
        return None if reach is None else set(self.everything) if reach == ALL else set(reach)

    def fail(self, what: str, got: Any, want: Any) -> None:
        self.failures.append(f"{self.user} {what}: got {got!r}, expected {want!r}")

    def call(self, method: str, route: str, url: str, **kwargs: Any) -> httpx.Response:
        self.covered.add((method, route))
        return self.client.request(method, url, **kwargs)

    def expect_status(self, what: str, response: httpx.Response, want: int) -> bool:
        if response.status_code != want:
            self.fail(what, f"{response.status_code} {response.text[:120]}", want)
            return False
        return True

    # -- lists, queries, facets ---------------------------------------------------------------
    def _pages_by_query(self) -> Iterator[httpx.Response]:
        response = self.call("GET", "/entities/by-query", "/api/catalog/entities/by-query?limit=3")
        yield response
        seen = 0
        while response.status_code == 200 and response.json()["pageInfo"].get("nextCursor") and seen < 50:
            seen += 1
            cursor = response.json()["pageInfo"]["nextCursor"]
            response = self.call("GET", "/entities/by-query", f"/api/catalog/entities/by-query?cursor={cursor}")
            yield response

    def _reads(self, visible: set[str] | None) -> None:
        denied = visible is None
        listed = self.call("GET", "/entities", "/api/catalog/entities")
        if denied:
            self.expect_status("GET /entities", listed, 403)
        elif self.expect_status("GET /entities", listed, 200) and _refs(listed.json()) != visible:
            self.fail("GET /entities", sorted(_refs(listed.json())), sorted(visible))

        paged: list[Any] = []
        url = "/api/catalog/entities?limit=2"
        for _ in range(50):
            response = self.call("GET", "/entities", url)
            if denied:
                self.expect_status("GET /entities?limit", response, 403)
                break
            if not self.expect_status("GET /entities?limit", response, 200):
                break
            paged.extend(response.json())
            link = response.headers.get("link")
            if not link:
                break
            after = parse_qs(urlsplit(link.split(";")[0].strip("<>")).query)["after"][0]
            url = f"/api/catalog/entities?limit=2&after={after}"
        if not denied and _refs(paged) != visible:
            self.fail("GET /entities paged with after", sorted(_refs(paged)), sorted(visible))

        items: list[Any] = []
        totals = set()
        for response in self._pages_by_query():
            if denied:
                self.expect_status("GET /entities/by-query", response, 403)
                break
            if not self.expect_status("GET /entities/by-query", response, 200):
                break
            items.extend(response.json()["items"])
            totals.add(response.json()["totalItems"])
        if not denied:
            if _refs(items) != visible or len(items) != len(visible):
                self.fail("by-query pages", sorted(_refs(items)), sorted(visible))
            if totals != {len(visible)}:
                self.fail("by-query totalItems", totals, len(visible))

        posted = self.call("POST", "/entities/by-query", "/api/catalog/entities/by-query",
                           json={"query": {"kind": "component"}, "limit": 100})
        components = None if denied else {r for r in visible if r.startswith("component:")}
        if denied:
            self.expect_status("POST /entities/by-query", posted, 403)
        elif self.expect_status("POST /entities/by-query", posted, 200):
            body = posted.json()
            if _refs(body["items"]) != components or body["totalItems"] != len(components or ()):
                self.fail("POST /entities/by-query", (sorted(_refs(body["items"])), body["totalItems"]),
                          sorted(components or ()))

        for method, url, kwargs in (("GET", "/api/catalog/entity-facets?facet=kind&facet=metadata.name", {}),
                                    ("POST", "/api/catalog/entity-facets",
                                     {"json": {"facets": ["kind", "metadata.name"]}})):
            response = self.call(method, "/entity-facets", url, **kwargs)
            if denied:
                self.expect_status(f"{method} facets", response, 403)
                continue
            if not self.expect_status(f"{method} facets", response, 200):
                continue
            facets = response.json()["facets"]
            names = sorted(v["value"] for v in facets["metadata.name"] for _ in range(v["count"]))
            if names != sorted(r.split("/", 1)[1] for r in visible):
                self.fail(f"{method} facet metadata.name", names, sorted(visible))
            if sum(v["count"] for v in facets["kind"]) != len(visible):
                self.fail(f"{method} facet kind total", facets["kind"], len(visible))

        everything = sorted(self.everything)
        by_refs = self.call("POST", "/entities/by-refs", "/api/catalog/entities/by-refs",
                            json={"entityRefs": everything})
        if denied:
            self.expect_status("by-refs", by_refs, 403)
        elif self.expect_status("by-refs", by_refs, 200):
            got = {ref for ref, item in zip(everything, by_refs.json()["items"], strict=True) if item is not None}
            if got != visible:
                self.fail("by-refs", sorted(got), sorted(visible))

    # -- single entities ------------------------------------------------------------------------
    def _single(self, visible: set[str] | None) -> None:
        for ref in sorted(r for r in self.everything if r.startswith("component:")):
            kind, rest = ref.split(":", 1)
            namespace, name = rest.split("/", 1)
            want = 403 if visible is None else 200 if ref in visible else 404
            route = "/entities/by-name/{kind}/{namespace}/{name}"
            self.expect_status(f"by-name {ref}", self.call("GET", route, f"/api/catalog/entities/by-name/{kind}/"
                                                                          f"{namespace}/{name}"), want)
            self.expect_status(f"by-uid {ref}", self.call("GET", "/entities/by-uid/{uid}",
                                                          f"/api/catalog/entities/by-uid/{self.uids[ref]}"), want)
            ancestry = self.call("GET", route + "/ancestry",
                                 f"/api/catalog/entities/by-name/{kind}/{namespace}/{name}/ancestry")
            if self.expect_status(f"ancestry {ref}", ancestry, want) and want == 200:
                chain = _refs([item["entity"] for item in ancestry.json()["items"]])
                assert visible is not None
                if not chain <= visible or ref not in chain:
                    self.fail(f"ancestry {ref}", sorted(chain), f"{ref} and only readable ancestors")

    # -- changes --------------------------------------------------------------------------------
    def _changes(self, expected: dict[str, Any]) -> None:
        refresh = self._visible(expected.get("refresh"))
        for ref in self.targets:
            want = 403 if refresh is None else 200 if ref in refresh else 404
            self.expect_status(f"refresh {ref}", self.call("POST", "/refresh", "/api/catalog/refresh",
                                                           json={"entityRef": ref}), want)
        delete = self._visible(expected.get("delete"))
        for ref in self.targets:
            # a conditional delete of an entity outside the conditions is refused; none is allowed here
            want = 403 if delete is None or ref not in delete else 204
            self.expect_status(f"delete {ref}", self.call("DELETE", "/entities/by-uid/{uid}",
                                                          f"/api/catalog/entities/by-uid/{self.uids[ref]}"), want)
        validate = self.call("POST", "/validate-entity", "/api/catalog/validate-entity",
                             json={"entity": _component("x", "group:default/a"), "location": "url:https://x/y"})
        self.expect_status("validate-entity", validate, 200 if expected.get("validate") else 403)
        analyze = self.call("POST", "/analyze-location", "/api/catalog/analyze-location",
                            json={"location": {"type": "url", "target": "https://github.com/acme/repo"}})
        self.expect_status("analyze-location", analyze, 200 if expected.get("analyze") else 403)

    # -- locations --------------------------------------------------------------------------------
    def _locations(self, expected: dict[str, Any], visible: set[str] | None) -> None:
        can_read = bool(expected.get("location.read"))
        read_status = 200 if can_read else 403
        for method, route, url, kwargs in (
            ("GET", "/locations", "/api/catalog/locations", {}),
            ("POST", "/locations/by-query", "/api/catalog/locations/by-query", {"json": {}}),
            ("GET", "/x-greenroom/location-status", "/api/catalog/x-greenroom/location-status", {}),
        ):
            self.expect_status(f"{method} {route}", self.call(method, route, url, **kwargs), read_status)
        missing = self.call("GET", "/locations/{location_id}", "/api/catalog/locations/00000000-0000-0000-0000-0")
        self.expect_status("GET /locations/{id}", missing, 404 if can_read else 403)
        by_entity = self.call("GET", "/locations/by-entity/{kind}/{namespace}/{name}",
                              f"/api/catalog/locations/by-entity/{self.targets[1].replace(':', '/', 1)}")
        # the components come from a config location, not a registered one: "no location" either way
        self.expect_status("location by-entity", by_entity, 404 if can_read else 403)
        create_status = 403 if not expected.get("location.create") else 400
        created = self.call("POST", "/locations", "/api/catalog/locations?dryRun=true",
                            json={"type": "url", "target": "https://example.com/catalog-info.yaml"})
        if created.status_code in (401, 403) or create_status == 403:
            self.expect_status("POST /locations", created, create_status)
        put = self.call("PUT", "/locations/{location_id}", "/api/catalog/locations/missing",
                        json={"type": "url", "target": "https://example.com/catalog-info.yaml"})
        self.expect_status("PUT /locations/{id}", put, 404 if expected.get("location.create") else 403)
        self.expect_status("DELETE /locations/{id}", self.call("DELETE", "/locations/{location_id}",
                                                               "/api/catalog/locations/missing"),
                           404 if expected.get("location.delete") else 403)


def _run_matrix(handle: RbacPortal, server: Any, expected: dict[str, dict[str, Any]],
                targets: tuple[str, str] | None = None) -> Matrix:
    with server.client() as service:  # the static token: sees everything
        everything = _refs(service.get("/api/catalog/entities").json())
        uids = {ref: item["metadata"]["uid"] for ref, item in
                zip(sorted(everything), service.post("/api/catalog/entities/by-refs",
                                                     json={"entityRefs": sorted(everything)}).json()["items"],
                    strict=True)}
    components = sorted(r for r in everything if r.startswith("component:"))
    matrix = Matrix(handle, server, everything, uids, targets or (components[0], components[-1]))
    for user, want in expected.items():
        matrix.check(user, want)
    return matrix


def test_rhdh_ci_policy_matrix_over_every_catalog_route(rbac_portal, live_server):
    handle = rbac_portal(RHDH_CI_CSV.read_text(), RHDH_CI_CONDITIONS.read_text(), org=_write_catalog(RHDH_CI_ORG))
    assert [p for p in handle.rbac.problems() if p.severity == "error"] == []
    server = live_server(handle.portal.app)
    matrix = _run_matrix(handle, server, RHDH_CI_EXPECTED,
                         targets=("component:default/c-janus", "component:default/c-plain"))
    assert not matrix.failures, "\n".join(matrix.failures)
    catalog_routes = {(r.method, r.path.removeprefix("/api/catalog")) for r in handle.portal.registry.routes.routes
                      if r.plugin_id == "catalog"}
    assert catalog_routes - matrix.covered == set(), "catalog routes the matrix does not ask"


INVINCIBLE_ORG = [
    *_users(("guest", []), ("nobody", [])),
    _component("c-one", "user:default/guest"),
    _component("c-two", "user:default/nobody"),
]


def test_deny_wins_in_a_real_world_policy(rbac_portal, live_server):
    """invincibleJai's policy: the guest holds jai-test-role (read, locations) and guests (read deny)."""
    handle = rbac_portal(INVINCIBLE_CSV.read_text(), org=_write_catalog(INVINCIBLE_ORG))
    server = live_server(handle.portal.app)
    matrix = _run_matrix(handle, server, {
        "user:default/guest": {"read": None, "location.read": True, "location.create": True},
        "user:default/nobody": {"read": None},
    })
    assert not matrix.failures, "\n".join(matrix.failures)


TESTBED_ORG = [
    _entity("Group", "heroes", {"type": "team", "children": []}),
    *_users(("ant-man", ["heroes"]), ("guest", []), ("someuser", []), namespace="default"),
    _component("c-ant", "user:default/ant-man"),
    _component("c-heroes", "group:default/heroes"),
    _component("c-other", "user:default/guest"),
]


def test_a_config_map_mounted_as_files(rbac_portal, live_server):
    """PatAKnight's testbed ConfigMap, its two data keys mounted as files (as Kubernetes does for RHDH)."""
    data = yaml.safe_load(TESTBED_CONFIG_MAP.read_text())["data"]
    handle = rbac_portal(data["rbac-policy.csv"], data["conditional-policy.yaml"], org=_write_catalog(TESTBED_ORG))
    server = live_server(handle.portal.app)
    matrix = _run_matrix(handle, server, {
        "user:default/guest": {"read": ALL},  # role admin: catalog-entity read
        "user:default/ant-man": {"read": {"component:default/c-ant", "component:default/c-heroes"}},  # $ownerRefs
        "user:default/someuser": {"read": None},  # role developer has no policy
    })
    assert not matrix.failures, "\n".join(matrix.failures)


def test_location_routes_do_not_reveal_entities_a_user_cannot_read(rbac_portal, live_server):
    handle = rbac_portal(
        "p, role:default/ops, catalog.location.read, read, allow\n"
        "g, user:default/alice, role:default/ops\n"
        "g, user:default/alice, role:default/owners\n",
        "result: CONDITIONAL\nroleEntityRef: role:default/owners\npluginId: catalog\nresourceType: catalog-entity\n"
        "permissionMapping: [read]\nconditions: {rule: IS_ENTITY_OWNER, resourceType: catalog-entity, "
        "params: {claims: [$currentUser]}}\n",
    )
    server = live_server(handle.portal.app)
    with server.client(headers=handle.headers("user:default/alice")) as alice, server.client() as service:
        hidden = alice.get("/api/catalog/locations/by-entity/component/default/payments")
        missing = alice.get("/api/catalog/locations/by-entity/component/default/no-such-thing")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"]["message"] == "found no entity for ref component:default/payments"
        full = service.get("/api/catalog/x-greenroom/location-status").json()["items"]
        mine = alice.get("/api/catalog/x-greenroom/location-status").json()["items"]
        assert [i["entityCount"] for i in full] == [18]  # the whole org file and its Location entity
        assert [i["entityCount"] for i in mine] == [1]  # alice-tool
        ancestry = alice.get("/api/catalog/entities/by-name/component/default/alice-tool/ancestry").json()
        assert [i["entity"]["metadata"]["name"] for i in ancestry["items"]] == ["alice-tool"]  # not its Location
        cursor = base64.b64encode(orjson.dumps({"orderFields": [], "orderFieldValues": [""], "isPrevious": False,
                                                "totalItems": 1})).decode()
        forged = alice.get(f"/api/catalog/entities/by-query?cursor={cursor}").json()
        assert [i["metadata"]["name"] for i in forged["items"]] == ["alice-tool"]
