"""``memetrack eval shells``: does the template matcher find the blank shell under a meme?

Procedure (seeded, reproducible):

1. Read the templates of a folder: every image whose real transparency (share of pixels with
   alpha < 16) is not between 15 % and 85 % (those are cut-outs), alpha flattened over grey,
   downscaled to at most :data:`TEMPLATE_MAX_SIDE`. Images with almost nothing visible (more
   than :data:`MAX_TRANSPARENT` transparent) are skipped and counted: flattened, they are a
   blank grey rectangle, no template (in memes-dev: ``steam_message__logo.png``, fully
   transparent). A template's *meme* is its file name before
   ``__`` (frames of one meme are near-identical, so everything is split by meme, never by file).
2. Keep the memes of one **split**: ``dev`` (first byte of SHA-256 of the meme name even) for
   calibrating thresholds, ``test`` (odd) for reporting, or ``all``.
3. Hold out ``holdout_frac`` of those memes: they are never indexed and their queries must not
   match anything. Index the rest plus synthetic **distractors** up to ``index_size`` references.
4. For every kind of variant, build queries from indexed templates (positives) and held-out
   templates (negatives) with :func:`memetrack.evaluation.variants.make_variant`.
5. A positive is found when the top match is a template of the same meme; a negative with any
   match, and a positive whose top match is another meme or a distractor, are false positives.

Distractors are procedural scenes (smooth colour fields or gradients, cartoon shapes with dark
outlines, stripes and checkers, Hershey-font text, noise, blur, JPEG) with, in half of them, 1-2
real cut-outs pasted in at random scale, mirror and colour shift. The cut-outs come only from memes
of the *other* split, so no distractor contains art of a meme queried in this run.

Baselines on the same queries and index: whole-image PDQ (dihedral, distance <= 31) and
whole-image pHash (distance <= 10), both plain (no views, no local features).
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
import imagehash
import numpy as np
import pdqhash
from PIL import Image, ImageOps

from memetrack.config import MatcherSettings
from memetrack.errors import BadInput
from memetrack.imageio import fit
from memetrack.matcher import TemplateMatcher, pack_bits
from memetrack.normalize import flatten_alpha

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
ALPHA_TRANSPARENT = 16
CUTOUT_RANGE = (0.15, 0.85)
MAX_TRANSPARENT = 0.99  # above this share of transparent pixels an image shows nothing
# Templates are downscaled to this longer side before use (the matcher works below it anyway).
TEMPLATE_MAX_SIDE = 1024
PDQ_BASELINE_THRESHOLD = 31
PHASH_BASELINE_THRESHOLD = 10
SPLITS = ("dev", "test", "all")


@dataclass(frozen=True, eq=False)
class TemplateImage:
    file: str
    meme: str
    rgb: np.ndarray


@dataclass(frozen=True)
class KindRow:
    """Results of one method on the queries of one kind."""

    kind: str
    method: str
    n_positive: int
    n_negative: int
    recall: float
    false_positive_rate: float  # held-out (never indexed) queries that matched anything
    negative_matches: int
    wrong_top: int  # positives whose top match was another meme (or a distractor)
    wrong_family_rate: float
    median_ms: float


@dataclass(frozen=True)
class Failure:
    kind: str
    file: str
    positive: bool
    got: str | None
    match_kind: str | None
    inliers: int


@dataclass
class ShellEvalReport:
    split: str
    seed: int
    n_indexed_templates: int
    n_indexed_memes: int
    n_heldout_templates: int
    n_heldout_memes: int
    n_distractors: int
    skipped_blank: list[str] = field(default_factory=list)
    rows: list[KindRow] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)

    def row(self, kind: str, method: str = "matcher") -> KindRow:
        return next(r for r in self.rows if r.kind == kind and r.method == method)


# ----------------------------------------------------------------------------- data set


def meme_of(file_name: str) -> str:
    return Path(file_name).name.split("__", 1)[0]


def split_of(meme: str) -> str:
    """``dev`` or ``test``, stable across runs and machines."""
    return "dev" if hashlib.sha256(meme.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def _load_rgba(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.seek(0)
        im = ImageOps.exif_transpose(im)
        return np.asarray(im.convert("RGBA"))


def load_folder(templates_dir: str | Path,
                skipped: list[str] | None = None) -> tuple[list[TemplateImage], list[TemplateImage]]:
    """Templates (flattened over grey) and cut-outs (RGBA) of a folder, sorted by file name;
    with ``skipped``, images with nothing visible are left out and their names appended to it
    (as backgrounds, for ``eval cutouts``, a blank image is still a fine one)."""
    if not Path(templates_dir).is_dir():
        raise BadInput(f"not a folder: {templates_dir}")
    templates, cutouts = [], []
    for path in sorted(Path(templates_dir).iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        rgba = _load_rgba(path)
        transparent = float((rgba[:, :, 3] < ALPHA_TRANSPARENT).mean())
        if transparent > MAX_TRANSPARENT and skipped is not None:
            skipped.append(path.name)
        elif CUTOUT_RANGE[0] <= transparent <= CUTOUT_RANGE[1]:
            cutouts.append(TemplateImage(path.name, meme_of(path.name), fit(rgba, 512)))
        else:
            rgb = fit(flatten_alpha(rgba), TEMPLATE_MAX_SIDE)
            templates.append(TemplateImage(path.name, meme_of(path.name), rgb))
    return templates, cutouts


# ---------------------------------------------------------------------------- distractors


_WORDS = ("SALE", "open", "river", "night", "42", "hello", "city", "blue", "garden", "zone",
          "exit", "cafe", "north", "music", "free", "lab", "sky", "data", "road", "team")


def _background(rng: random.Random, nrng: np.random.Generator, w: int, h: int) -> np.ndarray:
    style = rng.random()
    if style < 0.4:
        grid = nrng.integers(0, 256, (rng.randint(2, 9), rng.randint(2, 9), 3), dtype=np.uint8)
        return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    if style < 0.75:
        a, b = nrng.integers(0, 256, 3), nrng.integers(0, 256, 3)
        t = np.linspace(0.0, 1.0, h if rng.random() < 0.5 else w)
        ramp = (a[None, :] * (1 - t[:, None]) + b[None, :] * t[:, None]).astype(np.uint8)
        if len(t) == h:
            return np.ascontiguousarray(np.repeat(ramp[:, None, :], w, axis=1))
        return np.ascontiguousarray(np.repeat(ramp[None, :, :], h, axis=0))
    out = np.empty((h, w, 3), np.uint8)
    out[:] = nrng.integers(0, 256, 3, dtype=np.uint8)
    return out


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))


def _draw_shapes(img: np.ndarray, rng: random.Random) -> None:
    h, w = img.shape[:2]
    for _ in range(rng.randint(4, 30)):
        fill, line = _colour(rng), rng.choice([(0, 0, 0), (30, 30, 30), _colour(rng)])
        thick = rng.randint(1, 6)
        cx, cy = rng.randint(0, w), rng.randint(0, h)
        size = rng.randint(max(4, min(w, h) // 40), max(8, min(w, h) // 3))
        shape = rng.random()
        if shape < 0.3:
            axes = (size, max(2, int(size * rng.uniform(0.3, 1.0))))
            ang = rng.uniform(0, 180)
            cv2.ellipse(img, (cx, cy), axes, ang, 0, 360, fill, -1, cv2.LINE_AA)
            cv2.ellipse(img, (cx, cy), axes, ang, 0, 360, line, thick, cv2.LINE_AA)
        elif shape < 0.55:
            p2 = (cx + rng.randint(-size, size), cy + rng.randint(-size, size))
            cv2.rectangle(img, (cx, cy), p2, fill, -1)
            cv2.rectangle(img, (cx, cy), p2, line, thick)
        elif shape < 0.8:
            n = rng.randint(3, 8)
            pts = np.array([[cx + rng.randint(-size, size), cy + rng.randint(-size, size)]
                            for _ in range(n)], np.int32)
            cv2.fillPoly(img, [pts], fill, cv2.LINE_AA)
            cv2.polylines(img, [pts], True, line, thick, cv2.LINE_AA)
        elif shape < 0.9:
            p2 = (rng.randint(0, w), rng.randint(0, h))
            cv2.line(img, (cx, cy), p2, line, thick + 1, cv2.LINE_AA)
        else:
            step = rng.randint(3, 14)
            x0, y0 = max(0, cx - size), max(0, cy - size)
            patch = img[y0 : cy + size, x0 : cx + size]
            yy, xx = np.mgrid[: patch.shape[0], : patch.shape[1]]
            on = ((yy // step + xx // step) % 2 == 0) if rng.random() < 0.5 else (xx // step) % 2 == 0
            patch[on] = fill


def _draw_text(img: np.ndarray, rng: random.Random) -> None:
    h, w = img.shape[:2]
    for _ in range(rng.randint(0, 3)):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
        scale = rng.uniform(0.6, 2.5) * min(w, h) / 500
        org = (rng.randint(0, max(1, w // 2)), rng.randint(20, max(21, h - 5)))
        cv2.putText(img, words, org, rng.choice([0, 2, 3, 4]), scale, _colour(rng),
                    max(1, int(scale * 2)), cv2.LINE_AA)


def _paste_cutout(img: np.ndarray, cut: np.ndarray, rng: random.Random) -> None:
    h, w = img.shape[:2]
    alpha = cut[:, :, 3]
    ys, xs = np.nonzero(alpha >= ALPHA_TRANSPARENT)
    if ys.size == 0:
        return
    cut = cut[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    if rng.random() < 0.5:
        cut = cut[:, ::-1]
    k = rng.uniform(0.2, 0.6) * min(w, h) / max(cut.shape[:2])
    size = (max(1, int(cut.shape[1] * k)), max(1, int(cut.shape[0] * k)))
    cut = cv2.resize(np.ascontiguousarray(cut), size, interpolation=cv2.INTER_AREA)
    rgb = cut[:, :, :3].astype(np.float32)
    # Colour shift: per-channel gain, so the pasted art is not an exact copy.
    rgb = np.clip(rgb * np.array([rng.uniform(0.7, 1.3) for _ in range(3)]), 0, 255)
    a = cut[:, :, 3:4].astype(np.float32) / 255.0
    x, y = rng.randint(0, w - size[0]), rng.randint(0, h - size[1])
    region = img[y : y + size[1], x : x + size[0]].astype(np.float32)
    img[y : y + size[1], x : x + size[0]] = (rgb * a + region * (1 - a)).astype(np.uint8)


def make_distractor(rng: random.Random, cutouts: Sequence[np.ndarray] = ()) -> np.ndarray:
    """One seeded synthetic reference image (RGB) that resembles no template."""
    nrng = np.random.default_rng(rng.getrandbits(32))
    w, h = rng.randint(320, 900), rng.randint(320, 900)
    img = _background(rng, nrng, w, h)
    _draw_shapes(img, rng)
    if cutouts and rng.random() < 0.5:
        for _ in range(rng.randint(1, 2)):
            _paste_cutout(img, cutouts[rng.randrange(len(cutouts))], rng)
    _draw_text(img, rng)
    if rng.random() < 0.3:
        noise = nrng.normal(0, rng.uniform(3, 15), img.shape)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(40, 90)])
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(img)


# ---------------------------------------------------------------------------- baselines


class _HashBaseline:
    """Whole-image PDQ (dihedral) and pHash over the indexed references."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.pdq: list[np.ndarray] = []
        self.phash: list[np.ndarray] = []

    def add(self, ref_id: int, rgb: np.ndarray) -> None:
        small = fit(rgb, 512)
        bits, _q = pdqhash.compute(small)
        self.ids.append(ref_id)
        self.pdq.append(pack_bits(bits)[0])
        self.phash.append(np.packbits(imagehash.phash(Image.fromarray(small)).hash.ravel()))

    def freeze(self) -> None:
        self._ids = np.array(self.ids, np.int64)
        self._pdq = np.stack(self.pdq)
        self._phash = np.stack(self.phash)

    def match_pdq(self, rgb: np.ndarray) -> int | None:
        vectors, _q = pdqhash.compute_dihedral(fit(rgb, 512))
        q = pack_bits(np.asarray(vectors))
        d = np.unpackbits(np.bitwise_xor(self._pdq[:, None, :], q[None]), axis=2).sum(axis=2)
        best = d.min(axis=1)
        i = int(best.argmin())
        return int(self._ids[i]) if best[i] <= PDQ_BASELINE_THRESHOLD else None

    def match_phash(self, rgb: np.ndarray) -> int | None:
        q = np.packbits(imagehash.phash(Image.fromarray(fit(rgb, 512))).hash.ravel())
        d = np.unpackbits(np.bitwise_xor(self._phash, q[None]), axis=1).sum(axis=1)
        i = int(d.argmin())
        return int(self._ids[i]) if d[i] <= PHASH_BASELINE_THRESHOLD else None


