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

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import cv2
import numpy as np
import scipy.fftpack
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


# -- PDQ ---------------------------------------------------------------------------------------
#
# PDQ (ThreatExchange's hashing.pdf): luma; a Jarosz filter (two passes of a box filter of
# ceil(side / 128) px along each axis, averaging only the pixels inside the image); 64 x 64
# samples of it; the 16 x 16 lowest DCT coefficients after the constant one; one bit per
# coefficient above their median. The filter and the sampling are linear and act on each axis
# apart, so the 64 x 64 samples are ``R_rows @ luma @ R_cols.T`` with two small matrices that
# depend only on the image's size: a few matrix products instead of four passes over every
# pixel. pdqhash (the reference C++ behind Python bindings) spends 4.4 ms on a 512 x 384 image
# here, 2.5 ms of it on a float64 luma in numpy; this costs 1.0 ms and gives the same quality
# and, but for coefficients within rounding of the median (sums in another order), the same
# bits: tests/test_pdq_exact.py compares them on varied images (the README gives the rare
# differences measured, on images of 16-20 px mostly, and flat ones of quality 0).

_PDQ_DCT: Final = (math.sqrt(2.0 / 64) * np.cos(
    (math.pi / 128) * np.arange(1, 17)[:, None] * (2 * np.arange(64)[None, :] + 1)
)).astype(np.float32)
_PDQ_MIN_SIDE: Final = 5  # smaller images get the reference's empty hash of quality 0
_LUMA: Final = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@lru_cache(maxsize=64)  # a few image sizes recur; 64 x n floats each
def _jarosz_sampler(n: int) -> np.ndarray:
    """64 x n: the two box-filter passes along an axis of ``n`` pixels and the 64 samples."""
    window = (n + 127) // 128  # the reference's computeJaroszFilterWindowSize(n, 64)
    half = (window + 2) // 2
    pos = np.arange(n)
    lo = np.maximum(0, pos - (window - half))
    hi = np.minimum(n - 1, pos + half - 1)
    rows = np.zeros((64, n), dtype=np.float64)
    for r, s in enumerate(((np.arange(64) + 0.5) * n / 64).astype(np.int64)):
        for j in range(lo[s], hi[s] + 1):  # second pass at sample s over first-pass outputs j
            rows[r, lo[j]:hi[j] + 1] += 1.0 / ((hi[s] - lo[s] + 1) * (hi[j] - lo[j] + 1))
    out = rows.astype(np.float32)
    out.flags.writeable = False
    return out


def _pdq_luma(rgb: np.ndarray) -> np.ndarray:
    """PDQ's luma (0.299 R + 0.587 G + 0.114 B) as float32, of an array _as_rgb accepted."""
    return cv2.transform(rgb.astype(np.float32), _LUMA[None, :])


def _pdq_samples(luma: np.ndarray) -> np.ndarray:
    rows, cols = luma.shape
    return (_jarosz_sampler(rows) @ luma) @ _jarosz_sampler(cols).T


def _pdq_bits(samples: np.ndarray) -> np.ndarray:
    coeffs = _PDQ_DCT @ samples @ _PDQ_DCT.T
    # pdqhash's vector order: its last element is the first coefficient
    return (coeffs > np.median(coeffs)).ravel()[::-1]


