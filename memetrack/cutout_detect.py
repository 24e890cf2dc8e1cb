"""Detect registered cut-outs (transparent assets) inside other images.

A cut-out is represented (:class:`CutoutRepresentation`) by ORB features taken **inside its eroded
alpha mask** on its opaque view (composited over neutral grey, cropped to the alpha bounds), and
inside the whole mask on the same view composited over black and over white
(:attr:`CutoutSettings.reference_backgrounds`: a smooth drawing's corners lie on its outline, where
a descriptor also sees the background), at several sizes
(:attr:`CutoutSettings.reference_sides`), once as it is and once mirrored, plus a small grey
thumbnail of the opaque view with its eroded mask for an appearance check, and for a thin
cut-out a larger grey view with its alpha for an outline check.

Detection in a query image, cheapest first:

1. ORB features of the query at a fixed working size, keypoints on caption text removed
   (:func:`memetrack.features.text_mask`).
2. Their descriptors pair with cut-out descriptors and vote (distinctive matches only) through a
   :class:`~memetrack.index.cutout_index.CutoutIndex` holding each cut-out twice (plain and
   mirrored orientation, index key ``2 * cutout_id + mirrored``).
3. The best-voted candidates are geometrically verified with their pairs (RANSAC similarity
   transform, :func:`memetrack.features.verify`): enough inliers, inlier ratio and coverage,
   plausible size and rotation.
4. **Pose votes** (:func:`_pose_candidates`): every pair also predicts the cut-out's pose from the
   two keypoints' orientations and sizes; the cut-outs whose pairs agree best on one pose are
   verified too, with the agreeing pairs (a cut-out of common strokes wins few distinctive votes).
5. **Appearance check.** The query is warped onto the cut-out's thumbnail with the found
   transform and compared inside the eroded mask (normalised cross-correlation, caption pixels
   excluded). Repeated textures and letters can give a handful of consistent inliers by chance;
   they do not also reproduce the cut-out's picture. Detections with many inliers skip the check,
   except those found by pose votes; with nothing to compare (thin letters, all under a
   caption), only detections with many inliers are accepted. A **thin** cut-out (letters, line
   art; see :func:`_outline_view`) refused there is accepted when the gradient orientations
   along and inside its outline agree with the query's (:meth:`CutoutDetector._outline_agreement`).
6. **Flat colour shapes** (:meth:`CutoutDetector._flat_detections`): a flat drawing gives ORB few
   corners; a query region of its dominant colour with its silhouette places it, and the
   appearance and colour checks decide, or, for a shape of one flat tone, the query being as
   plain there (while few such cut-outs are registered).

A detection reports where the cut-out's opaque bounding box lies in the query (a quadrilateral
from the cut-out's own top-left corner, clockwise as seen on the cut-out; a mirrored paste
therefore runs right to left), its scale (height of that box over the query's shorter side),
whether it is mirrored, the number of inliers, the appearance correlation and a score.

Every threshold is a field of :class:`memetrack.config.CutoutSettings`.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from memetrack.appearance import is_greyscale
from memetrack.config import CutoutSettings
from memetrack.cutouts import ALPHA_THRESHOLD, alpha_bbox, as_rgba, opaque_view
from memetrack.features import (
    DESCRIPTOR_BYTES,
    LocalFeatures,
    Verification,
    frame_quad,
    text_mask,
    verify,
    working_image,
)
from memetrack.index.cutout_index import CutoutIndex, Matches
from memetrack.index.descriptors import set_threads

ALGORITHM = "cutorb"
"""Stored in ``media_features.algorithm`` (view ``cutout``) for a cut-out's representation."""
VERSION = 4
"""Bump when extraction changes so that stored representations are incomparable."""
VIEW = "cutout"

ORB_SCALE_FACTOR = 1.2
ORB_LEVELS = 8
ORB_PATCH = 19
"""ORB patch size and border (the same as :mod:`memetrack.features`)."""
MIN_APPEARANCE_PIXELS = 40
"""Fewer comparable thumbnail pixels than this and the appearance check cannot judge: a fit is
then accepted only with strong inliers."""
COLOUR_PROBE_SIDE = 64
"""Longer side of the query thumbnail that decides whether the query has colour to compare."""
COLOUR_PIXEL_CHROMA = 12.0
"""A colour-probe pixel with at least this chroma (a*, b* radius) shows colour."""
COLOUR_MIN_SHARE = 0.005
"""A query whose colour-probe thumbnail has at least this share of coloured pixels is not
greyscale, however grey the rest (a cut-out at 20 % of the shorter side covers about 2 %)."""
FIT_ATTEMPTS = 3
"""RANSAC fits tried per candidate (implausible models' inliers are removed between tries)."""
MAX_SIZE = 1.5
"""Largest plausible detected cut-out: its longer side over the query's shorter side."""
OUTLINE_REACH = 0.71
"""A keypoint's patch reaches the outline when the outline is within this share of its size
(half the diagonal of the square patch)."""
POSE_ANGLE_SLACK = 20.0
"""Pose votes: a pair counts when its keypoints' orientations differ by at most the largest
accepted rotation plus this (degrees)."""
POSE_SCALE_SLACK = 1.5
"""Pose votes: a pair counts when the size it predicts is within the accepted sizes, widened by
this factor."""
POSE_SCALE_BIN = 0.5
"""Pose votes: scale bin (log2 units, a factor of 1.41)."""
POSE_LOCATION_BIN = 0.25
"""Pose votes: position bin, as a share of the cut-out's predicted longer side."""
SCORE_INLIER_HALF = 15.0
"""Score: ``inliers / (inliers + 15)``, weighted by the appearance correlation (see Detection)."""

FLAT_GRID = 32
"""Side of the grid a flat colour shape's silhouette is compared on."""
FLAT_MIN_PIXELS = 24
"""Smallest query region (flat-stage working pixels) that can place a cut-out."""
FLAT_MAX_ASPECT = 1.33
"""Largest ratio between the aspect of a query region and that of the cut-out's colour shape."""
FLAT_SCORE = 0.5
"""A flat-stage detection's score: this times the silhouette IoU times ``(1 + appearance) / 2``
(it has no inliers)."""
APPEARANCE_CLIP = 10.0
"""Grey levels beyond the cut-out's own range that a flat-stage appearance check still
compares (see ``CutoutDetector._appearance``)."""
FLAT_GENERIC_IOU = 0.9
"""A flat shape whose silhouette has an IoU of at least this with its bounding box or with the
ellipse inscribed in it is generic (see :func:`_generic`)."""
FLAT_MAX_FILL_RATIO = 1.5
"""Largest ratio between the share of its bounding box a query region fills and the share the
cut-out's colour shape fills (a silhouette IoU of 0.85 allows about 1.18)."""
FLAT_MIN_FILL = 0.5
"""Flat stage prefilter: a cut-out is looked for only when the query has at least this share of
the pixels its colour shape would cover at the smallest accepted size (silhouette IoU >=
``flat_min_iou`` needs most of them)."""

IQR_TO_SIGMA = 1.349
"""Interquartile range of normal noise over its standard deviation (the flat stage's tone)."""

