"""The FAISS hash index against brute-force Hamming distance, and its persistence."""

from pathlib import Path

import numpy as np
import pytest

from memetrack.hashing import PDQ, PHASH, PerceptualHash
from memetrack.index.hashes import HashIndex
from memetrack.store.store import HashBatch

POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def random_codes(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)


@pytest.mark.parametrize("algo", [PDQ, PHASH])
def test_search_equals_brute_force(algo) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    codes = random_codes(rng, 500, algo.nbytes)
    # plant near neighbours: copies of code 7 with a few flipped bits
    for j, flips in enumerate((1, 3, 5)):
        codes[100 + j] = codes[7]
        codes[100 + j, :flips] ^= 1
    ids = [1000 + i for i in range(len(codes))]
    index = HashIndex(algo)
    index.add(ids, [c.tobytes() for c in codes])
    for qi in (7, 42, 300):
        query = PerceptualHash(algo.name, algo.version, codes[qi].tobytes())
        hits = index.search([query], k=10)
        brute = POPCOUNT[np.bitwise_xor(codes, codes[qi])].sum(axis=1)
        expected = sorted(zip(brute.tolist(), ids, strict=True))[:10]
        assert [(h.distance, h.media_id) for h in hits] == expected


def test_threshold_and_multi_query_keep_the_closest_per_media() -> None:
    rng = np.random.default_rng(1)
    codes = random_codes(rng, 50, 32)
    index = HashIndex(PDQ)
    index.add(list(range(50)), [c.tobytes() for c in codes])
    q1 = PerceptualHash("pdq", 1, codes[3].tobytes())
    near = codes[3].copy()
    near[0] ^= 0b111
    q2 = PerceptualHash("pdq", 1, near.tobytes())
    hits = index.search([q2, q1], k=5, max_distance=10)
    assert [(h.media_id, h.distance, h.query_index) for h in hits] == [(3, 0, 1)]


def test_wrong_algorithm_raises() -> None:
    index = HashIndex(PDQ)
    index.add([1], [bytes(32)])
    with pytest.raises(TypeError):
        index.search([PerceptualHash("phash", 1, bytes(8))], k=1)


class FakeRows:
    """A stand-in for the store's hash feed (the index's catch-up contract), not a database."""

    def __init__(self, codes: list[bytes]) -> None:
        self.codes = codes

    def hashes_after(self, algorithm, version, view, after_id, limit=50_000):  # type: ignore[no-untyped-def]
        rows = [(i + 1, 500 + i, c) for i, c in enumerate(self.codes) if i + 1 > after_id][:limit]
        return HashBatch([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def test_persisted_index_catches_up_incrementally(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    codes = [c.tobytes() for c in random_codes(rng, 30, 32)]
    feed = FakeRows(codes[:20])
    index = HashIndex(PDQ)
    assert index.catch_up(feed, batch=7) == 20
    assert index.checkpoint == 20
    index.save(tmp_path)
    feed.codes = codes
    loaded = HashIndex.load(tmp_path, PDQ)
    assert len(loaded) == 20 and loaded.checkpoint == 20
    assert loaded.catch_up(feed) == 10  # only the new rows
    hit = loaded.search([PerceptualHash("pdq", 1, codes[25])], k=1)[0]
    assert (hit.media_id, hit.distance) == (525, 0)


def test_torn_files_are_ignored(tmp_path: Path) -> None:
    index = HashIndex(PDQ)
    index.add([1, 2], [bytes(32), b"\xff" * 32], checkpoint=2)
    index.save(tmp_path)
    (tmp_path / f"{index.name}.faissb").write_bytes(b"garbage")
    fresh = HashIndex.load(tmp_path, PDQ)
    assert len(fresh) == 0 and fresh.checkpoint == 0


def test_multihash_finds_what_flat_finds_for_near_duplicates(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    codes = random_codes(rng, 3000, 32)
    ids = list(range(1, 3001))
    flat, multi = HashIndex(PDQ, kind="flat"), HashIndex(PDQ, kind="multihash")
    for index in (flat, multi):
        index.add(ids, [c.tobytes() for c in codes])
    for qi in range(0, 3000, 97):
        near = codes[qi].copy()
        near[[0, 5, 9, 20]] ^= 0b101  # 8 bits away: within the pigeonhole guarantee
        q = PerceptualHash("pdq", 1, near.tobytes())
        assert [(h.media_id, h.distance) for h in multi.search([q], k=3, max_distance=31)] == \
            [(h.media_id, h.distance) for h in flat.search([q], k=3, max_distance=31)]
    multi.save(tmp_path)
    assert len(HashIndex.load(tmp_path, PDQ, kind="multihash")) == 3000
    assert len(HashIndex.load(tmp_path, PDQ, kind="flat")) == 0  # other kind: rebuilt
