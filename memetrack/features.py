"""Local binary features for caption-robust template matching.

ORB keypoints and 256-bit descriptors on a view resized to a fixed working size, with the
keypoints that fall on meme caption text removed (:func:`text_mask`), a versioned storage format
(:class:`LocalFeatures`) and geometric verification of a putative match (:func:`verify`).

Conventions: input arrays are RGB ``uint8`` (``H x W x 3``); keypoint coordinates are in pixels of
the working-size image whose size the features carry (``width``, ``height``).

Why ORB: it is the binary descriptor OpenCV 5 headless ships in its main module (``AKAZE_create`` and
``BRISK_create`` are absent there), 256 bits fit FAISS's binary indexes, and it is fast: about 4-8 ms
for 500 keypoints on a 480-px image on this 2-core machine, plus 2-3 ms for the text mask.
Why mask caption text: meme letters are high-contrast corners that ORB loves, and letters match
other memes' letters; white-with-outline letters are easy to find (:func:`text_mask`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from memetrack.graph import components

ALGORITHM = "orb"
# Bump when extraction changes in a way that makes stored descriptors incomparable.
VERSION = 1
DESCRIPTOR_BYTES = 32

# Longer side of the working image features are computed on (up- or down-scaled to it) ...
WORK_SIDE = 480
# ... but small images are enlarged by at most this factor.
WORK_MAX_UPSCALE = 2.0
# Keypoints kept per image (the strongest by FAST/Harris response).
N_FEATURES = 500
ORB_SCALE_FACTOR = 1.2
ORB_LEVELS = 8
# ORB ignores this many pixels at the image border (its patch must fit).
ORB_EDGE = 19
ORB_FAST_THRESHOLD = 12

# Caption text: white fill (every channel at least TEXT_BRIGHT, nearly colourless) ...
TEXT_BRIGHT = 190
TEXT_MAX_CHROMA = 45
# ... surrounded by a dark outline (every channel at most TEXT_DARK; 80 missed the outline of
# small captions after JPEG q30 and a 50 % resize, where it is one or two blurred pixels: on the
# dev templates, recall of that kind went from 0.91 to 1.00 at 100, no other kind changed) ...
TEXT_DARK = 100
# ... on at least this share of the letter's rim ...
TEXT_MIN_OUTLINED = 0.6
# ... letters are small: at most this share of the image area and of its height.
TEXT_MAX_AREA = 0.02
TEXT_MAX_HEIGHT = 0.25
# Masked letters grow by this share of the image's longer side to cover their outline corners.
TEXT_GROW = 0.012
# Letters of one line (see text_mask's min_line): heights within this factor of each other,
# vertical centres within this share of the taller one's height, and a horizontal gap of at
# most this many of its heights.
LINE_HEIGHT_RATIO = 2.0
LINE_CENTRE_OFFSET = 0.4
LINE_MAX_GAP = 1.2
LINE_MAX_LETTERS = 400

_HEADER = struct.Struct("<4sBB8sHHHIB")
_MAGIC = b"MTLF"
_FORMAT = 1


@dataclass(frozen=True, eq=False)
class LocalFeatures:
    """Keypoints (``points``, N x 2 float32, working-image pixels) and their descriptors
    (N x 32 uint8) of one image, with the algorithm, version and working size that produced them.
    ``mirrored`` marks features extracted from the horizontally flipped image."""

    algorithm: str
    version: int
    width: int
    height: int
    points: np.ndarray
    descriptors: np.ndarray
    mirrored: bool = False

    def __post_init__(self) -> None:
        pts = np.ascontiguousarray(self.points, dtype=np.float32).reshape(-1, 2)
        desc = np.ascontiguousarray(self.descriptors, dtype=np.uint8).reshape(-1, DESCRIPTOR_BYTES)
        if len(pts) != len(desc):
            raise ValueError(f"{len(pts)} points but {len(desc)} descriptors")
        object.__setattr__(self, "points", pts)
        object.__setattr__(self, "descriptors", desc)

    def __len__(self) -> int:
        return len(self.points)

    def to_bytes(self) -> bytes:
        """Self-describing little-endian encoding (header, points, descriptors)."""
        algo = self.algorithm.encode("ascii")
        if len(algo) > 8:
            raise ValueError("algorithm name longer than 8 bytes")
        head = _HEADER.pack(_MAGIC, _FORMAT, len(algo), algo.ljust(8, b"\0"), self.version,
                            self.width, self.height, len(self), int(self.mirrored))
        return head + self.points.astype("<f4").tobytes() + self.descriptors.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalFeatures:
        magic, fmt, n_algo, algo, version, width, height, n, mirrored = _HEADER.unpack_from(data)
        if magic != _MAGIC or fmt != _FORMAT:
            raise ValueError("not a memetrack LocalFeatures encoding")
        off = _HEADER.size
        end = off + n * 8 + n * DESCRIPTOR_BYTES
        if len(data) != end:
            raise ValueError(f"expected {end} bytes, got {len(data)}")
        pts = np.frombuffer(data, dtype="<f4", count=n * 2, offset=off).reshape(n, 2)
        desc = np.frombuffer(data, dtype=np.uint8, count=n * DESCRIPTOR_BYTES, offset=off + n * 8)
        return cls(algo[:n_algo].decode("ascii"), version, width, height,
                   pts.astype(np.float32), desc.reshape(n, DESCRIPTOR_BYTES).copy(), bool(mirrored))

    def flipped_points(self) -> np.ndarray:
        """Points in the coordinates of the unflipped image (identity unless ``mirrored``)."""
        if not self.mirrored:
            return self.points
        out = self.points.copy()
        out[:, 0] = (self.width - 1) - out[:, 0]
        return out


def working_image(
    rgb: np.ndarray, side: int = WORK_SIDE, max_upscale: float = WORK_MAX_UPSCALE
) -> np.ndarray:
    """``rgb`` resized (keeping its aspect) so that its longer side is ``side`` pixels, but
    enlarged by at most ``max_upscale`` (blown-up small images only yield blurred corners)."""
    h, w = rgb.shape[:2]
    scale = min(side / max(h, w), max_upscale)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return np.ascontiguousarray(rgb)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, size, interpolation=interp)


def text_mask(rgb: np.ndarray, dark: int = TEXT_DARK, min_line: int = 1) -> np.ndarray:
    """Boolean mask (H x W) of meme caption text: white letters with a dark outline (every
    channel at most ``dark``).

    Each connected white blob is a letter candidate when it is small and a dark outline runs along
    most of its rim; the kept letters are grown a little so the mask covers the outline too (ORB
    corners sit on the white/black boundary). White regions of the picture itself are large or
    have no outline and stay unmasked. With ``min_line`` > 1, a candidate is kept only in a
    line of at least that many (see :func:`_in_lines`): the white patches of line art (a
    drawing's eyes, teeth, highlights, all ringed in black) are letter-like one by one, but do
    not line up like words.
    """
    h, w = rgb.shape[:2]
    r, g, b = cv2.split(np.ascontiguousarray(rgb))
    lo, hi = cv2.min(cv2.min(r, g), b), cv2.max(cv2.max(r, g), b)
    bright = ((lo >= TEXT_BRIGHT) & (hi - lo <= TEXT_MAX_CHROMA)).astype(np.uint8)
    outline = (hi <= dark).astype(np.uint8)
    if not bright.any() or not outline.any():
        return np.zeros((h, w), dtype=bool)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
    kernel = np.ones((3, 3), np.uint8)
    rim = bright & (1 - cv2.erode(bright, kernel, borderType=cv2.BORDER_REPLICATE))
    near_dark = cv2.dilate(outline, np.ones((5, 5), np.uint8))
    rim_labels = labels[rim > 0]
    rim_total = np.bincount(rim_labels, minlength=n)
    rim_dark = np.bincount(labels[(rim > 0) & (near_dark > 0)], minlength=n)
    outlined = rim_dark / np.maximum(rim_total, 1)
    area = stats[:, cv2.CC_STAT_AREA]
    ok = (
        (outlined >= TEXT_MIN_OUTLINED)
        & (area <= TEXT_MAX_AREA * h * w)
        & (stats[:, cv2.CC_STAT_HEIGHT] <= TEXT_MAX_HEIGHT * h)
        & (area >= 4)
    )
    ok[0] = False
    if min_line > 1:
        ok &= _in_lines(stats, ok, min_line)
    letters = ok[labels].astype(np.uint8)
    grow = max(3, int(round(TEXT_GROW * max(h, w))) * 2 + 1)
    return cv2.dilate(letters, np.ones((grow, grow), np.uint8)) > 0


def _in_lines(stats: np.ndarray, ok: np.ndarray, min_line: int) -> np.ndarray:
    """Which components (rows of ``stats``) that are ``ok`` belong to a chain of at least
    ``min_line`` such components, each beside the next as letters of one line are."""
    idx = np.flatnonzero(ok)
    keep = np.zeros(len(ok), bool)
    if len(idx) < min_line or len(idx) > LINE_MAX_LETTERS:
        keep[idx] = len(idx) > LINE_MAX_LETTERS  # too many to pair up: keep them all
        return keep
    x, y, w, h = (stats[idx, c].astype(np.float64) for c in
                  (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
    cy = y + h / 2
    taller = np.maximum(h[:, None], h[None, :])
    shorter = np.maximum(np.minimum(h[:, None], h[None, :]), 1.0)
    gap = np.maximum(x[:, None], x[None, :]) - np.minimum((x + w)[:, None], (x + w)[None, :])
    beside = ((taller / shorter <= LINE_HEIGHT_RATIO)
              & (np.abs(cy[:, None] - cy[None, :]) <= LINE_CENTRE_OFFSET * taller)
              & (gap <= LINE_MAX_GAP * taller))
    # chains: connected components of the "beside" graph
    edges = zip(*(e.tolist() for e in np.nonzero(np.triu(beside, 1))), strict=True)
    for chain in components(edges, range(len(idx))):
        if len(chain) >= min_line:
            keep[idx[list(chain)]] = True
    return keep


_ORB_CACHE: dict[int, cv2.ORB] = {}


def _orb(n_features: int) -> cv2.ORB:
    orb = _ORB_CACHE.get(n_features)
    if orb is None:
        orb = cv2.ORB_create(
            nfeatures=n_features, scaleFactor=ORB_SCALE_FACTOR, nlevels=ORB_LEVELS,
            edgeThreshold=ORB_EDGE, patchSize=ORB_EDGE, fastThreshold=ORB_FAST_THRESHOLD,
        )
        _ORB_CACHE[n_features] = orb
    return orb


def extract(
    rgb: np.ndarray,
    *,
    side: int = WORK_SIDE,
    max_upscale: float = WORK_MAX_UPSCALE,
    n_features: int = N_FEATURES,
    mask_text: bool = True,
    mirrored: bool = False,
) -> LocalFeatures:
    """ORB features of ``rgb`` at working size; caption text masked out when ``mask_text``."""
    work = working_image(rgb, side, max_upscale)
    return extract_working(work, n_features=n_features, mask_text=mask_text, mirrored=mirrored)


def extract_working(
    work: np.ndarray, *, n_features: int = N_FEATURES, mask_text: bool = True,
    mirrored: bool = False, text: np.ndarray | None = None,
) -> LocalFeatures:
    """ORB features of an image already at working size (see :func:`working_image`).

    ``text`` is :func:`text_mask` of ``work`` (unflipped) when the caller has it already: the
    mask of the mirror image is the mirrored mask (the mask is built from per-pixel tests,
    connected components and centred odd-sized kernels, so it commutes with a horizontal flip;
    ``tests/test_features.py`` checks it)."""
    if mask_text and text is not None:
        text = text[:, ::-1] if mirrored else text
    if mirrored:
        work = np.ascontiguousarray(work[:, ::-1])
    h, w = work.shape[:2]
    grey = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
    mask = None
    if mask_text:
        found = text_mask(work) if text is None else text
        mask = (~found).astype(np.uint8) * 255
    kps, desc = _orb(n_features).detectAndCompute(grey, mask)
    if desc is None or not kps:
        pts = np.zeros((0, 2), np.float32)
        desc = np.zeros((0, DESCRIPTOR_BYTES), np.uint8)
    else:
        pts = np.array([kp.pt for kp in kps], dtype=np.float32)
    return LocalFeatures(ALGORITHM, VERSION, w, h, pts, desc, mirrored)


def extract_pair(rgb: np.ndarray, **kwargs: object) -> tuple[LocalFeatures, LocalFeatures]:
    """Features of ``rgb`` and of its mirror image (for mirrored memes)."""
    return extract(rgb, **kwargs), extract(rgb, mirrored=True, **kwargs)  # type: ignore[arg-type]


def match_pairs(
    query: LocalFeatures, ref: LocalFeatures, *, ratio: float = 0.85, max_distance: int = 80
) -> np.ndarray:
    """Putative correspondences ``(query_idx, ref_idx)`` (K x 2 int32): each query descriptor's
    nearest reference descriptor, kept when clearly nearer than the second (Lowe's ratio test)."""
    if len(query) < 2 or len(ref) < 2:
        return np.zeros((0, 2), np.int32)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    knn = matcher.knnMatch(query.descriptors, ref.descriptors, k=2)
    out = [
        (m[0].queryIdx, m[0].trainIdx)
        for m in knn
        if len(m) == 2 and m[0].distance <= max_distance and m[0].distance < ratio * m[1].distance
    ]
    return np.array(out, dtype=np.int32).reshape(-1, 2)


@dataclass(frozen=True, eq=False)
class Verification:
    """A geometrically consistent match of a reference inside a query.

    ``transform`` maps reference working-image pixels to query working-image pixels (2 x 3,
    similarity); ``quad`` is the reference outline mapped into the query (4 x 2, clockwise from
    top-left, in the query's unflipped working-image pixels); ``coverage`` is the share of the
    reference area spanned by the inliers (convex hull), ``spread`` the same relative to the hull of
    all the reference's keypoints (a template whose texture sits in one corner can still be fully
    covered)."""

    inliers: int
    inlier_ratio: float
    coverage: float
    spread: float
    scale: float
    angle: float
    quad: np.ndarray
    transform: np.ndarray
    mirrored: bool
    inlier_pairs: np.ndarray


# Verification defaults (the matcher passes its settings).
REPROJ_THRESHOLD = 6.0
RANSAC_ITERS = 1000
MIN_SCALE, MAX_SCALE = 0.15, 6.0
MAX_ANGLE = 20.0


def frame_quad(width: float, height: float, transform: np.ndarray,
               flip_width: float | None = None) -> np.ndarray:
    """The corners of a ``width`` x ``height`` frame (top-left first, clockwise) under the 2 x 3
    affine ``transform``, as float64. With ``flip_width`` the transform was found on a mirrored
    picture of that width: the corners are given in the unflipped picture's pixels (the frame's
    top-left corner lands on the right)."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    quad = corners @ transform[:, :2].T + transform[:, 2]
    if flip_width is not None:
        quad[:, 0] = flip_width - quad[:, 0]
    return quad


def verify(
    query: LocalFeatures,
    ref: LocalFeatures,
    pairs: np.ndarray,
    *,
    reproj_threshold: float = REPROJ_THRESHOLD,
    min_scale: float = MIN_SCALE,
    max_scale: float = MAX_SCALE,
    max_angle: float = MAX_ANGLE,
    min_inliers: int = 4,
) -> Verification | None:
    """Fit a similarity transform reference -> query to ``pairs`` with RANSAC.

    Returns ``None`` when there are too few pairs or inliers, or the transform is implausible for a
    meme (scale outside ``[min_scale, max_scale]``, rotation beyond ``max_angle`` degrees). Thresholds
    for accepting the match (inliers, ratio, coverage) are the caller's decision.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) < max(3, min_inliers):
        return None
    src = ref.points[pairs[:, 1]]
    dst = query.points[pairs[:, 0]]
    model, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=reproj_threshold,
        maxIters=RANSAC_ITERS, confidence=0.995, refineIters=10,
    )
    if model is None or mask is None:
        return None
    inl = mask.ravel().astype(bool)
    # One reference keypoint matched by several query keypoints counts once.
    inlier_pairs = pairs[inl]
    n_in = min(len(np.unique(inlier_pairs[:, 1])), len(np.unique(inlier_pairs[:, 0])))
    if n_in < min_inliers:
        return None
    a, b = float(model[0, 0]), float(model[1, 0])
    scale = float(np.hypot(a, b))
    angle = float(np.degrees(np.arctan2(b, a)))
    if not (min_scale <= scale <= max_scale) or abs(angle) > max_angle:
        return None
    hull_area = float(cv2.contourArea(cv2.convexHull(src[inl].astype(np.float32))))
    coverage = hull_area / float(max(1, ref.width * ref.height))
    all_area = float(cv2.contourArea(cv2.convexHull(ref.points))) if len(ref) >= 3 else 0.0
    spread = hull_area / all_area if all_area > 0 else 0.0
    quad = frame_quad(ref.width, ref.height, model, query.width if query.mirrored else None)
    return Verification(
        inliers=int(n_in),
        inlier_ratio=float(n_in) / float(len(pairs)),
        coverage=coverage,
        spread=spread,
        scale=scale,
        angle=angle,
        quad=quad.astype(np.float32),
        transform=model,
        mirrored=query.mirrored,
        inlier_pairs=inlier_pairs.astype(np.int32),
    )