_MAGIC = b"MTCO"
_FORMAT = 4
_HEADER = struct.Struct("<4sBB8sHHHHHIIHH")


@dataclass(frozen=True, eq=False)
class CutoutRepresentation:
    """What the detector keeps of one cut-out.

    ``width`` x ``height`` is the reference frame: the opaque bounding box resized so its longer
    side is the largest reference side. ``features`` are in frame pixels (pixel-edge
    coordinates); ``mirrored_features`` come from the mirrored cut-out and are in the mirrored
    frame's pixels. ``geometry`` and ``mirrored_geometry`` (N x 2 float32) are each keypoint's
    ORB orientation (degrees) and size (frame pixels), for the pose votes. ``thumb`` (grey
    uint8), ``thumb_mask`` (bool, eroded) and ``chroma`` (CIE L*a*b* a* and b*, uint8 offset by
    128 as OpenCV stores them) are the opaque view at :attr:`CutoutSettings.appearance_side`.
    ``outline`` (H x W x 2 uint8: grey opaque view and alpha, at
    :attr:`CutoutSettings.outline_side`) is kept for a thin cut-out only (empty otherwise): the
    outline check compares gradient orientations there.
    """

    algorithm: str
    version: int
    width: int
    height: int
    features: LocalFeatures
    mirrored_features: LocalFeatures
    thumb: np.ndarray
    thumb_mask: np.ndarray
    geometry: np.ndarray
    mirrored_geometry: np.ndarray
    chroma: np.ndarray
    outline: np.ndarray

    def pack(self) -> bytes:
        """Self-describing bytes (for a ``media_features`` row)."""
        algo = self.algorithm.encode("ascii")
        plain, mirrored = self.features.to_bytes(), self.mirrored_features.to_bytes()
        th, tw = self.thumb.shape
        oh, ow = self.outline.shape[:2]
        head = _HEADER.pack(_MAGIC, _FORMAT, len(algo), algo.ljust(8, b"\0"), self.version,
                            self.width, self.height, tw, th, len(plain), len(mirrored), ow, oh)
        mask = np.packbits(self.thumb_mask.astype(np.uint8).ravel()).tobytes()
        geometry = (np.ascontiguousarray(self.geometry, "<f4").tobytes()
                    + np.ascontiguousarray(self.mirrored_geometry, "<f4").tobytes())
        return (head + plain + mirrored + np.ascontiguousarray(self.thumb).tobytes() + mask
                + geometry + np.ascontiguousarray(self.chroma, np.uint8).tobytes()
                + np.ascontiguousarray(self.outline, np.uint8).tobytes())

    @classmethod
    def unpack(cls, data: bytes) -> CutoutRepresentation:
        magic, fmt, n_algo, algo, version, w, h, tw, th, n1, n2, ow, oh = _HEADER.unpack_from(data)
        if magic != _MAGIC or fmt != _FORMAT:
            raise ValueError("not a memetrack cut-out representation")
        off = _HEADER.size
        plain = LocalFeatures.from_bytes(data[off:off + n1])
        mirrored = LocalFeatures.from_bytes(data[off + n1:off + n1 + n2])
        off += n1 + n2
        thumb = np.frombuffer(data, np.uint8, count=tw * th, offset=off).reshape(th, tw).copy()
        off += tw * th
        n_bits = (tw * th + 7) // 8
        bits = np.frombuffer(data, np.uint8, count=n_bits, offset=off)
        mask = np.unpackbits(bits)[: tw * th].reshape(th, tw).astype(bool)
        off += n_bits
        geometry = np.frombuffer(data, "<f4", count=2 * len(plain), offset=off)
        off += geometry.nbytes
        mirrored_geometry = np.frombuffer(data, "<f4", count=2 * len(mirrored), offset=off)
        off += mirrored_geometry.nbytes
        chroma = np.frombuffer(data, np.uint8, count=2 * tw * th, offset=off).reshape(th, tw, 2)
        off += chroma.nbytes
        outline = np.frombuffer(data, np.uint8, count=2 * ow * oh, offset=off).reshape(oh, ow, 2)
        return cls(algo[:n_algo].decode("ascii"), version, w, h, plain, mirrored, thumb, mask,
                   geometry.reshape(-1, 2).astype(np.float32),
                   mirrored_geometry.reshape(-1, 2).astype(np.float32), chroma.copy(),
                   outline.copy())


@dataclass(frozen=True, eq=False)
class Detection:
    """A registered cut-out found in an image.

    ``quad`` (4 x 2 float32) is the cut-out's opaque bounding box in the given image's pixels
    (pixel-edge coordinates), from the cut-out's own top-left corner, clockwise as seen on the
    cut-out. ``scale`` is the box's height over the image's shorter side. ``score`` in [0, 1] is
    ``inliers / (inliers + 15)`` times ``(1 + evidence) / 2``, the evidence being the appearance
    correlation, or the outline agreement when that is higher.
    """

    cutout_id: int
    quad: np.ndarray
    scale: float
    mirrored: bool
    score: float
    inliers: int
    appearance: float
    outline: float | None = None
    """The outline check's agreement, when it decided (a thin cut-out), else ``None``."""

    def to_dict(self) -> dict[str, object]:
        return {"cutout_id": self.cutout_id,
                "quad": [[round(float(x), 1), round(float(y), 1)] for x, y in self.quad],
                "scale": round(self.scale, 4), "mirrored": self.mirrored,
                "score": round(self.score, 4), "inliers": self.inliers,
                "appearance": round(self.appearance, 4),
                "outline": None if self.outline is None else round(self.outline, 4)}


_ORB_CACHE: dict[tuple[int, int, int], cv2.ORB] = {}
_ORB_LOCK = threading.Lock()


def _orb(n_features: int, fast_threshold: int, levels: int) -> cv2.ORB:
    key = (n_features, fast_threshold, levels)
    with _ORB_LOCK:
        orb = _ORB_CACHE.get(key)
        if orb is None:
            orb = cv2.ORB_create(nfeatures=n_features, scaleFactor=ORB_SCALE_FACTOR,
                                 nlevels=levels, edgeThreshold=ORB_PATCH,
                                 patchSize=ORB_PATCH, fastThreshold=fast_threshold)
            _ORB_CACHE[key] = orb
        return orb


