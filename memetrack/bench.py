"""Benchmarks: ``memetrack bench index`` and ``memetrack bench search``.

Speed is measured here, never asserted in tests. Every figure in the README comes from these
commands, run on the machine named there.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from memetrack.config import Settings

# -- generated inputs ------------------------------------------------------------------------------


def _picture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A photo-like textured picture: smooth colour field, noise, and shapes."""
    small = rng.integers(0, 256, (max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 12, (height, width, 1)).astype(np.float32)
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    for _ in range(30):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(width // 40, width // 8))
        if rng.random() < 0.5:
            cv2.circle(img, (x, y), r, colour, -1)
        else:
            cv2.rectangle(img, (x, y), (x + r, y + r // 2), colour, -1)
    return img


def make_bench_files(folder: Path, n: int, seed: int = 0) -> dict[str, int]:
    """``n`` files: 45 % JPEG 1024x768, 45 % JPEG 1600x1200, 10 % PNG 800x600 with alpha."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    kinds = {"jpeg_1024x768": 0, "jpeg_1600x1200": 0, "png_rgba_800x600": 0}
    for i in range(n):
        r = i % 20
        if r < 9:
            img, name, kind = _picture(rng, 1024, 768), f"{i:05d}.jpg", "jpeg_1024x768"
            Image.fromarray(img).save(folder / name, "JPEG", quality=88)
        elif r < 18:
            img, name, kind = _picture(rng, 1600, 1200), f"{i:05d}.jpg", "jpeg_1600x1200"
            Image.fromarray(img).save(folder / name, "JPEG", quality=88)
        else:
            img, name, kind = _picture(rng, 800, 600), f"{i:05d}.png", "png_rgba_800x600"
            alpha = np.zeros((600, 800), np.uint8)
            cv2.ellipse(alpha, (400, 300), (300, 250), 0, 0, 360, 255, -1)
            Image.fromarray(np.dstack([img, alpha])).save(folder / name, "PNG")
        kinds[kind] += 1
    return kinds


def _shape(paths: list[str]) -> dict[str, int]:
    """How many files of each format and size (read from the headers)."""
    kinds: dict[str, int] = {}
    for path in paths:
        try:
            with Image.open(path) as im:
                alpha = "_rgba" if "A" in im.getbands() else ""
                key = f"{(im.format or 'unknown').lower()}{alpha}_{im.width}x{im.height}"
        except OSError:
            key = "unreadable"
        kinds[key] = kinds.get(key, 0) + 1
    return kinds


# -- measurements ------------------------------------------------------------------------------


def _decode_only(task: tuple[str, int, int, int]) -> int:
    from memetrack.imageio import load_image, read_capped

    path, max_bytes, max_pixels, side = task
    img = load_image(read_capped(path, max_bytes), max_bytes=max_bytes, max_pixels=max_pixels,
                     max_side=side)
    return int(img.rgb.shape[0])


def _naive_phash(path: str) -> str:
    import imagehash

    with Image.open(path) as im:
        return str(imagehash.phash(im))


def _cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process, and of it plus its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    main = own.ru_utime + own.ru_stime
    return main, main + children.ru_utime + children.ru_stime


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass
class IndexBench:
    files: int
    shape: dict[str, int]
    workers: int
    decode_only_per_s: float = 0.0
    naive_imagehash_per_s: float = 0.0
    global_hash_index_per_s: float = 0.0
    full_index_per_s: float = 0.0
    peak_rss_mb: float = 0.0
    # CPU per file of each memetrack run, in the main process and in the worker processes
    cpu_ms_per_file: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def ratios(self) -> dict[str, float]:
        return {
            "global_vs_decode": self.global_hash_index_per_s / max(1e-9, self.decode_only_per_s),
            "global_vs_naive": self.global_hash_index_per_s / max(1e-9,
                                                                  self.naive_imagehash_per_s),
            "full_vs_naive": self.full_index_per_s / max(1e-9, self.naive_imagehash_per_s),
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"ratios": self.ratios()}, indent=2)

    def table(self) -> str:
        r = self.ratios()
        rows = [
            ("decode alone at the reduced scale (parallel)", self.decode_only_per_s, "limit"),
            ("naive loop: imagehash.phash(Image.open(f))", self.naive_imagehash_per_s, "baseline"),
            ("memetrack, global hashes + store writes", self.global_hash_index_per_s,
             f"{r['global_vs_decode']:.0%} of decode, {r['global_vs_naive']:.1f}x naive"),
            ("memetrack, full indexing (samples, families, cut-outs)", self.full_index_per_s,
             f"{r['full_vs_naive']:.1f}x naive"),
        ]
        lines = [f"{self.files} files ({', '.join(f'{v} {k}' for k, v in self.shape.items())}), "
                 f"{self.workers} worker processes",
                 "| what | images/s | |", "| --- | ---: | --- |"]
        lines += [f"| {name} | {rate:.1f} | {note} |" for name, rate, note in rows]
        lines.append(f"peak resident memory (largest process): {self.peak_rss_mb:.0f} MB")
        for name, cpu in self.cpu_ms_per_file.items():
            lines.append(f"CPU per file, {name}: main process {cpu['main']:.0f} ms, workers "
                         f"{cpu['workers']:.0f} ms; {cpu['cores_busy']:.2f} cores busy on average")
        return "\n".join(lines)


def bench_index(n: int = 2000, workers: int | None = None, seed: int = 0,
                keep: Path | None = None) -> IndexBench:
    import multiprocessing

    from memetrack.pipeline import Memetrack

    workers = workers or os.cpu_count() or 1
    root = Path(tempfile.mkdtemp(prefix="memetrack-bench-"))
    try:
        folder = keep or root / "files"
        if not folder.is_dir() or not any(folder.iterdir()):
            make_bench_files(folder, n, seed)
        paths = sorted(str(p) for p in folder.iterdir())
        shape = _shape(paths)
        base = Settings(data_dir=root / "unused")
        result = IndexBench(len(paths), shape, workers)
        ctx = multiprocessing.get_context("spawn")
        tasks = [(p, base.max_image_bytes, base.max_image_pixels, base.decode_max_side)
                 for p in paths]
        with ctx.Pool(workers) as pool:
            pool.map(_decode_only, tasks[: workers * 4])  # warm up the workers
            secs = _timed(lambda: pool.map(_decode_only, tasks, chunksize=8))
        result.decode_only_per_s = len(paths) / secs
        secs = _timed(lambda: [_naive_phash(p) for p in paths])
        result.naive_imagehash_per_s = len(paths) / secs

        def run(name: str, settings: Settings) -> float:
            with Memetrack(settings) as core:
                core.store.upgrade()
                core.load_indexes()
                main0, all0 = _cpu_seconds()
                summary = core.index_paths([folder], workers=workers, progress=False)
                main1, all1 = _cpu_seconds()  # the pool's workers are reaped by now
                n = max(1, summary.files)
                result.cpu_ms_per_file[name] = {
                    "main": 1000 * (main1 - main0) / n,
                    "workers": 1000 * ((all1 - all0) - (main1 - main0)) / n,
                    "cores_busy": (all1 - all0) / max(1e-9, summary.seconds),
                }
                return summary.files / summary.seconds

        result.global_hash_index_per_s = run("global hashes", Settings(
            data_dir=root / "global", store_samples=False, assign_families=False,
            workers=workers))
        result.full_index_per_s = run("full indexing",
                                      Settings(data_dir=root / "full", workers=workers))
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result.peak_rss_mb = max(own, children) / 1024
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class SearchBench:
    rows: list[dict[str, float]]

    def table(self) -> str:
        lines = ["| indexed media | load (s) | match of an image, median (ms) | PDQ search median "
                 "(ms) | p95 (ms) | pHash search median (ms) | index bytes per media |",
                 "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in self.rows:
            lines.append(f"| {int(r['size']):,} | {r['load_s']:.2f} | {r['match_median_ms']:.2f} | "
                         f"{r['pdq_median_ms']:.2f} | {r['pdq_p95_ms']:.2f} | "
                         f"{r['phash_median_ms']:.2f} | {r['bytes_per_media']:.0f} |")
        return "\n".join(lines)


def _rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _match_latency(loaded: dict, queries: int, rng: np.random.Generator) -> float:  # type: ignore[type-arg]
    """Median time of a global-hash match of an image file as `memetrack match` does it: reduced
    decode, PDQ (with the mirror and rotations) and pHash, and both index searches."""
    import io

    from memetrack.hashing import compute_all, pdq_query_set
    from memetrack.imageio import fit, load_image

    files = []
    for _ in range(10):
        buf = io.BytesIO()
        Image.fromarray(_picture(rng, 1024, 768)).save(buf, "JPEG", quality=88)
        files.append(buf.getvalue())
    caps = {"max_bytes": 50_000_000, "max_pixels": 60_000_000}
    times = []
    for q in range(queries):
        data = files[q % len(files)]
        t = time.perf_counter()
        flat = load_image(data, max_side=512, **caps).flattened()
        hashes = compute_all(fit(flat, 512))
        loaded["pdq"].search([h for _n, h in pdq_query_set(flat)], k=10, max_distance=31)
        loaded["phash"].search([hashes["phash"].hash], k=10, max_distance=10)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _load_rss_in_fresh_process(folder: str, kind: str) -> int:
    """Resident memory that loading both persisted indexes adds to a fresh Python process."""
    import subprocess
    import sys

    code = (
        "import memetrack.bench as b, memetrack.index.hashes as h, memetrack.hashing as x;"
        "from pathlib import Path;"
        "r0 = b._rss_bytes();"
        f"i = [h.HashIndex.load(Path({folder!r}), a, kind={kind!r}) for a in (x.PDQ, x.PHASH)];"
        "print(b._rss_bytes() - r0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def bench_search(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), queries: int = 200,
                 seed: int = 0, kind: str = "flat") -> SearchBench:
    """Query latency of the global-hash indexes (8 PDQ hashes per query, as a real match sends),
    load time of the persisted indexes, and their resident memory per indexed media (PDQ and
    pHash together, ids included)."""
    from memetrack.hashing import PDQ, PHASH, PerceptualHash
    from memetrack.index.hashes import HashIndex, set_threads

    set_threads(1)
    rng = np.random.default_rng(seed)
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            codes = {}
            for algo in (PDQ, PHASH):
                index = HashIndex(algo, kind=kind)
                codes[algo.name] = rng.integers(0, 256, (size, algo.nbytes), dtype=np.uint8)
                for start in range(0, size, 100_000):
                    chunk = codes[algo.name][start:start + 100_000]
                    index.add(list(range(start + 1, start + 1 + len(chunk))),
                              [c.tobytes() for c in chunk], checkpoint=start + len(chunk))
                index.save(Path(tmp))
                del index
            t0 = time.perf_counter()
            loaded = {a.name: HashIndex.load(Path(tmp), a, kind=kind) for a in (PDQ, PHASH)}
            out: dict[str, float] = {"size": size, "load_s": time.perf_counter() - t0,
                                     "bytes_per_media":
                                         _load_rss_in_fresh_process(tmp, kind) / size}
            out["match_median_ms"] = _match_latency(loaded, queries, rng)
            for algo in (PDQ, PHASH):
                n_hashes = 8 if algo is PDQ else 1
                times = []
                for q in range(queries):
                    base = codes[algo.name][(q * 7919) % size].copy()
                    base[:2] ^= 0x0F  # a near-duplicate of an indexed media
                    query = [PerceptualHash(algo.name, algo.version, base.tobytes())] * n_hashes
                    t = time.perf_counter()
                    loaded[algo.name].search(query, k=10, max_distance=algo.default_threshold)
                    times.append((time.perf_counter() - t) * 1000)
                out[f"{algo.name}_median_ms"] = statistics.median(times)
                out[f"{algo.name}_p95_ms"] = float(np.percentile(times, 95))
            rows.append(out)
            del loaded, codes
    return SearchBench(rows)


@dataclass
class PdqScaleBench:
    images: int
    rows: list[dict[str, float]]

    def table(self) -> str:
        lines = [f"{self.images} images of at least 600 px; PDQ of a copy fitted to the side "
                 "against PDQ of the full image",
                 "| longer side (px) | distance median | p90 | p99 | PDQ time median (ms) |",
                 "| ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {int(r['side'])} | {r['median']:.0f} | {r['p90']:.0f} | {r['p99']:.0f} | "
                  f"{r['ms']:.2f} |" for r in self.rows]
        return "\n".join(lines)


def bench_pdq_scale(folder: Path, sides: tuple[int, ...] = (256, 384, 512, 1024),
                    min_side: int = 600) -> PdqScaleBench:
    """How far the PDQ of a downscaled copy is from the PDQ of the full image, and what it
    costs: the basis for hashing at 512 px (hash lists from other PDQ users are computed on full
    images). Images whose longer side is under ``min_side`` are skipped."""
    from memetrack.hashing import pdq
    from memetrack.imageio import fit, load_image

    distances: dict[int, list[int]] = {s: [] for s in sides}
    times: dict[int, list[float]] = {s: [] for s in sides}
    count = 0
    for path in sorted(folder.iterdir()):
        try:
            full = load_image(path.read_bytes(), max_bytes=200_000_000,
                              max_pixels=200_000_000, max_side=1_000_000).flattened()
        except Exception:  # noqa: BLE001 - not an image: skipped
            continue
        if max(full.shape[:2]) < min_side:
            continue
        count += 1
        reference = pdq(full).hash
        for side in sides:
            small = fit(full, side)
            t = time.perf_counter()
            value = pdq(small).hash
            times[side].append((time.perf_counter() - t) * 1000)
            distances[side].append(reference.distance(value))
    rows = []
    for side in sides:
        d = np.asarray(distances[side] or [0])
        rows.append({"side": side, "median": float(np.median(d)),
                     "p90": float(np.percentile(d, 90)), "p99": float(np.percentile(d, 99)),
                     "ms": statistics.median(times[side]) if times[side] else 0.0})
    return PdqScaleBench(count, rows)
