"""Detect registered cut-outs (transparent assets) inside other images.

A cut-out is represented (:class:`CutoutRepresentation`) by ORB features taken **inside its eroded
alpha mask** on its opaque view (composited over neutral grey, cropped to the alpha bounds), at
several sizes (:attr:`CutoutSettings.reference_sides`), once as it is and once mirrored, plus a
small grey thumbnail of the opaque view with its eroded mask for an appearance check.

Detection in a query image, cheapest first:

1. ORB features of the query at a fixed working size, keypoints on caption text removed
   (:func:`memetrack.features.text_mask`).
2. Their descriptors vote for cut-outs through a
   :class:`~memetrack.index.descriptors.DescriptorIndex` holding each cut-out twice (plain and
   mirrored orientation, index key ``2 * cutout_id + mirrored``).
3. The best-voted candidates are matched descriptor by descriptor (ratio test) and geometrically
   verified (RANSAC similarity transform, :func:`memetrack.features.verify`): enough inliers,
   inlier ratio and coverage, plausible size and rotation.
4. **Appearance check.** The query is warped onto the cut-out's thumbnail with the found
   transform and compared inside the eroded mask (normalised cross-correlation, caption pixels
   excluded). Repeated textures and letters can give a handful of consistent inliers by chance;
   they do not also reproduce the cut-out's picture. Detections with many inliers skip the check.

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

from memetrack.config import CutoutSettings
from memetrack.cutouts import ALPHA_THRESHOLD, alpha_bbox, as_rgba, opaque_view
from memetrack.features import (
    DESCRIPTOR_BYTES,
    LocalFeatures,
    Verification,
    text_mask,
    verify,
    working_image,
)
from memetrack.index.cutout_index import CutoutIndex
from memetrack.index.descriptors import set_threads

ALGORITHM = "cutorb"
"""Stored in ``media_features.algorithm`` (view ``cutout``) for a cut-out's representation."""
VERSION = 1
"""Bump when extraction changes so that stored representations are incomparable."""
VIEW = "cutout"

ORB_SCALE_FACTOR = 1.2
ORB_LEVELS = 8
ORB_PATCH = 19
"""ORB patch size and border (the same as :mod:`memetrack.features`)."""
MIN_APPEARANCE_PIXELS = 40
"""Fewer comparable thumbnail pixels than this and the appearance check cannot reject."""
FIT_ATTEMPTS = 3
"""RANSAC fits tried per candidate (implausible models' inliers are removed between tries)."""
MAX_SIZE = 1.5
"""Largest plausible detected cut-out: its longer side over the query's shorter side."""
SCORE_INLIER_HALF = 15.0
"""Score: ``inliers / (inliers + 15)``, weighted by the appearance correlation (see Detection)."""

_MAGIC = b"MTCO"
_FORMAT = 1
_HEADER = struct.Struct("<4sBB8sHHHHHII")


@dataclass(frozen=True, eq=False)
class CutoutRepresentation:
    """What the detector keeps of one cut-out.

    ``width`` x ``height`` is the reference frame: the opaque bounding box resized so its longer
    side is the largest reference side. ``features`` are in frame pixels (pixel-edge
    coordinates); ``mirrored_features`` come from the mirrored cut-out and are in the mirrored
    frame's pixels. ``thumb`` (grey uint8) and ``thumb_mask`` (bool, eroded) are the opaque view
    at :attr:`CutoutSettings.appearance_side`.
    """

    algorithm: str
    version: int
    width: int
    height: int
    features: LocalFeatures
    mirrored_features: LocalFeatures
    thumb: np.ndarray
    thumb_mask: np.ndarray

    def pack(self) -> bytes:
        """Self-describing bytes (for a ``media_features`` row)."""
        algo = self.algorithm.encode("ascii")
        plain, mirrored = self.features.to_bytes(), self.mirrored_features.to_bytes()
        th, tw = self.thumb.shape
        head = _HEADER.pack(_MAGIC, _FORMAT, len(algo), algo.ljust(8, b"\0"), self.version,
                            self.width, self.height, tw, th, len(plain), len(mirrored))
        mask = np.packbits(self.thumb_mask.astype(np.uint8).ravel()).tobytes()
        return head + plain + mirrored + np.ascontiguousarray(self.thumb).tobytes() + mask

    @classmethod
    def unpack(cls, data: bytes) -> CutoutRepresentation:
        magic, fmt, n_algo, algo, version, w, h, tw, th, n1, n2 = _HEADER.unpack_from(data)
        if magic != _MAGIC or fmt != _FORMAT:
            raise ValueError("not a memetrack cut-out representation")
        off = _HEADER.size
        plain = LocalFeatures.from_bytes(data[off:off + n1])
        mirrored = LocalFeatures.from_bytes(data[off + n1:off + n1 + n2])
        off += n1 + n2
        thumb = np.frombuffer(data, np.uint8, count=tw * th, offset=off).reshape(th, tw).copy()
        bits = np.frombuffer(data, np.uint8, offset=off + tw * th)
        mask = np.unpackbits(bits)[: tw * th].reshape(th, tw).astype(bool)
        return cls(algo[:n_algo].decode("ascii"), version, w, h, plain, mirrored, thumb, mask)


