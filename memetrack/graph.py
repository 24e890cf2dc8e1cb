"""Connected components of a small undirected graph (union-find with path halving)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


def components(edges: Iterable[tuple[int, int]], nodes: Iterable[int] = ()) -> list[set[int]]:
    """The connected components of the graph of ``edges``, over their nodes and ``nodes`` (a
    node in ``nodes`` with no edge is a component of its own)."""
    parent: dict[int, int] = {n: n for n in nodes}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, set[int]] = defaultdict(set)
    for node in list(parent):
        members[find(node)].add(node)
    return list(members.values())