_Keypoints = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Points (pixel-edge coordinates, N x 2 float32), descriptors (N x 32 uint8) and geometry
(orientation in degrees and size in pixels, N x 2 float32)."""


def _no_keypoints() -> _Keypoints:
    return (np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8),
            np.zeros((0, 2), np.float32))


def _keypoints(kps: list[cv2.KeyPoint] | tuple[cv2.KeyPoint, ...],
               desc: np.ndarray | None) -> _Keypoints:
    if desc is None or not kps:
        return _no_keypoints()
    pts = np.array([kp.pt for kp in kps], dtype=np.float32) + 0.5
    geometry = np.array([(kp.angle, kp.size) for kp in kps], dtype=np.float32)
    return pts, desc, geometry


def _orb_features(grey: np.ndarray, mask: np.ndarray | None, n_features: int,
                  fast_threshold: int, levels: int = ORB_LEVELS) -> _Keypoints:
    return _keypoints(*_orb(n_features, fast_threshold, levels).detectAndCompute(grey, mask))


def _query_keypoints(grey: np.ndarray, mask: np.ndarray | None, s: CutoutSettings) -> _Keypoints:
    """ORB's strongest ``query_features`` keypoints, topped up where they are sparse.

    ORB keeps the strongest keypoints of each pyramid level, and a busy background (big black
    letters, hatching) can take every one of them from a pasted cut-out beside it. Up to
    ``query_extra`` more come from a detection ``query_oversample`` times larger, given to
    the ``query_grid`` x ``query_grid`` cells with the fewest keypoints first (water-filling:
    a cell's count so far is its rank), each cell's strongest first."""
    orb = _orb(s.query_features, s.fast_threshold, s.query_levels)
    base = _keypoints(*orb.detectAndCompute(grey, mask))
    if s.query_grid <= 0 or s.query_extra <= 0:
        return base
    more = _orb(s.query_features * s.query_oversample, s.fast_threshold,
                s.query_levels).detect(grey, mask)
    if not more:
        return base
    h, w = grey.shape
    n = s.query_grid
    xy = cv2.KeyPoint_convert(more).reshape(-1, 2)
    base_xy = base[0] - 0.5  # back to OpenCV's pixel-centre coordinates

    def cells(points: np.ndarray) -> np.ndarray:
        return (np.minimum(points[:, 1] * n // h, n - 1) * n
                + np.minimum(points[:, 0] * n // w, n - 1)).astype(np.int64)

    def key(points: np.ndarray) -> np.ndarray:
        q = np.round(points * 100).astype(np.int64)
        return q[:, 0] * (1 << 24) + q[:, 1]

    # the larger detection repeats most of ``base`` (same pyramid, same detector)
    idx = np.flatnonzero(~np.isin(key(xy), key(base_xy)))
    if not idx.size:
        return base
    response = np.array([more[i].response for i in idx], np.float32)
    cell = cells(xy[idx])
    order = np.lexsort((-response, cell))
    starts = np.searchsorted(cell[order], cell[order], side="left")
    rank = np.empty(idx.size, np.int64)
    rank[order] = np.arange(idx.size) - starts
    rank += np.bincount(cells(base_xy), minlength=n * n)[cell]
    pick = np.sort(idx[np.lexsort((-response, rank))[: s.query_extra]])
    extra = _keypoints(*orb.compute(grey, [more[i] for i in pick]))
    return (np.concatenate([base[0], extra[0]]), np.concatenate([base[1], extra[1]]),
            np.concatenate([base[2], extra[2]]))


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = image.shape[:2]
    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp)


def _disc(px: int) -> np.ndarray:
    """A disc-shaped structuring element of radius ``px``."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask
    return cv2.erode(mask.astype(np.uint8), _disc(px), borderType=cv2.BORDER_CONSTANT,
                     borderValue=0) > 0


_View = tuple[np.ndarray, int, bool]
"""A reference view of the cut-out: grey image, pixels the mask is eroded by, and whether only
keypoints whose patch reaches the outline are kept (the others are the same as on the grey
view)."""


def _reference_features(views: list[_View], mask: np.ndarray, s: CutoutSettings,
                        frame: tuple[int, int], mirrored: bool) -> tuple[LocalFeatures, np.ndarray]:
    """ORB at every reference side of every view, keypoints inside the eroded ``mask``, in frame
    pixel-edge coordinates; with their geometry (orientation, size in frame pixels)."""
    fw, fh = frame
    h, w = mask.shape
    sizes = [(max(1, round(w * side / max(w, h))), max(1, round(h * side / max(w, h))))
             for side in s.reference_sides]
    masks = [_resize(mask.astype(np.float32), size) >= 0.5 for size in sizes]
    points, descs, geometries = [], [], []
    pad = ORB_PATCH + 1
    for grey, erode, outline_only in views:
        for size, resized in zip(sizes, masks, strict=True):
            g = _resize(grey, size)
            m = _erode(resized, erode)
            if not m.any():
                continue
            # ORB skips a border of its patch size: pad (reflected, masked out) so keypoints near
            # the crop's edge survive.
            g = cv2.copyMakeBorder(g, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
            m = cv2.copyMakeBorder(m.astype(np.uint8) * 255, pad, pad, pad, pad,
                                   cv2.BORDER_CONSTANT, value=0)
            if s.blur_sigma > 0:
                g = cv2.GaussianBlur(g, (0, 0), s.blur_sigma)
            pts, desc, geometry = _orb_features(g, m, s.reference_features, s.fast_threshold)
            if outline_only and len(pts):
                inside = cv2.distanceTransform((m > 0).astype(np.uint8), cv2.DIST_L2, 3)
                px = np.clip(pts.astype(np.int64), 0, np.array(m.shape[::-1]) - 1)
                near = inside[px[:, 1], px[:, 0]] <= OUTLINE_REACH * geometry[:, 1]
                pts, desc, geometry = pts[near], desc[near], geometry[near]
            pts = (pts - pad) * np.array([fw / size[0], fh / size[1]], np.float32)
            geometry[:, 1] *= fw / size[0]
            points.append(pts)
            descs.append(desc)
            geometries.append(geometry)
    if not points:
        pts, desc, geometry = _no_keypoints()
    else:
        pts, desc = np.concatenate(points), np.concatenate(descs)
        geometry = np.concatenate(geometries)
    return LocalFeatures(ALGORITHM, VERSION, fw, fh, pts, desc, mirrored), geometry


def _two_bins(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two bins nearest ``value`` (in bin units): ``floor(value - 0.5)`` and the next."""
    low = np.floor(value - 0.5).astype(np.int64)
    return low, low + 1


@dataclass(frozen=True, eq=False)
class _PoseTable:
    """Every reference keypoint's position and geometry, rows ``offsets[i]:offsets[i + 1]``
    for reference ``ref_ids[i]`` (sorted), with each reference frame's centre and longer side."""

    ref_ids: np.ndarray
    offsets: np.ndarray
    points: np.ndarray
    geometry: np.ndarray
    centre: np.ndarray
    extent: np.ndarray

    @classmethod
    def of(cls, reps: dict[int, CutoutRepresentation]) -> _PoseTable:
        ref_ids, points, geometry, centre, extent = [], [], [], [], []
        for cutout_id in sorted(reps):
            rep = reps[cutout_id]
            for mirrored, feats, geo in ((0, rep.features, rep.geometry),
                                         (1, rep.mirrored_features, rep.mirrored_geometry)):
                ref_ids.append(2 * cutout_id + mirrored)
                points.append(feats.points)
                geometry.append(geo)
                centre.append((rep.width / 2, rep.height / 2))
                extent.append(max(rep.width, rep.height))
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in points])]).astype(np.int64)
        return cls(np.asarray(ref_ids, np.int64), offsets,
                   np.concatenate(points) if points else np.zeros((0, 2), np.float32),
                   np.concatenate(geometry) if geometry else np.zeros((0, 2), np.float32),
                   np.asarray(centre, np.float32).reshape(-1, 2),
                   np.asarray(extent, np.float32))


