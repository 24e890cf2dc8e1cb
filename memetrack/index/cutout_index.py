"""FAISS index over the local descriptors of registered cut-outs, voting with distinctive matches.

Unlike :class:`~memetrack.index.descriptors.DescriptorIndex` (every near neighbour votes), a
query descriptor here votes only when its nearest indexed descriptor is **distinctive**: within
``max_distance`` bits and clearly nearer (``ratio``) than the nearest descriptor of any *other
group*. A group is one cut-out; its references are its orientations (plain and mirrored), which
share most descriptors of a symmetric picture and must not cancel each other's votes.

Why: a query is a whole image (background, captions, other art) of which a pasted cut-out covers
4-36 %; with plain nearest-neighbour voting, background descriptors give every cut-out hundreds of
chance votes and bury the right one. Distinctive votes keep the right one on top.

Small collections are searched exactly (``IndexBinaryFlat``); from ``ivf_min_rows`` rows on, an
inverted file (``IndexBinaryIVF``, about ``lists_per_sqrt * sqrt(rows)`` lists, trained on a
seeded sample, probing ``nprobe`` lists per query descriptor) keeps a query with 500 registered
cut-outs fast.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import faiss
import numpy as np

DESCRIPTOR_BYTES = 32
BITS = DESCRIPTOR_BYTES * 8
IVF_TRAIN_ROWS = 50_000
"""Rows sampled (seeded) to train the inverted file's coarse quantizer."""
IVF_RETRAIN_GROWTH = 2.0
"""Retrain when the rows have grown this much since training."""
NO_NEIGHBOUR = BITS + 1


@dataclass(frozen=True, eq=False)
class Vote:
    """A reference with ``votes`` distinctive query descriptors; ``pairs`` (K x 2 int32) are
    ``(query index, reference keypoint index)`` of every near neighbour (voting or not)."""

    ref_id: int
    group: int
    votes: int
    pairs: np.ndarray


