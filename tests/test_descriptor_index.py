"""DescriptorIndex against brute-force Hamming search on seeded data."""

from __future__ import annotations

import numpy as np
import pytest

from memetrack.features import LocalFeatures
from memetrack.index.descriptors import Candidate, DescriptorIndex

N_REFS = 30
PER_REF = 60


def feats(desc: np.ndarray) -> LocalFeatures:
    pts = np.zeros((len(desc), 2), np.float32)
    return LocalFeatures("orb", 1, 100, 100, pts, desc)


def random_refs(seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {100 + i: rng.integers(0, 256, (PER_REF, 32), dtype=np.uint8) for i in range(N_REFS)}


def noisy_copy(desc: np.ndarray, flips: int, seed: int) -> np.ndarray:
    """``desc`` with ``flips`` random bits flipped per row."""
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(desc, axis=1)
    for row in bits:
        row[rng.choice(256, flips, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.unpackbits(a[:, None, :] ^ b[None, :, :], axis=2).sum(axis=2)


def brute_force_votes(refs: dict[int, np.ndarray], query: np.ndarray, k: int,
                      max_distance: int) -> dict[int, set[tuple[int, int]]]:
    """Reference -> {(query_idx, ref_idx)} from an exact scan (ties broken like FAISS: by row)."""
    owners = np.concatenate([np.full(len(d), r) for r, d in refs.items()])
    kps = np.concatenate([np.arange(len(d)) for d in refs.values()])
    allrows = np.concatenate(list(refs.values()))
    dist = hamming(query, allrows)
    out: dict[int, dict[int, tuple[int, int]]] = {}
    for qi in range(len(query)):
        order = np.lexsort((np.arange(len(allrows)), dist[qi]))[:k]
        for row in order:
            if dist[qi, row] > max_distance:
                continue
            ref = int(owners[row])
            best = out.setdefault(ref, {}).get(qi)
            if best is None or dist[qi, row] < best[0]:
                out[ref][qi] = (int(dist[qi, row]), int(kps[row]))
    return {r: {(q, kp) for q, (_d, kp) in pairs.items()} for r, pairs in out.items()}


def as_sets(cands: list[Candidate]) -> dict[int, set[tuple[int, int]]]:
    return {c.ref_id: {(int(q), int(r)) for q, r in c.pairs} for c in cands}


@pytest.mark.parametrize("ivf", [False, True])
def test_search_matches_brute_force(ivf: bool) -> None:
    refs = random_refs()
    index = DescriptorIndex(ivf_min_rows=100 if ivf else 10**9, nprobe=1 << 20)
    for r, d in refs.items():
        index.add(r, feats(d))
    # Queries: noisy copies of two references' descriptors plus random ones.
    query = np.concatenate([noisy_copy(refs[103][:40], 20, 1), noisy_copy(refs[117][:25], 30, 2),
                            np.random.default_rng(3).integers(0, 256, (30, 32), dtype=np.uint8)])
    cands = index.search(feats(query), k=3, max_distance=70)
    expected = brute_force_votes(refs, query, k=3, max_distance=70)
    assert as_sets(cands) == expected
    assert [c.ref_id for c in cands[:2]] == [103, 117]
    assert cands[0].votes == 40 and cands[1].votes == 25
    votes = [c.votes for c in cands]
    assert votes == sorted(votes, reverse=True)


def test_min_votes_and_max_candidates() -> None:
    refs = random_refs(1)
    index = DescriptorIndex()
    for r, d in refs.items():
        index.add(r, feats(d))
    query = np.concatenate([noisy_copy(refs[105][:30], 10, 4), noisy_copy(refs[106][:5], 10, 5)])
    cands = index.search(feats(query), k=1, max_distance=40, min_votes=6)
    assert [c.ref_id for c in cands] == [105]
    assert len(index.search(feats(query), k=1, max_distance=40, max_candidates=1)) == 1


def test_remove_and_replace() -> None:
    refs = random_refs(2)
    index = DescriptorIndex()
    for r, d in refs.items():
        index.add(r, feats(d))
    assert len(index) == N_REFS and index.n_rows == N_REFS * PER_REF
    query = feats(refs[110][:20])
    assert index.search(query, k=1, max_distance=0)[0].ref_id == 110
    index.remove(110)
    assert 110 not in index and len(index) == N_REFS - 1
    assert all(c.ref_id != 110 for c in index.search(query, k=1, max_distance=0))
    index.remove(110)  # no-op
    # Re-adding under another id, then replacing that id's descriptors.
    index.add(7, feats(refs[110]))
    assert index.search(query, k=1, max_distance=0)[0].ref_id == 7
    fresh = np.random.default_rng(9).integers(0, 256, (PER_REF, 32), dtype=np.uint8)
    index.add(7, feats(fresh))
    assert index.n_rows == N_REFS * PER_REF
    assert index.search(feats(fresh[:5]), k=1, max_distance=0)[0].ref_id == 7
    assert all(c.ref_id != 7 for c in index.search(query, k=1, max_distance=0))


def test_incremental_add_after_build() -> None:
    refs = random_refs(3)
    index = DescriptorIndex(ivf_min_rows=600, nprobe=1 << 20)
    items = list(refs.items())
    for r, d in items[:15]:
        index.add(r, feats(d))
    index.build()
    for r, d in items[15:]:
        index.add(r, feats(d))
    query = noisy_copy(refs[items[-1][0]][:20], 8, 6)
    assert as_sets(index.search(feats(query), k=2, max_distance=60)) == brute_force_votes(
        refs, query, k=2, max_distance=60)


@pytest.mark.parametrize("ivf", [False, True])
def test_serialize_round_trip(ivf: bool) -> None:
    refs = random_refs(4)
    index = DescriptorIndex(ivf_min_rows=100 if ivf else 10**9, nprobe=1 << 20)
    for r, d in refs.items():
        index.add(r, feats(d))
    index.add(999, feats(np.zeros((0, 32), np.uint8)))  # a reference without descriptors
    query = feats(noisy_copy(refs[120][:30], 15, 7))
    before = as_sets(index.search(query, k=2, max_distance=64))
    back = DescriptorIndex.deserialize(index.serialize())
    assert len(back) == len(index) and 999 in back and back.n_rows == index.n_rows
    assert as_sets(back.search(query, k=2, max_distance=64)) == before
    back.remove(120)
    assert 120 not in as_sets(back.search(query, k=2, max_distance=64))


def test_empty_index_and_empty_query() -> None:
    index = DescriptorIndex()
    assert index.search(feats(np.zeros((3, 32), np.uint8))) == []
    index.add(1, feats(np.zeros((3, 32), np.uint8)))
    assert index.search(feats(np.zeros((0, 32), np.uint8))) == []
    assert DescriptorIndex.deserialize(DescriptorIndex().serialize()).n_rows == 0


def test_remove_from_inverted_file_matches_brute_force() -> None:
    refs = random_refs(5)
    index = DescriptorIndex(ivf_min_rows=100, nprobe=1 << 20)
    for r, d in refs.items():
        index.add(r, feats(d))
    query = np.concatenate([noisy_copy(refs[104][:30], 20, 8), noisy_copy(refs[108][:30], 20, 9)])
    assert {c.ref_id for c in index.search(feats(query), k=2, max_distance=70)} >= {104, 108}
    index.remove(104)
    del refs[104]
    assert as_sets(index.search(feats(query), k=2, max_distance=70)) == brute_force_votes(
        refs, query, k=2, max_distance=70)
