"""The connected-components helper shared by caption lines and account groups."""

from __future__ import annotations

from memetrack.graph import components


def test_components_join_chains_and_keep_lone_nodes() -> None:
    found = components([(1, 2), (3, 2), (7, 8)], nodes=range(1, 6))
    assert sorted(sorted(c) for c in found) == [[1, 2, 3], [4], [5], [7, 8]]


def test_components_of_no_edges_and_no_nodes_is_empty() -> None:
    assert components([]) == []
