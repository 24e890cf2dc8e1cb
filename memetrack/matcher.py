"""Which registered template (blank meme shell) is a query image built on?

Stages, cheapest first, with a check of every geometric match and a last resort for queries with
few keypoints:

1. **Global hash of the core view.** The query's core view (borders, caption panel and screenshot
   chrome removed, :func:`memetrack.normalize.core_view`) is PDQ-hashed in all eight dihedral
   orientations and compared with every reference's core-view PDQ. A near-exact copy is decided
   here (kind ``exact`` or ``variant``).
2. **Local features.** Otherwise the query's ORB descriptors (caption text masked) vote for
   references through :class:`~memetrack.index.descriptors.DescriptorIndex`; the references with
   the most votes are matched descriptor by descriptor and geometrically verified (RANSAC similarity
   transform). A reference is accepted (kind ``verified``) on enough inliers and inlier ratio, when
   the inliers also span enough of the template (coverage), or are many and spread over the
   template's textured part. When nothing verifies, the mirrored query is tried, then (if the core
   view was a crop) the whole image, unmirrored and mirrored.
3. **Appearance.** Each verified transform aligns the query's thumbnail with the reference's
   (:mod:`memetrack.appearance`): a match whose overlap mostly does not look alike is refused (a
   shared drawn element), and one that looks alike is accepted although its inliers cluster (a
   crop, a small or compressed copy).
4. **Dense placement.** A query that matched nothing and has few keypoints (a template of flat
   colours and smooth shapes, cropped and captioned) is laid over the thumbnails of the templates
   with the nearest colours, as a crop of them would sit (:func:`memetrack.appearance.place`);
   it matches (kind ``dense``) when nearly every compared cell looks alike and some of the
   agreeing cells have structure, never on one flat colour alone.

The verification uses the index's own pairs (each query keypoint's nearest keypoint of the
candidate): as good as a pairwise ratio-test match for 361 of 371 true candidates (365 with the
pairwise match) at 0.1 ms instead of 2.7 ms; the pairwise match is kept as a fallback for the two
best-voted candidates when nothing verified.

Every threshold is a field of :class:`memetrack.config.MatcherSettings`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from memetrack.appearance import (
    AppearanceParams,
    Placement,
    Thumbnail,
    agreement,
    cell_agreement,
    colour_signature,
    place,
    thumbnail,
)
from memetrack.config import MatcherSettings
from memetrack.features import (
    LocalFeatures,
    Verification,
    extract_working,
    frame_quad,
    match_pairs,
    text_mask,
    verify,
    working_image,
)
from memetrack.hashing import pdq_vectors
from memetrack.index.descriptors import DescriptorIndex, set_threads
from memetrack.normalize import Box, View, core_view, to_rgb

MatchKind = Literal["exact", "variant", "verified", "dense"]
PDQ_INPUT_SIDE = 256
DENSE_STEP = 0.03  # between the fractions of a template's extent the dense stage tries
DENSE_REFINED = 8  # best coarse placements refined at thumbnail size and checked cell by cell


@dataclass(frozen=True, eq=False)
class TemplateMatch:
    """One template found in a query.

    ``score`` is in [0, 1], higher is better (hash matches: ``1 - distance/256``; verified matches:
    ``inliers / (inliers + 20)``). ``distance`` is the PDQ distance when a hash decided the match,
    else ``None``. ``region`` is the quadrilateral of the template's core view in query pixels
    (4 x 2, from its top-left corner, clockwise as seen on the template)."""

    ref_id: int
    score: float
    kind: MatchKind
    inliers: int
    distance: int | None
    region: np.ndarray
    mirrored: bool
    appearance: float | None = None  # share of the overlap that looks alike (verified only)


@dataclass(frozen=True, eq=False)
class Representation:
    """What the matcher keeps of one image: its core view box, PDQ of the core view (packed
    32 bytes) with its quality, its local features, and the thumbnail of its working image
    (for the appearance check, :mod:`memetrack.appearance`)."""

    box: tuple[int, int, int, int]
    scale: float
    pdq: np.ndarray
    pdq_quality: int
    features: LocalFeatures
    thumb: Thumbnail | None = None


@dataclass(eq=False)
class PreparedQuery:
    """The query side of a match (:meth:`TemplateMatcher.prepare`): the downscale, the views
    (0: the core view; 1: the whole image, when the core view is a part of it) with their boxes
    in downscaled pixels, their sizes (w, h) and thumbnails, the core view's PDQ (original and mirror,
    packed; both from one set of PDQ samples, the original exactly as :func:`hashing.pdq`)
    with its quality, and the local features per (view, mirrored). Picklable once computed
    eagerly (no pixels kept)."""

    width: int
    height: int
    scale: float
    boxes: list[Box]
    sizes: list[tuple[int, int]]
    dihedral: np.ndarray
    pdq_quality: int
    thumbs: list[Thumbnail] = field(default_factory=list)  # per view, of its working image
    text_thumbs: dict[int, np.ndarray] = field(default_factory=dict)  # caption text, thumb px
    features: dict[tuple[int, bool], LocalFeatures] = field(default_factory=dict)
    _sources: list[np.ndarray | None] = field(default_factory=list, repr=False)
    _masks: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict[str, object]:
        return self.__dict__ | {"_sources": [], "_masks": {}}


def pack_bits(bits: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(bits, dtype=np.uint8).reshape(-1, 256), axis=1)


def _downscale(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return rgb, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _pdq_input(work: np.ndarray) -> np.ndarray:
    # PDQ reduces to 64 x 64 internally; a 256-px input hashes the same and costs less.
    h, w = work.shape[:2]
    k = PDQ_INPUT_SIDE / max(h, w)
    if k >= 1.0:
        return work
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return cv2.resize(work, size, interpolation=cv2.INTER_LINEAR)


def _in_query_pixels(quad: np.ndarray, work_size: tuple[int, int], box: Box,
                     size: tuple[int, int], scale: float) -> np.ndarray:
    """A quadrilateral in a view's working-image pixels (``work_size``), in the query's own: the
    view (``size``, at ``box`` of the downscaled query) was resized to the working image, and
    the query downscaled by ``scale``."""
    k = np.array([size[0] / work_size[0], size[1] / work_size[1]], np.float32)
    return ((quad * k + np.array(box[:2], np.float32)) / scale).astype(np.float32)


class TemplateMatcher:
    """An in-memory set of references (templates) and the two-stage matcher over them."""

    def __init__(self, settings: MatcherSettings | None = None) -> None:
        self.settings = settings or MatcherSettings()
        self._refs: dict[int, Representation] = {}
        self._index = DescriptorIndex(
            ivf_min_rows=self.settings.ivf_min_rows, nprobe=self.settings.ivf_nprobe
        )
        self._ids = np.zeros(0, np.int64)
        self._hashes = np.zeros((0, 32), np.uint8)
        self._usable = np.zeros(0, bool)
        self._signatures = np.zeros((0, 64), np.float32)  # colours, for the dense stage
        self._lock = threading.RLock()
        self._appearance = AppearanceParams.from_settings(self.settings)

    def __len__(self) -> int:
        return len(self._refs)

    # -- representations -------------------------------------------------------------------

    def view(self, rgb: np.ndarray, *, reference: bool = False) -> tuple[View, float]:
        """View of ``rgb`` (downscaled to ``view_max_side`` first) and that downscale: the core
        view for a query, the reference view (by default the whole image) for a template."""
        s = self.settings
        small, scale = _downscale(to_rgb(rgb), s.view_max_side)
        steps = s.reference_view_steps if reference else s.query_view_steps
        return core_view(small, steps), scale

    def represent(self, rgb: np.ndarray, *, reference: bool = True) -> Representation:
        """View PDQ and local features of an image, as stored for a reference (or, with
        ``reference=False``, as computed for a query's core view)."""
        s = self.settings
        view, scale = self.view(rgb, reference=reference)
        work = self._working(view.image)
        bits, quality = pdq_vectors(_pdq_input(work))
        feats = extract_working(
            work,
            n_features=s.reference_features if reference else s.query_features,
            mask_text=s.mask_reference_text if reference else s.mask_query_text,
        )
        return Representation(view.box, scale, pack_bits(bits)[0], int(quality), feats,
                              thumbnail(work))

    def _working(self, image: np.ndarray) -> np.ndarray:
        return working_image(image, self.settings.feature_side, self.settings.feature_max_upscale)

    # -- references --------------------------------------------------------------------------

    def add_reference(self, ref_id: int, rgb: np.ndarray) -> Representation:
        """Register a template image under ``ref_id`` (replacing any previous one)."""
        rep = self.represent(rgb, reference=True)
        self.add_representation(ref_id, rep)
        return rep

    def add_representation(self, ref_id: int, rep: Representation) -> None:
        """Register a precomputed representation (e.g. loaded from the store)."""
        with self._lock:
            self.remove_reference(ref_id)
            self._refs[ref_id] = rep
            self._index.add(ref_id, rep.features)
            self._ids = np.append(self._ids, np.int64(ref_id))
            self._hashes = np.concatenate([self._hashes, rep.pdq[None, :]])
            usable = rep.pdq_quality >= self.settings.pdq_min_quality
            self._usable = np.append(self._usable, usable)
            sig = (colour_signature(rep.thumb) if rep.thumb is not None
                   else np.zeros(64, np.float32))
            self._signatures = np.concatenate([self._signatures, sig[None, :]])

    def remove_reference(self, ref_id: int) -> None:
        with self._lock:
            if self._refs.pop(ref_id, None) is None:
                return
            self._index.remove(ref_id)
            keep = self._ids != ref_id
            self._ids, self._hashes, self._usable, self._signatures = (
                self._ids[keep], self._hashes[keep], self._usable[keep], self._signatures[keep]
            )

    def build(self) -> None:
        """Build the descriptor index now rather than on the first query."""
        self._index.build()

    # -- matching ----------------------------------------------------------------------------

    def prepare(self, rgb: np.ndarray, *, eager: bool = False) -> PreparedQuery:
        """The query side of a match: views, template PDQ and (lazily, or all of them now with
        ``eager``) the local features. Needs no references, so batch indexing computes it in
        its worker processes; :meth:`match_prepared` does the rest."""
        s = self.settings
        small, scale = _downscale(to_rgb(rgb), s.view_max_side)
        h, w = small.shape[:2]
        view = core_view(small, s.query_view_steps)
        work = self._working(view.image)
        vectors, quality = pdq_vectors(_pdq_input(work), dihedral=True)
        vh, vw = view.image.shape[:2]
        views: list[tuple[Box, tuple[int, int], np.ndarray]] = [
            (view.box, (vw, vh), work)]
        if s.full_view_fallback and view.box != (0, 0, w, h):
            views.append(((0, 0, w, h), (w, h), self._working(small)))
        prep = PreparedQuery(
            width=int(rgb.shape[1]), height=int(rgb.shape[0]), scale=scale,
            boxes=[v[0] for v in views], sizes=[v[1] for v in views],
            dihedral=pack_bits(np.asarray(vectors)[[0, 5]]), pdq_quality=int(quality),
            thumbs=[thumbnail(v[2]) for v in views],
        )
        prep._sources = [v[2] for v in views]
        if eager:
            for i in range(len(views)):
                for mirrored in (False, True) if s.try_mirror else (False,):
                    self._features(prep, i, mirrored)
                if self._dense_wanted(prep):
                    self._text_thumb(prep, i)
            prep._sources, prep._masks = [], {}
        return prep

    def _features(self, prep: PreparedQuery, i: int, mirrored: bool) -> LocalFeatures:
        s = self.settings
        feats = prep.features.get((i, mirrored))
        if feats is None:
            source = prep._sources[i]
            if source is None:
                raise ValueError("a prepared query without its pixels lacks these features")
            text = None
            if s.mask_query_text:  # one text mask serves the view and its mirror
                text = prep._masks.get(i)
                if text is None:
                    text = prep._masks[i] = text_mask(source)
            feats = extract_working(source, n_features=s.query_features,
                                    mask_text=s.mask_query_text, mirrored=mirrored, text=text)
            prep.features[(i, mirrored)] = feats
        return feats

    def match(self, rgb: np.ndarray) -> list[TemplateMatch]:
        """Templates found in ``rgb``, best first (empty when none passes the thresholds)."""
        return self.match_prepared(self.prepare(rgb))[0]

    def match_prepared(
        self, prep: PreparedQuery
    ) -> tuple[list[TemplateMatch], Representation | None]:
        """Templates found in a prepared query, best first; when nothing matched, also the
        query's representation (what ``represent(rgb, reference=False)`` returns), built from
        the work already done: an image that matches nothing founds a family and becomes its
        representative."""
        s = self.settings
        set_threads(1)
        found = self._match_hash(prep)
        if found:
            return found[: s.max_results], None
        own: LocalFeatures | None = None
        for i, (box, size) in enumerate(zip(prep.boxes, prep.sizes, strict=True)):
            for mirrored in (False, True) if s.try_mirror else (False,):
                feats = self._features(prep, i, mirrored)
                own = feats if own is None else own  # the core view, unmirrored
                found = self._match_local(feats, box, size, prep.scale, prep.thumbs[i])
                if found:
                    return found[: s.max_results], None
        found = self._match_dense(prep)
        if found:
            return found[: s.max_results], None
        assert own is not None
        return [], Representation(prep.boxes[0], prep.scale, prep.dihedral[0], prep.pdq_quality,
                                  own, prep.thumbs[0])

    def _dense_wanted(self, prep: PreparedQuery) -> bool:
        """Is the query's core view so poor in keypoints that the dense stage may place it?"""
        n = self.settings.dense_max_query_features
        feats = prep.features.get((0, False))
        return n > 0 and feats is not None and len(feats) < n

    def _text_thumb(self, prep: PreparedQuery, i: int) -> np.ndarray | None:
        """View ``i``'s caption-text mask at its thumbnail's size (None without text masking)."""
        if not self.settings.mask_query_text:
            return None
        small = prep.text_thumbs.get(i)
        if small is None:
            text = prep._masks.get(i)
            if text is None:
                source = prep._sources[i] if i < len(prep._sources) else None
                if source is None:
                    return None
                text = prep._masks[i] = text_mask(source)
            h, w = prep.thumbs[i].lightness.shape
            small = cv2.resize(text.astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_AREA)
            # a pixel more all round: the letters' blurred outline is not the picture either
            small = prep.text_thumbs[i] = cv2.dilate(small, np.ones((3, 3), np.uint8)) > 0
        return small

    def _match_dense(self, prep: PreparedQuery) -> list[TemplateMatch]:
        """The last stage, for queries with too few keypoints: each view is placed over the
        templates with the nearest colours as a crop of them would sit, and a placement is
        accepted when nearly every compared cell looks alike and some of them are structure."""
        s = self.settings
        if not self._dense_wanted(prep):
            return []
        with self._lock:
            ids, signatures, refs = self._ids, self._signatures, dict(self._refs)
        if not ids.size:
            return []
        fractions = np.arange(1.0, s.dense_min_fraction - 1e-9, -DENSE_STEP)
        for i, (box, size) in enumerate(zip(prep.boxes, prep.sizes, strict=True)):
            thumb = prep.thumbs[i]
            mask = self._text_thumb(prep, i)
            near = np.minimum(signatures, colour_signature(thumb, mask)).sum(axis=1)
            coarse: list[tuple[Placement, int]] = []
            for j in np.argsort(-near, kind="stable")[: s.dense_candidates]:
                rep = refs.get(int(ids[j]))
                if rep is None or rep.thumb is None:
                    continue
                for mirrored in (False, True) if s.try_mirror else (False,):
                    coarse += [(p, int(ids[j])) for p in place(
                        rep.thumb, thumb, fractions=fractions, query_mask=mask,
                        mirrored=mirrored, keep=2)]
            coarse.sort(key=lambda x: x[0].cost)
            out: list[TemplateMatch] = []
            for rough, ref_id in coarse[:DENSE_REFINED]:
                ref = refs[ref_id].thumb
                assert ref is not None
                fine = place(ref, thumb, query_mask=mask, mirrored=rough.mirrored, side=None,
                             near=rough, fractions=rough.fraction + DENSE_STEP * np.linspace(
                                 -0.5, 0.5, 5))
                for pl in fine or [rough]:
                    a = pl.transform(ref, thumb)
                    look = cell_agreement(ref, thumb, a, mirrored=pl.mirrored,
                                          params=self._appearance, query_mask=mask)
                    if (look.share >= s.dense_min_agreement and look.cells >= s.dense_min_cells
                            and look.structure >= s.dense_min_structure):
                        out.append(self._dense_match(ref_id, ref, thumb, a, pl.mirrored,
                                                     look.share, box, size, prep.scale))
            if out:  # the best placement per template, unmirrored first on a tie
                out.sort(key=lambda m: (-m.score, m.mirrored))
                best: dict[int, TemplateMatch] = {}
                for m in out:
                    best.setdefault(m.ref_id, m)
                return list(best.values())
        return []

    @staticmethod
    def _dense_match(ref_id: int, ref: Thumbnail, query: Thumbnail, a: np.ndarray,
                     mirrored: bool, share: float, box: Box, size: tuple[int, int],
                     scale: float) -> TemplateMatch:
        quad = frame_quad(ref.width, ref.height, a, query.width if mirrored else None)
        quad = _in_query_pixels(quad, (query.width, query.height), box, size, scale)
        return TemplateMatch(ref_id, float(share), "dense", 0, None, quad, mirrored, float(share))

    def _match_hash(self, prep: PreparedQuery) -> list[TemplateMatch]:
        s = self.settings
        with self._lock:
            ids, hashes, usable = self._ids, self._hashes, self._usable
        if not ids.size or prep.pdq_quality < s.pdq_min_quality:
            return []
        # Orientations: the original, and the left-right mirror (PDQ dihedral order 0 and 5).
        queries = prep.dihedral.view(np.uint64)
        words = hashes.view(np.uint64)
        dist = np.bitwise_count(words[:, None, :] ^ queries[None, :, :]).sum(axis=2)
        best = dist.min(axis=1)
        which = dist.argmin(axis=1)
        hit = np.flatnonzero(usable & (best <= s.pdq_match_threshold))
        out = []
        box, (w, h) = prep.boxes[0], prep.sizes[0]
        for i in hit[np.argsort(best[hit], kind="stable")]:
            d = int(best[i])
            mirrored = bool(which[i] == 1)
            quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
            if mirrored:
                quad = quad[[1, 0, 3, 2]]
            quad = (quad + np.array(box[:2], np.float32)) / prep.scale
            kind: MatchKind = "exact" if d <= s.pdq_exact_threshold else "variant"
            out.append(TemplateMatch(int(ids[i]), 1.0 - d / 256.0, kind, 0, d, quad, mirrored))
        return out

    def _match_local(self, feats: LocalFeatures, box: Box, size: tuple[int, int],
                     scale: float, thumb: Thumbnail | None = None) -> list[TemplateMatch]:
        s = self.settings
        if len(feats) < s.min_inliers:
            return []
        with self._lock:
            candidates = self._index.search(
                feats, s.search_neighbours, max_distance=s.search_max_distance,
                max_candidates=s.candidates, min_votes=s.min_votes,
            )
            refs = {c.ref_id: self._refs.get(c.ref_id) for c in candidates}
        out = []
        # The index's pairs (each query keypoint's nearest keypoint of the candidate) are nearly
        # as good as a pairwise ratio-test match and free; the pairwise match is the fallback
        # for the best-voted candidates when nothing verifies.
        for cand in candidates:
            rep = refs.get(cand.ref_id)
            if rep is not None:
                v = self.verify(feats, rep.features, cand.pairs, thumb, rep.thumb)
                if v is not None:
                    out.append(self._to_match(cand.ref_id, *v, feats, box, size, scale))
        if not out:
            for cand in candidates[: s.pairwise_candidates]:
                rep = refs.get(cand.ref_id)
                if rep is not None:
                    v = self.verify(feats, rep.features, None, thumb, rep.thumb)
                    if v is not None:
                        out.append(self._to_match(cand.ref_id, *v, feats, box, size, scale))
        out.sort(key=lambda m: -m.score)
        return out

    def verify(
        self, query: LocalFeatures, ref: LocalFeatures, pairs: np.ndarray | None = None,
        query_thumb: Thumbnail | None = None, ref_thumb: Thumbnail | None = None,
    ) -> tuple[Verification, float | None] | None:
        """Geometric verification with the acceptance thresholds applied, and the appearance
        agreement when both thumbnails are given (else None); without ``pairs`` the putative
        pairs come from a pairwise ratio-test match."""
        s = self.settings
        if pairs is None:
            pairs = match_pairs(query, ref, ratio=s.ratio_test, max_distance=s.pair_max_distance)
        v = verify(query, ref, pairs, reproj_threshold=s.reproj_threshold,
                   min_scale=s.min_scale, max_scale=s.max_scale, max_angle=s.max_angle,
                   min_inliers=min(s.min_inliers, s.appearance_min_inliers))
        if v is None or v.inlier_ratio < s.min_inlier_ratio:
            return None
        few = v.inliers < s.min_inliers  # only with a sure appearance
        # Inliers must span enough of the template, or be many and spread over its textured part
        # (text lines and a shared small element give many inliers in a small area).
        spatial = v.coverage >= s.min_coverage or (
            v.inliers >= s.strong_inliers and v.spread >= s.min_spread)
        if query_thumb is None or ref_thumb is None:
            return (v, None) if spatial and not few else None
        # The whole overlap must look alike: a shared element alone does not; and when it does
        # look alike, clustered inliers suffice (a crop, a small or compressed copy).
        look = agreement(ref_thumb, query_thumb, v.transform, mirrored=v.mirrored,
                         params=self._appearance)
        if look < s.appearance_min:
            return None
        if few:
            if v.inlier_ratio >= s.appearance_min_ratio and look >= s.appearance_sure:
                return v, look
            return None
        if spatial or (v.inlier_ratio >= s.appearance_min_ratio and look >= s.appearance_strong):
            return v, look
        return None

    @staticmethod
    def _to_match(ref_id: int, v: Verification, look: float | None, feats: LocalFeatures,
                  box: Box, size: tuple[int, int], scale: float) -> TemplateMatch:
        quad = _in_query_pixels(v.quad, (feats.width, feats.height), box, size, scale)
        score = v.inliers / (v.inliers + 20.0)
        return TemplateMatch(ref_id, float(score), "verified", v.inliers, None, quad, v.mirrored,
                             look)
