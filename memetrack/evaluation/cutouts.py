"""``memetrack eval cutouts``: are registered cut-outs found, and located, inside composites?

Procedure (seeded, reproducible):

1. **Cut-outs** are the images of ``--cutouts`` whose share of transparent pixels (alpha < 16) lies
   between 15 % and 85 %; **backgrounds** are the images of ``--backgrounds`` outside that range
   (alpha flattened over grey, downscaled to at most :data:`BACKGROUND_MAX_SIDE`), except those of
   a meme that has a cut-out (a meme's base picture may already show its own cut-out). A file's
   *meme* is its name before ``__``; everything is split by meme, never by file.
2. Keep the cut-outs of one **split**: ``dev`` (first byte of SHA-256 of the meme name even) for
   calibrating thresholds, ``test`` (odd) for reporting once, or ``all``.
3. Hold out ``holdout_frac`` of those memes: never registered, their composites are the
   **negatives**. Register the rest in a :class:`~memetrack.cutout_detect.CutoutDetector`.
4. For every size bucket (the cut-out's larger side as a share of the background's shorter side:
   20-30 %, 30-45 %, 45-60 %) build composites with
   :func:`memetrack.evaluation.variants.composite_cutout`: a random background, size within the
   bucket, position, mirror (half), top/bottom caption (half) and JPEG quality (none, 90, 70 or 50)
   all drawn from a seeded generator.
5. A positive is **found** when the pasted cut-out is among the detections; its **IoU** is that of
   the reported quadrilateral with the true one. Detections of a cut-out of another meme are false
   positives (``wrong``); a negative with any detection is a false positive.
6. **Scale.** The same queries are run again with the registered set grown to ``scale_to`` (500)
   cut-outs by **distractors**: the real cut-outs of the other split (never pasted in this run's
   composites) and procedural ones (crops of synthetic scenes, see
   :func:`memetrack.evaluation.shells.make_distractor`, under random blob masks, recoloured). The
   median time per query with the full set is what cut-out detection adds to a match.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from memetrack.config import CutoutSettings
from memetrack.cutout_detect import CutoutDetector, polygon_iou
from memetrack.errors import BadInput
from memetrack.evaluation.shells import (
    CUTOUT_RANGE,
    SPLITS,
    TemplateImage,
    load_folder,
    make_distractor,
    split_of,
)
from memetrack.evaluation.variants import composite_cutout
from memetrack.imageio import fit

BUCKETS: tuple[tuple[float, float], ...] = ((0.20, 0.30), (0.30, 0.45), (0.45, 0.60))
JPEG_QUALITIES: tuple[int | None, ...] = (None, 90, 70, 50)
BACKGROUND_MAX_SIDE = 1024
CUTOUT_MAX_SIDE = 768


@dataclass(frozen=True)
class BucketRow:
    """Results on the composites of one size bucket, with ``registered`` cut-outs indexed."""

    bucket: str
    registered: int
    n_positive: int
    n_negative: int
    recall: float
    false_positive_rate: float
    wrong_on_positives: int
    median_iou: float
    median_ms: float


@dataclass(frozen=True)
class Miss:
    bucket: str
    file: str
    positive: bool
    size: float
    mirrored: bool
    caption: bool
    jpeg: int | None
    got: tuple[str, ...]
    iou: float | None


@dataclass
class CutoutEvalReport:
    split: str
    seed: int
    n_registered: int
    n_registered_memes: int
    n_heldout: int
    n_heldout_memes: int
    n_backgrounds: int
    n_scaled: int
    rows: list[BucketRow] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)

    def row(self, bucket: str, registered: int | None = None) -> BucketRow:
        want = self.n_registered if registered is None else registered
        return next(r for r in self.rows if r.bucket == bucket and r.registered == want)


def _seed_for(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def _bucket_name(lo: float, hi: float) -> str:
    return f"{round(lo * 100)}-{round(hi * 100)} %"


def synthetic_cutout(rng: random.Random) -> np.ndarray:
    """A procedural distractor cut-out (RGBA): a crop of a synthetic scene under a blob mask."""
    scene = make_distractor(rng)
    h, w = scene.shape[:2]
    cw, ch = rng.randint(w // 3, w), rng.randint(h // 3, h)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    rgb = scene[y:y + ch, x:x + cw].astype(np.float32)
    rgb = np.clip(rgb * np.array([rng.uniform(0.7, 1.3) for _ in range(3)]), 0, 255)
    mask = np.zeros((ch, cw), np.uint8)
    for _ in range(rng.randint(1, 4)):
        centre = (rng.randint(cw // 4, 3 * cw // 4), rng.randint(ch // 4, 3 * ch // 4))
        axes = (rng.randint(max(2, cw // 6), max(3, cw // 2)),
                rng.randint(max(2, ch // 6), max(3, ch // 2)))
        cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 255, -1)
    if rng.random() < 0.5:
        mask = mask[:, ::-1]
    return np.dstack([rgb.astype(np.uint8), np.ascontiguousarray(mask)])


@dataclass(frozen=True)
class _Query:
    bucket: str
    file: str
    positive: bool
    image: np.ndarray
    quad: np.ndarray
    size: float
    mirrored: bool
    caption: bool
    jpeg: int | None


def _queries(cutouts: list[tuple[TemplateImage, bool]], backgrounds: list[TemplateImage],
             seed: int, per_bucket: int, negatives_per_bucket: int) -> list[_Query]:
    out = []
    for cut, positive in cutouts:
        piece = Image.fromarray(cut.rgb, "RGBA")
        n = per_bucket if positive else negatives_per_bucket
        for lo, hi in BUCKETS:
            name = _bucket_name(lo, hi)
            for q in range(n):
                rng = random.Random(_seed_for(seed, "composite", cut.file, name, q))
                bg = backgrounds[rng.randrange(len(backgrounds))]
                size = rng.uniform(lo, hi)
                mirror = rng.random() < 0.5
                caption = rng.random() < 0.5
                quality = rng.choice(JPEG_QUALITIES)
                comp = composite_cutout(Image.fromarray(bg.rgb), piece, rng, size_frac=size,
                                        mirror=mirror, caption=caption, jpeg_quality=quality)
                out.append(_Query(name, cut.file, positive, np.asarray(comp.image), comp.quad,
                                  size, mirror, caption, quality))
    return out


def _run(detector: CutoutDetector, queries: list[_Query], ids: dict[int, str | None],
         meme_of_id: dict[int, str | None], file_meme: dict[str, str], registered: int,
         misses: list[Miss] | None) -> list[BucketRow]:
    rows = []
    for lo, hi in BUCKETS:
        name = _bucket_name(lo, hi)
        found = n_pos = n_neg = neg_hits = wrong = 0
        ious: list[float] = []
        times: list[float] = []
        for q in (q for q in queries if q.bucket == name):
            t0 = time.perf_counter()
            dets = detector.detect(q.image)
            times.append(time.perf_counter() - t0)
            meme = file_meme[q.file]
            own = [d for d in dets if ids.get(d.cutout_id) == q.file]
            others = [d for d in dets if meme_of_id.get(d.cutout_id) != meme]
            iou = polygon_iou(own[0].quad, q.quad) if own else None
            if q.positive:
                n_pos += 1
                found += bool(own)
                wrong += bool(others)
                if iou is not None:
                    ious.append(iou)
            else:
                n_neg += 1
                neg_hits += bool(dets)
            if misses is not None and ((q.positive and (not own or others)) or
                                       (not q.positive and dets)):
                got = tuple(ids.get(d.cutout_id) or f"distractor:{d.cutout_id}"
                            for d in dets)
                misses.append(Miss(name, q.file, q.positive, round(q.size, 3), q.mirrored,
                                   q.caption, q.jpeg, got, iou))
        rows.append(BucketRow(
            bucket=name, registered=registered, n_positive=n_pos, n_negative=n_neg,
            recall=found / max(1, n_pos), false_positive_rate=neg_hits / max(1, n_neg),
            wrong_on_positives=wrong,
            median_iou=statistics.median(ious) if ious else float("nan"),
            median_ms=1000 * statistics.median(times) if times else float("nan"),
        ))
    return rows


def run_cutout_eval(
    cutouts_dir: str | Path,
    backgrounds_dir: str | Path | None = None,
    *,
    seed: int = 0,
    split: str = "dev",
    holdout_frac: float = 0.3,
    per_bucket: int = 3,
    negatives_per_bucket: int = 6,
    scale_to: int = 500,
    settings: CutoutSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> CutoutEvalReport:
    """Run the evaluation described in the module docstring and return its report."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    say = progress or (lambda _msg: None)
    _templates, all_cutouts = load_folder(cutouts_dir)
    all_cutouts = [TemplateImage(c.file, c.meme, fit(c.rgb, CUTOUT_MAX_SIDE))
                   for c in all_cutouts]
    cut_memes = {c.meme for c in all_cutouts}
    bg_templates, _ = load_folder(backgrounds_dir or cutouts_dir)
    backgrounds = [TemplateImage(t.file, t.meme, fit(t.rgb, BACKGROUND_MAX_SIDE))
                   for t in bg_templates if t.meme not in cut_memes]
    if not all_cutouts or not backgrounds:
        raise BadInput("need at least one cut-out (transparent share "
                       f"{CUTOUT_RANGE[0]}-{CUTOUT_RANGE[1]}) and one background")
    mine = [c for c in all_cutouts if split == "all" or split_of(c.meme) == split]
    others = [c for c in all_cutouts if split != "all" and split_of(c.meme) != split]
    memes = sorted({c.meme for c in mine})
    rng = random.Random(_seed_for(seed, "holdout", split))
    held = set(rng.sample(memes, round(holdout_frac * len(memes))))
    registered = [c for c in mine if c.meme not in held]
    heldout = [c for c in mine if c.meme in held]

    detector = CutoutDetector(settings)
    ids: dict[int, str | None] = {}
    meme_of_id: dict[int, str | None] = {}
    for i, c in enumerate(registered):
        detector.add(i, detector.represent(c.rgb))
        ids[i], meme_of_id[i] = c.file, c.meme
    detector.build()
    file_meme = {c.file: c.meme for c in mine}
    say(f"registered {len(registered)} cut-outs of {len(memes) - len(held)} memes; "
        f"{len(heldout)} held out; {len(backgrounds)} backgrounds")

    queries = _queries([(c, True) for c in registered] + [(c, False) for c in heldout],
                       backgrounds, seed, per_bucket, negatives_per_bucket)
    say(f"built {len(queries)} composites")
    report = CutoutEvalReport(split, seed, len(registered), len(memes) - len(held),
                              len(heldout), len(held), len(backgrounds), 0,
                              settings=detector.settings.model_dump())
    report.rows += _run(detector, queries, ids, meme_of_id, file_meme, len(registered),
                        report.misses)
    for r in report.rows:
        say(f"{r.bucket}: recall {r.recall:.3f} fpr {r.false_positive_rate:.4f} "
            f"iou {r.median_iou:.3f} median {r.median_ms:.1f} ms")

    if scale_to > len(registered):
        next_id = len(registered)
        for c in others[: scale_to - next_id]:
            detector.add(next_id, detector.represent(c.rgb))
            ids[next_id], meme_of_id[next_id] = None, None
            next_id += 1
        drng = random.Random(_seed_for(seed, "distractor-cutouts", split))
        while next_id < scale_to:
            detector.add(next_id, detector.represent(synthetic_cutout(drng)))
            ids[next_id], meme_of_id[next_id] = None, None
            next_id += 1
        detector.build()
        report.n_scaled = next_id
        say(f"registered {next_id} cut-outs (with distractors)")
        report.rows += _run(detector, queries, ids, meme_of_id, file_meme, next_id, None)
        for r in report.rows[-len(BUCKETS):]:
            say(f"{r.bucket} @ {next_id}: recall {r.recall:.3f} fpr "
                f"{r.false_positive_rate:.4f} iou {r.median_iou:.3f} "
                f"median {r.median_ms:.1f} ms")
    return report


