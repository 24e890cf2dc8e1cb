"""The one typed settings object.

Every field has help text; values come from arguments, then ``MEMETRACK_*`` environment
variables (nested groups use a double underscore: ``MEMETRACK_MATCHER__MIN_INLIERS``).
A test checks that every setting is documented in the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MatcherSettings(BaseModel):
    """Thresholds of the caption-robust template matcher (calibrated by ``memetrack eval shells``)."""

    view_max_side: int = Field(
        1024,
        description=(
            "Images are downscaled to this longer side before borders, caption panels and "
            "screenshot chrome are removed (the core view is cut from this copy)."
        ),
    )
    query_view_steps: tuple[str, ...] = Field(
        ("remove_screenshot_chrome", "remove_caption_panels", "trim_uniform_borders"),
        description=(
            "Normalisation steps (memetrack.normalize.STEPS) that cut a query's core view: "
            "screenshot chrome, caption panels, uniform borders."
        ),
    )
    reference_view_steps: tuple[str, ...] = Field(
        (),
        description=(
            "Normalisation steps applied to a registered template (none: the whole shell is the "
            "template, and memes are built from the whole shell)."
        ),
    )
    full_view_fallback: bool = Field(
        True,
        description=(
            "When the core view matches nothing and is smaller than the image, try the whole "
            "image too (the core-view steps can mistake part of a template for its picture)."
        ),
    )
    feature_side: int = Field(
        480, description="Longer side of the working image ORB features are computed on."
    )
    feature_max_upscale: float = Field(
        2.0, description="Small views are enlarged by at most this factor for feature extraction."
    )
    reference_features: int = Field(
        500, description="ORB keypoints kept per reference (template) core view."
    )
    query_features: int = Field(500, description="ORB keypoints kept per query core view.")
    mask_query_text: bool = Field(
        True,
        description="Drop query keypoints on caption text (white letters with a dark outline).",
    )
    mask_reference_text: bool = Field(
        True,
        description=(
            "Drop reference keypoints on caption-like text too: a query's keypoints there are "
            "dropped, so a template's own subtitles would only spend its keypoints (dev, seeds "
            "0, 1, 3: 8 more of 2,030 positives found, no false positive either way)."
        ),
    )
    pdq_match_threshold: int = Field(
        31,
        description=(
            "Largest PDQ distance (dihedral, core views) accepted as a match without local "
            "features (kind 'variant')."
        ),
    )
    pdq_exact_threshold: int = Field(
        8, description="Largest PDQ distance of a hash match reported as kind 'exact'."
    )
    pdq_min_quality: int = Field(
        50, description="Core views whose PDQ quality is lower skip the hash stage."
    )
    search_neighbours: int = Field(
        2, description="Nearest indexed descriptors looked up per query descriptor."
    )
    search_max_distance: int = Field(
        64, description="Largest Hamming distance (of 256 bits) of a descriptor neighbour that votes."
    )
    candidates: int = Field(
        6, description="References with the most votes that go to geometric verification."
    )
    min_votes: int = Field(6, description="Candidates with fewer votes are not verified.")
    pairwise_candidates: int = Field(
        2,
        description=(
            "When no candidate verifies with the index's pairs, this many best-voted candidates "
            "are re-matched pairwise (ratio test) and verified again."
        ),
    )
    ratio_test: float = Field(
        0.85,
        description="Lowe's ratio: a pair is kept when its distance is below this share of the second best.",
    )
    pair_max_distance: int = Field(
        80, description="Largest Hamming distance of a query/reference descriptor pair."
    )
    reproj_threshold: float = Field(
        6.0,
        description="RANSAC inlier tolerance in working-image pixels (similarity transform).",
    )
    min_inliers: int = Field(
        10, description="RANSAC inliers needed to accept a local-feature match."
    )
    min_inlier_ratio: float = Field(
        0.1, description="Share of the putative pairs that must be inliers to accept a match."
    )
    min_coverage: float = Field(
        0.05,
        description="Share of the reference area the inliers must span (convex hull) to accept.",
    )
    strong_inliers: int = Field(
        30,
        description=(
            "A match with at least this many inliers is accepted below min_coverage when its "
            "inliers span min_spread of the hull of the template's keypoints."
        ),
    )
    min_spread: float = Field(
        0.2,
        description=(
            "Share of the hull of all template keypoints the inliers must span (with "
            "strong_inliers) when their absolute coverage is below min_coverage."
        ),
    )
    appearance_min: float = Field(
        0.3,
        description=(
            "Least share of the overlap's cells that must look alike once the template is "
            "aligned (memetrack.appearance): below it a geometric match is a shared element, "
            "not the template."
        ),
    )
    appearance_strong: float = Field(
        0.7,
        description=(
            "Share of cells that look alike which accepts a match whose inliers cover too little "
            "of the template (a crop, a small or compressed copy), with appearance_min_ratio."
        ),
    )
    appearance_min_ratio: float = Field(
        0.3, description="Least inlier ratio of a match accepted on appearance_strong."
    )
    appearance_min_inliers: int = Field(
        6,
        description=(
            "Fewest RANSAC inliers of a match accepted below min_inliers, with "
            "appearance_min_ratio and appearance_sure (small, heavily compressed copies)."
        ),
    )
    appearance_sure: float = Field(
        0.8, description="Share of cells that look alike which accepts a match of few inliers."
    )
    appearance_texture: float = Field(
        6.0, description="Lightness standard deviation (of 255) above which a cell is textured."
    )
    appearance_ncc: float = Field(
        0.6, description="Correlation above which two textured cells look alike."
    )
    appearance_flat_lightness: float = Field(
        12.0, description="Lightness difference (of 255) within which two flat cells look alike."
    )
    appearance_flat_chroma: float = Field(
        12.0,
        description="a*b* distance within which two flat cells look alike (colour queries only).",
    )
    dense_max_query_features: int = Field(
        120,
        description=(
            "A query whose core view has fewer ORB keypoints than this (caption text masked), and "
            "which matched nothing, is placed densely over the templates whose colours it "
            "shares (memetrack.appearance.place): flat, low-texture templates leave too few "
            "keypoints once cropped and captioned. 0 turns the dense stage off."
        ),
    )
    dense_candidates: int = Field(
        12, description="Templates (nearest colour signatures) the dense stage places the query on."
    )
    dense_min_fraction: float = Field(
        0.55,
        description="Least share of a template's extent a query may span in the dense stage.",
    )
    dense_min_agreement: float = Field(
        0.9,
        description=(
            "Share of the compared cells (overlap, caption text left out) that must look alike "
            "to accept a dense placement."
        ),
    )
    dense_min_cells: int = Field(
        24, description="Fewest cells a dense placement must compare (of 8 px, 128-px thumbnail)."
    )
    dense_min_structure: int = Field(
        4,
        description=(
            "Fewest agreeing cells with structure on both sides (lightness texture, or an edge "
            "between two colours) of a dense placement: a shape must match, not one colour "
            "alone."
        ),
    )
    min_scale: float = Field(
        0.15, description="Smallest plausible scale of the reference inside the query."
    )
    max_scale: float = Field(
        6.0, description="Largest plausible scale of the reference inside the query."
    )
    max_angle: float = Field(
        20.0, description="Largest plausible rotation (degrees) of the reference inside the query."
    )
    try_mirror: bool = Field(
        True,
        description="When nothing verifies, search again with features of the mirrored query.",
    )
    max_results: int = Field(5, description="Most template matches returned per query.")
    ivf_min_rows: int = Field(
        60_000,
        description="Descriptor rows from which the index switches from exact to inverted-file search.",
    )
    ivf_nprobe: int = Field(
        1, description="Inverted lists probed per query descriptor (inverted-file search)."
    )


class CutoutSettings(BaseModel):
    """Cut-out registration and detection (calibrated by ``memetrack eval cutouts``)."""

    auto_register: bool = Field(
        False,
        description=(
            "Register images with real transparency as cut-outs automatically when they are "
            "indexed (otherwise only `memetrack cutouts register` / POST /v1/cutouts do)."
        ),
    )
    min_transparent: float = Field(
        0.02,
        description=(
            "Least share of transparent pixels (alpha < 16) for an image to count as a cut-out "
            "(below it the alpha channel is incidental)."
        ),
    )
    max_transparent: float = Field(
        0.98,
        description="Largest share of transparent pixels of a cut-out (above it too little is left).",
    )
    identity_pdq_threshold: int = Field(
        48,
        description=(
            "Largest PDQ distance between the opaque views of two cut-outs that are the same "
            "cut-out (and their masks must be within identity_mask_threshold). On the 94 "
            "development cut-outs, 50 % and 75 % resized copies gave median 16, 7 % above 31 and "
            "1 % above 48; different cut-outs with near masks were 152+ apart."
        ),
    )
    identity_mask_threshold: int = Field(
        16,
        description="Largest mask-signature distance of two cut-outs that are the same cut-out.",
    )
    reference_sides: tuple[int, ...] = Field(
        (384, 192),
        description=(
            "A registered cut-out's opaque crop is resized to each of these longer sides and ORB "
            "features are taken at every size (small pastes match the small copies)."
        ),
    )
    reference_features: int = Field(
        400, description="ORB keypoints kept per reference size of a cut-out (inside its mask)."
    )
    mask_erode: int = Field(
        2,
        description=(
            "Pixels the alpha mask is eroded by (at each reference size) before keypoints are "
            "taken on the cut-out over neutral grey: descriptors on the outline would see the "
            "paste's background."
        ),
    )
    reference_backgrounds: tuple[int, ...] = Field(
        (0, 255),
        description=(
            "Grey levels the cut-out is also composited over for more reference features: on "
            "these views only keypoints whose patch reaches the outline are kept, the mask not "
            "eroded (a smooth drawing has its corners on the outline, and their descriptors "
            "depend on whether the background is darker or lighter). Empty: the neutral grey "
            "view only."
        ),
    )
    query_side: int = Field(
        800, description="Longer side of the working image a query's ORB features come from."
    )
    query_features: int = Field(1500, description="ORB keypoints kept per query image.")
    query_levels: int = Field(
        3,
        description=(
            "ORB pyramid levels of the query (the references already come at several sizes, "
            "each with a full pyramid)."
        ),
    )
    query_grid: int = Field(
        6,
        description=(
            "Cells per side of the grid over which query_extra keypoints top up the query's "
            "strongest query_features where they are sparse (0: the strongest only)."
        ),
    )
    query_extra: int = Field(
        300,
        description=(
            "Keypoints added to the strongest query_features, to the grid cells with the fewest "
            "first: a busy background (big black letters, hatching) otherwise takes every "
            "keypoint from a cut-out pasted beside it (dev seeds 0-3 pooled, 393 positives per "
            "bucket: recall at 30-45 % 361 -> 369, at 45-60 % 372 -> 382, at 20-30 % 350 either "
            "way, no false positive; about 6 ms more per query)."
        ),
    )
    query_oversample: int = Field(
        3, description="The extra keypoints come from a detection this many times larger."
    )
    text_side: int = Field(
        400, description="Longer side the caption-text mask of a query is computed at."
    )
    text_dark: int = Field(
        80,
        description=(
            "Darkest channel value counted as a caption letter's outline in the query's text "
            "mask (the template matcher uses 100; for cut-outs 100 masked parts of small pasted "
            "cut-outs: recall at 20-30 % on dev 0.81 -> 0.76)."
        ),
    )
    text_min_line: int = Field(
        2,
        description=(
            "A caption letter of the query's text mask must be in a line of at least this many "
            "(memetrack.features.text_mask): line art's white patches ringed in black look like "
            "letters one by one, but do not line up (1 -> 2 in stop 17: dev seeds 0-3, own "
            "cut-outs, recall 361/376/388 -> 362/378/387 of 393; synthetic word-marks +3 of "
            "216, flat drawings 0; no false positive either way; 3 lost more than it found)."
        ),
    )
    fast_threshold: int = Field(
        10, description="FAST corner threshold of the cut-out ORB detector (query and reference)."
    )
    blur_sigma: float = Field(
        0.0,
        description=(
            "Gaussian blur (sigma, px) of query and reference grey images before ORB "
            "(0: none); damps JPEG blocking."
        ),
    )
    mask_query_text: bool = Field(
        True, description="Drop query keypoints on caption text (white letters, dark outline)."
    )
    search_neighbours: int = Field(
        8, description="Nearest indexed cut-out descriptors looked up per query descriptor."
    )
    search_max_distance: int = Field(
        56, description="Largest Hamming distance (of 256 bits) of a neighbour that votes."
    )
    candidates: int = Field(
        12, description="Cut-outs (each orientation apart) with most votes that are verified."
    )
    min_votes: int = Field(4, description="Candidates with fewer votes are not verified.")
    pose_candidates: int = Field(
        8,
        description=(
            "Cut-outs (each orientation apart) whose descriptor pairs agree best on one pose "
            "(Hough votes on the keypoints' orientation, size and position) that are verified too, "
            "with the agreeing pairs (0: voted candidates only)."
        ),
    )
    pose_min_appearance: float = Field(
        0.85,
        description=(
            "Least appearance correlation of a detection found through pose votes with fewer "
            "than pose_strong_inliers inliers (pairs picked for their agreement need the "
            "picture to agree too)."
        ),
    )
    pose_strong_inliers: int = Field(
        15,
        description=(
            "A detection found through pose votes with at least this many inliers needs only "
            "min_appearance, not pose_min_appearance (dev seeds 0 and 1: true pose fits with "
            "15-37 inliers had appearances of 0.56-0.75; false ones at most 11 inliers with 500 "
            "registered, and at most 28, at appearances <= 0.31, with 31-33)."
        ),
    )
    ratio_test: float = Field(
        0.8,
        description=(
            "Lowe's ratio: a query descriptor votes only when its nearest cut-out descriptor is "
            "nearer than this share of the nearest descriptor of any other cut-out."
        ),
    )
    vote_ties: bool = Field(
        True,
        description=(
            "A query descriptor about as near to two cut-outs (and clearly nearer than to any "
            "third) votes for both, instead of neither: near-identical cut-outs, such as two "
            "frames of one animation, otherwise take every vote from each other (dev, 31 "
            "registered: recall 0.81/0.86/0.93 -> 0.85/0.89/0.93, no false positive)."
        ),
    )
    reproj_threshold: float = Field(
        5.0, description="RANSAC inlier tolerance in query working-image pixels."
    )
    min_inliers: int = Field(6, description="RANSAC inliers needed to accept a detection.")
    min_inlier_ratio: float = Field(
        0.0, description="Share of the putative pairs that must be inliers."
    )
    min_coverage: float = Field(
        0.0, description="Share of the cut-out's box the inliers must span (convex hull)."
    )
    min_size: float = Field(
        0.08,
        description="Smallest detected cut-out (longer side over the query's shorter side).",
    )
    max_angle: float = Field(
        25.0, description="Largest rotation (degrees) of a detected cut-out."
    )
    appearance_side: int = Field(
        96,
        description=(
            "Longer side of the cut-out thumbnail the query is warped onto to compare "
            "appearance inside the mask (normalised cross-correlation)."
        ),
    )
    min_appearance: float = Field(
        0.6,
        description=(
            "Least normalised cross-correlation, inside the eroded mask, of the query warped onto "
            "the cut-out (caption text excluded) to accept a detection."
        ),
    )
    strong_inliers: int = Field(
        40,
        description="A detection with at least this many inliers skips the appearance check.",
    )
    colour_check: bool = Field(
        True,
        description=(
            "Compare the colours (CIE a*, b*) of the query warped onto a cut-out with the "
            "cut-out's, for a query that has colour: refuse a fit with fewer than strong_inliers "
            "inliers whose mean colour lies more than max_chroma_distance from the cut-out's, "
            "and accept one the grey appearance check refused when its colours vary with the "
            "cut-out's (see the next settings)."
        ),
    )
    max_chroma_distance: float = Field(
        35.0,
        description=(
            "Largest distance (a*, b* units of OpenCV's 8-bit L*a*b*) between the mean colours "
            "of a detection and its cut-out (dev, true detections: at most 30)."
        ),
    )
    colour_min_inliers: int = Field(
        12, description="Least inliers of a fit that the colour check can accept."
    )
    colour_min_appearance: float = Field(
        0.4, description="Least grey appearance of a fit that the colour check can accept."
    )
    min_chroma_correlation: float = Field(
        0.6,
        description=(
            "Least correlation of the a*, b* variations of such a fit with the cut-out's "
            "(dev seeds 0 and 1: no false fit had >= 12 inliers and appearance >= 0.4; the true "
            "ones the grey check refused had 0.46-0.86)."
        ),
    )
    outline_side: int = Field(
        192,
        description=(
            "Longer side at which a thin cut-out's outline is kept for the outline check "
            "(thin letters stay a few pixels wide there)."
        ),
    )
    outline_max_thickness: float = Field(
        0.65,
        description=(
            "A cut-out is thin, and gets the outline check, when at most this share of its mask "
            "survives an erosion by 2 pixels at outline_side (synthetic word-marks: 0-0.59; "
            "dev cut-outs: 0.23 for one stamp of thin letters, 0.67 and more for the rest)."
        ),
    )
    outline_min: float = Field(
        0.6,
        description=(
            "Least agreement of gradient orientations along a thin cut-out's outline and inside "
            "it, between the query warped onto the cut-out and the cut-out, to accept a fit the "
            "appearance check refused (synthetic word-marks, flat drawings and dev, seeds 0 and "
            "1: true fits had a median of 0.81, false fits of thin cut-outs at most 0.55)."
        ),
    )
    max_results: int = Field(20, description="Most cut-outs reported per image.")
    flat_stage: bool = Field(
        True,
        description=(
            "Also look for flat colour drawings by their colour and silhouette: the query's "
            "regions of a cut-out's dominant colour whose shape is that colour's shape on the "
            "cut-out place it, and the appearance and colour checks decide (a flat drawing "
            "gives ORB few corners; dev seeds 0-3, the split's own cut-outs: 353 / 369 / 384 -> "
            "354 / 372 / 387 of 393 per bucket, no false positive)."
        ),
    )
    flat_max_shapes: int = Field(
        64,
        description=(
            "The flat stage runs only while at most this many registered cut-outs have a flat "
            "colour shape: it costs up to about 0.08 ms per such cut-out and query (stop 16's "
            "machine, 239 such cut-outs registered; 0.2 ms before stop 16's colour prefilter)."
        ),
    )
    flat_min_share: float = Field(
        0.35, description="Least share of a cut-out's mask its dominant chromatic colour covers."
    )
    flat_min_chroma: float = Field(
        18.0, description="Least chroma (CIE a*, b* radius) of a dominant colour (not grey)."
    )
    flat_colour_radius: float = Field(
        16.0, description="a*, b* distance within which a pixel has the dominant colour."
    )
    flat_plain_texture: float = Field(
        3.0,
        description=(
            "A flat shape whose grey levels on the thumbnail vary less than this (standard "
            "deviation) is plain: one flat tone. When the whole cut-out is that plain, its "
            "appearance correlation is noise and is not used."
        ),
    )
    flat_plain_query_texture: float = Field(
        8.0,
        description=(
            "A plain flat shape (flat_plain_texture; not a box or an ellipse) whose silhouette "
            "matches (flat_min_iou) is accepted without the appearance check when the query's "
            "grey levels inside its placement vary less than this (interquartile range / 1.349, "
            "a standard deviation that a few edge pixels do not inflate; stop 17, from the "
            "standard deviation: dev seeds 0-3 recall +1/0/0 of 393, synthetic flat drawings "
            "+3/0/+2 of 132, no more false positives)."
        ),
    )
    flat_side: int = Field(256, description="Longer side of the query the flat stage works on.")
    flat_min_iou: float = Field(
        0.8,
        description=(
            "Least silhouette IoU of a query region and the cut-out's colour shape (0.85 -> 0.8 "
            "in stop 17: dev seeds 0-3, own cut-outs, recall +2/+1/0 of 393 per bucket; "
            "synthetic flat drawings, seeds 0-1: +6/+4/+3 of 132; no more false positives or "
            "wrong cut-outs. With the flat stage forced on for 500 registered, dev seeds 0 and "
            "1 had 8 placements of another cut-out between 0.8 and 0.85 with an appearance of "
            "0.6 or more: flat_max_shapes keeps it off there)."
        ),
    )
    flat_min_appearance: float = Field(
        0.6,
        description=(
            "Least appearance correlation of a flat-stage placement (one with nothing to "
            "compare, all under a caption say, is refused)."
        ),
    )
    ivf_min_rows: int = Field(
        20_000,
        description=(
            "Cut-out descriptor rows from which the index switches from exact to inverted-file "
            "search (exact search of 3000 query descriptors costs ~7 ms per 1,000 rows here)."
        ),
    )
    ivf_lists_per_sqrt: float = Field(
        1.0, description="Inverted lists per square root of the row count (rounded to a power of two)."
    )
    ivf_nprobe: int = Field(
        3,
        description=(
            "Inverted lists probed per query descriptor (inverted-file search). Stop 16, dev "
            "seeds 0-3 with 500 registered: 4 -> 3 gave 349 / 366 / 383 -> 348 / 366 / 384 of "
            "393, the same 2 false positives, and 49-52 -> 46-47 ms per query (seed 0 alone)."
        ),
    )
    backfill_page: int = Field(
        500, description="Media read from the store per page during a cut-out backfill."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEMETRACK_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        Path("data"),
        description="Folder for the embedded SQLite store and the persisted FAISS indexes.",
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db. "
            "Empty: SQLite file memetrack.db inside data_dir."
        ),
    )
    max_image_bytes: int = Field(
        50 * 1024 * 1024, description="Largest accepted image file, in bytes (larger: 413)."
    )
    max_image_pixels: int = Field(
        60_000_000,
        description="Largest accepted width*height, checked from the header before decoding.",
    )
    decode_max_side: int = Field(
        512,
        description=(
            "Hashes and features are computed on a decode whose longer side is at most this "
            "(JPEGs are decoded at reduced DCT scale)."
        ),
    )
    pdq_threshold: int = Field(
        31, description="Largest PDQ Hamming distance (of 256 bits) reported as a near-duplicate."
    )
    pdq_min_quality: int = Field(
        50, description="PDQ hashes of lower quality (flat images) are not used for matching."
    )
    phash_threshold: int = Field(
        10, description="Largest pHash Hamming distance (of 64 bits) reported as a near-duplicate."
    )
    match_limit: int = Field(10, description="Most near-duplicates returned by one match.")
    workers: int = Field(
        0, description="Processes used to hash a batch; 0 means one per CPU core."
    )
    batch_size: int = Field(64, description="Images written to the store per transaction in a batch.")
    hash_index: Literal["flat", "multihash"] = Field(
        "flat",
        description=(
            "FAISS index for PDQ: `flat` is exact (best below ~250k media); `multihash` "
            "(multi-index hashing, 16 tables of 16 bits) stays fast at millions of media and finds "
            "98 % of near-duplicates at distance 28 (measured by `memetrack bench search`)."
        ),
    )
    faiss_threads: int = Field(
        1, description="OpenMP threads FAISS may use (one is fastest for single queries here)."
    )
    store_samples: bool = Field(
        True,
        description=(
            "Keep a small JPEG (longer side 768 px, ~50 KB) of every indexed media in the store: "
            "needed to rebuild families, recover shells and backfill cut-out detection."
        ),
    )
    assign_families: bool = Field(
        True, description="Assign every indexed media to a template family (or found one)."
    )
    shell_members: int = Field(
        15, description="Most family members aligned and median-combined to recover a shell."
    )
    host: str = Field("127.0.0.1", description="Address `memetrack serve` listens on.")
    port: int = Field(8000, description="Port `memetrack serve` listens on.")
    matcher: MatcherSettings = Field(
        default_factory=MatcherSettings, description="Template-matcher thresholds."
    )
    cutouts: CutoutSettings = Field(
        default_factory=CutoutSettings, description="Cut-out registration and detection."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'memetrack.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]


def documented_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting, nested groups included."""
    rows: list[tuple[str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name.upper()}__")
                continue
            default = info.get_default(call_default_factory=True)
            shown = ("(empty)" if default is None
                     else str(default) if isinstance(default, Path) else repr(default))
            rows.append((f"{prefix}{name.upper()}", shown, info.description or ""))

    walk(Settings, "MEMETRACK_")
    return rows
