"""Policy files: RHDH's CSV and conditional-policies YAML, every real-world fixture, and bad input
(each problem named with its file and line; a file with errors never half-loads)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from greenroom.db.engine import Database
from greenroom.permissions.criteria import CriteriaLimits
from greenroom.permissions.policy import FoundationPolicy, PermissionService
from greenroom.plugins.catalog import permissions as catalog_permissions
from greenroom.plugins.catalog.permission_rules import entity_resource_type
from greenroom.plugins.catalog.store.queries import CatalogQueries
from greenroom.plugins.permission import permissions as rbac_permissions
from greenroom.plugins.permission.files import parse_conditional_yaml, parse_policy_csv
from tests.conftest import REAL_WORLD

RBAC_FIXTURES = REAL_WORLD / "rbac"
INVALID_FIXTURE = "janus-idp__backstage-plugins__plugins__rbac-backend__src____fixtures____data__invalid-csv__error-policy.csv"


@pytest.fixture(scope="module")
def vocabulary():
    """The permissions and catalog rules of a real portal's plugins (parsing reads no database)."""
    service = PermissionService(FoundationPolicy())
    service.declare("catalog", catalog_permissions.ALL)
    service.declare("permission", rbac_permissions.ALL)
    database = Database("sqlite://")
    service.register_resource_type(entity_resource_type(CatalogQueries(database)))
    yield service
    database.dispose()


def csv_problems(text: str, vocabulary) -> list[tuple[int | None, str, str]]:
    _state, problems = parse_policy_csv(text, source="policy.csv", permissions=vocabulary)
    return [(p.line, p.severity, p.message) for p in problems]


def errors(text: str, vocabulary) -> dict[int | None, str]:
    return {line: message for line, severity, message in csv_problems(text, vocabulary) if severity == "error"}