def _pdq_quality(samples: np.ndarray) -> int:
    """The reference's image-domain quality: summed truncated gradients of the 64 x 64 samples."""
    total = 0
    for diff in (samples[1:, :] - samples[:-1, :], samples[:, 1:] - samples[:, :-1]):
        total += int(np.abs((diff * 100 / 255).astype(np.int32)).sum())
    return min(100, total // 90)


# np.rot90 turns counter-clockwise; these are pdqhash.compute_dihedral's eight, in its order
_DIHEDRAL_OPS: Final = (
    lambda a: a, lambda a: np.rot90(a, 1), lambda a: np.rot90(a, 2), lambda a: np.rot90(a, 3),
    np.flipud, np.fliplr, np.transpose, lambda a: np.rot90(a, 2).T,
)


def pdq_vectors(rgb: np.ndarray, *, dihedral: bool = False) -> tuple[np.ndarray, int]:
    """PDQ bit vectors (rows of 256, in pdqhash's order) and the quality of an RGB uint8 image:
    one row, or with ``dihedral`` the eight of pdqhash.compute_dihedral (original, rotations
    by 90, 180 and 270 degrees, vertical and horizontal flip, transpose, transverse), all from
    one set of samples."""
    rgb = _as_rgb(rgb)
    ops = _DIHEDRAL_OPS if dihedral else _DIHEDRAL_OPS[:1]
    if min(rgb.shape[:2]) < _PDQ_MIN_SIDE:  # the reference's empty hash of quality 0
        return np.zeros((len(ops), 256), dtype=bool), 0
    samples = _pdq_samples(_pdq_luma(rgb))
    vectors = np.stack([_pdq_bits(np.ascontiguousarray(op(samples))) for op in ops])
    return vectors, _pdq_quality(samples)


def pdq(rgb: np.ndarray) -> HashResult:
    """PDQ of an RGB uint8 image (best at <= 512 px; larger inputs only cost time)."""
    vectors, quality = pdq_vectors(rgb)
    return HashResult(PerceptualHash.from_bitvector(PDQ, vectors[0]), quality)


def pdq_dihedral(rgb: np.ndarray) -> list[PerceptualHash]:
    """PDQ of all 8 rotations/flips from one set of samples: original first, then the others
    (the order and values of pdqhash.compute_dihedral).

    Query with all eight against an index of plain hashes to find mirrored or rotated copies.
    """
    return [PerceptualHash.from_bitvector(PDQ, v) for v in pdq_vectors(rgb, dihedral=True)[0]]


DIHEDRAL_NAMES: Final = ("original", "rotate90", "rotate180", "rotate270",
                         "flip_vertical", "flip_horizontal", "transpose", "transverse")


def pdq_query_set(rgb: np.ndarray) -> list[tuple[str, PerceptualHash]]:
    """The PDQ hashes to query with so that mirrored and rotated copies are found.

    Measured here: the dihedral hashes from one set of samples are exact for some transforms
    but 30-45 bits off for the horizontal flip of non-square images (the filter window is not
    centred), so the mirror, by far the commonest edit of a meme, is hashed from flipped pixels;
    the rotations come from the dihedral set.
    """
    dihedral = pdq_dihedral(rgb)
    out = [("original", dihedral[0]),
           ("flip_horizontal", pdq(np.ascontiguousarray(rgb[:, ::-1])).hash)]
    out += [(name, h) for name, h in zip(DIHEDRAL_NAMES, dihedral, strict=True)
            if name not in ("original", "flip_horizontal")]
    return out


# -- pHash -------------------------------------------------------------------------------------
#
# imagehash.phash: the image in Pillow's "L" mode, resized to 32 x 32 with Pillow's Lanczos
# filter, a 2-D DCT, one bit per coefficient of the 8 x 8 lowest above their median. Pillow's
# resize is two passes of 8-bit fixed-point sums (22 fraction bits, each pass rounded and
# clipped to 0-255); with the same integer coefficients the sums are exact in float64, so the
# passes become two matrix products: 0.5 ms instead of 1.6 ms for the resize of a 512 x 384
# image, and the same hash bit for bit (tests/test_pdq_exact.py compares it with
# imagehash.phash).

_PIL_FRACTION_BITS: Final = 22


def _lanczos3(x: float) -> float:
    def sinc(v: float) -> float:
        if v == 0.0:
            return 1.0
        v *= math.pi
        return math.sin(v) / v

    return sinc(x) * sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


@lru_cache(maxsize=64)  # a few image sizes recur; 32 x n floats each
def _pil_lanczos(n_in: int, n_out: int = 32) -> np.ndarray:
    """n_out x n_in: Pillow's fixed-point Lanczos coefficients for one axis (as integers)."""
    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = 3.0 * filterscale
    inv = 1.0 / filterscale
    one = 1 << _PIL_FRACTION_BITS
    out = np.zeros((n_out, n_in), dtype=np.float64)
    for xx in range(n_out):
        center = (xx + 0.5) * scale
        xmin = max(0, int(center - support + 0.5))
        xmax = min(n_in, int(center + support + 0.5))
        weights = [_lanczos3((x - center + 0.5) * inv) for x in range(xmin, xmax)]
        total = 0.0
        for w in weights:  # in order, as Pillow sums them
            total += w
        for i, w in enumerate(weights):
            w = w / total if total != 0.0 else w
            out[xx, xmin + i] = int(w * one - 0.5) if w < 0 else int(w * one + 0.5)
    out.flags.writeable = False
    return out


def _pil_round(sums: np.ndarray) -> np.ndarray:
    half = 1 << (_PIL_FRACTION_BITS - 1)
    return np.clip(np.floor((sums + half) / (1 << _PIL_FRACTION_BITS)), 0, 255)


def _pil_lanczos_32(grey: np.ndarray) -> np.ndarray:
    """``Image.resize((32, 32), LANCZOS)`` of an "L" image, as Pillow (>= 13) computes it."""
    h, w = grey.shape

    def horizontal(img: np.ndarray) -> np.ndarray:
        return img if w == 32 else _pil_round(img @ _pil_lanczos(w).T)

    def vertical(img: np.ndarray) -> np.ndarray:
        return img if h == 32 else _pil_round(_pil_lanczos(h) @ img)

    img = grey.astype(np.float64)
    # Pillow runs the vertical pass first when the height shrinks more than twice the width
    if (h - 32) > 0 and (h - 32) > (w - 32) * 2:
        return horizontal(vertical(img))
    return vertical(horizontal(img))


def phash_from_grey(grey: np.ndarray) -> HashResult:
    """pHash of an 8-bit grey ("L") image, equal to ``imagehash.phash``."""
    if grey.ndim != 2 or grey.size == 0 or grey.dtype != np.uint8:
        raise ValueError("expected a non-empty 2-D uint8 grey array")
    pixels = _pil_lanczos_32(grey)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:8, :8]
    return HashResult(PerceptualHash.from_bitvector(PHASH, dct > np.median(dct)), 100)


def pil_grey(rgb: np.ndarray) -> np.ndarray:
    """Pillow's "L" conversion of an RGB image (its rounding, which pHash is defined on)."""
    return np.asarray(Image.fromarray(_as_rgb(rgb)).convert("L"))


def phash(rgb: np.ndarray) -> HashResult:
    """pHash (imagehash.phash, 8x8 DCT of a 32x32 grey image) of an RGB uint8 image."""
    return phash_from_grey(pil_grey(rgb))


def compute_all(rgb: np.ndarray) -> dict[str, HashResult]:
    """Every global hash of one decoded image, keyed by algorithm name."""
    return {"pdq": pdq(rgb), "phash": phash(rgb)}