def format_table(report: CutoutEvalReport) -> str:
    """Markdown: one line per size bucket and registered-set size."""
    head = (
        f"split `{report.split}`, seed {report.seed}: {report.n_registered} registered cut-outs "
        f"({report.n_registered_memes} memes), {report.n_heldout} held out "
        f"({report.n_heldout_memes} memes) as negatives, {report.n_backgrounds} backgrounds"
        + (f"; then {report.n_scaled} registered with distractors" if report.n_scaled else "")
        + "\n\n"
        "| size (of shorter side) | registered | positives | negatives | recall | FP rate "
        "| wrong cut-out on positives | median IoU | median ms/query |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = [
        f"| {r.bucket} | {r.registered} | {r.n_positive} | {r.n_negative} | {r.recall:.3f} "
        f"| {r.false_positive_rate:.4f} | {r.wrong_on_positives} | {r.median_iou:.3f} "
        f"| {r.median_ms:.1f} |"
        for r in report.rows
    ]
    return head + "\n".join(lines) + "\n"


def format_seeds(reports: Sequence[CutoutEvalReport]) -> str:
    """Recall per size bucket and registered-set size for each seed and pooled over them, with
    the false positives and wrong cut-outs pooled (Markdown). With one seed's 93-99 positives per
    bucket, a recall near 0.85 is known to about 7 points either way (95 %); with four seeds
    pooled, to about 4."""
    seeds = [r.seed for r in reports]
    keys = list(dict.fromkeys((row.bucket, row.registered > rep.n_registered)
                              for rep in reports for row in rep.rows))
    lines = ["| size (of shorter side) | registered | " + " | ".join(f"seed {s}" for s in seeds)
             + " | pooled recall | pooled FP rate | wrong cut-out on positives |",
             "| --- | --- |" + " ---: |" * (len(seeds) + 3)]
    for bucket, scaled in keys:
        rows = [next(r for r in rep.rows if r.bucket == bucket
                     and (r.registered > rep.n_registered) == scaled) for rep in reports]
        found = sum(round(r.recall * r.n_positive) for r in rows)
        positives = sum(r.n_positive for r in rows)
        hits = sum(round(r.false_positive_rate * r.n_negative) for r in rows)
        negatives = sum(r.n_negative for r in rows)
        wrong = sum(r.wrong_on_positives for r in rows)
        label = f"{reports[0].n_scaled}" if scaled else "the split's own"
        lines.append(f"| {bucket} | {label} | " + " | ".join(f"{r.recall:.3f}" for r in rows)
                     + f" | {found / max(1, positives):.3f} ({found} of {positives}) "
                     f"| {hits / max(1, negatives):.4f} ({hits} of {negatives}) | {wrong} |")
    return "\n".join(lines) + "\n"


def format_missed(reports: Sequence[CutoutEvalReport], top: int = 10) -> str:
    """The cut-outs whose composites were missed most often (with the split's own cut-outs
    registered, every seed given), per size bucket (Markdown); empty when nothing was missed."""
    counts: dict[str, dict[str, int]] = {}
    for rep in reports:
        for m in rep.misses:
            if m.positive and m.file not in m.got:
                counts.setdefault(m.file, {}).setdefault(m.bucket, 0)
                counts[m.file][m.bucket] += 1
    if not counts:
        return ""
    buckets = [_bucket_name(lo, hi) for lo, hi in BUCKETS]
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:top]
    lines = ["| most often missed cut-out | " + " | ".join(buckets) + " | all |",
             "| --- |" + " ---: |" * (len(buckets) + 1)]
    for file, per in ranked:
        lines.append(f"| {file} | " + " | ".join(str(per.get(b, 0)) for b in buckets)
                     + f" | {sum(per.values())} |")
    return "\n".join(lines) + "\n"