def _pose_candidates(query: _Query, matches: Matches, table: _PoseTable,
                     s: CutoutSettings) -> list[tuple[int, np.ndarray]]:
    """References whose descriptor pairs agree on one pose, best first, with those pairs.

    Each pair (query keypoint, reference keypoint) predicts where the cut-out lies from the two
    keypoints' orientations and sizes: a rotation, a scale and the position of the reference
    frame's centre. Pairs whose rotation and size verification would refuse anyway are dropped;
    the others vote for the two nearest bins in scale and in each coordinate of the centre
    (Hough voting, as in Lowe's SIFT object recognition), and a reference's fullest bin counts
    the query keypoints that agree. This finds a pasted cut-out whose descriptors are too common
    to win distinctive votes, as long as enough of them agree geometrically.
    """
    if not matches.ref.size or not table.ref_ids.size:
        return []
    pos = np.minimum(np.searchsorted(table.ref_ids, matches.ref), table.ref_ids.size - 1)
    known = table.ref_ids[pos] == matches.ref
    row = table.offsets[pos] + matches.keypoint
    known &= row < table.offsets[pos + 1]
    own, row, qi = pos[known], row[known], matches.query[known]
    rp, rg = table.points[row], table.geometry[row]
    c, ext = table.centre[own], table.extent[own]
    qp, qg = query.feats.points[qi], query.geometry[qi]
    scale = qg[:, 1] / np.maximum(rg[:, 1], 1e-3)
    turn = (qg[:, 0] - rg[:, 0] + 180.0) % 360.0 - 180.0
    # Only poses that verification could accept (rotation, size), with room for the noise of
    # single keypoints.
    shorter = min(query.grey.shape)
    size = scale * ext / shorter
    keep = ((np.abs(turn) <= s.max_angle + POSE_ANGLE_SLACK)
            & (size >= s.min_size / POSE_SCALE_SLACK) & (size <= MAX_SIZE * POSE_SCALE_SLACK))
    qp, rp, c, ext, own = qp[keep], rp[keep], c[keep], ext[keep], own[keep]
    pairs = np.stack([qi, matches.keypoint[known]], axis=1)[keep].astype(np.int32)
    scale, rad = scale[keep], np.radians(turn[keep])
    cos, sin = np.cos(rad), np.sin(rad)
    d = c - rp
    cx = qp[:, 0] + scale * (cos * d[:, 0] - sin * d[:, 1])
    cy = qp[:, 1] + scale * (sin * d[:, 0] + cos * d[:, 1])
    keys = []
    for s_bin in _two_bins(np.log2(scale) / POSE_SCALE_BIN):
        width = POSE_LOCATION_BIN * ext * np.exp2((s_bin + 0.5) * POSE_SCALE_BIN)
        for x_bin in _two_bins(cx / width):
            for y_bin in _two_bins(cy / width):
                keys.append(((own * 256 + (s_bin + 128)) * 4096
                             + np.clip(x_bin + 2048, 0, 4095)) * 4096
                            + np.clip(y_bin + 2048, 0, 4095))
    if not own.size:
        return []
    bins, counts = np.unique(np.concatenate(keys), return_counts=True)
    bin_owner = bins // (256 * 4096 * 4096)
    order = np.lexsort((-counts, bin_owner))  # per owner, the fullest bin first
    first = np.ones(order.size, bool)
    first[1:] = bin_owner[order[1:]] != bin_owner[order[:-1]]
    peaks = order[first]
    peaks = peaks[counts[peaks] >= s.min_inliers]
    peaks = peaks[np.argsort(-counts[peaks], kind="stable")][: s.pose_candidates]
    out = []
    for peak in peaks:
        n = int(bin_owner[peak])
        lo, hi = np.searchsorted(own, n), np.searchsorted(own, n, side="right")
        in_bin = np.zeros(hi - lo, bool)
        for key in keys:
            in_bin |= key[lo:hi] == bins[peak]
        out.append((int(table.ref_ids[n]), pairs[lo:hi][in_bin]))
    return out


@dataclass(frozen=True, eq=False)
class _FlatShape:
    """A cut-out's dominant chromatic colour (CIE a*, b*) and the shape it has on the cut-out:
    its largest region, as a ``FLAT_GRID`` square silhouette of its bounding ``box`` (x0, y0,
    x1, y1 in reference frame pixels, plain orientation)."""

    ab: np.ndarray
    silhouette: np.ndarray
    box: np.ndarray
    aspect: float
    fill: float
    """The share of ``box`` the shape fills."""
    region: np.ndarray
    """The shape on the cut-out's thumbnail (bool, thumbnail size, plain orientation)."""
    plain: bool
    """The shape is one flat tone (its thumbnail grey levels vary by less than
    ``flat_plain_texture``) and not a generic box or ellipse, so its silhouette, colour and
    tone can place the cut-out without the appearance check."""
    uniform: bool
    """The whole cut-out is one flat tone: the appearance check's correlation is noise."""
    colours: np.ndarray
    """Every colour within ``flat_colour_radius`` of ``ab``, as :func:`_colour_keys` of OpenCV's
    8-bit a*, b*."""

    @classmethod
    def of(cls, rep: CutoutRepresentation, s: CutoutSettings) -> _FlatShape | None:
        mask = rep.thumb_mask
        ab = rep.chroma.astype(np.float32) - 128.0
        pixels = ab[mask]
        if len(pixels) < MIN_APPEARANCE_PIXELS:
            return None
        coloured = pixels[np.hypot(pixels[:, 0], pixels[:, 1]) >= s.flat_min_chroma]
        if len(coloured) < s.flat_min_share * len(pixels):
            return None
        # the fullest 8-unit a*, b* bin, refined by the mean of the pixels near it
        keys, counts = np.unique(np.floor(coloured / 8).astype(np.int64), axis=0,
                                 return_counts=True)
        centre = (keys[counts.argmax()] + 0.5) * 8.0
        for _ in range(3):
            near = np.hypot(*(coloured - centre).T) <= s.flat_colour_radius
            if not near.any():
                return None
            centre = coloured[near].mean(axis=0)
        part = mask & (np.hypot(ab[..., 0] - centre[0], ab[..., 1] - centre[1])
                       <= s.flat_colour_radius)
        if part.sum() < s.flat_min_share * mask.sum():
            return None
        n, labels, stats, _ = cv2.connectedComponentsWithStats(part.astype(np.uint8),
                                                               connectivity=8)
        big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        x, y, w, h, area = (int(v) for v in stats[big])
        if area < 0.2 * mask.sum() or w < 4 or h < 4:
            return None
        t = rep.width / mask.shape[1]  # thumbnail -> frame
        region = labels == big
        silhouette = _silhouette(region[y:y + h, x:x + w])
        inner = _erode(region, 1)
        tone = float(rep.thumb[inner].std()) if inner.sum() >= MIN_APPEARANCE_PIXELS else np.inf
        plain = tone < s.flat_plain_texture and not _generic(silhouette)
        uniform = float(rep.thumb[mask].std()) < s.flat_plain_texture
        return cls(centre.astype(np.float32), silhouette,
                   np.array([x, y, x + w, y + h], np.float64) * t, w / h, area / (w * h),
                   region, plain, uniform, _colour_ball(centre, s.flat_colour_radius))


