"""Deterministic synthetic images for tests (the tests never need external data)."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image


def scene(seed: int, width: int = 480, height: int = 360) -> np.ndarray:
    """A textured RGB scene: gradient background, shapes and lines (corners for local features)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, 3)
    img = np.empty((height, width, 3), np.float32)
    for c in range(3):
        img[..., c] = base[c] + 40 * np.sin(xx / rng.uniform(20, 80) + c) * np.cos(
            yy / rng.uniform(20, 80))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(25):
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        kind = rng.integers(0, 3)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if kind == 0:
            cv2.circle(img, (x, y), int(rng.integers(5, 50)), colour, -1)
        elif kind == 1:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(10, 90)), y + int(rng.integers(10, 90))),
                          colour, -1)
        else:
            cv2.line(img, (x, y), (int(rng.integers(0, width)), int(rng.integers(0, height))),
                     colour, int(rng.integers(1, 6)))
    return img


def encode(rgb: np.ndarray, fmt: str = "PNG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kwargs)
    return buf.getvalue()
