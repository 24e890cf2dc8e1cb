"""Perceptual hashes as small immutable values.

A :class:`PerceptualHash` carries its algorithm, the algorithm's version and the packed bits, so a
stored hash always says what produced it. Subtracting two hashes gives their Hamming distance;
comparing hashes of different algorithms or versions raises.

Algorithms declare their length, metric and default threshold next to their code
(:data:`ALGORITHMS`). Hex strings follow the ThreatExchange/HMA convention for PDQ (bit 0 of the
hash vector is the most significant bit) and imagehash's convention for pHash, so exchanged hash
lists line up with other tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from memetrack.errors import BadHash

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True)
class HashAlgorithm:
    """What a hash algorithm is: its name, version, size, metric and default match threshold."""

    name: str
    version: int
    bits: int
    default_threshold: int
    metric: str = "hamming"

    @property
    def nbytes(self) -> int:
        return self.bits // 8


PDQ: Final = HashAlgorithm("pdq", 1, 256, default_threshold=31)
PHASH: Final = HashAlgorithm("phash", 1, 64, default_threshold=10)
ALGORITHMS: Final[dict[str, HashAlgorithm]] = {a.name: a for a in (PDQ, PHASH)}


def algorithm(name: str) -> HashAlgorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise BadHash(f"unknown hash algorithm {name!r}", known=sorted(ALGORITHMS)) from None


@dataclass(frozen=True)
class PerceptualHash:
    """A hash value: algorithm name, algorithm version and the packed bits (big-endian)."""

    algorithm: str
    version: int
    bits: bytes

    def __post_init__(self) -> None:
        algo = algorithm(self.algorithm)
        if len(self.bits) != algo.nbytes:
            raise BadHash(
                f"{self.algorithm} hash must be {algo.nbytes} bytes, got {len(self.bits)}"
            )

    @classmethod
    def from_hex(cls, algorithm_name: str, text: str, version: int | None = None) -> PerceptualHash:
        algo = algorithm(algorithm_name)
        text = text.strip().lower()
        if len(text) != algo.bits // 4:
            raise BadHash(f"{algo.name} hex must have {algo.bits // 4} digits, got {len(text)}")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise BadHash(f"not a hex string: {text[:80]!r}") from None
        return cls(algo.name, algo.version if version is None else version, raw)

    @classmethod
    def from_bitvector(cls, algo: HashAlgorithm, vector: np.ndarray) -> PerceptualHash:
        flat = np.asarray(vector, dtype=np.uint8).reshape(-1)
        return cls(algo.name, algo.version, np.packbits(flat).tobytes())

    @property
    def hex(self) -> str:
        return self.bits.hex()

    def as_array(self) -> np.ndarray:
        return np.frombuffer(self.bits, dtype=np.uint8)

    def distance(self, other: PerceptualHash) -> int:
        if (self.algorithm, self.version) != (other.algorithm, other.version):
            raise TypeError(
                f"cannot compare {self.algorithm} v{self.version} "
                f"with {other.algorithm} v{other.version}"
            )
        return int(_POPCOUNT[np.bitwise_xor(self.as_array(), other.as_array())].sum())

    def __sub__(self, other: PerceptualHash) -> int:
        return self.distance(other)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


@dataclass(frozen=True)
class HashResult:
    """A computed hash with its quality (PDQ's 0-100 score; 100 for algorithms without one)."""

    hash: PerceptualHash
    quality: int


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("expected an RGB uint8 array of shape (H, W, 3)")
    return np.ascontiguousarray(rgb)


def pdq(rgb: np.ndarray) -> HashResult:
    """PDQ of an RGB uint8 image (best at <= 512 px; larger inputs only cost time)."""
    vector, quality = pdqhash.compute(_as_rgb(rgb))
    return HashResult(PerceptualHash.from_bitvector(PDQ, vector), int(quality))


def pdq_dihedral(rgb: np.ndarray) -> list[PerceptualHash]:
    """PDQ of all 8 rotations/flips from one DCT: original first, then the others.

    Query with all eight against an index of plain hashes to find mirrored or rotated copies.
    """
    vectors, _quality = pdqhash.compute_dihedral(_as_rgb(rgb))
    return [PerceptualHash.from_bitvector(PDQ, v) for v in vectors]


DIHEDRAL_NAMES: Final = ("original", "rotate90", "rotate180", "rotate270",
                         "flip_vertical", "flip_horizontal", "transpose", "transverse")


def pdq_query_set(rgb: np.ndarray) -> list[tuple[str, PerceptualHash]]:
    """The PDQ hashes to query with so that mirrored and rotated copies are found.

    Measured here: pdqhash's DCT-derived dihedral hashes are exact for some transforms but
    30-45 bits off for the horizontal flip of non-square images (the resampling filter is not
    symmetric), so the mirror, by far the commonest edit of a meme, is hashed from flipped
    pixels (2 ms more); the rotations come from the dihedral set.
    """
    dihedral = pdq_dihedral(rgb)
    out = [("original", dihedral[0]),
           ("flip_horizontal", pdq(np.ascontiguousarray(rgb[:, ::-1])).hash)]
    out += [(name, h) for name, h in zip(DIHEDRAL_NAMES, dihedral, strict=True)
            if name not in ("original", "flip_horizontal")]
    return out


def phash(rgb: np.ndarray) -> HashResult:
    """pHash (imagehash.phash, 8x8 DCT of a 32x32 grey image) of an RGB uint8 image."""
    value = imagehash.phash(Image.fromarray(_as_rgb(rgb)))
    return HashResult(PerceptualHash.from_bitvector(PHASH, value.hash), 100)


def compute_all(rgb: np.ndarray) -> dict[str, HashResult]:
    """Every global hash of one decoded image, keyed by algorithm name."""
    return {"pdq": pdq(rgb), "phash": phash(rgb)}
