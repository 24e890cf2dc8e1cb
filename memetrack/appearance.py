"""Does the aligned template *look* like the query? A dense second check of a geometric match.

Local features say that some keypoints of a template reappear in a query under one similarity
transform. That is weak evidence in two opposite cases:

- a crop, a small or heavily compressed copy leaves few keypoints, all in one corner of the
  template (low coverage), although the whole overlapping picture is the same;
- two different memes that share a drawn element (the same character, the same logo) give many
  inliers in that element alone, although everything around it differs.

Both are decided by looking at every part of the overlap, not only at the keypoints. Each image
keeps a tiny :class:`Thumbnail` of its working image (lightness at :data:`THUMB_SIDE` px, colour as
one mean per cell). The query's thumbnail is warped into the template's frame with the verified
transform, the overlap is cut into cells of :data:`CELL` px, and a cell *agrees* when both sides are
textured and correlate (normalised cross-correlation of lightness), or both are flat with the same
lightness and (unless the query is greyscale) the same colour. :func:`agreement` is the share of
overlapping cells that agree. Captions, stickers and watermarks cover a minority of the cells;
a shared element covers a minority too, which is the point.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from memetrack.config import MatcherSettings

THUMB_SIDE = 128  # longer side of the lightness thumbnail
CELL = 8  # cell size, thumbnail pixels
GREY_CHROMA = 3.0  # mean |a*|, |b*| offset below which a query counts as greyscale
_HEAD = struct.Struct("<4sHIIHH")
_MAGIC, _FORMAT = b"MTTH", 1


@dataclass(frozen=True)
class AppearanceParams:
    """When two cells look alike (the ``appearance_*`` fields of :class:`MatcherSettings`)."""

    texture: float  # lightness standard deviation above which a cell is textured
    ncc: float  # textured cells agree above this correlation
    flat_lightness: float  # flat cells agree within this lightness difference (of 255)
    flat_chroma: float  # ... and within this a*b* distance (colour queries only)

    @classmethod
    def from_settings(cls, s: MatcherSettings) -> AppearanceParams:
        return cls(s.appearance_texture, s.appearance_ncc, s.appearance_flat_lightness,
                   s.appearance_flat_chroma)


@dataclass(frozen=True, eq=False)
class Thumbnail:
    """``lightness`` (h x w uint8, L* of CIELAB scaled to 0-255) of an image whose size was
    ``width`` x ``height`` (the frame transforms refer to), and ``chroma`` (h/CELL x w/CELL x 2
    uint8, a* and b*, one mean per cell)."""

    width: int
    height: int
    lightness: np.ndarray
    chroma: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.lightness.nbytes + self.chroma.nbytes)

    def to_bytes(self) -> bytes:
        h, w = self.lightness.shape
        ch, cw = self.chroma.shape[:2]
        head = _HEAD.pack(_MAGIC, _FORMAT, self.width, self.height, w, h)
        return (head + struct.pack("<HH", cw, ch) + self.lightness.tobytes()
                + self.chroma.tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Thumbnail:
        magic, fmt, width, height, w, h = _HEAD.unpack_from(data)
        if magic != _MAGIC or fmt != _FORMAT:
            raise ValueError("not a memetrack thumbnail encoding")
        cw, ch = struct.unpack_from("<HH", data, _HEAD.size)
        off = _HEAD.size + 4
        if len(data) != off + w * h + cw * ch * 2:
            raise ValueError("thumbnail encoding has the wrong length")
        light = np.frombuffer(data, np.uint8, w * h, off).reshape(h, w).copy()
        chroma = np.frombuffer(data, np.uint8, cw * ch * 2, off + w * h).reshape(ch, cw, 2).copy()
        return cls(width, height, light, chroma)

    def flipped(self) -> Thumbnail:
        return Thumbnail(self.width, self.height, np.ascontiguousarray(self.lightness[:, ::-1]),
                         np.ascontiguousarray(self.chroma[:, ::-1]))

    @property
    def greyscale(self) -> bool:
        return float(np.abs(self.chroma.astype(np.float32) - 128.0).mean()) < GREY_CHROMA


def thumbnail(work: np.ndarray) -> Thumbnail:
    """The thumbnail of an RGB (or grey) working image."""
    rgb = work if work.ndim == 3 else cv2.cvtColor(work, cv2.COLOR_GRAY2RGB)
    h, w = rgb.shape[:2]
    k = min(1.0, THUMB_SIDE / max(h, w))
    size = (max(1, round(w * k)), max(1, round(h * k)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if size != (w, h) else rgb
    lab = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2LAB)
    cells = (max(1, size[0] // CELL), max(1, size[1] // CELL))
    chroma = cv2.resize(np.ascontiguousarray(lab[:, :, 1:]), cells, interpolation=cv2.INTER_AREA)
    return Thumbnail(int(w), int(h), np.ascontiguousarray(lab[:, :, 0]),
                     chroma.reshape(cells[1], cells[0], 2))


def agreement(ref: Thumbnail, query: Thumbnail, transform: np.ndarray, *,
              mirrored: bool = False, params: AppearanceParams | None = None) -> float:
    """Share (0-1) of the overlap's cells where the query, aligned by ``transform`` (2 x 3,
    reference working pixels -> query working pixels, of the flipped query when ``mirrored``),
    looks like the reference. 0 when they do not overlap by a single whole cell."""
    p = params or AppearanceParams.from_settings(MatcherSettings())
    if mirrored:
        query = query.flipped()
    h, w = ref.lightness.shape
    ny, nx = h // CELL, w // CELL
    if ny == 0 or nx == 0:
        return 0.0
    a = np.asarray(transform, np.float64).reshape(2, 3)
    kr = w / ref.width
    kq = query.lightness.shape[1] / query.width
    m = np.empty((2, 3))  # reference thumbnail pixels -> query thumbnail pixels
    m[:, :2] = a[:, :2] * (kq / kr)
    m[:, 2] = a[:, 2] * kq
    inverse = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(query.lightness, m, (w, h), flags=inverse)
    inside = cv2.warpAffine(np.full(query.lightness.shape, 255, np.uint8), m, (w, h),
                            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)

    def cells(img: np.ndarray) -> np.ndarray:
        return (img[: ny * CELL, : nx * CELL].reshape(ny, CELL, nx, CELL).swapaxes(1, 2)
                .reshape(ny, nx, CELL * CELL))

    r = cells(cv2.GaussianBlur(ref.lightness.astype(np.float32), (0, 0), 1.0))
    q = cells(cv2.GaussianBlur(warped.astype(np.float32), (0, 0), 1.0))
    whole = cells(inside).min(axis=2) > 0
    if not whole.any():
        return 0.0
    rm, qm = r.mean(axis=2), q.mean(axis=2)
    rs, qs = r.std(axis=2), q.std(axis=2)
    ncc = ((r - rm[..., None]) * (q - qm[..., None])).mean(axis=2) / np.maximum(rs * qs, 1e-6)
    rt, qt = rs > p.texture, qs > p.texture
    flat = np.abs(rm - qm) < p.flat_lightness
    if not query.greyscale:
        # query cell (x, y) of reference cell (i, j): through the cells' centres
        mc = np.empty((2, 3))
        mc[:, :2] = m[:, :2]
        mc[:, 2] = (m[:, :2] @ np.array([CELL / 2, CELL / 2]) + m[:, 2] - CELL / 2) / CELL
        qc = cv2.warpAffine(query.chroma, mc, (nx, ny), flags=inverse,
                            borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        # the reference's chroma has one value per cell already (thumbnail() made it so)
        flat &= np.linalg.norm(ref.chroma.astype(np.float32) - qc, axis=2) < p.flat_chroma
    agree = np.where(rt & qt, ncc > p.ncc, ~rt & ~qt & flat)
    return float(agree[whole].mean())
