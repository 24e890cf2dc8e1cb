"""Coordinated posting: groups of accounts that repeatedly post the same item within seconds.

The analysis follows CooRnet's idea (co-shares of the same item within a short *coordination
interval*, repeated), adapted to memes:

1. **Item.** The family of a media (``level="family"``, default), its variant (``"variant"``) or
   the exact media (``"media"``). A media not assigned to a family or variant yet stands for
   itself, so the analysis works before (and while) families are built.
2. **Co-post.** Two sightings of the same item by two different accounts at most ``window``
   seconds apart. Default :data:`DEFAULT_WINDOW_SECONDS` (60 s; 10-60 s is what coordination
   studies use). Each sighting is compared with the next few sightings of its item (see
   ``memetrack.store.coordination.MAX_NEIGHBOURS``), which bounds the work in viral minutes.
   ``window=None`` ("auto") estimates the window from the data like CooRnet: for every item
   seen by two or more accounts take the delay from its first to its second account; keep the
   fastest :data:`AUTO_FASTEST_SHARE` of items; the window is the :data:`AUTO_QUANTILE` quantile
   of their delays, clamped to [:data:`AUTO_MIN_WINDOW`, :data:`AUTO_MAX_WINDOW`].
3. **Edge.** An account pair is linked when each side has at least ``min_repetitions`` distinct
   sightings co-posted with the other (default :data:`DEFAULT_MIN_REPETITIONS` = 3). Counting
   distinct sightings on *both* sides stops one account's burst of posts from turning a single
   coincidence into many.
4. **Groups.** Connected components of the linked accounts, after dropping every edge whose two
   ends share too few neighbours (:func:`neighbourhood_overlap` below ``min_overlap``, default
   :data:`DEFAULT_MIN_OVERLAP`). Sock-puppets of one campaign all co-post with each other, so
   their edges share most neighbours; a chance link from an organic account to one campaign
   member, a path of chance links between organic accounts, or a single link between two
   campaigns shares none and is cut, so unrelated accounts are not chained together. Groups
   smaller than ``min_group_size`` (default :data:`DEFAULT_MIN_GROUP_SIZE` = 3) are not reported:
   with thousands of accounts, some pair of busy organic accounts reaches three chance co-posts,
   while a chance triangle is rare (their links stay in the exported network).
5. **Score.** ``density * mean repetitions``: the mean number of co-posts per possible pair of
   the group's accounts. Groups are reported best first, each with its accounts, platforms,
   shared items and the co-posting events as evidence.

The SQL lives in :mod:`memetrack.store.coordination` (which keeps the co-posting pairs stored,
so a query with a window up to 120 s aggregates stored pairs instead of reading every
sighting); the functions here are pure except :func:`find_coordination`, which runs the
queries (in one transaction) and assembles the result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from memetrack.errors import BadInput
from memetrack.graph import components
from memetrack.spread import SpreadFilter

if TYPE_CHECKING:
    from memetrack.store import Store

DEFAULT_WINDOW_SECONDS = 60.0
DEFAULT_MIN_REPETITIONS = 3
DEFAULT_LEVEL = "family"
DEFAULT_MIN_OVERLAP = 0.3  # strictness: 0 = plain connected components, 1 = cliques only
DEFAULT_MIN_GROUP_SIZE = 3  # a lone pair of busy accounts meets by chance now and then
AUTO_FASTEST_SHARE = 0.1  # CooRnet's q: the fastest 10 % of items
AUTO_QUANTILE = 0.5  # CooRnet's p: the median of those
AUTO_MIN_WINDOW = 10.0
AUTO_MAX_WINDOW = 600.0
MAX_WINDOW = 86400.0
MAX_EVIDENCE_PER_GROUP = 200
MAX_EVIDENCE_ROWS = 50_000
LEVELS = ("family", "variant", "media")


# ----------------------------------------------------------------------------- pure parts


def estimate_window(first_share_delays: Sequence[float], fastest: float = AUTO_FASTEST_SHARE,
                    quantile: float = AUTO_QUANTILE, lower: float = AUTO_MIN_WINDOW,
                    upper: float = AUTO_MAX_WINDOW) -> float:
    """CooRnet-style coordination interval from per-item first-to-second-account delays."""
    if not 0 < fastest <= 1 or not 0 <= quantile <= 1:
        raise BadInput("fastest must be in (0, 1] and quantile in [0, 1]")
    delays = sorted(d for d in first_share_delays if d >= 0)
    if not delays:
        return DEFAULT_WINDOW_SECONDS
    quick = delays[:max(1, round(len(delays) * fastest))]
    position = quantile * (len(quick) - 1)
    low = int(position)
    high = min(low + 1, len(quick) - 1)
    value = quick[low] + (quick[high] - quick[low]) * (position - low)
    return float(min(upper, max(lower, value)))


def neighbourhood_overlap(adjacency: dict[int, set[int]], u: int, v: int) -> float:
    """Share of the other neighbours of ``u`` and ``v`` they have in common (1 for a lone pair)."""
    others = (adjacency[u] | adjacency[v]) - {u, v}
    if not others:
        return 1.0
    return len((adjacency[u] & adjacency[v]) - {u, v}) / len(others)


def group_accounts(edges: Iterable[tuple[int, int]],
                   min_overlap: float = DEFAULT_MIN_OVERLAP) -> list[frozenset[int]]:
    """Groups of linked accounts: components after cutting edges with low neighbourhood overlap.

    Deterministic: groups are sorted by size (largest first), then by their smallest account.
    """
    pairs = [(a, b) for a, b in edges if a != b]
    adjacency: dict[int, set[int]] = defaultdict(set)
    for a, b in pairs:
        adjacency[a].add(b)
        adjacency[b].add(a)
    kept = [(a, b) for a, b in pairs if neighbourhood_overlap(adjacency, a, b) >= min_overlap]
    groups = [frozenset(m) for m in components(kept) if len(m) >= 2]
    return sorted(groups, key=lambda g: (-len(g), min(g)))


def group_score(size: int, repetitions: Sequence[int]) -> tuple[float, float]:
    """(score, density): density = edges / possible pairs; score = density * mean repetitions."""
    possible = size * (size - 1) / 2
    if possible <= 0 or not repetitions:
        return 0.0, 0.0
    density = len(repetitions) / possible
    return density * (sum(repetitions) / len(repetitions)), density


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CoordinationParams:
    window_seconds: float | None = DEFAULT_WINDOW_SECONDS  # None: estimate from the data
    min_repetitions: int = DEFAULT_MIN_REPETITIONS
    level: str = DEFAULT_LEVEL
    min_overlap: float = DEFAULT_MIN_OVERLAP
    filters: SpreadFilter = field(default_factory=SpreadFilter)
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise BadInput(f"unknown coordination level {self.level!r}; use one of "
                           f"{', '.join(LEVELS)}", level=self.level)
        if self.window_seconds is not None and not 0 < self.window_seconds <= MAX_WINDOW:
            raise BadInput(f"window must be between 0 and {MAX_WINDOW:.0f} seconds",
                           window=self.window_seconds)
        if self.min_repetitions < 1:
            raise BadInput("min_repetitions must be at least 1")
        if not 0 <= self.min_overlap <= 1:
            raise BadInput("min_overlap must be between 0 and 1")
        if self.min_group_size < 2:
            raise BadInput("min_group_size must be at least 2")

    @classmethod
    def parse(cls, window: str | float | None = None, **kwargs: Any) -> CoordinationParams:
        """``window``: seconds, or ``"auto"``; ``None`` means the default."""
        if window is None or window == "":
            seconds: float | None = DEFAULT_WINDOW_SECONDS
        elif isinstance(window, str) and window.strip().lower() == "auto":
            seconds = None
        else:
            try:
                seconds = float(window)
            except ValueError:
                raise BadInput(f"window must be a number of seconds or 'auto', not {window!r}",
                               window=window) from None
        return cls(window_seconds=seconds, **kwargs)


@dataclass(frozen=True)
class Account:
    id: int
    platform: str
    handle: str
    sightings: int
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.platform}/@{self.handle}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "platform": self.platform, "handle": self.handle,
                "sightings": self.sightings, "first_at": _iso(self.first_at),
                "last_at": _iso(self.last_at)}


def item_ref(level: str, key: int) -> dict[str, Any]:
    """An item key as the caller reads it: ``{"kind": "family", "id": 3}`` or the media."""
    if key < 0:
        return {"kind": "media", "id": -key}
    return {"kind": level, "id": key}


@dataclass(frozen=True)
class Edge:
    a: int
    b: int
    repetitions: int
    pairs: int
    items: int
    first_at: datetime
    last_at: datetime
    mean_delay_seconds: float
    group: int | None = None  # index into CoordinationResult.groups, None: cut or ungrouped

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "repetitions": self.repetitions, "pairs": self.pairs,
                "items": self.items, "first_at": _iso(self.first_at),
                "last_at": _iso(self.last_at),
                "mean_delay_seconds": round(self.mean_delay_seconds, 3), "group": self.group}


@dataclass(frozen=True)
class CoPost:
    """Evidence: two accounts posted the same item ``delay_seconds`` apart."""

    item: dict[str, Any]
    a: int
    b: int
    sighting_a: int
    sighting_b: int
    at_a: datetime
    at_b: datetime
    media_a: int | None = None
    media_b: int | None = None
    url_a: str | None = None
    url_b: str | None = None

    @property
    def delay_seconds(self) -> float:
        return abs((self.at_b - self.at_a).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "a": self.a, "b": self.b, "sighting_a": self.sighting_a,
                "sighting_b": self.sighting_b, "at_a": _iso(self.at_a), "at_b": _iso(self.at_b),
                "delay_seconds": round(self.delay_seconds, 3), "media_a": self.media_a,
                "media_b": self.media_b, "url_a": self.url_a, "url_b": self.url_b}


@dataclass(frozen=True)
class Group:
    id: int
    accounts: tuple[Account, ...]
    platforms: tuple[str, ...]
    items: tuple[tuple[dict[str, Any], int], ...]  # (item, co-posting events on it)
    edges: int
    density: float
    score: float
    first_at: datetime | None
    last_at: datetime | None
    evidence: tuple[CoPost, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": round(self.score, 4), "density": round(self.density, 4),
                "edges": self.edges, "accounts": [a.to_dict() for a in self.accounts],
                "platforms": list(self.platforms),
                "items": [item | {"events": n} for item, n in self.items],
                "first_at": _iso(self.first_at), "last_at": _iso(self.last_at),
                "evidence": [e.to_dict() for e in self.evidence]}


@dataclass(frozen=True)
class CoordinationResult:
    params: CoordinationParams
    window_seconds: float
    window_estimated: bool
    accounts: dict[int, Account]  # every account with at least one edge
    edges: tuple[Edge, ...]
    groups: tuple[Group, ...]

    def to_dict(self, evidence: bool = True) -> dict[str, Any]:
        groups = [g.to_dict() for g in self.groups]
        if not evidence:
            for g in groups:
                g.pop("evidence")
        return {
            "level": self.params.level, "window_seconds": self.window_seconds,
            "window_estimated": self.window_estimated,
            "min_repetitions": self.params.min_repetitions,
            "min_overlap": self.params.min_overlap,
            "min_group_size": self.params.min_group_size,
            "filters": self.params.filters.to_dict(),
            "groups": groups,
            "network": {"accounts": [a.to_dict() for a in self.accounts.values()],
                        "edges": [e.to_dict() for e in self.edges]},
        }

    def grouped_accounts(self) -> set[int]:
        return {a.id for g in self.groups for a in g.accounts}


def format_result(result: CoordinationResult) -> str:
    lines = [f"coordination at {result.params.level} level: window "
             f"{result.window_seconds:.0f} s{' (estimated)' if result.window_estimated else ''}, "
             f"min repetitions {result.params.min_repetitions}; {len(result.edges)} linked "
             f"account pairs, {len(result.groups)} group(s)"]
    for g in result.groups:
        lines.append(f"group {g.id}: {len(g.accounts)} accounts on {', '.join(g.platforms)}  "
                     f"score {g.score:.2f}  density {g.density:.2f}  "
                     f"{_iso(g.first_at)} .. {_iso(g.last_at)}")
        lines.append("  accounts: " + ", ".join(a.label for a in g.accounts))
        lines.append("  items: " + ", ".join(f"{i['kind']} {i['id']} ({n})" for i, n in g.items[:10]))
        for e in g.evidence[:5]:
            names = {a.id: a.label for a in g.accounts}
            lines.append(f"  e.g. {_iso(e.at_a)} {names.get(e.a, e.a)} and {names.get(e.b, e.b)} "
                         f"{e.delay_seconds:.0f} s apart on {e.item['kind']} {e.item['id']}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the analysis


def find_coordination(store: Store, params: CoordinationParams | None = None) -> CoordinationResult:
    """Run the analysis over the store (all SQL aggregated; see the module docs)."""
    from memetrack.store import coordination as q

    params = params or CoordinationParams()
    estimated = params.window_seconds is None
    window = (estimate_window(q.first_share_delays(store, params.level, params.filters))
              if params.window_seconds is None else params.window_seconds)
    with q.co_posts(store, params.level, window, params.filters) as found:
        rows = found.edges(params.min_repetitions)
        grouped = _grouped(rows, params)
        events = found.events(sorted(grouped), MAX_EVIDENCE_ROWS) if grouped else []
    groups_ids = [g for g in group_accounts(((r.lo, r.hi) for r in rows), params.min_overlap)
                  if len(g) >= params.min_group_size]
    group_of = {acc: i for i, g in enumerate(groups_ids) for acc in g}
    info = q.accounts_by_id(store, sorted({r.lo for r in rows} | {r.hi for r in rows}))
    accounts = {aid: Account(aid, i.platform, i.handle, i.sightings, i.first_at, i.last_at)
                for aid, i in sorted(info.items())}
    edges = []
    for r in sorted(rows, key=lambda r: (r.lo, r.hi)):
        g = group_of.get(r.lo)
        edges.append(Edge(r.lo, r.hi, r.repetitions, r.pairs, r.items, _at(r.first_t),
                          _at(r.last_t), r.mean_delay,
                          g if g is not None and group_of.get(r.hi) == g else None))

    per_group: dict[int, list[q.PairRow]] = defaultdict(list)
    item_counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for ev in events:
        g = group_of.get(ev.lo)
        if g is None or group_of.get(ev.hi) != g:
            continue
        item_counts[g][ev.item] += 1
        if len(per_group[g]) < MAX_EVIDENCE_PER_GROUP:
            per_group[g].append(ev)
    refs = q.sighting_refs(store, sorted({s for evs in per_group.values() for ev in evs
                                          for s in (ev.s_lo, ev.s_hi)}))
    built = []
    for index, ids in enumerate(groups_ids):
        reps = [e.repetitions for e in edges if e.group == index]
        score, density = group_score(len(ids), reps)
        group_edges = [e for e in edges if e.group == index]
        evidence = tuple(
            CoPost(item_ref(params.level, ev.item), ev.lo, ev.hi, ev.s_lo, ev.s_hi,
                   _at(ev.t_lo), _at(ev.t_hi), refs.get(ev.s_lo, (None,))[0],
                   refs.get(ev.s_hi, (None,))[0], _url(refs.get(ev.s_lo)),
                   _url(refs.get(ev.s_hi)))
            for ev in per_group.get(index, [])
        )
        items = tuple(sorted(((item_ref(params.level, k), n)
                              for k, n in item_counts.get(index, {}).items()),
                             key=lambda kv: (-kv[1], kv[0]["kind"], kv[0]["id"])))
        members_sorted = tuple(sorted((accounts[a] for a in ids),
                                      key=lambda a: (a.platform, a.handle)))
        built.append(Group(
            index, members_sorted, tuple(sorted({a.platform for a in members_sorted})), items,
            len(reps), density, score,
            min((e.first_at for e in group_edges), default=None),
            max((e.last_at for e in group_edges), default=None), evidence))
    order = sorted(built, key=lambda g: (-g.score, -len(g.accounts), g.id))
    renumber = {g.id: i for i, g in enumerate(order)}
    groups = tuple(_renumbered(g, renumber[g.id]) for g in order)
    edges = [e if e.group is None else _edge_group(e, renumber[e.group]) for e in edges]
    return CoordinationResult(params, window, estimated, accounts, tuple(edges), groups)


def _grouped(rows: Sequence[Any], params: CoordinationParams) -> set[int]:
    """The accounts of the groups the edges form (for the evidence query)."""
    return {acc for g in group_accounts(((r.lo, r.hi) for r in rows), params.min_overlap)
            if len(g) >= params.min_group_size for acc in g}


def _renumbered(g: Group, new_id: int) -> Group:
    return Group(new_id, g.accounts, g.platforms, g.items, g.edges, g.density, g.score,
                 g.first_at, g.last_at, g.evidence)


def _edge_group(e: Edge, group: int) -> Edge:
    return Edge(e.a, e.b, e.repetitions, e.pairs, e.items, e.first_at, e.last_at,
                e.mean_delay_seconds, group)


def _url(ref: tuple[int, str | None, str | None] | None) -> str | None:
    return ref[2] if ref else None


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()
