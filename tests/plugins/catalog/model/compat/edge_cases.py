"""Hand-made entities at the edges of Backstage's rules, for the compatibility corpus.

Each case is a base entity of some kind with one change. The expected outcome is not written here:
`build_corpus.py` asks Backstage itself (via `backstage_process.cjs`) and records its answer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Entity = Any
_DELETE = object()


def component(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "edge-service"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", **spec},
    }


def _kind(kind: str, spec: dict[str, Any], api_version: str = "backstage.io/v1alpha1") -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": f"edge-{kind.lower()}"},
        "spec": spec,
    }


def template(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"type": "service", "owner": "team-a", "steps": [{"action": "fetch:plain"}]}
    base.update(spec)
    return _kind("Template", base, "scaffolder.backstage.io/v1beta3")


def _set(entity: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(entity)
    *parents, last = dotted.split(".")
    node = result
    for part in parents:
        node = node.setdefault(part, {})
    if value is _DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return result


def meta(field: str, value: Any) -> dict[str, Any]:
    return _set(component(), f"metadata.{field}", value)


def root(field: str, value: Any) -> dict[str, Any]:
    return _set(component(), field, value)


def link(**fields: Any) -> dict[str, Any]:
    return meta("links", [fields])


_LONG = "a" * 63

CASES: list[tuple[str, Callable[[], Entity]]] = [
    # --- names
    ("name-63-chars", lambda: meta("name", _LONG)),
    ("name-64-chars", lambda: meta("name", _LONG + "a")),
    ("name-unicode", lambda: meta("name", "café")),
    ("name-empty", lambda: meta("name", "")),
    ("name-trailing-dash", lambda: meta("name", "service-")),
    ("name-dots-underscores", lambda: meta("name", "a_b-c.d")),
    ("name-leading-underscore", lambda: meta("name", "_svc")),
    ("name-space", lambda: meta("name", "my service")),
    ("name-number", lambda: meta("name", 123)),
    ("name-null", lambda: meta("name", None)),
    ("name-trailing-newline", lambda: meta("name", "svc\n")),
    ("name-mixed-case", lambda: meta("name", "MyService")),
    ("name-missing", lambda: meta("name", _DELETE)),
    # --- namespaces
    ("namespace-uppercase", lambda: meta("namespace", "Default")),
    ("namespace-empty", lambda: meta("namespace", "")),
    ("namespace-custom", lambda: meta("namespace", "my-ns")),
    ("namespace-underscore", lambda: meta("namespace", "my_ns")),
    ("namespace-64-chars", lambda: meta("namespace", _LONG + "a")),
    ("namespace-double-dash", lambda: meta("namespace", "a--b")),
    ("namespace-number", lambda: meta("namespace", 7)),
    # --- apiVersion and kind
    ("api-version-v1beta1", lambda: root("apiVersion", "backstage.io/v1beta1")),
    ("api-version-unknown", lambda: root("apiVersion", "backstage.io/v2")),
    ("api-version-bare", lambda: root("apiVersion", "v1")),
    ("api-version-three-parts", lambda: root("apiVersion", "backstage.io/v1/x")),
    ("api-version-uppercase-prefix", lambda: root("apiVersion", "Backstage.io/v1alpha1")),
    ("api-version-missing", lambda: root("apiVersion", _DELETE)),
    ("api-version-number", lambda: root("apiVersion", 1)),
    ("kind-lowercase", lambda: root("kind", "component")),
    ("kind-dash", lambda: root("kind", "Com-ponent")),
    ("kind-unknown", lambda: root("kind", "AiResource")),
    ("kind-number", lambda: root("kind", 5)),
    ("kind-empty", lambda: root("kind", "")),
    ("template-wrong-api-version", lambda: _set(template(), "apiVersion", "backstage.io/v1alpha1")),
    ("component-scaffolder-api-version", lambda: root("apiVersion", "scaffolder.backstage.io/v1beta3")),
    # --- root fields
    ("root-extra-field", lambda: root("foo", "bar")),
    ("root-status", lambda: root("status", {})),
    ("root-relations-empty", lambda: root("relations", [])),
    ("root-relations-missing-target", lambda: root("relations", [{"type": "ownedBy"}])),
    ("root-relations-bad-type", lambda: root("relations", [{"type": "owned-by", "targetRef": "group:a/b"}])),
    ("root-relations-extra-key", lambda: root("relations", [{"type": "x", "targetRef": "y", "z": 1}])),
    (
        "root-status-bad-level",
        lambda: root("status", {"items": [{"type": "t", "level": "bad", "message": "m"}]}),
    ),
    (
        "root-status-level-number",
        lambda: root("status", {"items": [{"type": "t", "level": 3, "message": "m"}]}),
    ),
    ("root-spec-string", lambda: root("spec", "nope")),
    ("root-spec-missing", lambda: root("spec", _DELETE)),
    ("root-metadata-missing", lambda: root("metadata", _DELETE)),
    ("root-metadata-list", lambda: root("metadata", ["name"])),
    ("root-is-list", lambda: [component()]),
    ("root-is-null", lambda: None),
    ("root-is-string", lambda: "apiVersion: x"),
    ("root-empty-object", lambda: {}),
    ("root-numeric-extra-keys", lambda: {**component(), "b": 1, "1": 2}),
    ("root-kind-and-name-missing", lambda: {"apiVersion": "backstage.io/v1alpha1", "metadata": {}}),
    # --- metadata fields
    ("title-empty", lambda: meta("title", "")),
    ("title-number", lambda: meta("title", 5)),
    ("title-whitespace", lambda: meta("title", "   ")),
    ("description-number", lambda: meta("description", 5)),
    ("description-empty", lambda: meta("description", "")),
    ("uid-empty", lambda: meta("uid", "")),
    ("uid-set", lambda: meta("uid", "e01199ab-08cc-44c2-8e19-5c29ded82521")),
    ("etag-number", lambda: meta("etag", 5)),
    ("metadata-extra-field", lambda: meta("owner", "someone")),
    # --- labels
    ("label-value-number", lambda: meta("labels", {"team": 5})),
    ("label-prefixed-key", lambda: meta("labels", {"backstage.io/team": "a"})),
    ("label-key-leading-dash", lambda: meta("labels", {"-bad": "a"})),
    ("label-key-three-parts", lambda: meta("labels", {"a/b/c": "x"})),
    ("label-key-uppercase-prefix", lambda: meta("labels", {"Example.com/x": "y"})),
    ("label-value-empty", lambda: meta("labels", {"team": ""})),
    ("label-value-space", lambda: meta("labels", {"team": "has space"})),
    ("label-key-64-chars", lambda: meta("labels", {"x" * 64: "v"})),
    ("label-key-empty-prefix", lambda: meta("labels", {"/name": "v"})),
    ("labels-list", lambda: meta("labels", ["a"])),
    ("labels-null", lambda: meta("labels", None)),
    ("label-empty-key-number", lambda: meta("labels", {"": 5})),
    ("label-numeric-keys-order", lambda: meta("labels", {"b": "bad value", "10": "ok", "2": "also bad!"})),
    # --- annotations
    ("annotation-value-number", lambda: meta("annotations", {"a": 1})),
    ("annotation-value-bool", lambda: meta("annotations", {"a": True})),
    ("annotation-slug", lambda: meta("annotations", {"github.com/project-slug": "org/repo"})),
    ("annotation-key-colon", lambda: meta("annotations", {"a:b": "x"})),
    ("annotation-value-empty", lambda: meta("annotations", {"a": ""})),
    ("annotation-key-newline-number", lambda: meta("annotations", {"a\nb": 1})),
    ("annotation-key-unicode", lambda: meta("annotations", {"exämple.com/x": "y"})),
    (
        "annotation-location-url",
        lambda: meta("annotations", {"backstage.io/managed-by-location": "url:https://x/y"}),
    ),
    # --- tags
    ("tag-uppercase", lambda: meta("tags", ["Java"])),
    ("tag-cpp", lambda: meta("tags", ["c++"])),
    ("tag-csharp", lambda: meta("tags", ["c#"])),
    ("tag-colon", lambda: meta("tags", ["a:b"])),
    ("tag-double-dash", lambda: meta("tags", ["a--b"])),
    ("tag-empty", lambda: meta("tags", [""])),
    ("tag-number", lambda: meta("tags", [5])),
    ("tag-64-chars", lambda: meta("tags", ["t" * 64])),
    ("tags-string", lambda: meta("tags", "java")),
    ("tag-unicode", lambda: meta("tags", ["naïve"])),
    ("tag-second-bad", lambda: meta("tags", ["ok", "Not Ok"])),
    ("tag-underscore", lambda: meta("tags", ["snake_case"])),
    # --- links
    ("link-javascript-url", lambda: link(url="javascript:alert(1)")),
    ("link-not-a-url", lambda: link(url="not a url")),
    ("link-protocol-relative", lambda: link(url="//example.com/x")),
    ("link-missing-url", lambda: link(title="x")),
    ("link-title-whitespace", lambda: link(url="https://example.com", title="   ")),
    ("link-title-empty", lambda: link(url="https://example.com", title="")),
    ("link-icon-number", lambda: link(url="https://example.com", icon=5)),
    ("link-type-empty", lambda: link(url="https://example.com", type="")),
    ("link-type-set", lambda: link(url="https://example.com", type="runbook", icon="dashboard")),
    ("link-bad-ipv4", lambda: link(url="http://1.2.3.999")),
    ("link-port-too-large", lambda: link(url="https://example.com:99999")),
    ("link-mailto", lambda: link(url="mailto:team@example.com")),
    ("link-host-space", lambda: link(url="http://exa mple.com")),
    ("link-title-ideographic-space", lambda: link(url="https://example.com", title="\u3000")),
    ("link-title-info-separator", lambda: link(url="https://example.com", title="\x1c")),
    ("link-http-no-host", lambda: link(url="http://")),
    ("link-idn-host", lambda: link(url="https://bücher.example/x")),
    ("link-ipv6", lambda: link(url="http://[::1]:8080/")),
    ("link-file-url", lambda: link(url="file:///etc/hosts")),
    ("link-extra-field", lambda: link(url="https://example.com", color="red")),
    ("links-object", lambda: meta("links", {"url": "https://example.com"})),
    ("link-string-item", lambda: meta("links", ["https://example.com"])),
    ("link-url-null", lambda: link(url=None)),
    # --- Component spec
    ("component-missing-owner", lambda: _set(component(), "spec.owner", _DELETE)),
    ("component-owner-empty", lambda: component(owner="")),
    ("component-owner-number", lambda: component(owner=5)),
    ("component-owner-user", lambda: component(owner="user:jdoe")),
    ("component-owner-mixed-case", lambda: component(owner="Group:Default/Team-A")),
    ("component-owner-cross-namespace", lambda: component(owner="other-ns/team-b")),
    ("component-provides-string", lambda: component(providesApis="my-api")),
    ("component-depends-no-kind", lambda: component(dependsOn=["other-service"])),
    ("component-depends-empty-name", lambda: component(dependsOn=["component:"])),
    ("component-depends-empty-kind", lambda: component(dependsOn=[":x"])),
    ("component-provides-unsorted-empty", lambda: component(providesApis=["zeta", ""])),
    ("component-provides-unsorted", lambda: component(providesApis=["zeta", "Alpha", "beta"])),
    ("component-provides-duplicate", lambda: component(providesApis=["a", "a"])),
    ("component-subcomponent", lambda: component(subcomponentOf="parent-service")),
    ("component-dependency-of-object", lambda: component(dependencyOf={"kind": "Component", "name": "x"})),
    ("component-dependency-of-string", lambda: component(dependencyOf="component:x")),
    ("component-dependency-of-empty-object", lambda: component(dependencyOf={})),
    ("component-dependency-of-mixed", lambda: component(dependencyOf=["component:b", 5])),
    ("component-system-cross-namespace", lambda: component(system="other-ns/sys")),
    ("component-extra-spec-field", lambda: component(whatever={"a": 1})),
    ("component-type-null", lambda: component(type=None)),
    ("component-consumes-item-number", lambda: component(consumesApis=["a", 5])),
    (
        "component-namespaced-relations",
        lambda: _set(component(providesApis=["x"]), "metadata.namespace", "ns-a"),
    ),
    ("component-slash-before-colon", lambda: component(dependsOn=["ns/name:with-colon"])),
    # --- API
    ("api-missing-definition", lambda: _kind("API", {"type": "openapi", "lifecycle": "x", "owner": "o"})),
    (
        "api-definition-placeholder",
        lambda: _kind(
            "API", {"type": "openapi", "lifecycle": "x", "owner": "o", "definition": {"$text": "./api.yaml"}}
        ),
    ),
    (
        "api-valid",
        lambda: _kind("API", {"type": "grpc", "lifecycle": "x", "owner": "o", "system": "s", "definition": "syntax"}),
    ),
    ("api-mcp-server", lambda: _kind("API", {"type": "mcp-server", "lifecycle": "x", "owner": "o"})),
    # --- Resource
    (
        "resource-valid",
        lambda: _kind(
            "Resource",
            {"type": "db", "owner": "o", "dependencyOf": ["component:x"], "dependsOn": ["resource:y"]},
        ),
    ),
    ("resource-missing-type", lambda: _kind("Resource", {"owner": "o"})),
    # --- Group
    ("group-missing-children", lambda: _kind("Group", {"type": "team"})),
    (
        "group-profile-email-empty",
        lambda: _kind("Group", {"type": "team", "children": [], "profile": {"email": ""}}),
    ),
    (
        "group-full",
        lambda: _kind(
            "Group",
            {"type": "team", "parent": "org", "children": ["b", "a"], "members": ["jdoe", "user:x/y"]},
        ),
    ),
    ("group-children-string", lambda: _kind("Group", {"type": "team", "children": "a"})),
    # --- User
    ("user-missing-member-of", lambda: _kind("User", {})),
    ("user-member-of-empty", lambda: _kind("User", {"memberOf": []})),
    ("user-profile-list", lambda: _kind("User", {"memberOf": [], "profile": ["x"]})),
    ("user-member-of", lambda: _kind("User", {"memberOf": ["team-b", "group:ns/team-c"]})),
    # --- System and Domain
    ("system-domain", lambda: _kind("System", {"owner": "o", "domain": "d", "type": "x"})),
    ("system-missing-owner", lambda: _kind("System", {})),
    ("domain-subdomain", lambda: _kind("Domain", {"owner": "o", "subdomainOf": "parent"})),
    ("domain-missing-owner", lambda: _kind("Domain", {"subdomainOf": "parent"})),
    # --- Location
    ("location-targets", lambda: _kind("Location", {"type": "url", "targets": ["https://a/b.yaml"]})),
    ("location-presence-bad", lambda: _kind("Location", {"target": "x", "presence": "maybe"})),
    ("location-presence-number", lambda: _kind("Location", {"presence": 5})),
    ("location-empty-spec", lambda: _kind("Location", {})),
    ("location-target-empty", lambda: _kind("Location", {"target": ""})),
    ("location-v1beta1", lambda: _kind("Location", {"target": "x"}, "backstage.io/v1beta1")),
    # --- Template
    ("template-minimal", template),
    ("template-missing-steps", lambda: _set(template(), "spec.steps", _DELETE)),
    ("template-missing-type", lambda: _set(template(), "spec.type", _DELETE)),
    (
        "template-parameters-array",
        lambda: template(parameters=[{"title": "a", "when": True}, {"title": "b"}]),
    ),
    ("template-parameters-array-bad-when", lambda: template(parameters=[{"when": 5}])),
    ("template-parameters-string", lambda: template(parameters="x")),
    (
        "template-parameters-bad-permissions",
        lambda: template(parameters={"backstage:permissions": {"tags": "x"}}),
    ),
    ("template-step-missing-action", lambda: template(steps=[{"id": "a"}])),
    ("template-step-if-number", lambda: template(steps=[{"action": "x", "if": 5}])),
    ("template-step-input-string", lambda: template(steps=[{"action": "x", "input": "y"}])),
    ("template-steps-object", lambda: template(steps={"action": "x"})),
    ("template-output-extra-number", lambda: template(output={"links": "x", "foo": 5})),
    ("template-output-link-url-empty", lambda: template(output={"links": [{"url": ""}]})),
    ("template-output-text", lambda: template(output={"text": [{"title": "t", "content": 5}]})),
    ("template-owner-user", lambda: template(owner="user:default/jdoe")),
    ("template-no-owner", lambda: _set(template(), "spec.owner", _DELETE)),
    ("template-owner-bad-ref", lambda: template(owner="group:")),
    ("template-presentation-number", lambda: template(presentation={"buttonLabels": {"backButtonText": 1}})),
    ("template-secrets-schema", lambda: template(secrets={"schema": []})),
    ("template-form-decorators", lambda: template(formDecorators=[{"id": 1}])),
    ("template-recovery", lambda: template(EXPERIMENTAL_recovery={"EXPERIMENTAL_strategy": "startOver"})),
    ("template-dependson-sorted", lambda: template(dependsOn=["b", "a"])),
    # --- ordering and JavaScript details
    ("sort-astral-vs-bmp", lambda: component(providesApis=["\U0001f600", "\uffff", "b"])),
    ("sort-skipped-when-mixed", lambda: component(dependsOn=["component:b", 5])),
    ("root-status-then-relations", lambda: {**component(), "status": {}, "relations": []}),
    (
        "root-relations-bad-target",
        lambda: root("relations", [{"type": "x", "targetRef": "y", "target": {"kind": "a", "name": "b"}}]),
    ),
    (
        "root-status-error-object",
        lambda: root("status", {"items": [{"type": "t", "level": "error", "message": "m", "error": {"name": ""}}]}),
    ),
    ("annotation-value-null", lambda: meta("annotations", {"a": None})),
    ("tag-null", lambda: meta("tags", [None])),
    ("group-child-empty", lambda: _kind("Group", {"type": "team", "children": ["b", ""]})),
    ("owner-empty-name", lambda: component(owner="group:default/")),
    ("owner-namespace-only", lambda: component(owner="default/")),
    ("owner-two-colons", lambda: component(owner="a:b:c")),
    ("template-missing-spec", lambda: _set(template(), "spec", _DELETE)),
    ("link-uppercase-scheme-host", lambda: link(url="HTTP://EXAMPLE.COM/Path")),
    ("link-hex-ipv4", lambda: link(url="http://0x7f.1/")),
    ("link-unicode-tld", lambda: link(url="https://例え.テスト")),
    ("link-percent-host", lambda: link(url="http://a%zz.com")),
    ("link-trailing-space", lambda: link(url=" https://example.com ")),
    ("link-backslashes", lambda: link(url="https:\\\\example.com\\x")),
    ("link-custom-scheme-bad-host", lambda: link(url="foo://ho st/")),
    ("name-unicode-fullwidth", lambda: meta("name", "\uff53\uff56\uff43")),
    ("owner-unicode-case", lambda: component(owner="Group:ÄRGER/Ωmega")),
    # --- lengths and boundaries of the Kubernetes-style formats
    ("label-prefix-253-chars", lambda: meta("labels", {".".join(["a" * 63] * 4)[:253] + "/k": "v"})),
    ("label-prefix-254-chars", lambda: meta("labels", {".".join(["a" * 63] * 4)[:252] + "aa/k": "v"})),
    ("label-prefix-label-64-chars", lambda: meta("labels", {"b" * 64 + ".com/k": "v"})),
    ("label-prefix-trailing-dot", lambda: meta("labels", {"example.com./k": "v"})),
    ("api-version-empty-suffix", lambda: root("apiVersion", "backstage.io/")),
    ("api-version-suffix-64", lambda: root("apiVersion", "backstage.io/" + "v" * 64)),
    ("kind-64-chars", lambda: root("kind", "K" * 64)),
    ("kind-leading-digit", lambda: root("kind", "1Component")),
    ("tag-colon-only", lambda: meta("tags", [":"])),
    ("tag-plus-hash-dash", lambda: meta("tags", ["+-#"])),
    ("name-single-char", lambda: meta("name", "x")),
    ("name-only-dots", lambda: meta("name", "...")),
    ("namespace-digits", lambda: meta("namespace", "123")),
    # --- several problems at once: the first in Backstage's order wins
    ("multi-name-and-tag", lambda: _set(meta("name", "bad name"), "metadata.tags", ["Bad"])),
    ("multi-tag-and-spec", lambda: _set(meta("tags", ["Bad"]), "spec.owner", _DELETE)),
    ("multi-title-and-extra-root", lambda: _set(meta("title", 5), "extra", 1)),
    ("multi-envelope", lambda: {"metadata": {"name": 5}, "kind": 5}),
    ("multi-spec-required-order", lambda: _kind("Component", {})),
]