# -- the real-world files ---------------------------------------------------------------------------
def config_map_files(path: Path) -> dict[str, str]:
    """A Kubernetes ConfigMap's `data` entries, as Kubernetes mounts them as files for RHDH."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert document["kind"] == "ConfigMap"
    return dict(document["data"])


def real_world_files() -> list[tuple[str, str, str]]:
    """(name, kind, text) for every CSV and YAML policy in the fixtures, ConfigMaps unpacked."""
    out = []
    for path in sorted(RBAC_FIXTURES.iterdir()):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".csv":
            out.append((path.name, "csv", text))
        elif text.lstrip().startswith("kind: ConfigMap"):
            for key, value in config_map_files(path).items():
                out.append((f"{path.name}#{key}", "csv" if key.endswith(".csv") else "yaml", value))
        else:
            out.append((path.name, "yaml", text))
    return out


def test_every_real_world_file_is_covered():
    files = real_world_files()
    assert len([f for f in files if f[1] == "csv"]) == 8
    assert len([f for f in files if f[1] == "yaml"]) == 3
    assert {p.name for p in RBAC_FIXTURES.iterdir()} == {name.split("#")[0] for name, _k, _t in files}


@pytest.mark.parametrize(("name", "kind", "text"), real_world_files(), ids=lambda v: v if "\n" not in v else "")
def test_valid_real_world_files_load_unchanged_and_the_invalid_one_is_reported(name, kind, text, vocabulary):
    if kind == "csv":
        state, problems = parse_policy_csv(text, source=name, permissions=vocabulary)
        found = [p for p in problems if p.severity == "error"]
    else:
        grants, problems = parse_conditional_yaml(text.encode(), source=name, permissions=vocabulary,
                                                  limits=CriteriaLimits())
        found = [p for p in problems if p.severity == "error"]
    if name == INVALID_FIXTURE:
        assert [(p.file, p.line) for p in found] == [(name, 1), (name, 2), (name, 3), (name, 4)]
        assert "user:default/" in found[0].message
        assert "full entity reference" in found[0].message
        assert "'effect' has invalid value: 'temp'" in found[3].message
        return
    assert found == [], [str(p) for p in found]
    if kind == "csv":
        source_lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
        duplicates = [p for p in problems if p.message.startswith("Duplicate")]
        assert len(state.grants) + len(state.memberships) + len(duplicates) == len(source_lines)
    else:
        assert grants, name


def test_real_world_warnings_say_what_never_matches(vocabulary):
    text = (RBAC_FIXTURES / "invincibleJai__todo-app-rbac__rbac-policy.csv").read_text()
    warnings = {line: message for line, severity, message in csv_problems(text, vocabulary) if severity == "warning"}
    assert warnings == {
        2: "permission catalog.entity.create has action 'create', so a grant with action 'use' never matches it",
        8: "'kubernetes.proxy' is not a permission or resource type of any loaded plugin, so the grant never matches",
        9: "'todo.list.create' is not a permission or resource type of any loaded plugin, so the grant never matches",
    }


# -- bad CSV lines -------------------------------------------------------------------------------
@pytest.mark.parametrize(("line", "message"), [
    ('p, role:default/a, "catalog-entity, read, allow', "not a CSV line"),
    ("p, role:default/a, catalog-entity, read", "has 5 fields"),
    ("p, role:default/a, catalog-entity, read, allow, extra", "has 5 fields"),
    ("g, user:default/alice", "has 3 fields"),
    ("x, role:default/a, catalog-entity, read, allow", "unknown line type 'x'"),
    ("p, user:default/alice, catalog-entity, read, allow", 'Supported value should be "role"'),
    ("p, role:default, catalog-entity, read, allow", "full entity reference"),
    ("p, role:Default/a, catalog-entity, read, allow", "The namespace 'Default'"),
    ("p, role:default/a b, catalog-entity, read, allow", "The name 'a b'"),
    ("p, role:default/a, catalog-entity, remove, allow", "'policy' has invalid value: 'remove'"),
    ("p, role:default/a, catalog-entity, read, maybe", "'effect' has invalid value: 'maybe'"),
    ("p, role:default/a, catalog-entity, read, ALLOW", "'effect' has invalid value: 'ALLOW'"),
    ('p, role:default/a, """catalog""", read, allow', "double quotes"),
    ("p, role:default/a, , read, allow", "'permission' field must not be empty"),
    ("g, role:default/b, role:default/a", "doesn't support role inheritance"),
    ("g, group:default/a, group:default/b", "Group inheritance information could be provided only"),
    ("g, user:default/a, group:default/b", "User membership information could be provided only"),
    ("g, component:default/a, role:default/b", "Unsupported kind component"),
])
def test_each_malformed_line_is_an_error_with_its_line(line, message, vocabulary):
    text = f"# a comment\n\np, role:default/ok, catalog-entity, read, allow\n{line}\ng, user:default/x, role:default/ok\n"
    found = errors(text, vocabulary)
    assert list(found) == [4], found
    assert message in found[4]


def test_conflicting_effects_are_an_error_and_duplicates_a_warning(vocabulary):
    text = ("p, role:default/a, catalog-entity, read, allow\n"
            "p, role:default/a, catalog-entity, read, allow\n"
            "p, role:default/a, catalog-entity, read, deny\n"
            "g, user:default/alice, role:default/a\n"
            "g, USER:default/ALICE, role:default/a\n")
    problems = csv_problems(text, vocabulary)
    assert (2, "warning", "Duplicate policy: role:default/a, catalog-entity, read, allow (also line 1); "
                          "loaded once") in problems
    assert (3, "error", "Duplicate policy: role:default/a, catalog-entity, read with different effect found in "
                        "the file policy.csv (line 1 says allow)") in problems
    assert any(p[:2] == (5, "warning") and p[2].startswith("Duplicate role: user:default/alice") for p in problems)


def test_member_refs_are_lower_cased_and_roles_kept_as_written(vocabulary):
    state, problems = parse_policy_csv("g, User:Default/Alice, role:default/Team_A\n", source="p.csv",
                                       permissions=vocabulary)
    assert problems == []
    assert [(m.member, m.role, m.origin.line) for m in state.memberships] == [
        ("user:default/alice", "role:default/Team_A", 1)]


# -- conditional policies -----------------------------------------------------------------------
GOOD = {"result": "CONDITIONAL", "roleEntityRef": "role:default/a", "pluginId": "catalog",
        "resourceType": "catalog-entity", "permissionMapping": ["read"],
        "conditions": {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
                       "params": {"claims": ["$currentUser"]}}}


def conditional_errors(documents, vocabulary, **limits) -> list[tuple[int | None, str]]:
    text = "---\n".join(yaml.safe_dump(d) for d in documents) if isinstance(documents, list) else documents
    _grants, problems = parse_conditional_yaml(text.encode(), source="c.yaml", permissions=vocabulary,
                                               limits=CriteriaLimits(), **limits)
    return [(p.line, p.message) for p in problems]


def variant(**changes) -> dict:
    return {**GOOD, **changes}


def condition(rule: str, **params) -> dict:
    return {"rule": rule, "resourceType": "catalog-entity", "params": params}


@pytest.mark.parametrize(("document", "message"), [
    (variant(conditions=condition("IS_EVERYTHING")), "unknown rule 'IS_EVERYTHING' for resource type catalog-entity"),
    (variant(conditions=condition("IS_ENTITY_OWNER", claims="group:default/a")), "'claims' must be a list"),
    (variant(conditions=condition("IS_ENTITY_OWNER", claims=["x"], owner="y")), "has no parameter 'owner'"),
    (variant(conditions=condition("HAS_LABEL")), "parameter 'label' must be a non-empty string"),
    (variant(conditions=condition("IS_ENTITY_OWNER", claims=["$everyone"])), "unknown alias '$everyone'"),
    (variant(conditions={"rule": "IS_ENTITY_KIND", "params": {"kinds": ["x"]}}), "'resourceType' must be specified"),
    (variant(conditions={"resourceType": "catalog-entity", "params": {}}), "'rule' must be specified"),
    (variant(conditions={**condition("IS_ENTITY_KIND", kinds=["x"]), "resourceType": "policy-entity"}),
     "does not match 'catalog-entity'"),
    (variant(conditions={"allOf": [condition("IS_ENTITY_KIND", kinds=["x"])],
                         "anyOf": [condition("IS_ENTITY_KIND", kinds=["y"])]}), "does not support parallel"),
    (variant(conditions={"allOf": []}), "allOf criteria must be non empty array"),
    (variant(conditions={"not": condition("IS_ENTITY_KIND", kinds=["x"]), "rule": "HAS_LABEL"}),
     "alongside rules"),
    (variant(permissionMapping=["read", "read"]), "must not contain duplicate permission action 'read'"),
    (variant(permissionMapping=["browse"]), "non action value: 'browse'"),
    (variant(permissionMapping=[]), "'permissionMapping' must be non empty array"),
    (variant(permissionMapping=["create"]), "Unable to find permission to get permission name for resource type "
                                            "'catalog-entity' and action \"create\""),
    (variant(pluginId="kubernetes"), "Unable to get permission list for plugin kubernetes"),
    (variant(resourceType="policy-entity", pluginId="permission"), "no permission rules for resource type"),
    (variant(result="ALLOW"), "'result' must be CONDITIONAL"),
    (variant(roleEntityRef="user:default/alice"), 'Supported value should be "role"'),
    ({k: v for k, v in GOOD.items() if k != "pluginId"}, "'pluginId' must be specified in the role condition"),
    ({k: v for k, v in GOOD.items() if k != "conditions"}, "'conditions' must be specified"),
    (variant(extra=1), "unexpected key 'extra'"),
    ("not an object", "a conditional policy must be an object"),
])
def test_each_bad_conditional_policy_is_an_error(document, message, vocabulary):
    found = conditional_errors([GOOD | {"roleEntityRef": "role:default/fine"}, document], vocabulary)
    assert len(found) == 1 and found[0][0] is not None, found
    assert message in found[0][1], found


def test_condition_depth_and_size_limits(vocabulary):
    deep = condition("IS_ENTITY_KIND", kinds=["x"])
    for _ in range(12):
        deep = {"not": deep}
    found = conditional_errors([variant(conditions=deep)], vocabulary)
    assert found
    assert "depth exceeds maximum of 12" in found[0][1]
    wide = {"anyOf": [condition("IS_ENTITY_KIND", kinds=[str(i)]) for i in range(65)]}
    assert "supports at most 64 items" in conditional_errors([variant(conditions=wide)], vocabulary)[0][1]
    many = [variant(roleEntityRef=f"role:default/r{i}") for i in range(4)]
    assert conditional_errors(many, vocabulary, max_documents=3) == [
        (None, "conditional policies file exceeds maximum of 3 YAML documents")]
    assert conditional_errors([GOOD], vocabulary, max_bytes=100)[0][1] == \
        "conditional policies file exceeds maximum size of 100 bytes"


def test_a_yaml_bomb_is_refused_before_it_expands(vocabulary):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, " \
                f"*{previous}, *{previous}, *{previous}, *{previous}]\n"
    found = conditional_errors(bomb, vocabulary)
    assert len(found) == 1
    assert "alias" in found[0][1].lower()


@pytest.mark.parametrize(("text", "message"), [
    ("result: CONDITIONAL\nresult: CONDITIONAL\n", "duplicate key"),
    ("result: [CONDITIONAL\n", "expected ',' or ']'"),
    ("!!python/object:os.system {}\n", "could not determine a constructor"),
])
def test_broken_yaml_is_an_error_with_its_line(text, message, vocabulary):
    found = conditional_errors(text, vocabulary)
    assert len(found) == 1 and found[0][0] is not None and message in found[0][1].lower(), found


def test_one_condition_per_role_and_permission(vocabulary):
    found = conditional_errors([GOOD, variant(permissionMapping=["read", "delete"])], vocabulary)
    assert len(found) == 1
    assert "a condition for role role:default/a and permission catalog.entity.read is already defined at line 1" \
        in found[0][1]


def test_a_list_of_conditional_policies_in_one_document_is_accepted(vocabulary):
    text = yaml.safe_dump([GOOD, variant(roleEntityRef="role:default/b", permissionMapping=["delete", "update"])])
    grants, problems = parse_conditional_yaml(text.encode(), source="c.yaml", permissions=vocabulary,
                                              limits=CriteriaLimits())
    assert problems == []
    assert [(g.role, g.mapping) for g in grants] == [
        ("role:default/a", (("catalog.entity.read", "read"),)),
        ("role:default/b", (("catalog.entity.delete", "delete"), ("catalog.entity.refresh", "update")))]
