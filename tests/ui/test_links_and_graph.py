"""Units: which entity URLs become links, local return paths, and the graph layout."""

from __future__ import annotations

import pytest

from greenroom.plugins.ui.entities import build_view, parse_ref
from greenroom.plugins.ui.graph import MAX_PER_SIDE, layout
from greenroom.plugins.ui.links import local_path, safe_href


@pytest.mark.parametrize("url", ["https://example.com/x", "http://example.com", "mailto:team@example.com",
                                 "HTTPS://EXAMPLE.COM/", "https://example.com/a?b=c#d"])
def test_web_and_mail_urls_are_links(url: str) -> None:
    assert safe_href(url) == url


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java\nscript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    "//evil.example.com/", "/relative/path", "https:evil.example.com", "https://exa mple.com/", "https://a\\b.com",
    "mailto:", "file:///etc/passwd", "", None, 42, {"url": "https://x"}, "https://" + "a" * 3000,
    "https://example.com/\x00", "https://example.com/\u2028x",
])
def test_everything_else_stays_text(url: object) -> None:
    assert safe_href(url) is None


def test_surrounding_whitespace_is_dropped_from_the_link() -> None:
    assert safe_href("  https://example.com/x\n") == "https://example.com/x"
    assert safe_href("\u2028https://example.com") == "https://example.com"


@pytest.mark.parametrize(("value", "expected"), [
    ("/catalog?kind=api", "/catalog?kind=api"), ("//evil.example.com", "/"), ("https://evil.example.com", "/"),
    ("/\\evil.example.com", "/"), ("javascript:alert(1)", "/"), (None, "/"), ("/ spaced", "/"),
])
def test_return_paths_stay_on_the_portal(value: object, expected: str) -> None:
    assert local_path(value) == expected


def test_refs_parse_with_defaults() -> None:
    assert parse_ref("component:default/a") is not None
    ref = parse_ref("team-a", default_kind="group")
    assert ref is not None
    assert (ref.kind, ref.namespace, ref.name) == ("group", "default", "team-a")
    assert ref.path == "/catalog/default/group/team-a"
    assert parse_ref("Component:Ns/we ird/x").path == "/catalog/ns/component/we%20ird%2Fx"  # type: ignore[union-attr]
    assert parse_ref("") is None
    assert parse_ref("kind-only:") is None


def _entity(relations: list[tuple[str, str]]) -> dict[str, object]:
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "svc"},
            "spec": {"type": "service"}, "relations": [{"type": t, "targetRef": r} for t, r in relations]}


def test_graph_puts_owners_left_and_dependencies_right() -> None:
    entity = _entity([("ownedBy", "group:default/team"), ("dependsOn", "resource:default/db"),
                      ("dependencyOf", "component:default/web")])
    readable = {"group:default/team": {"kind": "Group", "metadata": {"name": "team", "title": "The Team"}}}
    graph = layout(build_view(entity, readable))
    assert graph is not None
    center = next(n for n in graph.nodes if n.center)
    left = [n for n in graph.nodes if n.x < center.x]
    right = [n for n in graph.nodes if n.x > center.x]
    assert {n.label for n in left} == {"The Team", "component:web"}
    assert {n.label for n in right} == {"resource:db"}
    assert {n.href for n in left} == {"/catalog/default/group/team", None}  # unreadable: no link
    assert all(n.y >= 0 and n.y + n.h <= graph.height for n in graph.nodes)


def test_graph_caps_each_side_and_counts_the_rest() -> None:
    entity = _entity([("dependsOn", f"component:default/dep-{i:02d}") for i in range(MAX_PER_SIDE + 5)])
    graph = layout(build_view(entity, {}))
    assert graph is not None
    assert len(graph.nodes) == MAX_PER_SIDE + 1
    assert graph.more_right == 5
    assert layout(build_view(_entity([]), {})) is None