OUTLINE_ERODE = 2
"""Pixels (at ``outline_side``) a thin cut-out's mask is eroded by to measure its thickness,
and its outline region widened by (so a placement a pixel or two off still compares edges)."""
OUTLINE_BLUR = 1.0
"""Gaussian sigma (outline pixels) before gradients are taken, on both sides."""
OUTLINE_ALPHA_WEIGHT = 0.5
"""Weight of the alpha channel's gradient beside the grey view's in a cut-out's orientation
field: the outline shows whatever the grey view's contrast with neutral grey."""


def _outline_view(grey: np.ndarray, alpha: np.ndarray, s: CutoutSettings) -> np.ndarray:
    """The grey opaque view and the alpha channel (cropped to the alpha bounds) at
    ``outline_side``, stacked (H x W x 2 uint8), when the cut-out is thin (see
    ``outline_max_thickness``); an empty array otherwise."""
    h, w = grey.shape
    k = s.outline_side / max(w, h)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    small_alpha = _resize(alpha, size)
    mask = small_alpha >= 128
    thickness = float(_erode(mask, OUTLINE_ERODE).sum()) / max(1, int(mask.sum()))
    if not mask.any() or thickness > s.outline_max_thickness:
        return np.zeros((0, 0, 2), np.uint8)
    return np.dstack([_resize(grey, size), small_alpha])


def _orientation_field(grey: np.ndarray) -> np.ndarray:
    """Gradients as doubled-angle complex numbers (magnitude: the gradient's; angle: twice its
    direction): an edge gives the same value whichever side is darker, so a cut-out's outline
    agrees with the query's whatever the background behind it."""
    g = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), OUTLINE_BLUR)
    z = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) + 1j * cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.abs(z)
    return np.where(magnitude > 1e-6, z * z / np.maximum(magnitude, 1e-6), 0).astype(np.complex64)


