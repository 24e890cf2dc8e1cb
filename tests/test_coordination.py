"""Coordination: the pure grouping rules on small graphs, and planted groups found in a real store."""

from __future__ import annotations

import csv
import io
import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from memetrack import network
from memetrack.coordination import (
    DEFAULT_MIN_REPETITIONS,
    DEFAULT_WINDOW_SECONDS,
    CoordinationParams,
    estimate_window,
    find_coordination,
    group_accounts,
    group_score,
    neighbourhood_overlap,
)
from memetrack.errors import BadInput
from memetrack.spread import SpreadFilter
from memetrack.store import Store
from tests.test_spread import add, assign, sighting

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


# ------------------------------------------------------------------ pure parts


def test_groups_on_small_graphs() -> None:
    triangle = [(1, 2), (2, 3), (1, 3)]
    assert group_accounts(triangle) == [frozenset({1, 2, 3})]
    # two triangles joined by one link stay two groups
    bridged = triangle + [(4, 5), (5, 6), (4, 6), (3, 4)]
    assert group_accounts(bridged) == [frozenset({1, 2, 3}), frozenset({4, 5, 6})]
    # a chance link from an outsider to one member is cut
    assert group_accounts(triangle + [(3, 9)]) == [frozenset({1, 2, 3})]
    # a path of chance links does not chain unrelated accounts
    assert group_accounts([(1, 2), (2, 3), (3, 4)]) == []
    # a lone pair is a group of two
    assert group_accounts([(7, 8)]) == [frozenset({7, 8})]
    # strictness 0 is plain connected components
    assert group_accounts([(1, 2), (2, 3), (3, 4)], min_overlap=0) == [frozenset({1, 2, 3, 4})]
    adjacency = {1: {2, 3}, 2: {1, 3}, 3: {1, 2, 9}, 9: {3}}
    assert neighbourhood_overlap(adjacency, 1, 2) == 1.0
    assert neighbourhood_overlap(adjacency, 3, 9) == 0.0


def test_window_estimate_and_score() -> None:
    delays = [5.0] * 10 + [3600.0] * 90  # the fastest 10 % of items got a second account in 5 s
    assert estimate_window(delays) == 10.0  # clamped to the lower bound
    assert estimate_window([30.0] * 10 + [9000.0] * 90) == 30.0
    assert estimate_window([]) == DEFAULT_WINDOW_SECONDS
    assert estimate_window([1e6] * 5) == 600.0
    assert group_score(3, [4, 4, 4]) == (4.0, 1.0)
    score, density = group_score(4, [3, 3, 3])
    assert density == 0.5 and score == 1.5
    with pytest.raises(BadInput):
        CoordinationParams(level="planet")
    with pytest.raises(BadInput):
        CoordinationParams.parse("soon")
    assert CoordinationParams.parse("auto").window_seconds is None
    assert CoordinationParams.parse("30").window_seconds == 30.0


# ------------------------------------------------------------------ in the store


@pytest.fixture
def planted(store: Store) -> dict[str, object]:
    """Four sock-puppets push captioned variants of two families within seconds, six times over
    four days; 30 organic accounts post the same families at random times; one organic account
    co-posts with the puppets twice by chance; one puppet co-posts three times with an organic
    account elsewhere; two organic accounts co-post once."""
    rng = random.Random(5)
    puppets = [("x", "p_x1"), ("x", "p_x2"), ("telegram", "p_tg"), ("facebook", "p_fb")]
    per_media: dict[str, list] = {}
    for burst in range(6):
        start = T0 + timedelta(days=burst * 0.7, minutes=rng.randint(0, 600))
        key = f"camp-{burst}"
        rows = [sighting(p, a, f"{key}-{a}", start + timedelta(seconds=rng.randint(0, 25)),
                         offset_hours=rng.choice([0, 2, -5]))
                for p, a in puppets]
        if burst < 2:  # the chance co-poster, twice (below the default 3 repetitions)
            rows.append(sighting("x", "organic_fast", f"{key}-fast",
                                 start + timedelta(seconds=20)))
        per_media[key] = rows
    for i in range(120):
        acct = f"org{rng.randint(0, 29)}"
        when = T0 + timedelta(seconds=rng.randint(0, 5 * 86400))
        per_media.setdefault(f"org-{i % 7}", []).append(
            sighting(rng.choice(["x", "telegram"]), acct, f"o{i}", when))
    # one puppet also co-posts three other memes with an organic account (a real but unrelated
    # link: it must not chain that account into the group)
    for k in range(3):
        when = T0 + timedelta(days=k, hours=20)
        per_media[f"side-{k}"] = [sighting("facebook", "p_fb", f"side{k}", when),
                                  sighting("facebook", "organic_side", f"os{k}",
                                           when + timedelta(seconds=10))]
    # two organic accounts co-post the same media once
    per_media["org-0"] += [sighting("x", "lurker1", "l1", T0 + timedelta(days=2)),
                           sighting("x", "lurker2", "l2", T0 + timedelta(days=2, seconds=5))]
    ids = {}
    # delivered out of order: newest media first
    for key in sorted(per_media, reverse=True):
        ids[key] = add(store, key, per_media[key])
    camp = [ids[f"camp-{b}"] for b in range(6)]
    fams, variants, _ = assign(store, {
        "shell-a": {f"va{b}": [camp[b]] for b in (0, 2, 4)} | {"va-org": [ids["org-0"]]},
        "shell-b": {f"vb{b}": [camp[b]] for b in (1, 3, 5)} | {"vb-org": [ids["org-1"]]},
    })
    return {"puppets": set(puppets), "families": fams, "variants": variants, "media": ids}