@dataclass(frozen=True, eq=False)
class Detection:
    """A registered cut-out found in an image.

    ``quad`` (4 x 2 float32) is the cut-out's opaque bounding box in the given image's pixels
    (pixel-edge coordinates), from the cut-out's own top-left corner, clockwise as seen on the
    cut-out. ``scale`` is the box's height over the image's shorter side. ``score`` in [0, 1] is
    ``inliers / (inliers + 15)`` times ``(1 + appearance) / 2``.
    """

    cutout_id: int
    quad: np.ndarray
    scale: float
    mirrored: bool
    score: float
    inliers: int
    appearance: float

    def to_dict(self) -> dict[str, object]:
        return {"cutout_id": self.cutout_id,
                "quad": [[round(float(x), 1), round(float(y), 1)] for x, y in self.quad],
                "scale": round(self.scale, 4), "mirrored": self.mirrored,
                "score": round(self.score, 4), "inliers": self.inliers,
                "appearance": round(self.appearance, 4)}


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


def _orb_features(grey: np.ndarray, mask: np.ndarray | None, n_features: int,
                  fast_threshold: int, levels: int = ORB_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (pixel-edge coordinates, N x 2 float32) and descriptors (N x 32 uint8)."""
    kps, desc = _orb(n_features, fast_threshold, levels).detectAndCompute(grey, mask)
    if desc is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    pts = np.array([kp.pt for kp in kps], dtype=np.float32) + 0.5
    return pts, desc


def _grid_features(grey: np.ndarray, mask: np.ndarray | None,
                   s: CutoutSettings) -> tuple[np.ndarray, np.ndarray]:
    """Query keypoints spread over a grid: at most ``query_features / cells`` strongest per
    cell (a busy background cannot take the keypoints a small pasted cut-out needs)."""
    orb = _orb(s.query_features * s.query_oversample, s.fast_threshold, s.query_levels)
    kps = orb.detect(grey, mask)
    if not kps:
        return np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    h, w = grey.shape
    n = s.query_grid
    xy = np.array([kp.pt for kp in kps], np.float32)
    response = np.array([kp.response for kp in kps], np.float32)
    cell = (np.minimum(xy[:, 1] * n // h, n - 1) * n + np.minimum(xy[:, 0] * n // w, n - 1))
    order = np.lexsort((-response, cell))
    cell_sorted = cell[order]
    starts = np.searchsorted(cell_sorted, cell_sorted, side="left")
    rank = np.arange(len(order)) - starts
    per_cell = max(1, s.query_features // (n * n))
    keep = order[rank < per_cell]
    kept, desc = orb.compute(grey, [kps[i] for i in keep])
    if desc is None or not kept:
        return np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    pts = np.array([kp.pt for kp in kept], dtype=np.float32) + 0.5
    return pts, desc


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = image.shape[:2]
    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp)


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT,
                     borderValue=0) > 0


def _reference_features(grey: np.ndarray, mask: np.ndarray, s: CutoutSettings,
                        frame: tuple[int, int], mirrored: bool) -> LocalFeatures:
    """ORB inside the eroded mask at every reference side, in frame pixel-edge coordinates."""
    fw, fh = frame
    h, w = grey.shape
    points, descs = [], []
    pad = ORB_PATCH + 1
    for side in s.reference_sides:
        k = side / max(w, h)
        size = (max(1, round(w * k)), max(1, round(h * k)))
        g = _resize(grey, size)
        m = _resize(mask.astype(np.float32), size) >= 0.5
        m = _erode(m, s.mask_erode)
        if not m.any():
            continue
        # ORB skips a border of its patch size: pad (reflected, masked out) so keypoints near the
        # crop's edge survive.
        g = cv2.copyMakeBorder(g, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        m = cv2.copyMakeBorder(m.astype(np.uint8) * 255, pad, pad, pad, pad,
                               cv2.BORDER_CONSTANT, value=0)
        if s.blur_sigma > 0:
            g = cv2.GaussianBlur(g, (0, 0), s.blur_sigma)
        pts, desc = _orb_features(g, m, s.reference_features, s.fast_threshold)
        pts = (pts - pad) * np.array([fw / size[0], fh / size[1]], np.float32)
        points.append(pts)
        descs.append(desc)
    pts = np.concatenate(points) if points else np.zeros((0, 2), np.float32)
    desc = np.concatenate(descs) if descs else np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    return LocalFeatures(ALGORITHM, VERSION, fw, fh, pts, desc, mirrored)


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
    grey: np.ndarray  # working image, grey
    text: np.ndarray | None  # caption text mask of the working image
    to_original: float  # working pixels -> the caller's pixels


class CutoutDetector:
    """An in-memory set of registered cut-outs and the detector over them. Thread-safe."""

    def __init__(self, settings: CutoutSettings | None = None) -> None:
        self.settings = settings or CutoutSettings()
        self._reps: dict[int, CutoutRepresentation] = {}
        self._index = CutoutIndex(ivf_min_rows=self.settings.ivf_min_rows,
                                  nprobe=self.settings.ivf_nprobe,
                                  lists_per_sqrt=self.settings.ivf_lists_per_sqrt)
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
        grey = cv2.cvtColor(opaque_view(array), cv2.COLOR_RGB2GRAY)
        mask = array[top:bottom, left:right, 3] >= ALPHA_THRESHOLD
        h, w = grey.shape
        k = max(s.reference_sides) / max(w, h)
        frame = (max(1, round(w * k)), max(1, round(h * k)))
        plain = _reference_features(grey, mask, s, frame, False)
        mirrored = _reference_features(np.ascontiguousarray(grey[:, ::-1]),
                                       np.ascontiguousarray(mask[:, ::-1]), s, frame, True)
        t = s.appearance_side / max(w, h)
        tsize = (max(1, round(w * t)), max(1, round(h * t)))
        thumb = _resize(grey, tsize)
        tmask = _erode(_resize(mask.astype(np.float32), tsize) >= 0.5, 1)
        return CutoutRepresentation(ALGORITHM, VERSION, frame[0], frame[1], plain, mirrored,
                                    thumb, tmask)

    # -- registered cut-outs ---------------------------------------------------------------

    def add(self, cutout_id: int, rep: CutoutRepresentation) -> None:
        """Register (or replace) a cut-out's representation."""
        if rep.algorithm != ALGORITHM or rep.version != VERSION:
            raise ValueError(f"representation {rep.algorithm} v{rep.version} is not "
                             f"{ALGORITHM} v{VERSION}")
        with self._lock:
            self.remove(cutout_id)
            self._reps[cutout_id] = rep
            self._index.add(2 * cutout_id, cutout_id, rep.features.descriptors)
            self._index.add(2 * cutout_id + 1, cutout_id, rep.mirrored_features.descriptors)

    def remove(self, cutout_id: int) -> None:
        with self._lock:
            if self._reps.pop(cutout_id, None) is None:
                return
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
            found = text_mask(small, dark=s.text_dark)
            if found.any():
                text = cv2.resize(found.astype(np.uint8), (work.shape[1], work.shape[0]),
                                  interpolation=cv2.INTER_NEAREST) > 0
        mask = None if text is None else (~text).astype(np.uint8) * 255
        if s.blur_sigma > 0:
            grey = cv2.GaussianBlur(grey, (0, 0), s.blur_sigma)
        if s.query_grid > 0:
            pts, desc = _grid_features(grey, mask, s)
        else:
            pts, desc = _orb_features(grey, mask, s.query_features, s.fast_threshold,
                                      s.query_levels)
        feats = LocalFeatures(ALGORITHM, VERSION, work.shape[1], work.shape[0], pts, desc)
        return _Query(feats, grey, text, rgb.shape[1] / work.shape[1])

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Registered cut-outs found in ``rgb`` (RGB or RGBA uint8, alpha ignored), best first."""
        s = self.settings
        if not self._reps:
            return []
        set_threads(1)
        query = self.query_features(rgb)
        if len(query.feats) < s.min_inliers:
            return []
        with self._lock:
            candidates = self._index.search(
                query.feats.descriptors, k=s.search_neighbours,
                max_distance=s.search_max_distance, ratio=s.ratio_test,
                max_candidates=s.candidates, ties=s.vote_ties)
            reps = dict(self._reps)
        best: dict[int, Detection] = {}
        for cand in candidates:
            if cand.votes < s.min_votes:
                break  # candidates come most votes first
            cutout_id, mirrored = divmod(cand.ref_id, 2)
            rep = reps.get(cutout_id)
            if rep is None:
                continue
            found = self._verify(query, rep, bool(mirrored), cutout_id, cand.pairs)
            if found is not None and (cutout_id not in best
                                      or found.score > best[cutout_id].score):
                best[cutout_id] = found
        out = sorted(best.values(), key=lambda d: (-d.score, d.cutout_id))
        return out[: s.max_results]

    def _verify(self, query: _Query, rep: CutoutRepresentation, mirrored: bool,
                cutout_id: int, pairs: np.ndarray) -> Detection | None:
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
        appearance = self._appearance(query, rep, mirrored, v)
        if v.inliers < s.strong_inliers and appearance < s.min_appearance:
            return None
        quad = v.quad.astype(np.float64)
        if mirrored:  # the mirrored frame's top-left is the cut-out's top-right
            quad = quad[[1, 0, 3, 2]]
        quad *= query.to_original
        shorter = min(work_h, work_w) * query.to_original
        height = float(np.hypot(*(quad[3] - quad[0])))
        score = v.inliers / (v.inliers + SCORE_INLIER_HALF) * (1.0 + max(-1.0, appearance)) / 2
        return Detection(cutout_id, quad.astype(np.float32), height / shorter, mirrored,
                         float(score), v.inliers, float(appearance))

    @staticmethod
    def _appearance(query: _Query, rep: CutoutRepresentation, mirrored: bool,
                    v: Verification) -> float:
        """Normalised cross-correlation of the query warped onto the cut-out thumbnail."""
        thumb, tmask = rep.thumb, rep.thumb_mask
        if mirrored:
            thumb, tmask = thumb[:, ::-1], tmask[:, ::-1]
        th, tw = thumb.shape
        t = tw / rep.width  # frame -> thumbnail
        # The cut-out spans v.scale / t working pixels per thumbnail pixel: shrink the query
        # first when that is large, so the warp does not alias.
        shrink = min(1.0, 1.5 * t / max(v.scale, 1e-6))
        grey, text = query.grey, query.text
        if shrink < 0.9:
            h, w = grey.shape
            size = (max(1, round(w * shrink)), max(1, round(h * shrink)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
            if text is not None:
                text = cv2.resize(text.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        else:
            shrink = 1.0
        # thumbnail pixel centre -> frame edge coords -> working edge -> (shrunk) pixel centre
        a = v.transform[:, :2] * shrink / t
        b = (v.transform[:, :2] @ np.array([0.5 / t, 0.5 / t]) + v.transform[:, 2]) * shrink - 0.5
        m = np.hstack([a, b[:, None]]).astype(np.float64)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        warped = cv2.warpAffine(grey, m, (tw, th), flags=flags, borderMode=cv2.BORDER_CONSTANT)
        valid = cv2.warpAffine(np.full(grey.shape, 255, np.uint8), m, (tw, th), flags=flags,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0) == 255
        keep = tmask & valid
        if text is not None:
            on_text = cv2.warpAffine(text.astype(np.uint8) * 255, m, (tw, th), flags=flags,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
            keep &= ~on_text
        if int(keep.sum()) < MIN_APPEARANCE_PIXELS:
            return 1.0  # nothing comparable (e.g. all under a caption): cannot reject
        x = warped[keep].astype(np.float32)
        y = thumb[keep].astype(np.float32)
        x -= x.mean()
        y -= y.mean()
        denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
        if denom < 1e-6:
            return 0.0
        return float((x * y).sum() / denom)