class CutoutIndex:
    """Descriptors of references (``ref_id``) that belong to groups (``group``)."""

    def __init__(self, *, ivf_min_rows: int = 20_000, nprobe: int = 4,
                 lists_per_sqrt: float = 2.0, seed: int = 0) -> None:
        self.ivf_min_rows = ivf_min_rows
        self.nprobe = nprobe
        self.lists_per_sqrt = lists_per_sqrt
        self.seed = seed
        self._groups: dict[int, int] = {}
        self._desc = np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
        self._owner = np.zeros(0, np.int64)
        self._owner_group = np.zeros(0, np.int64)
        self._kp = np.zeros(0, np.int32)
        self._index: faiss.IndexBinary | None = None
        self._trained_rows = 0
        self._dirty = True
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._groups)

    @property
    def n_rows(self) -> int:
        return int(self._owner.size)

    def add(self, ref_id: int, group: int, descriptors: np.ndarray) -> None:
        """Index the descriptors (N x 32 uint8) of reference ``ref_id`` in ``group``."""
        desc = np.ascontiguousarray(descriptors, dtype=np.uint8).reshape(-1, DESCRIPTOR_BYTES)
        with self._lock:
            if ref_id in self._groups:
                self.remove(ref_id)
            self._groups[ref_id] = group
            start = self.n_rows
            self._desc = np.concatenate([self._desc, desc])
            self._owner = np.concatenate([self._owner, np.full(len(desc), ref_id, np.int64)])
            self._owner_group = np.concatenate([self._owner_group,
                                                np.full(len(desc), group, np.int64)])
            self._kp = np.concatenate([self._kp, np.arange(len(desc), dtype=np.int32)])
            if self._index is None or self._dirty or not len(desc):
                return
            ivf = isinstance(self._index, faiss.IndexBinaryIVF)
            if (self.n_rows >= self.ivf_min_rows) != ivf or (
                    ivf and self.n_rows > IVF_RETRAIN_GROWTH * self._trained_rows):
                self._dirty = True
            elif ivf:
                self._index.add_with_ids(self._desc[start:],
                                         np.arange(start, self.n_rows, dtype=np.int64))
            else:
                self._index.add(self._desc[start:])

    def remove(self, ref_id: int) -> None:
        with self._lock:
            if self._groups.pop(ref_id, None) is None:
                return
            keep = self._owner != ref_id
            self._desc, self._owner = self._desc[keep], self._owner[keep]
            self._owner_group, self._kp = self._owner_group[keep], self._kp[keep]
            self._dirty = True

    def build(self) -> None:
        with self._lock:
            n = self.n_rows
            if n >= self.ivf_min_rows:
                nlist = 2 ** int(round(math.log2(max(64.0, self.lists_per_sqrt * math.sqrt(n)))))
                index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(BITS), BITS, nlist)
                rng = np.random.default_rng(self.seed)
                take = np.sort(rng.choice(n, size=min(n, IVF_TRAIN_ROWS), replace=False))
                index.train(self._desc[take])
                index.nprobe = self.nprobe
                if n:
                    index.add_with_ids(self._desc, np.arange(n, dtype=np.int64))
                self._trained_rows = n
            else:
                index = faiss.IndexBinaryFlat(BITS)
                if n:
                    index.add(self._desc)
                self._trained_rows = 0
            self._index = index
            self._dirty = False

    def match(self, descriptors: np.ndarray, *, k: int = 4, max_distance: int = 56,
              vote_distance: int | None = None, ratio: float = 0.8,
              ties: bool = False) -> Matches:
        """Every pair of the query descriptors with indexed ones, and which of them vote.

        For each query descriptor, its ``k`` nearest indexed descriptors are looked up. The
        nearest one names a group; it **votes** for that group's references among the ``k`` when
        within ``vote_distance`` (default ``max_distance``) and nearer than ``ratio`` times the
        nearest descriptor of another group (if any is among the ``k``). Every neighbour within
        ``max_distance`` gives its reference a **pair** (query keypoint, nearest keypoint of
        that reference) for geometric verification, voting or not.

        With ``ties``, a descriptor about as near to two groups (the ratio test fails between
        them) that are both clearly nearer than any third group votes for both: two
        near-identical references (two frames of one animation) would otherwise take every
        vote from each other.
        """
        vote_distance = max_distance if vote_distance is None else vote_distance
        desc = np.ascontiguousarray(descriptors, dtype=np.uint8).reshape(-1, DESCRIPTOR_BYTES)
        with self._lock:
            if self._dirty or self._index is None:
                self.build()
            if not len(desc) or not self.n_rows:
                return Matches.empty()
            assert self._index is not None
            dist, rows = self._index.search(desc, k)
            owner, group, kp = self._owner, self._owner_group, self._kp
        valid = rows >= 0
        safe = np.where(valid, rows, 0)
        g = np.where(valid, group[safe], -1)
        d = np.where(valid, dist, NO_NEIGHBOUR)
        first_group = g[:, :1]
        others = np.where((g != first_group) & valid, d, NO_NEIGHBOUR)
        other = others.min(axis=1)
        clear = d[:, 0] < ratio * other
        good = (d[:, 0] <= vote_distance) & clear & valid[:, 0]
        tie = np.zeros(len(g), bool)
        second_group = np.full(len(g), -1, np.int64)  # no group: only ties vote for it
        if ties:
            second_group = g[np.arange(len(g)), others.argmin(axis=1)]
            third = np.where((g != first_group) & (g != second_group[:, None]) & valid, d,
                             NO_NEIGHBOUR).min(axis=1)
            tie = (~clear & valid[:, 0] & (other <= vote_distance)
                   & (d[:, 0] <= vote_distance) & (other < ratio * third))
        near = valid & (d <= max_distance)
        q_idx, col = np.nonzero(near)
        if not q_idx.size:
            return Matches.empty()
        r = safe[q_idx, col]
        ref, kpt, grp = owner[r], kp[r], group[r]
        votes_for = ((good[q_idx] | tie[q_idx]) & (grp == first_group[q_idx, 0])) | (
            tie[q_idx] & (grp == second_group[q_idx]))
        # One pair per (reference, query keypoint): the nearest (columns are sorted by distance).
        order = np.lexsort((col, q_idx, ref))
        ref, q_idx, kpt, grp = ref[order], q_idx[order], kpt[order], grp[order]
        votes_for = votes_for[order]
        first = np.ones(ref.size, bool)
        first[1:] = (ref[1:] != ref[:-1]) | (q_idx[1:] != q_idx[:-1])
        return Matches(ref[first], grp[first], q_idx[first], kpt[first], votes_for[first])


@dataclass(frozen=True, eq=False)
class Matches:
    """Pairs of query descriptors with indexed ones, one per (reference, query keypoint), sorted
    by reference: the reference, its group, the query index, the reference's keypoint index and
    whether the pair votes."""

    ref: np.ndarray
    group: np.ndarray
    query: np.ndarray
    keypoint: np.ndarray
    votes: np.ndarray

    @classmethod
    def empty(cls) -> Matches:
        none = np.zeros(0, np.int64)
        return cls(none, none, none, none.astype(np.int32), none.astype(bool))

    def candidates(self, max_candidates: int | None = None) -> list[Vote]:
        """References with at least one vote, most votes first (then most pairs)."""
        if not self.ref.size:
            return []
        refs, starts, counts = np.unique(self.ref, return_index=True, return_counts=True)
        votes = np.add.reduceat(self.votes.astype(np.int64), starts)
        best = np.lexsort((-counts, -votes))
        best = best[votes[best] > 0]
        if max_candidates is not None:
            best = best[:max_candidates]
        out = []
        for i in best:
            s, c = starts[i], counts[i]
            pairs = np.stack([self.query[s:s + c], self.keypoint[s:s + c]],
                             axis=1).astype(np.int32)
            out.append(Vote(int(refs[i]), int(self.group[s]), int(votes[i]), pairs))
        return out
