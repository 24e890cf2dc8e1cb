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
        return is_greyscale(self.chroma)


def is_greyscale(chroma: np.ndarray) -> bool:
    """Whether OpenCV 8-bit a*, b* values (offset by 128) carry no colour worth comparing."""
    return float(np.abs(chroma.astype(np.float32) - 128.0).mean()) < GREY_CHROMA


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


@dataclass(frozen=True)
class CellAgreement:
    """How the aligned query looks against the template, cell by cell: ``share`` of the compared
    cells that agree, how many cells were compared (whole cells of the overlap, less those under
    the query's mask), and how many of the agreeing cells have *structure* on both sides (lightness
    texture, or an edge between two colours): more than one flat colour."""

    share: float
    cells: int
    structure: int


def agreement(ref: Thumbnail, query: Thumbnail, transform: np.ndarray, *,
              mirrored: bool = False, params: AppearanceParams | None = None) -> float:
    """Share (0-1) of the overlap's cells where the query, aligned by ``transform`` (2 x 3,
    reference working pixels -> query working pixels, of the flipped query when ``mirrored``),
    looks like the reference. 0 when they do not overlap by a single whole cell."""
    return cell_agreement(ref, query, transform, mirrored=mirrored, params=params).share


def cell_agreement(ref: Thumbnail, query: Thumbnail, transform: np.ndarray, *,
                   mirrored: bool = False, params: AppearanceParams | None = None,
                   query_mask: np.ndarray | None = None) -> CellAgreement:
    """:func:`agreement` with its counts; cells with a pixel under ``query_mask`` (a boolean
    image of the query thumbnail's size, e.g. its caption text) are left out."""
    p = params or AppearanceParams.from_settings(MatcherSettings())
    if mirrored:
        query = query.flipped()
        if query_mask is not None:
            query_mask = query_mask[:, ::-1]
    h, w = ref.lightness.shape
    ny, nx = h // CELL, w // CELL
    if ny == 0 or nx == 0:
        return CellAgreement(0.0, 0, 0)
    m = _thumb_map(ref, query, transform)
    inverse = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(query.lightness, m, (w, h), flags=inverse)
    usable = np.full(query.lightness.shape, 255, np.uint8)
    if query_mask is not None:
        usable[query_mask] = 0
    inside = cv2.warpAffine(usable, m, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)

    def cells(img: np.ndarray) -> np.ndarray:
        return (img[: ny * CELL, : nx * CELL].reshape(ny, CELL, nx, CELL).swapaxes(1, 2)
                .reshape(ny, nx, CELL * CELL))

    r = cells(cv2.GaussianBlur(ref.lightness.astype(np.float32), (0, 0), 1.0))
    q = cells(cv2.GaussianBlur(warped.astype(np.float32), (0, 0), 1.0))
    whole = cells(inside).min(axis=2) > 0
    if not whole.any():
        return CellAgreement(0.0, 0, 0)
    rm, qm = r.mean(axis=2), q.mean(axis=2)
    rs, qs = r.std(axis=2), q.std(axis=2)
    ncc = ((r - rm[..., None]) * (q - qm[..., None])).mean(axis=2) / np.maximum(rs * qs, 1e-6)
    rt, qt = rs > p.texture, qs > p.texture
    flat = np.abs(rm - qm) < p.flat_lightness
    edges = np.zeros_like(flat)  # two colours of one lightness meet: flat cells, yet an edge
    if not query.greyscale:
        # query cell (x, y) of reference cell (i, j): through the cells' centres
        mc = np.empty((2, 3))
        mc[:, :2] = m[:, :2]
        mc[:, 2] = (m[:, :2] @ np.array([CELL / 2, CELL / 2]) + m[:, 2] - CELL / 2) / CELL
        qc = cv2.warpAffine(query.chroma, mc, (nx, ny), flags=inverse,
                            borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        # the reference's chroma has one value per cell already (thumbnail() made it so)
        rc = ref.chroma.astype(np.float32)
        flat &= np.linalg.norm(rc - qc, axis=2) < p.flat_chroma
        edges = _colour_edges(rc, 2 * p.flat_chroma) & _colour_edges(qc, 2 * p.flat_chroma)
    textured = rt & qt & (ncc > p.ncc)
    agree = np.where(rt & qt, textured, ~rt & ~qt & flat)
    structure = textured | (agree & edges)
    return CellAgreement(float(agree[whole].mean()), int(whole.sum()),
                         int(structure[whole].sum()))


def _colour_edges(chroma: np.ndarray, edge: float) -> np.ndarray:
    """Cells whose a*b* differs from a neighbour cell's by more than ``edge``."""
    out = np.zeros(chroma.shape[:2], bool)
    dx = np.linalg.norm(chroma[:, 1:] - chroma[:, :-1], axis=2) > edge
    dy = np.linalg.norm(chroma[1:] - chroma[:-1], axis=2) > edge
    out[:, 1:] |= dx
    out[:, :-1] |= dx
    out[1:] |= dy
    out[:-1] |= dy
    return out


def _thumb_scale(thumb: Thumbnail) -> float:
    """Thumbnail pixels per working-image pixel."""
    return thumb.lightness.shape[1] / thumb.width


def _thumb_map(ref: Thumbnail, query: Thumbnail, transform: np.ndarray) -> np.ndarray:
    """``transform`` (reference working pixels -> query working pixels) in thumbnail pixels."""
    a = np.asarray(transform, np.float64).reshape(2, 3)
    kr, kq = _thumb_scale(ref), _thumb_scale(query)
    m = np.empty((2, 3))
    m[:, :2] = a[:, :2] * (kq / kr)
    m[:, 2] = a[:, 2] * kq
    return m


# -- dense alignment (templates without enough keypoints) ------------------------------------------

SEARCH_SIDE = 48  # longer side of the reference when a placement of the query is searched
_HIST_BINS = 4  # per L*, a*, b* channel


def lab(thumb: Thumbnail) -> np.ndarray:
    """The thumbnail as a float32 L*a*b* image (chroma spread from its cells)."""
    h, w = thumb.lightness.shape
    chroma = cv2.resize(thumb.chroma, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.dstack([thumb.lightness, chroma]).astype(np.float32)


def colour_signature(thumb: Thumbnail, mask: np.ndarray | None = None) -> np.ndarray:
    """Normalised histogram of the thumbnail's colours (4 x 4 x 4 bins of L*a*b*), pixels under
    ``mask`` left out: which templates could a low-texture query be, before any alignment."""
    q = (lab(thumb) * (_HIST_BINS / 256.0)).astype(np.int32).clip(0, _HIST_BINS - 1)
    code = (q[..., 0] * _HIST_BINS + q[..., 1]) * _HIST_BINS + q[..., 2]
    if mask is not None:
        code = code[~mask]
    hist = np.bincount(code.ravel(), minlength=_HIST_BINS**3).astype(np.float32)
    return hist / max(1.0, float(hist.sum()))


@dataclass(frozen=True)
class Placement:
    """The query laid over the reference thumbnail as a crop of it: query thumbnail pixel ``p``
    sits at reference thumbnail pixel ``scale * p + offset`` (of the flipped query when
    ``mirrored``), with the masked mean squared colour difference ``cost`` there."""

    cost: float
    scale: float
    offset: tuple[float, float]
    fraction: float
    mirrored: bool

    def transform(self, ref: Thumbnail, query: Thumbnail) -> np.ndarray:
        """As a 2 x 3 transform from reference to query working pixels (what
        :func:`agreement` takes)."""
        kr, kq = _thumb_scale(ref), _thumb_scale(query)
        k = kr / (self.scale * kq)
        ox, oy = self.offset
        return np.array([[k, 0.0, -ox / (self.scale * kq)], [0.0, k, -oy / (self.scale * kq)]])


def place(ref: Thumbnail, query: Thumbnail, *, fractions: np.ndarray,
          query_mask: np.ndarray | None = None, mirrored: bool = False, keep: int = 1,
          side: int | None = SEARCH_SIDE, near: Placement | None = None) -> list[Placement]:
    """Where the query best sits inside the template, as a crop of it would: for each fraction
    of the template's extent the query could span (in its tighter dimension), the query is
    scaled to it and slid over the template (squared colour difference, pixels under
    ``query_mask`` left out), at ``side`` px (None: the thumbnails' own size). With ``near``,
    only around that placement (a refinement). Returns the ``keep`` best placements."""
    if mirrored:
        query = query.flipped()
        if query_mask is not None:
            query_mask = query_mask[:, ::-1]
    r_lab, q_lab = lab(ref), lab(query)
    if query.greyscale:
        r_lab, q_lab = r_lab[..., :1], q_lab[..., :1]
    hr, wr = r_lab.shape[:2]
    hq, wq = q_lab.shape[:2]
    d = 1.0 if side is None else min(1.0, side / max(hr, wr))
    rs = r_lab if d == 1.0 else cv2.resize(r_lab, (max(1, round(wr * d)), max(1, round(hr * d))),
                                            interpolation=cv2.INTER_AREA)
    rs = rs.reshape(rs.shape[0], rs.shape[1], -1)
    valid = np.ones((hq, wq), np.float32) if query_mask is None else (~query_mask).astype(
        np.float32)
    fill = min(wr / wq, hr / hq)  # query thumbnail px -> reference thumbnail px, filling it
    found: list[Placement] = []
    for f in fractions:
        c = fill * float(f)
        tw, th = round(c * wq * d), round(c * hq * d)
        if tw < 8 or th < 8 or tw > rs.shape[1] or th > rs.shape[0]:
            continue
        x_lo, y_lo, area = 0, 0, rs
        if near is not None:  # a window around the earlier placement
            margin = 3
            x_lo = max(0, round(near.offset[0] * d) - margin)
            y_lo = max(0, round(near.offset[1] * d) - margin)
            x_hi = min(rs.shape[1], round(near.offset[0] * d) + tw + margin)
            y_hi = min(rs.shape[0], round(near.offset[1] * d) + th + margin)
            if x_hi - x_lo < tw or y_hi - y_lo < th:
                continue
            area = rs[y_lo:y_hi, x_lo:x_hi]
        templ = cv2.resize(q_lab, (tw, th), interpolation=cv2.INTER_AREA).reshape(th, tw, -1)
        m = (cv2.resize(valid, (tw, th), interpolation=cv2.INTER_AREA) > 0.99).astype(np.float32)
        n = float(m.sum())
        if n < 0.25 * tw * th:
            continue
        channels = templ.shape[2]
        mask = np.repeat(m[:, :, None], channels, axis=2) if channels > 1 else m
        res = cv2.matchTemplate(np.ascontiguousarray(area), templ, cv2.TM_SQDIFF, mask=mask)
        res = res.reshape(res.shape[0], -1)
        _, _, (x0, y0), _ = cv2.minMaxLoc(res)
        found.append(Placement(float(res[y0, x0]) / (n * channels), c,
                               ((x0 + x_lo) / d, (y0 + y_lo) / d), float(f), mirrored))
    found.sort(key=lambda x: x.cost)
    return found[:keep]