def _found(result) -> list[set[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    return [{(a.platform, a.handle) for a in g.accounts} for g in result.groups]


@pytest.mark.parametrize("level", ["family", "variant", "media"])
def test_finds_the_planted_group(store: Store, planted, level: str) -> None:  # type: ignore[no-untyped-def]
    result = find_coordination(store, CoordinationParams(level=level))
    assert result.window_seconds == DEFAULT_WINDOW_SECONDS
    assert result.params.min_repetitions == DEFAULT_MIN_REPETITIONS
    assert _found(result) == [planted["puppets"]]
    group = result.groups[0]
    assert group.platforms == ("facebook", "telegram", "x")
    assert group.density == 1.0 and group.score >= 3
    kinds = {item["kind"] for item, _n in group.items}
    assert kinds == ({"media"} if level == "media" else {level})
    if level == "family":
        assert {item["id"] for item, _n in group.items} == set(planted["families"].values())
    assert group.evidence and all(e.delay_seconds <= 60 for e in group.evidence)
    assert {e.a for e in group.evidence} | {e.b for e in group.evidence} == {
        a.id for a in group.accounts}
    assert all(e.url_a is None and e.media_a for e in group.evidence)
    # the chance co-poster has an edge to nobody (2 co-posts < 3), the lurkers neither
    handles = {a.handle for a in result.accounts.values()}
    assert "organic_fast" not in handles and "lurker1" not in handles
    # the puppet's outside link is an edge of the network, but not chained into the group
    assert "organic_side" in handles
    side = [e for e in result.edges if result.accounts[e.b].handle == "organic_side"
            or result.accounts[e.a].handle == "organic_side"]
    assert len(side) == 1 and side[0].group is None and side[0].repetitions == 3


def test_thresholds_decide(store: Store, planted) -> None:  # type: ignore[no-untyped-def]
    # two co-posts with all four puppets are enough at min_repetitions=2
    result = find_coordination(store, CoordinationParams(level="media", min_repetitions=2))
    assert _found(result) == [planted["puppets"] | {("x", "organic_fast")}]
    # without the neighbourhood rule the puppet's outside link chains organic_side in
    loose = find_coordination(store, CoordinationParams(level="media", min_overlap=0))
    assert _found(loose) == [planted["puppets"] | {("facebook", "organic_side")}]


def test_filters_window_and_auto(store: Store, planted) -> None:  # type: ignore[no-untyped-def]
    only_x = find_coordination(store, CoordinationParams(filters=SpreadFilter.parse("x")))
    assert _found(only_x) == []  # two accounts left: below the default group size
    pair = find_coordination(store, CoordinationParams(filters=SpreadFilter.parse("x"),
                                                       min_group_size=2))
    assert _found(pair) == [{("x", "p_x1"), ("x", "p_x2")}]
    tiny = find_coordination(store, CoordinationParams(window_seconds=0.5))
    assert tiny.groups == ()
    auto = find_coordination(store, CoordinationParams(window_seconds=None, level="media"))
    assert auto.window_estimated and 10 <= auto.window_seconds <= 600
    assert _found(auto) == [planted["puppets"]]
    late = find_coordination(store, CoordinationParams(
        filters=SpreadFilter.parse(since=(T0 + timedelta(days=30)).isoformat())))
    assert late.groups == () and late.edges == ()


def test_exports_parse(store: Store, planted) -> None:  # type: ignore[no-untyped-def]
    result = find_coordination(store, CoordinationParams(level="media", min_repetitions=2))
    n_nodes, n_edges = len(result.accounts), len(result.edges)
    assert n_edges >= 6

    graphml = ET.fromstring(network.to_graphml(result))
    ns = {"g": network.GRAPHML_NS}
    assert len(graphml.findall(".//g:node", ns)) == n_nodes
    edges = graphml.findall(".//g:edge", ns)
    assert len(edges) == n_edges
    keys = {k.get("id"): k.get("attr.name") for k in graphml.findall("g:key", ns)}
    assert "weight" in keys.values() and "platform" in keys.values()

    gexf = ET.fromstring(network.to_gexf(result))
    ns = {"x": network.GEXF_NS}
    assert gexf.get("version") == "1.3"
    nodes = gexf.findall(".//x:nodes/x:node", ns)
    assert len(nodes) == n_nodes and all(n.get("label") for n in nodes)
    gexf_edges = gexf.findall(".//x:edges/x:edge", ns)
    assert len(gexf_edges) == n_edges and all(float(e.get("weight") or 0) >= 2 for e in gexf_edges)
    node_ids = {n.get("id") for n in nodes}
    assert all(e.get("source") in node_ids and e.get("target") in node_ids for e in gexf_edges)

    rows = list(csv.DictReader(io.StringIO(network.to_edges_csv(result))))
    assert len(rows) == n_edges and {"Source", "Target", "Weight"} <= set(rows[0])
    grouped = [r for r in rows if r["group"] != "-1"]
    assert len(grouped) == 10  # the clique of the 4 puppets and the chance poster
    assert len(rows) == 11  # and the cut link to organic_side
    nodes_csv = list(csv.DictReader(io.StringIO(network.to_nodes_csv(result))))
    assert len(nodes_csv) == n_nodes
    assert result.to_dict(evidence=False)["groups"][0].get("evidence") is None


@pytest.mark.parametrize("level", ["family", "variant", "media"])
def test_stored_pairs_answer_like_the_live_query(store: Store, planted, level: str) -> None:  # type: ignore[no-untyped-def]
    """The stored co-posting pairs (kept current through stale items) give the same edges and
    evidence as finding the pairs from the sightings at query time, for any window they cover,
    and follow sightings added and memberships changed after a query."""
    from memetrack.store import coordination as q

    def both(window: float, filters: SpreadFilter | None = None):  # type: ignore[no-untyped-def]
        out = []
        for stored in (True, False):
            with q.co_posts(store, level, window, filters or SpreadFilter(), stored) as found:
                assert found.stored is stored
                edges = [sorted(found.edges(n), key=lambda e: (e.lo, e.hi)) for n in (1, 2, 3)]
                accounts = sorted({e.lo for e in edges[0]} | {e.hi for e in edges[0]})
                events = found.events(accounts, 10_000)
            out.append((edges, sorted(events, key=lambda e: (e.s_lo, e.s_hi))))
        return out

    for window in (5.0, 30.0, 60.0, 120.0):
        stored, live = both(window)
        assert stored == live and stored[0][0]
    since = SpreadFilter.parse(since=(T0 + timedelta(days=1)).isoformat())
    stored, live = both(60.0, since)
    assert stored == live
    with pytest.raises(BadInput):
        with q.co_posts(store, level, 600.0, SpreadFilter(), stored=True):
            pass
    # a late delivery: two new accounts co-post three times on the campaign's first media
    first = planted["media"]["camp-0"]
    sha = store.get_media(first).sha256
    late = [sighting("x", name, f"late-{name}-{k}", T0 + timedelta(days=9, minutes=k, seconds=s))
            for k in range(3) for name, s in (("late1", 0), ("late2", 4))]
    store.add_sightings(sha, late)
    stored, live = both(60.0)
    assert stored == live
    result = find_coordination(store, CoordinationParams(level=level, min_group_size=2))
    assert {("x", "late1"), ("x", "late2")} in _found(result)
    # a membership change: the family's second shell merged into the first
    fams = planted["families"]
    store.families.merge(fams["shell-a"], fams["shell-b"])
    stored, live = both(60.0)
    assert stored == live
    # a rebuild forgets the memberships: every media stands for itself again
    store.families.clear()
    stored, live = both(60.0)
    assert stored == live
