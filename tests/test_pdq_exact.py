"""memetrack computes PDQ and pHash itself (several times faster); these tests hold it to the
reference libraries bit for bit: pdqhash (ThreatExchange's C++ PDQ) and imagehash.phash."""

from pathlib import Path

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image

from memetrack import hashing
from memetrack.hashing import PDQ, PerceptualHash
from tests.imagegen import scene

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"

# (height, width): the usual 512-px copies both ways round, odd sizes, sizes where one side
# is shorter than PDQ's 64 samples or pHash's 32 pixels, and larger than 512
SIZES = [(384, 512), (512, 384), (300, 511), (97, 55), (55, 97), (64, 64), (700, 33),
         (288, 512), (768, 1024), (129, 257), (513, 128)]


def _images() -> list[tuple[str, np.ndarray]]:
    out = []
    for i, (h, w) in enumerate(SIZES):
        out.append((f"scene{i}_{h}x{w}", scene(100 + i, width=w, height=h)))
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:333, 0:444]
    gradient = np.dstack([xx * 255 // 443, yy * 255 // 332, (xx + yy) % 256]).astype(np.uint8)
    out.append(("gradient", gradient))
    out.append(("noise", rng.integers(0, 256, (250, 180, 3), dtype=np.uint8)))
    out.append(("noise_40x27", rng.integers(0, 256, (40, 27, 3), dtype=np.uint8)))
    for path in sorted(SAMPLES.glob("*/*.*")):
        if path.parent.name == "bad" or path.suffix not in {".jpg", ".png"}:
            continue
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((512, 512))
            out.append((path.name, np.ascontiguousarray(np.asarray(im))))
    return out


IMAGES = _images()
# a 1 x 1 image has PDQ quality 0 (nothing to hash, test_tiny_images_get_the_empty_hash);
# every other one here has content
PDQ_IMAGES = [(n, im) for n, im in IMAGES if min(im.shape[:2]) >= 8]


@pytest.mark.parametrize("name,rgb", PDQ_IMAGES, ids=[n for n, _ in PDQ_IMAGES])
def test_pdq_and_its_quality_equal_pdqhash(name: str, rgb: np.ndarray) -> None:
    ref, quality = pdqhash.compute(rgb)
    assert quality > 0  # flat images (quality 0) may differ where coefficients tie
    ours = hashing.pdq(rgb)
    assert ours.quality == quality
    assert ours.hash == PerceptualHash.from_bitvector(PDQ, ref)


@pytest.mark.parametrize("name,rgb", IMAGES[:6], ids=[n for n, _ in IMAGES[:6]])
def test_pdq_dihedral_equals_pdqhash(name: str, rgb: np.ndarray) -> None:
    ref, _ = pdqhash.compute_dihedral(rgb)
    assert hashing.pdq_dihedral(rgb) == [PerceptualHash.from_bitvector(PDQ, v) for v in ref]
    # and the transforms are what their names say: the rotation by 90 degrees of the hash is
    # close to the hash of the rotated pixels
    turned = hashing.pdq(np.ascontiguousarray(np.rot90(rgb, 1))).hash
    assert turned - hashing.pdq_dihedral(rgb)[1] <= 40


@pytest.mark.parametrize("name,rgb", IMAGES, ids=[n for n, _ in IMAGES])
def test_phash_equals_imagehash(name: str, rgb: np.ndarray) -> None:
    assert hashing.phash(rgb).hash.hex == str(imagehash.phash(Image.fromarray(rgb)))


@pytest.mark.parametrize("shape", [(1, 1, 3), (4, 300, 3), (300, 4, 3)])
def test_tiny_images_get_the_empty_hash(shape: tuple[int, int, int]) -> None:
    rgb = np.full(shape, 200, np.uint8)
    ref, quality = pdqhash.compute(rgb)
    assert quality == 0 and not ref.any()
    ours = hashing.pdq(rgb)
    assert ours.quality == 0 and ours.hash.hex == "0" * 64
    assert all(h.hex == "0" * 64 for h in hashing.pdq_dihedral(rgb))


def test_bad_shapes_are_refused() -> None:
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((2, 2), np.uint8),
                np.zeros((10, 10, 3), np.float32)):
        with pytest.raises(ValueError):
            hashing.pdq(bad)
    with pytest.raises(ValueError):
        hashing.phash_from_grey(np.zeros((0, 5), np.uint8))
