"""The course map: concepts laid out in layers along their Learn-before links, drawn as SVG by the template.

Layer = the length of the longest chain of prerequisites above a concept, so every arrow points down; within a
layer concepts keep their course position. Pure layout arithmetic, no drawing library.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.course.models import Concept
from apps.course.progress import Progress

NODE_W, NODE_H = 190, 54  # px
GAP_X, GAP_Y = 24, 56
PAD = 16


@dataclass(frozen=True)
class Node:
    concept: Concept
    progress: Progress
    x: int
    y: int
    lines: list[str]  # the title, wrapped

    @property
    def cx(self) -> int:
        return self.x + NODE_W // 2


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class CourseMap:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    node_w: int = NODE_W
    node_h: int = NODE_H


def layers(concepts: list[Concept], before: dict[int, list[int]]) -> dict[int, int]:
    """Longest prerequisite chain above each concept (0 for a concept with none); cycles are cut."""
    depth: dict[int, int] = {}

    def visit(pk: int, stack: frozenset[int]) -> int:
        if pk in depth:
            return depth[pk]
        stack = stack | {pk}
        parents = [p for p in before.get(pk, []) if p not in stack]  # an edge back into the chain is cut
        depth[pk] = 1 + max((visit(p, stack) for p in parents), default=-1)
        return depth[pk]

    for concept in concepts:
        visit(concept.pk, frozenset())
    return depth


def build(concepts: list[Concept], progress: dict[int, Progress]) -> CourseMap:
    before = {c.pk: [p.pk for p in c.learn_before.all()] for c in concepts}
    depth = layers(concepts, before)
    rows: dict[int, list[Concept]] = {}
    for concept in concepts:  # concepts come in course order: each row keeps it
        rows.setdefault(depth[concept.pk], []).append(concept)
    widest = max((len(r) for r in rows.values()), default=1)
    width = 2 * PAD + widest * NODE_W + (widest - 1) * GAP_X
    nodes: dict[int, Node] = {}
    for level, row in sorted(rows.items()):
        row_w = len(row) * NODE_W + (len(row) - 1) * GAP_X
        left = (width - row_w) // 2
        for i, concept in enumerate(row):
            x, y = left + i * (NODE_W + GAP_X), PAD + level * (NODE_H + GAP_Y)
            nodes[concept.pk] = Node(concept, progress[concept.pk], x, y, wrap(concept.title))
    edges = [
        Edge(nodes[p].cx, nodes[p].y + NODE_H, nodes[c].cx, nodes[c].y)
        for c, parents in before.items()
        for p in parents
        if p in nodes and c in nodes
    ]
    height = 2 * PAD + (max(rows, default=0) + 1) * (NODE_H + GAP_Y) - GAP_Y
    return CourseMap([nodes[c.pk] for c in concepts], edges, width, height)


def wrap(title: str, width: int = 26, lines: int = 2) -> list[str]:
    words, out, line = title.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    out.append(line)
    if len(out) > lines:
        out = out[: lines - 1] + [" ".join(out[lines - 1 :])[: width - 1] + "…"]
    return out