@dataclass(frozen=True, eq=False)
class _Outline:
    """A thin cut-out's orientation field (plain orientation) and the region compared: its mask
    widened by ``OUTLINE_ERODE`` pixels."""

    field: np.ndarray
    region: np.ndarray

    @classmethod
    def of(cls, rep: CutoutRepresentation) -> _Outline | None:
        if not rep.outline.size:
            return None
        grey, alpha = rep.outline[:, :, 0], rep.outline[:, :, 1]
        field = _orientation_field(grey) + OUTLINE_ALPHA_WEIGHT * _orientation_field(alpha)
        region = cv2.dilate((alpha >= 128).astype(np.uint8), _disc(OUTLINE_ERODE)) > 0
        return cls(field, region)

    def oriented(self, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
        """Field and region in the mirrored frame when ``mirrored``: mirroring negates the x
        gradient, which conjugates the doubled-angle value."""
        if not mirrored:
            return self.field, self.region
        return np.conj(self.field[:, ::-1]), self.region[:, ::-1]


def _generic(silhouette: np.ndarray) -> bool:
    """Whether a silhouette is nearly its bounding box or the ellipse inscribed in it: shapes
    any flat patch of colour can take."""
    n = silhouette.shape[0]
    ellipse = np.zeros((n, n), np.uint8)
    cv2.ellipse(ellipse, (n // 2, n // 2), (n // 2, n // 2), 0, 0, 360, 1, -1)
    return bool(silhouette.mean() >= FLAT_GENERIC_IOU
                or _mask_iou(silhouette, ellipse > 0) >= FLAT_GENERIC_IOU)


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape (0 when both are empty)."""
    return float((a & b).sum() / max(1, (a | b).sum()))


def _colour_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One uint16 per colour from OpenCV's 8-bit a* and b* (offset by 128)."""
    return (a.astype(np.uint16) << 8) | b.astype(np.uint16)


def _colour_ball(ab: np.ndarray, radius: float) -> np.ndarray:
    """The keys of every 8-bit a*, b* colour within ``radius`` of ``ab`` (CIE units)."""
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    near = (a - 128 - ab[0]) ** 2 + (b - 128 - ab[1]) ** 2 <= radius * radius
    return _colour_keys(a[near], b[near])


def _silhouette(region: np.ndarray) -> np.ndarray:
    return cv2.resize(region.astype(np.float32), (FLAT_GRID, FLAT_GRID),
                      interpolation=cv2.INTER_AREA) >= 0.5


def _greyscale(chroma: np.ndarray) -> bool:
    """Whether a query thumbnail's a*, b* (OpenCV 8-bit) show no colour at all: grey on the
    whole (:func:`memetrack.appearance.is_greyscale`) and no patch of colour either (a coloured
    cut-out pasted on a black-and-white picture is not a greyscale copy)."""
    ab = chroma.astype(np.float32) - 128.0
    coloured = np.hypot(ab[..., 0], ab[..., 1]) >= COLOUR_PIXEL_CHROMA
    return is_greyscale(chroma) and float(coloured.mean()) < COLOUR_MIN_SHARE


def _to_rgb(pixels: np.ndarray) -> np.ndarray:
    array = np.asarray(pixels)
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3])


def polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex quadrilaterals (4 x 2, any orientation)."""
    pa = cv2.convexHull(np.asarray(a, np.float32).reshape(-1, 2))
    pb = cv2.convexHull(np.asarray(b, np.float32).reshape(-1, 2))
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    union = cv2.contourArea(pa) + cv2.contourArea(pb) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass(frozen=True, eq=False)
class _Query:
    feats: LocalFeatures
    geometry: np.ndarray  # orientation (degrees) and size (working pixels) per keypoint
    grey: np.ndarray  # working image, grey
    text: np.ndarray | None  # caption text mask of the working image
    to_original: float  # working pixels -> the caller's pixels
    rgb: np.ndarray  # working image
    greyscale: bool  # no colour to compare (a greyscale copy, say)


class CutoutDetector:
    """An in-memory set of registered cut-outs and the detector over them. Thread-safe."""

    def __init__(self, settings: CutoutSettings | None = None) -> None:
        self.settings = settings or CutoutSettings()
        self._reps: dict[int, CutoutRepresentation] = {}
        self._index = CutoutIndex(ivf_min_rows=self.settings.ivf_min_rows,
                                  nprobe=self.settings.ivf_nprobe,
                                  lists_per_sqrt=self.settings.ivf_lists_per_sqrt)
        self._poses: _PoseTable | None = None
        self._flats: dict[int, _FlatShape] = {}
        self._outlines: dict[int, _Outline] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._reps)

    def __contains__(self, cutout_id: object) -> bool:
        return cutout_id in self._reps

    # -- representations -------------------------------------------------------------------

    def represent(self, rgba: np.ndarray) -> CutoutRepresentation:
        """Features inside the eroded alpha mask at several sizes, plain and mirrored.

        Only opaque pixels count: the colour hidden under transparent pixels never reaches the
        features. Raises :class:`~memetrack.errors.EmptyImage` for a fully transparent image.
        """
        s = self.settings
        array = as_rgba(rgba)
        left, top, right, bottom = alpha_bbox(array[:, :, 3])
        opaque = opaque_view(array)
        grey = cv2.cvtColor(opaque, cv2.COLOR_RGB2GRAY)
        mask = array[top:bottom, left:right, 3] >= ALPHA_THRESHOLD
        h, w = grey.shape
        k = max(s.reference_sides) / max(w, h)
        frame = (max(1, round(w * k)), max(1, round(h * k)))
        views: list[_View] = [(grey, s.mask_erode, False)] + [
            (cv2.cvtColor(opaque_view(array, grey=level), cv2.COLOR_RGB2GRAY), 0, True)
            for level in s.reference_backgrounds]
        plain, geometry = _reference_features(views, mask, s, frame, False)
        mirrored, mirrored_geometry = _reference_features(
            [(np.ascontiguousarray(g[:, ::-1]), e, o) for g, e, o in views],
            np.ascontiguousarray(mask[:, ::-1]), s, frame, True)
        t = s.appearance_side / max(w, h)
        tsize = (max(1, round(w * t)), max(1, round(h * t)))
        thumb = _resize(grey, tsize)
        tmask = _erode(_resize(mask.astype(np.float32), tsize) >= 0.5, 1)
        chroma = cv2.cvtColor(_resize(opaque, tsize), cv2.COLOR_RGB2LAB)[:, :, 1:]
        outline = _outline_view(grey, array[top:bottom, left:right, 3], s)
        return CutoutRepresentation(ALGORITHM, VERSION, frame[0], frame[1], plain, mirrored,
                                    thumb, tmask, geometry, mirrored_geometry,
                                    np.ascontiguousarray(chroma), outline)

    # -- registered cut-outs ---------------------------------------------------------------

    def add(self, cutout_id: int, rep: CutoutRepresentation) -> None:
        """Register (or replace) a cut-out's representation."""
        if rep.algorithm != ALGORITHM or rep.version != VERSION:
            raise ValueError(f"representation {rep.algorithm} v{rep.version} is not "
                             f"{ALGORITHM} v{VERSION}")
        with self._lock:
            self.remove(cutout_id)
            self._reps[cutout_id] = rep
            self._poses = None
            flat = _FlatShape.of(rep, self.settings)
            if flat is not None:
                self._flats[cutout_id] = flat
            outline = _Outline.of(rep)
            if outline is not None:
                self._outlines[cutout_id] = outline
            self._index.add(2 * cutout_id, cutout_id, rep.features.descriptors)
            self._index.add(2 * cutout_id + 1, cutout_id, rep.mirrored_features.descriptors)

    def remove(self, cutout_id: int) -> None:
        with self._lock:
            if self._reps.pop(cutout_id, None) is None:
                return
            self._poses = None
            self._flats.pop(cutout_id, None)
            self._outlines.pop(cutout_id, None)
            self._index.remove(2 * cutout_id)
            self._index.remove(2 * cutout_id + 1)

    def build(self) -> None:
        """Build the descriptor index now rather than on the first query."""
        self._index.build()

    # -- detection -------------------------------------------------------------------------

    def query_features(self, rgb: np.ndarray) -> _Query:
        s = self.settings
        rgb = _to_rgb(rgb)
        work = working_image(rgb, s.query_side)
        grey = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
        text = None
        if s.mask_query_text:
            small = working_image(work, min(s.text_side, max(work.shape[:2])))
            found = text_mask(small, dark=s.text_dark, min_line=s.text_min_line)
            if found.any():
                text = cv2.resize(found.astype(np.uint8), (work.shape[1], work.shape[0]),
                                  interpolation=cv2.INTER_NEAREST) > 0
        mask = None if text is None else (~text).astype(np.uint8) * 255
        if s.blur_sigma > 0:
            grey = cv2.GaussianBlur(grey, (0, 0), s.blur_sigma)
        pts, desc, geometry = _query_keypoints(grey, mask, s)
        feats = LocalFeatures(ALGORITHM, VERSION, work.shape[1], work.shape[0], pts, desc)
        small = cv2.cvtColor(working_image(work, COLOUR_PROBE_SIDE), cv2.COLOR_RGB2LAB)
        return _Query(feats, geometry, grey, text, rgb.shape[1] / work.shape[1], work,
                      _greyscale(small[:, :, 1:]))

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Registered cut-outs found in ``rgb`` (RGB or RGBA uint8, alpha ignored), best first."""
        s = self.settings
        if not self._reps:
            return []
        set_threads(1)
        query = self.query_features(rgb)
        # Voted candidates (most votes first), then the references whose pairs agree best on
        # one pose, each verified with those pairs only; none when the query has too few
        # corners (only a flat drawing can show then).
        matches, poses = Matches.empty(), None
        with self._lock:
            reps = dict(self._reps)
            outlines = dict(self._outlines)
            flats = (dict(self._flats)
                     if s.flat_stage and len(self._flats) <= s.flat_max_shapes else {})
            if len(query.feats) >= s.min_inliers:
                matches = self._index.match(
                    query.feats.descriptors, k=s.search_neighbours,
                    max_distance=s.search_max_distance, ratio=s.ratio_test, ties=s.vote_ties)
                if self._poses is None and s.pose_candidates:
                    self._poses = _PoseTable.of(reps)
                poses = self._poses
        candidates = [(c.ref_id, c.pairs) for c in matches.candidates(s.candidates)
                      if c.votes >= s.min_votes]
        voted = len(candidates)
        if poses is not None:
            candidates += _pose_candidates(query, matches, poses, s)
        best: dict[int, Detection] = {}
        for n, (ref_id, pairs) in enumerate(candidates):
            cutout_id, mirrored = divmod(ref_id, 2)
            rep = reps.get(cutout_id)
            if rep is None or (n >= voted and cutout_id in best):
                continue
            det = self._verify(query, rep, bool(mirrored), cutout_id, pairs, pose=n >= voted,
                               outline=outlines.get(cutout_id))
            if det is not None and (cutout_id not in best or det.score > best[cutout_id].score):
                best[cutout_id] = det
        for det in self._flat_detections(query, flats, reps, set(best)):
            best[det.cutout_id] = det
        out = sorted(best.values(), key=lambda d: (-d.score, d.cutout_id))
        return out[: s.max_results]

    def _flat_detections(self, query: _Query, flats: dict[int, _FlatShape],
                         reps: dict[int, CutoutRepresentation],
                         found: set[int]) -> list[Detection]:
        """Flat colour drawings placed by their colour and silhouette (see ``flat_stage``)."""
        s = self.settings
        if query.greyscale or not flats:
            return []
        small = working_image(query.rgb, s.flat_side, 1.0)
        k = small.shape[1] / query.rgb.shape[1]  # flat-stage pixels per working pixel
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
        keys = _colour_keys(lab[:, :, 1], lab[:, :, 2])
        counts = np.bincount(keys.ravel(), minlength=1 << 16)
        lut = np.zeros(1 << 16, np.uint8)
        work_h, work_w = query.grey.shape
        shorter = min(work_h, work_w)
        out = []
        for cutout_id, flat in flats.items():
            rep = reps.get(cutout_id)
            if rep is None or cutout_id in found:
                continue
            # too few pixels of its colour for its shape at the smallest accepted size: skip
            # the colour map (most of the cost) for most registered cut-outs
            longer = max(rep.width, rep.height)
            smallest = s.min_size * shorter * k / longer
            x0, y0, x1, y1 = flat.box
            least = (FLAT_MIN_FILL * flat.fill
                     * (x1 - x0) * (y1 - y0) * smallest * smallest)
            if counts[flat.colours].sum() < max(FLAT_MIN_PIXELS, least):
                continue
            lut[flat.colours] = 1
            near = lut[keys]
            lut[flat.colours] = 0
            n, labels, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
            # regions of a plausible size and shape, all at once
            lo = smallest * (x1 - x0)
            hi = MAX_SIZE * shorter * k / longer * (x1 - x0)
            w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
            ratio = (w / np.maximum(h, 1)) / flat.aspect
            area = stats[1:, cv2.CC_STAT_AREA]
            fill = area / np.maximum(w * h, 1) / flat.fill
            ok = ((area >= FLAT_MIN_PIXELS) & (w >= 4) & (h >= 4)
                  & (w >= lo) & (w <= hi)
                  & (ratio >= 1 / FLAT_MAX_ASPECT) & (ratio <= FLAT_MAX_ASPECT)
                  & (fill >= 1 / FLAT_MAX_FILL_RATIO) & (fill <= FLAT_MAX_FILL_RATIO))
            best: Detection | None = None
            for i in np.flatnonzero(ok) + 1:
                x, y, w_i, h_i = (int(v) for v in stats[i, :4])
                region = _silhouette(labels[y:y + h_i, x:x + w_i] == i)
                for mirrored in (False, True):
                    ref = flat.silhouette[:, ::-1] if mirrored else flat.silhouette
                    iou = _mask_iou(region, ref)
                    if iou < s.flat_min_iou:
                        continue
                    bx0, bx1 = (rep.width - x1, rep.width - x0) if mirrored else (x0, x1)
                    # working pixels per frame pixel
                    scale = (w_i / (bx1 - bx0) + h_i / (y1 - y0)) / 2 / k
                    if not s.min_size * shorter <= scale * longer <= MAX_SIZE * shorter:
                        continue
                    transform = np.array([[scale, 0.0, x / k - scale * bx0],
                                          [0.0, scale, y / k - scale * y0]])
                    v = Verification(0, 1.0, 1.0, 1.0, scale, 0.0,
                                     frame_quad(rep.width, rep.height, transform), transform,
                                     False, np.zeros((0, 2), np.int32))
                    # a silhouette alone is no evidence: the picture must be compared
                    appearance = self._appearance(query, rep, mirrored, v, unknown=-1.0,
                                                  clip=True)
                    # the picture agrees (unless it is one flat tone: correlation is noise),
                    # or a plain shape is as plain in the query
                    pictured = not flat.uniform and appearance >= s.flat_min_appearance
                    if not pictured and not (
                            flat.plain and self._tone(query, rep, flat, mirrored, v)
                            <= s.flat_plain_query_texture):
                        continue
                    colour = self._colour(query, rep, mirrored, v)
                    if colour is not None and colour[0] > s.max_chroma_distance:
                        continue
                    # a plain shape's placement scores as the least accepted picture
                    agree = appearance if pictured else s.flat_min_appearance
                    score = FLAT_SCORE * iou * (1.0 + agree) / 2
                    if best is None or score > best.score:
                        best = self._detection(query, cutout_id, mirrored, v, appearance, score)
            if best is not None:
                out.append(best)
        return out

    @staticmethod
    def _tone(query: _Query, rep: CutoutRepresentation, flat: _FlatShape, mirrored: bool,
              v: Verification) -> float:
        """How much the query's grey levels vary where the placement puts a plain flat shape
        (eroded by a thumbnail pixel, off caption text), as the standard deviation its
        interquartile range would have for normal noise; infinite when too little of it can be
        compared."""
        warped, keep = _onto_thumb(query, query.grey, rep, mirrored, v)
        region = _erode(flat.region[:, ::-1] if mirrored else flat.region, 1) & keep
        if int(region.sum()) < MIN_APPEARANCE_PIXELS:
            return np.inf
        # robust: a placement a pixel off, or JPEG ringing, puts a few edge pixels in
        lo, hi = np.percentile(warped[region], [25, 75])
        return float(hi - lo) / IQR_TO_SIGMA

    @staticmethod
    def _detection(query: _Query, cutout_id: int, mirrored: bool, v: Verification,
                   appearance: float, score: float,
                   outline: float | None = None) -> Detection:
        quad = v.quad.astype(np.float64)
        if mirrored:  # the mirrored frame's top-left is the cut-out's top-right
            quad = quad[[1, 0, 3, 2]]
        quad *= query.to_original
        shorter = min(query.grey.shape) * query.to_original
        height = float(np.hypot(*(quad[3] - quad[0])))
        return Detection(cutout_id, quad.astype(np.float32), height / shorter, mirrored,
                         float(score), v.inliers, float(appearance),
                         None if outline is None else float(outline))

    def _verify(self, query: _Query, rep: CutoutRepresentation, mirrored: bool,
                cutout_id: int, pairs: np.ndarray, pose: bool = False,
                outline: _Outline | None = None) -> Detection | None:
        s = self.settings
        ref = rep.mirrored_features if mirrored else rep.features
        work_h, work_w = query.grey.shape
        # Plausible sizes: the cut-out's longer side between min_size and MAX_SIZE of the
        # query's shorter side. RANSAC can settle on a degenerate, tiny transform that gathers a
        # cluster of query points; such a model's inliers are dropped and the fit tried again.
        unit = min(work_h, work_w) / max(rep.width, rep.height)
        v = None
        for _attempt in range(FIT_ATTEMPTS):
            v = verify(query.feats, ref, pairs, reproj_threshold=s.reproj_threshold,
                       min_scale=0.0, max_scale=np.inf, max_angle=180.0,
                       min_inliers=s.min_inliers)
            if v is None:
                return None
            plausible = (s.min_size * unit <= v.scale <= MAX_SIZE * unit
                         and abs(v.angle) <= s.max_angle)
            if plausible:
                break
            used = {tuple(p) for p in v.inlier_pairs.tolist()}
            pairs = np.array([p for p in pairs.tolist() if tuple(p) not in used],
                             np.int32).reshape(-1, 2)
            v = None
        if v is None or v.inlier_ratio < s.min_inlier_ratio or v.coverage < s.min_coverage:
            return None
        # With nothing to compare (a cut-out of thin letters, which its thumbnail cannot hold
        # or the caption mask takes for text, or one hidden under a caption) the picture cannot
        # confirm a fit: only strong inliers are accepted then. Letters in one font share
        # corners, so a few consistent inliers are no evidence (synthetic word-marks: 15-33 %
        # false positives before; no true dev detection had nothing to compare).
        appearance = self._appearance(query, rep, mirrored, v, unknown=-1.0)
        accepted = not (
            (pose and appearance < s.pose_min_appearance and v.inliers < s.pose_strong_inliers)
            or (v.inliers < s.strong_inliers and appearance < s.min_appearance))
        # A thin cut-out (letters, line art) is mostly outline, which the thumbnail cannot hold:
        # its edges' orientations, compared at a finer scale, decide instead.
        agreement = None
        if not accepted and outline is not None:
            agreement = self._outline_agreement(query, rep, outline, mirrored, v)
            accepted = agreement is not None and agreement >= s.outline_min
        # Colour: refuses a fit whose colours are far from the cut-out's, and accepts one that
        # grey levels could not judge (grain, flat ink) when its colours vary with the cut-out's.
        rescue = (not accepted and v.inliers >= s.colour_min_inliers
                  and appearance >= s.colour_min_appearance)
        if s.colour_check and ((accepted and v.inliers < s.strong_inliers) or rescue):
            colour = self._colour(query, rep, mirrored, v)
            if colour is not None:
                distance, correlation = colour
                if distance > s.max_chroma_distance:
                    return None
                accepted = accepted or correlation >= s.min_chroma_correlation
        if not accepted:
            return None
        evidence = max(appearance, agreement if agreement is not None else -1.0)
        score = v.inliers / (v.inliers + SCORE_INLIER_HALF) * (1.0 + evidence) / 2
        return self._detection(query, cutout_id, mirrored, v, appearance, score, agreement)

    @staticmethod
    def _appearance(query: _Query, rep: CutoutRepresentation, mirrored: bool,
                    v: Verification, unknown: float, clip: bool = False) -> float:
        """Normalised cross-correlation of the query warped onto the cut-out thumbnail;
        ``unknown`` when nothing can be compared (all under a caption, say). With ``clip``, the
        query's grey levels are first clipped to the cut-out's range (widened by
        ``APPEARANCE_CLIP``): a placement a pixel or two off compares the outline with the
        background, which would otherwise swamp a shaded drawing's gentle gradient."""
        thumb = rep.thumb[:, ::-1] if mirrored else rep.thumb
        warped, keep = _onto_thumb(query, query.grey, rep, mirrored, v)
        if int(keep.sum()) < MIN_APPEARANCE_PIXELS:
            return unknown
        seen, own = warped[keep].astype(np.float32), thumb[keep].astype(np.float32)
        if clip:
            seen = np.clip(seen, own.min() - APPEARANCE_CLIP, own.max() + APPEARANCE_CLIP)
        return _correlation(seen, own)

    @staticmethod
    def _outline_agreement(query: _Query, rep: CutoutRepresentation, outline: _Outline,
                           mirrored: bool, v: Verification) -> float | None:
        """How well the query's gradient orientations, warped onto the thin cut-out's outline
        view, agree with the cut-out's own inside its widened mask (a normalised correlation of
        doubled-angle fields: 1 when every edge lies as the cut-out's do, about 0 for an
        unrelated picture); ``None`` when too little of it can be compared."""
        field, region = outline.oriented(mirrored)
        th, tw = region.shape
        warped, keep = _warp_onto(query, query.grey, v, tw / rep.width, (tw, th),
                                  border=cv2.BORDER_REPLICATE)
        keep &= region
        if int(keep.sum()) < MIN_APPEARANCE_PIXELS:
            return None
        seen, own = _orientation_field(warped)[keep], field[keep]
        denom = float(np.sqrt(float((np.abs(seen) ** 2).sum()) * float((np.abs(own) ** 2).sum())))
        return float((seen * np.conj(own)).real.sum() / denom) if denom > 1e-6 else 0.0

    @staticmethod
    def _colour(query: _Query, rep: CutoutRepresentation, mirrored: bool,
                v: Verification) -> tuple[float, float] | None:
        """How far the mean a*, b* of the query warped onto the cut-out lies from the cut-out's,
        and how the two correlate; ``None`` when there is no colour to compare."""
        if query.greyscale:
            return None
        chroma = rep.chroma[:, ::-1] if mirrored else rep.chroma
        warped, keep = _onto_thumb(query, query.rgb, rep, mirrored, v)
        if int(keep.sum()) < MIN_APPEARANCE_PIXELS:
            return None
        seen = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB)[:, :, 1:][keep].astype(np.float32)
        own = chroma[keep].astype(np.float32)
        distance = float(np.linalg.norm(seen.mean(axis=0) - own.mean(axis=0)))
        # each channel about its own mean: how the colours vary across the cut-out
        return distance, _correlation((seen - seen.mean(axis=0)).ravel(),
                                      (own - own.mean(axis=0)).ravel())


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Normalised cross-correlation of two float arrays (0 when either is flat)."""
    x = x - x.mean()
    y = y - y.mean()
    denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denom) if denom >= 1e-6 else 0.0


def _warp_onto(query: _Query, image: np.ndarray, v: Verification, t: float,
               size: tuple[int, int], border: int = cv2.BORDER_CONSTANT
               ) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (the query's working image, grey or RGB) warped through ``v`` onto a view of
    the cut-out with ``t`` view pixels per frame pixel and ``size`` (width, height); with the
    view pixels that land inside the query and off its caption text."""
    tw, th = size
    # The cut-out spans v.scale / t working pixels per view pixel: shrink the query first
    # when that is large, so the warp does not alias.
    shrink = min(1.0, 1.5 * t / max(v.scale, 1e-6))
    text = query.text
    if shrink < 0.9:
        h, w = image.shape[:2]
        small = (max(1, round(w * shrink)), max(1, round(h * shrink)))
        image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
        if text is not None:
            text = cv2.resize(text.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST) > 0
    else:
        shrink = 1.0
    # view pixel centre -> frame edge coords -> working edge -> (shrunk) pixel centre
    a = v.transform[:, :2] * shrink / t
    b = (v.transform[:, :2] @ np.array([0.5 / t, 0.5 / t]) + v.transform[:, 2]) * shrink - 0.5
    m = np.hstack([a, b[:, None]]).astype(np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(image, m, (tw, th), flags=flags, borderMode=border)
    keep = cv2.warpAffine(np.full(image.shape[:2], 255, np.uint8), m, (tw, th), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0) == 255
    if text is not None:
        on_text = cv2.warpAffine(text.astype(np.uint8) * 255, m, (tw, th), flags=flags,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
        keep &= ~on_text
    return warped, keep


def _onto_thumb(query: _Query, image: np.ndarray, rep: CutoutRepresentation, mirrored: bool,
                v: Verification) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (the query's working image, grey or RGB) warped onto the cut-out's thumbnail
    through ``v``, and the thumbnail pixels to compare: inside the eroded mask, inside the
    query and off its caption text."""
    tmask = rep.thumb_mask[:, ::-1] if mirrored else rep.thumb_mask
    th, tw = tmask.shape
    warped, keep = _warp_onto(query, image, v, tw / rep.width, (tw, th))
    return warped, tmask & keep
