"""The worker side of indexing: one file in, its stored representations out.

Runs in the batch's worker processes (and on Dask workers), so it imports only what hashing and
the template match's query side need: no store, no SQLAlchemy, no migrations, which keeps a
worker's start (a fresh interpreter per process) short.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from memetrack import families as fam
from memetrack.config import MatcherSettings, Settings
from memetrack.errors import MemetrackError
from memetrack.hashing import compute_all
from memetrack.imageio import fit, load_image, read_capped
from memetrack.matcher import PreparedQuery, TemplateMatcher
from memetrack.records import MediaInput


@dataclass(frozen=True)
class AnalyzeParams:
    """The part of the settings a worker process needs (small and picklable)."""

    max_bytes: int
    max_pixels: int
    max_side: int
    samples: bool
    # set when batch workers also prepare the template match (families are assigned)
    matcher: MatcherSettings | None = None

    @classmethod
    def from_settings(cls, s: Settings) -> AnalyzeParams:
        prepare = s.assign_families and s.store_samples
        return cls(s.max_image_bytes, s.max_image_pixels, s.decode_max_side, s.store_samples,
                   s.matcher if prepare else None)


def analyze_bytes(data: bytes, params: AnalyzeParams) -> MediaInput:
    """Decode once (small) and compute every stored representation. Pure: no store access.

    One decode at the larger of the hash size and the sample size feeds the global hashes
    (computed on a copy of at most ``max_side`` px) and the stored sample.
    """
    decode_side = max(params.max_side, fam.SAMPLE_MAX_SIDE) if params.samples else params.max_side
    image = load_image(data, max_bytes=params.max_bytes, max_pixels=params.max_pixels,
                       max_side=decode_side)
    flat = image.flattened()
    hashes = compute_all(fit(flat, params.max_side))
    sample = fam.encode_sample(image.rgb, image.alpha)[0] if params.samples else None
    return MediaInput(
        sha256=hashlib.sha256(data).hexdigest(), format=image.format, width=image.width,
        height=image.height, byte_size=len(data), has_alpha=image.has_alpha,
        frames=image.frames,
        hashes=tuple(("full", r.hash, r.quality) for r in hashes.values()),
        sample=sample,
    )


@dataclass(frozen=True)
class FileOutcome:
    path: str
    media: MediaInput | None
    error_code: str | None = None
    error: str | None = None
    prepared: PreparedQuery | None = None  # the query side of its family assignment


def prepare_match(media: MediaInput, settings: MatcherSettings) -> PreparedQuery | None:
    """The query side of a media's family assignment, from its stored sample exactly as the
    main process would compute it (so the result does not depend on where it ran); None when
    it cannot be computed here (the main process then tries itself)."""
    if media.sample is None:
        return None
    try:
        return TemplateMatcher(settings).prepare(fam.decode_sample(media.sample), eager=True)
    except Exception:  # noqa: BLE001 - an optimisation only
        return None


def analyze_path(task: tuple[str, AnalyzeParams]) -> FileOutcome:
    """Worker entry point: never raises for a bad file, returns the reason instead."""
    path, params = task
    try:
        data = read_capped(path, params.max_bytes)
        media = analyze_bytes(data, params)
        prepared = None if params.matcher is None else prepare_match(media, params.matcher)
        return FileOutcome(path, media, prepared=prepared)
    except MemetrackError as exc:
        return FileOutcome(path, None, exc.code, exc.message)
    except OSError as exc:
        return FileOutcome(path, None, "unreadable", f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - one bad file never stops a batch
        return FileOutcome(path, None, "internal_error", f"{type(exc).__name__}: {exc}")
