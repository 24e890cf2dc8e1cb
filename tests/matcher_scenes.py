"""Synthetic textured scenes and meme-like edits for the matcher tests (no data set needed)."""

from __future__ import annotations

import cv2
import numpy as np


def scene(seed: int, width: int = 480, height: int = 360) -> np.ndarray:
    """A seeded, textured RGB scene: smooth colour field, outlined shapes, lines and texture."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    img = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(8, 50))
        kind = rng.integers(0, 3)
        if kind == 0:
            cv2.circle(img, (cx, cy), r, colour, -1)
            cv2.circle(img, (cx, cy), r, (0, 0, 0), 2)
        elif kind == 1:
            pts = (rng.integers(-r, r, (5, 2)) + [cx, cy]).astype(np.int32)
            cv2.fillPoly(img, [pts], colour)
            cv2.polylines(img, [pts], True, (20, 20, 20), 2)
        else:
            cv2.rectangle(img, (cx, cy), (cx + r, cy + r // 2), colour, -1)
            cv2.rectangle(img, (cx, cy), (cx + r, cy + r // 2), (0, 0, 0), 1)
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def caption(img: np.ndarray, top: str = "WHEN THE TEST", bottom: str = "FINALLY PASSES") -> np.ndarray:
    """White text with a black outline at the top and bottom, like a classic meme."""
    out = img.copy()
    h, w = out.shape[:2]
    scale = h / 260
    letters = np.zeros((h, w), np.uint8)
    for text, y in ((top, int(0.14 * h)), (bottom, int(0.94 * h))):
        (tw, _th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 3)
        org = (max(2, (w - tw) // 2), y)
        cv2.putText(letters, text, org, cv2.FONT_HERSHEY_DUPLEX, scale, 255,
                    max(2, int(3 * scale)), cv2.LINE_8)
    outline = cv2.dilate(letters, np.ones((5, 5), np.uint8)) > 0
    out[outline] = 0
    out[letters > 0] = 255
    return out


def with_panel(img: np.ndarray, height: int = 90, text: str = "me when the build is green") -> np.ndarray:
    """A white caption panel with black text above the picture."""
    h, w = img.shape[:2]
    out = np.full((h + height, w, 3), 255, np.uint8)
    out[height:] = img
    cv2.putText(out, text, (10, height // 2 + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2,
                cv2.LINE_AA)
    return out


def screenshot(img: np.ndarray, dark: bool = False) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A post screenshot around ``img`` and the picture's box in it."""
    h, w = img.shape[:2]
    page = (16, 20, 24) if dark else (255, 255, 255)
    ink = (230, 230, 230) if dark else (15, 20, 25)
    width, header, footer = w + 60, 150, 160
    out = np.empty((header + h + footer, width, 3), np.uint8)
    out[:] = page
    cv2.circle(out, (40, 40), 22, (200, 80, 60), -1)
    cv2.putText(out, "Some Account", (75, 35), cv2.FONT_HERSHEY_SIMPLEX, 0.7, ink, 2, cv2.LINE_AA)
    cv2.putText(out, "@someone - 3h", (75, 62), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (120, 120, 120), 1,
                cv2.LINE_AA)
    cv2.putText(out, "this is literally me every monday", (20, 115), cv2.FONT_HERSHEY_SIMPLEX,
                0.7, ink, 2, cv2.LINE_AA)
    x0, y0 = 30, header
    out[y0 : y0 + h, x0 : x0 + w] = img
    cv2.rectangle(out, (x0 - 1, y0 - 1), (x0 + w, y0 + h), (200, 205, 210), 1)
    fy = y0 + h + 40
    for i in range(4):
        cx = 40 + i * (width - 80) // 4
        cv2.rectangle(out, (cx, fy), (cx + 18, fy + 18), (120, 120, 120), 2)
        cv2.putText(out, str(12 * (i + 1)), (cx + 26, fy + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (120, 120, 120), 1, cv2.LINE_AA)
    return out, (x0, y0, x0 + w, y0 + h)


def crop(img: np.ndarray, share: float = 0.1) -> np.ndarray:
    h, w = img.shape[:2]
    dy, dx = int(h * share), int(w * share)
    return np.ascontiguousarray(img[dy : h - dy, dx : w - dx])


def jpeg(img: np.ndarray, quality: int = 30, factor: float = 0.5) -> np.ndarray:
    h, w = img.shape[:2]
    small = cv2.resize(img, (int(w * factor), int(h * factor)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
