"""A small dependency graph of one entity and its direct relations, laid out for SVG.

Three columns: what the entity belongs to or is used by on the left (owner, system, parent
group, dependents, consumers), the entity in the middle, what it depends on, provides, consumes
or contains on the right. One node per related entity and side, its relation types joined on
the edge. The template draws the result; every label goes through autoescaping there, and
node links are the portal's own entity paths.
"""

from __future__ import annotations

from dataclasses import dataclass

from greenroom.plugins.ui.entities import RELATION_LABELS, UPSTREAM, EntityView, RelatedEntity

NODE_W = 210
NODE_H = 44
GAP = 14
MARGIN = 16
COLUMN_GAP = 110
MAX_PER_SIDE = 8
MAX_LABEL = 26


def _clip(value: str, limit: int = MAX_LABEL) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True)
class Node:
    x: int
    y: int
    w: int
    h: int
    label: str
    kind: str
    href: str | None
    center: bool = False

    @property
    def text_x(self) -> int:
        return self.x + 10

    @property
    def mid_y(self) -> int:
        return self.y + self.h // 2


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    label: str
    label_x: int
    label_y: int
    anchor: str


@dataclass(frozen=True)
class Graph:
    width: int
    height: int
    nodes: list[Node]
    edges: list[Edge]
    more_left: int
    more_right: int
    title: str


def _side(view: EntityView, upstream: bool) -> list[tuple[RelatedEntity, list[str]]]:
    found: dict[str, tuple[RelatedEntity, list[str]]] = {}
    for group in view.relations:
        if (group.type in UPSTREAM) != upstream:
            continue
        for target in group.targets:
            entry = found.setdefault(target.ref.key, (target, []))
            entry[1].append(RELATION_LABELS.get(group.type, group.type))
    return list(found.values())


def layout(view: EntityView) -> Graph | None:
    """The graph of `view`, or None when the entity has no relations to draw."""
    left, right = _side(view, True), _side(view, False)
    if not left and not right:
        return None
    shown_left, shown_right = left[:MAX_PER_SIDE], right[:MAX_PER_SIDE]
    rows = max(len(shown_left), len(shown_right), 1)
    height = MARGIN * 2 + rows * NODE_H + (rows - 1) * GAP
    x_left, x_center = MARGIN, MARGIN + NODE_W + COLUMN_GAP
    x_right = x_center + NODE_W + COLUMN_GAP
    width = x_right + NODE_W + MARGIN
    center = Node(x_center, (height - NODE_H) // 2, NODE_W, NODE_H, _clip(view.title), view.ref.kind, None, True)
    nodes = [center]
    edges = []

    def column(items: list[tuple[RelatedEntity, list[str]]], x: int, upstream: bool) -> None:
        total = len(items) * NODE_H + (len(items) - 1) * GAP
        top = (height - total) // 2
        for i, (target, labels) in enumerate(items):
            node = Node(x, top + i * (NODE_H + GAP), NODE_W, NODE_H, _clip(target.title), target.ref.kind,
                        target.ref.path if target.visible else None)
            nodes.append(node)
            label = _clip(", ".join(labels), 30)
            if upstream:  # the entity points at what it belongs to: arrow towards the left node
                edges.append(Edge(center.x, center.mid_y, node.x + node.w, node.mid_y, label,
                                  node.x + node.w + 6, node.mid_y - 6, "start"))
            else:
                edges.append(Edge(center.x + center.w, center.mid_y, node.x, node.mid_y, label,
                                  node.x - 6, node.mid_y - 6, "end"))

    column(shown_left, x_left, True)
    column(shown_right, x_right, False)
    return Graph(width, height, nodes, edges, len(left) - len(shown_left), len(right) - len(shown_right),
                 f"Relations of {view.ref.short}")