# --------------------------------------------------------------------------------- run


def _seed_for(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def run_shell_eval(
    templates_dir: str | Path,
    *,
    seed: int = 0,
    holdout_frac: float = 0.3,
    n_distractors: int | None = None,
    index_size: int = 2000,
    kinds: Sequence[str] | None = None,
    split: str = "dev",
    queries_per_template: int = 1,
    settings: MatcherSettings | None = None,
    baselines: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ShellEvalReport:
    """Run the evaluation described in the module docstring and return its report."""
    from memetrack.evaluation.variants import VARIANT_KINDS, make_variant

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    say = progress or (lambda _msg: None)
    kinds = tuple(kinds or VARIANT_KINDS)
    blank: list[str] = []
    templates, cutouts = load_folder(templates_dir, blank)
    if split != "all":
        blank = [b for b in blank if split_of(meme_of(b)) == split]
        templates = [t for t in templates if split_of(t.meme) == split]
        cutouts = [c for c in cutouts if split_of(c.meme) != split]
    memes = sorted({t.meme for t in templates})
    rng = random.Random(_seed_for(seed, "holdout", split))
    n_hold = round(holdout_frac * len(memes))
    held = set(rng.sample(memes, n_hold))
    indexed = [t for t in templates if t.meme not in held]
    heldout = [t for t in templates if t.meme in held]
    if n_distractors is None:
        n_distractors = max(0, index_size - len(indexed))

    matcher = TemplateMatcher(settings)
    base = _HashBaseline()
    ref_meme: dict[int, str | None] = {}
    for i, t in enumerate(indexed):
        matcher.add_reference(i, t.rgb)
        base.add(i, t.rgb)
        ref_meme[i] = t.meme
    say(f"indexed {len(indexed)} templates of {len(memes) - n_hold} memes")
    cut_rgba = [c.rgb for c in cutouts]
    drng = random.Random(_seed_for(seed, "distractors", split))
    for j in range(n_distractors):
        ref_id = len(indexed) + j
        img = make_distractor(drng, cut_rgba)
        matcher.add_reference(ref_id, img)
        base.add(ref_id, img)
        ref_meme[ref_id] = None
    matcher.build()
    base.freeze()
    say(f"indexed {n_distractors} distractors")

    report = ShellEvalReport(
        split=split, seed=seed, n_indexed_templates=len(indexed),
        n_indexed_memes=len(memes) - n_hold, n_heldout_templates=len(heldout),
        n_heldout_memes=n_hold, n_distractors=n_distractors, skipped_blank=blank,
        settings=matcher.settings.model_dump(),
    )
    queries = [(t, True) for t in indexed] + [(t, False) for t in heldout]
    for kind in kinds:
        stats: dict[str, dict[str, int]] = {
            m: {"found": 0, "neg": 0, "wrong": 0} for m in ("matcher", "pdq", "phash")
        }
        times: list[float] = []
        n_pos = n_neg = 0
        for t, positive in queries:
            for q in range(queries_per_template):
                vrng = random.Random(_seed_for(seed, kind, t.file, q))
                query = np.asarray(make_variant(kind, Image.fromarray(t.rgb), vrng).convert("RGB"))
                t0 = time.perf_counter()
                found = matcher.match(query)
                times.append(time.perf_counter() - t0)
                top = found[0] if found else None
                tops: dict[str, int | None] = {"matcher": top.ref_id if top else None}
                if baselines:
                    tops["pdq"] = base.match_pdq(query)
                    tops["phash"] = base.match_phash(query)
                n_pos += positive
                n_neg += not positive
                for method, ref in tops.items():
                    s = stats[method]
                    if positive and ref is not None and ref_meme[ref] == t.meme:
                        s["found"] += 1
                    elif positive and ref is not None:
                        s["wrong"] += 1
                    elif not positive and ref is not None:
                        s["neg"] += 1
                ok = top is not None and ref_meme[top.ref_id] == t.meme
                if (positive and ok) or (not positive and top is None):
                    continue
                report.failures.append(Failure(
                    kind, t.file, positive,
                    None if top is None else (ref_meme[top.ref_id] or f"distractor:{top.ref_id}"),
                    None if top is None else top.kind, 0 if top is None else top.inliers,
                ))
        for method in ("matcher", "pdq", "phash") if baselines else ("matcher",):
            s = stats[method]
            report.rows.append(KindRow(
                kind=kind, method=method, n_positive=n_pos, n_negative=n_neg,
                recall=s["found"] / max(1, n_pos),
                false_positive_rate=s["neg"] / max(1, n_neg),
                negative_matches=s["neg"], wrong_top=s["wrong"],
                wrong_family_rate=s["wrong"] / max(1, n_pos),
                median_ms=1000 * statistics.median(times) if method == "matcher" else float("nan"),
            ))
        r = report.row(kind)
        say(f"{kind}: recall {r.recall:.3f} fpr {r.false_positive_rate:.4f} "
            f"wrong family {r.wrong_family_rate:.4f} "
            f"median {r.median_ms:.1f} ms")
    return report


def pooled(report: ShellEvalReport, method: str = "matcher") -> dict[str, float | int]:
    """Totals over every kind: held-out queries that matched anything (of all held-out queries)
    and positives whose top match was another meme (of all positives). Per kind there are only a
    few dozen held-out queries, too few to resolve a rate of 0.5 %."""
    rows = [r for r in report.rows if r.method == method]
    neg, n_neg = sum(r.negative_matches for r in rows), sum(r.n_negative for r in rows)
    wrong, n_pos = sum(r.wrong_top for r in rows), sum(r.n_positive for r in rows)
    return {"negative_matches": neg, "negatives": n_neg,
            "false_positive_rate": neg / max(1, n_neg), "wrong_top": wrong, "positives": n_pos,
            "wrong_family_rate": wrong / max(1, n_pos)}


def format_table(report: ShellEvalReport) -> str:
    """Markdown table: one line per kind, the matcher and both baselines side by side, and the
    false positives pooled over the kinds."""
    head = (
        f"split `{report.split}`, seed {report.seed}: {report.n_indexed_templates} indexed templates "
        f"({report.n_indexed_memes} memes) + {report.n_distractors} distractors; "
        f"{report.n_heldout_templates} held-out templates ({report.n_heldout_memes} memes) as "
        "negatives"
        + (f"; skipped (nothing visible): {', '.join(report.skipped_blank)}"
           if report.skipped_blank else "")
        + "\n\n"
        "| kind | positives | negatives | recall | FP rate (held-out matched) | wrong family "
        "(of positives) | median ms | PDQ recall | PDQ FP rate | pHash recall | pHash FP rate |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = []
    kinds = list(dict.fromkeys(r.kind for r in report.rows))
    for kind in kinds:
        m = report.row(kind)
        cells = [kind, str(m.n_positive), str(m.n_negative), f"{m.recall:.3f}",
                 f"{m.false_positive_rate:.4f} ({m.negative_matches})",
                 f"{m.wrong_family_rate:.4f} ({m.wrong_top})", f"{m.median_ms:.1f}"]
        for method in ("pdq", "phash"):
            try:
                b = report.row(kind, method)
                cells += [f"{b.recall:.3f}", f"{b.false_positive_rate:.4f}"]
            except StopIteration:
                cells += ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    tail = []
    methods = [m for m in ("matcher", "pdq", "phash") if any(r.method == m for r in report.rows)]
    for method in methods:
        p = pooled(report, method)
        tail.append(f"{method}, all kinds: held-out queries matched {p['negative_matches']} of "
                    f"{p['negatives']} (FP rate {p['false_positive_rate']:.4f}); wrong family "
                    f"{p['wrong_top']} of {p['positives']} positives "
                    f"({p['wrong_family_rate']:.4f})")
    return head + "\n".join(lines) + "\n\n" + "\n".join(tail) + "\n"


def format_seeds(reports: Sequence[ShellEvalReport]) -> str:
    """The matcher's recall per kind for each seed and pooled over them, and the false positives
    pooled over every kind and seed (Markdown)."""
    seeds = [r.seed for r in reports]
    kinds = list(dict.fromkeys(r.kind for rep in reports for r in rep.rows))
    lines = ["| kind | " + " | ".join(f"seed {s}" for s in seeds) + " | pooled |",
             "| --- |" + " ---: |" * (len(seeds) + 1)]
    for kind in kinds:
        rows = [rep.row(kind) for rep in reports]
        found = sum(round(r.recall * r.n_positive) for r in rows)
        total = sum(r.n_positive for r in rows)
        lines.append(f"| {kind} | " + " | ".join(f"{r.recall:.3f}" for r in rows)
                     + f" | {found / max(1, total):.3f} ({found} of {total}) |")
    totals = [pooled(rep) for rep in reports]
    neg = sum(int(t["negative_matches"]) for t in totals)
    n_neg = sum(int(t["negatives"]) for t in totals)
    wrong = sum(int(t["wrong_top"]) for t in totals)
    n_pos = sum(int(t["positives"]) for t in totals)
    lines.append("")
    lines.append(f"all kinds and seeds: held-out queries matched {neg} of {n_neg} "
                 f"(FP rate {neg / max(1, n_neg):.4f}); wrong family {wrong} of {n_pos} "
                 f"positives ({wrong / max(1, n_pos):.4f})")
    return "\n".join(lines) + "\n"
