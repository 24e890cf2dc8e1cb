"""The cut-out half of :class:`memetrack.pipeline.Memetrack` (registration, detection, backfill).

A mixin so the pipeline stays one front door while the two halves stay readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from memetrack.records import CutoutHit

if TYPE_CHECKING:
    from memetrack.config import Settings
    from memetrack.store import Store


class CutoutsMixin:
    settings: Settings
    store: Store

    def _load_cutouts(self) -> None:
        """Load the registered cut-outs' stored representations into the detector."""

    def _after_ingest_cutouts(self, media_id: int) -> None:
        """A new media was stored: register it as a cut-out (if it is one and auto-registration
        is on), else record the registered cut-outs found in it."""

    def find_cutouts(self, rgb: np.ndarray, alpha: np.ndarray | None = None
                     ) -> tuple[CutoutHit, ...]:
        """Registered cut-outs found in an image (nothing is stored)."""
        return ()
