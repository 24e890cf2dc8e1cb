"""Views of an image: a named pipeline of small pure steps on RGB ``uint8`` arrays.

Every array here is ``H x W x 3`` in RGB order; OpenCV (BGR or grey) is used only inside the
functions that need it. The cropping steps return a box ``(x0, y0, x1, y1)`` (half-open, in the
coordinates of the array they were given) instead of an image, so each one can be tested and
switched on its own and the boxes compose back to original coordinates in :func:`core_view`.

* :func:`flatten_alpha` composites transparency over neutral grey (hashes must not see the hidden
  colour under transparent pixels).
* :func:`trim_uniform_borders` removes flat frames and letterboxing.
* :func:`remove_caption_panels` removes the white (or black) band with dark text that many memes
  add above (or below) the picture.
* :func:`remove_screenshot_chrome` finds the picture embedded in a screenshot of a social-media
  post (header, avatar, post text, buttons around it).
* :func:`core_view` runs the steps and returns the picture with its box in the input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]

# Two colours are "the same" when no channel differs by more than this (JPEG q30 rings ~20).
UNIFORM_TOLERANCE = 28
# A border row or column is uniform when this share of its pixels has the border colour.
UNIFORM_MIN_SHARE = 0.97
# A step never cuts the image below this share of its width or height.
MIN_KEEP_SHARE = 0.2

# Panel pixels are within this of the panel colour (tighter than borders: light-grey pictures
# under a white panel must not count as panel).
PANEL_TOLERANCE = 16
# Caption panels: a row belongs to a panel when this share of it has the panel colour ...
PANEL_ROW_MIN_SHARE = 0.15
# ... the whole panel must have at least this mean share (text is sparse) ...
PANEL_MEAN_MIN_SHARE = 0.6
# ... the rows just before the picture are (nearly) pure panel colour ...
PANEL_EDGE_SHARE = 0.93
# ... and the first rows of the picture are not (a straight edge, not a white-background drawing).
PICTURE_MAX_SHARE = 0.5
# Panels are between these shares of the image height.
PANEL_MIN_HEIGHT = 0.04
PANEL_MAX_HEIGHT = 0.6

# Screenshots: the border ring of a screenshot is mostly one background colour ...
CHROME_RING_SHARE = 0.7
# ... pixels differing from it by more than this are foreground (tighter than borders: the hairline
# around an embedded picture is only a few levels darker than the page) ...
CHROME_TOLERANCE = 10
# ... except vertical rules over this share of the height (column dividers) ...
CHROME_RULE_SHARE = 0.9
# ... foreground blobs (holes filled) thinner than this share of the shorter side are chrome: text
# lines, separators, icons ...
CHROME_OPEN_SHARE = 0.06
# ... the picture is the largest remaining blob, at least this share of the screenshot area ...
CHROME_MIN_AREA = 0.06
# ... and nearly a filled rectangle (blob area over bounding-box area; rounded corners cost a bit).
CHROME_MIN_FILL = 0.85
# ... is at least this share of the height away from the top and bottom edges ...
CHROME_MIN_MARGIN = 0.04
# ... and has content (grey-level standard deviation), unlike the blank slot of a frame template.
CHROME_MIN_STD = 12.0
# Screenshot analysis runs on a copy whose longer side is at most this.
CHROME_WORK_SIDE = 512


@dataclass(frozen=True, eq=False)
class View:
    """A picture cut out of an image, with its box ``(x0, y0, x1, y1)`` in the original."""

    image: np.ndarray
    box: Box


def to_rgb(array: np.ndarray) -> np.ndarray:
    """Coerce grey, RGB or RGBA ``uint8`` arrays to contiguous RGB (alpha over grey)."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {a.dtype}")
    if a.ndim == 2:
        return np.ascontiguousarray(np.repeat(a[:, :, None], 3, axis=2))
    if a.ndim == 3 and a.shape[2] == 4:
        return flatten_alpha(a)
    if a.ndim == 3 and a.shape[2] == 3:
        return np.ascontiguousarray(a)
    raise ValueError(f"expected H x W, H x W x 3 or H x W x 4 pixels, got {a.shape}")


def flatten_alpha(rgba: np.ndarray, grey: int = 128) -> np.ndarray:
    """Composite an RGBA array over a uniform ``grey`` background; RGB passes through."""
    a = np.asarray(rgba)
    if a.ndim == 3 and a.shape[2] == 3:
        return np.ascontiguousarray(a)
    if a.ndim != 3 or a.shape[2] != 4:
        raise ValueError(f"expected H x W x 4 pixels, got {a.shape}")
    alpha = a[:, :, 3:4].astype(np.uint16)
    rgb = a[:, :, :3].astype(np.uint16)
    out = (rgb * alpha + grey * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _full(rgb: np.ndarray) -> Box:
    return (0, 0, rgb.shape[1], rgb.shape[0])


def _close_to(pixels: np.ndarray, colour: np.ndarray, tol: int) -> np.ndarray:
    """Boolean mask of the pixels whose every channel is within ``tol`` of ``colour``."""
    c = np.asarray(colour, dtype=np.float64)
    lo, hi = np.clip(c - tol, 0, 255), np.clip(c + tol, 0, 255)
    flat = np.ascontiguousarray(pixels).reshape(-1, 1, 3)
    return cv2.inRange(flat, lo, hi).reshape(pixels.shape[:-1]) > 0


def _leading(ok: np.ndarray) -> int:
    """Length of the run of True at the start of a 1-D boolean array."""
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else int(ok.size)


def trim_uniform_borders(
    rgb: np.ndarray, tol: int = UNIFORM_TOLERANCE, min_share: float = UNIFORM_MIN_SHARE
) -> Box:
    """Box without the uniform rows and columns at each edge (frames, letterboxing)."""
    h, w = rgb.shape[:2]
    if h < 4 or w < 4:
        return _full(rgb)
    top = _leading(_close_to(rgb, np.median(rgb[0], axis=0), tol).mean(axis=1) >= min_share)
    bottom = _leading(
        (_close_to(rgb, np.median(rgb[-1], axis=0), tol).mean(axis=1) >= min_share)[::-1]
    )
    left = _leading(_close_to(rgb, np.median(rgb[:, 0], axis=0), tol).mean(axis=0) >= min_share)
    right = _leading(
        (_close_to(rgb, np.median(rgb[:, -1], axis=0), tol).mean(axis=0) >= min_share)[::-1]
    )
    y0, y1, x0, x1 = top, h - bottom, left, w - right
    if y1 - y0 < MIN_KEEP_SHARE * h or x1 - x0 < MIN_KEEP_SHARE * w:
        return _full(rgb)
    return (x0, y0, x1, y1)


def _panel_height(rgb: np.ndarray, tol: int, from_bottom: bool) -> int:
    """Height of a caption panel at the top (or bottom) of ``rgb``, 0 when there is none."""
    h = rgb.shape[0]
    # The panel colour: the commonest colour of the outer rows (a hairline may be the first).
    outer = rgb[-4:] if from_bottom else rgb[:4]
    edge = np.median(outer.reshape(-1, 3), axis=0)
    bright, dark = bool(edge.min() >= 200), bool(edge.max() <= 55)
    if not (bright or dark):
        return 0
    share = _close_to(rgb, edge, tol).mean(axis=1)
    if from_bottom:
        share = share[::-1]
    lo, hi = max(3, int(PANEL_MIN_HEIGHT * h)), int(PANEL_MAX_HEIGHT * h)
    probe = max(4, h // 50)
    # The panel is a run of rows that are mostly panel colour (text rows are sparser) ...
    skip = _leading(share[:2] < PANEL_ROW_MIN_SHARE)  # a hairline or two at the very edge
    run = skip + _leading(share[skip:] >= PANEL_ROW_MIN_SHARE)
    cuts = np.arange(lo, min(hi, run + 1, h - probe - 1) + 1)
    if not cuts.size:
        return 0
    csum = np.concatenate([[0.0], np.cumsum(share)])
    # ... ending on a clean, straight edge where the picture starts ...
    edge_min = np.minimum(np.minimum(share[cuts - 3], share[cuts - 2]), share[cuts - 1])
    picture = (csum[cuts + probe] - csum[cuts]) / probe
    ok = (
        (edge_min >= PANEL_EDGE_SHARE)
        & (picture <= PICTURE_MAX_SHARE)
        & (share[cuts] <= PICTURE_MAX_SHARE)
        & (csum[cuts] / cuts >= PANEL_MEAN_MIN_SHARE)
    )
    return int(cuts[ok][-1]) if ok.any() else 0


def remove_caption_panels(rgb: np.ndarray, tol: int = PANEL_TOLERANCE) -> Box:
    """Box without a white (or black) caption band above and/or below the picture.

    A panel starts at the image edge, is mostly one light or dark colour with sparse text, and
    ends on a straight edge where the picture begins. Drawings on a white background fade in
    gradually and are left alone.
    """
    h, w = rgb.shape[:2]
    if h < 20 or w < 8:
        return _full(rgb)
    top = _panel_height(rgb, tol, from_bottom=False)
    bottom = _panel_height(rgb, tol, from_bottom=True)
    y0, y1 = top, h - bottom
    if y1 - y0 < MIN_KEEP_SHARE * h:
        return _full(rgb)
    return (0, y0, w, y1)


def _shrink(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """A small copy for statistics only (page colour, contrast): nearest neighbour is enough."""
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return rgb, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_NEAREST), scale


def remove_screenshot_chrome(rgb: np.ndarray, tol: int = CHROME_TOLERANCE) -> Box:
    """Box of the picture embedded in a screenshot of a post; the whole image otherwise.

    A screenshot has a uniform page colour (light or dark mode) along its border. Everything that
    differs from the page is foreground; each foreground blob has its holes filled (a picture's
    outline or hairline border makes it one solid block, a letter a small blob), then a morphological
    opening removes everything thinner than a few percent of the screen: text lines, separators,
    icons. The picture is the largest surviving blob when it is big enough and nearly a filled
    rectangle.
    """
    h, w = rgb.shape[:2]
    small, scale = _shrink(rgb, CHROME_WORK_SIDE)
    sh, sw = small.shape[:2]
    if sh < 16 or sw < 16:
        return _full(rgb)
    ring = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
    bg = np.median(ring, axis=0)
    if _close_to(ring, bg, tol).mean() < CHROME_RING_SHARE:
        return _full(rgb)
    # Foreground at full resolution, shrunk so that any foreground pixel marks its cell: a
    # one-pixel hairline around the picture survives the shrinking.
    fg_full = (~_close_to(rgb, bg, tol)).astype(np.uint8) * 255
    fg = (cv2.resize(fg_full, (sw, sh), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    # Column dividers running the whole height would enclose a column: drop them.
    fg[:, fg.mean(axis=0) >= CHROME_RULE_SHARE] = 0
    # Bridge the gaps a faint hairline border gets when shrunk, so its outline closes.
    fg = cv2.dilate(fg, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    solid = np.zeros_like(fg)
    cv2.drawContours(solid, contours, -1, 1, thickness=cv2.FILLED)
    k = max(3, int(round(CHROME_OPEN_SHARE * min(sh, sw))) | 1)
    solid = cv2.morphologyEx(solid, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=4)
    if n <= 1:
        return _full(rgb)
    label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh, area = (int(v) for v in stats[label])
    if area < CHROME_MIN_AREA * sh * sw or area < CHROME_MIN_FILL * bw * bh:
        return _full(rgb)
    # Chrome (header above, buttons below) separates an embedded picture from the screen edges;
    # a blob touching the top or bottom edge is part of the picture itself (e.g. its caption).
    margin = CHROME_MIN_MARGIN * sh
    if y < margin or sh - (y + bh) < margin:
        return _full(rgb)
    # A blank slot of a template (a flat white card on a coloured frame) is not a picture.
    ix, iy = max(2, bw // 20), max(2, bh // 20)  # inside the dilated outline
    grey = cv2.cvtColor(small[y + iy : y + bh - iy, x + ix : x + bw - ix], cv2.COLOR_RGB2GRAY)
    if float(grey.std()) < CHROME_MIN_STD:
        return _full(rgb)
    # The opening rounds the blob's corners off by up to k/2: the bounding box is unaffected.
    x0, y0 = int(np.floor(x / scale)), int(np.floor(y / scale))
    x1, y1 = min(w, int(np.ceil((x + bw) / scale))), min(h, int(np.ceil((y + bh) / scale)))
    inner = _trim_background(rgb[y0:y1, x0:x1], bg, tol)
    return (x0 + inner[0], y0 + inner[1], x0 + inner[2], y0 + inner[3])


def _trim_background(rgb: np.ndarray, bg: np.ndarray, tol: int) -> Box:
    """Trim a few rows/columns of page background or hairline border off a picture box: any
    uniform row or column at the edge goes, at most ``limit`` of them per side."""
    h, w = rgb.shape[:2]
    limit = 3 + 2 * int(np.ceil(max(h, w) / CHROME_WORK_SIDE))

    def uniform(lines: np.ndarray) -> bool:
        return bool(_close_to(lines, np.median(lines, axis=0), tol).mean() >= UNIFORM_MIN_SHARE)

    top = next((i for i in range(limit) if not uniform(rgb[i])), limit)
    bottom = next((i for i in range(limit) if not uniform(rgb[h - 1 - i])), limit)
    left = next((i for i in range(limit) if not uniform(rgb[:, i])), limit)
    right = next((i for i in range(limit) if not uniform(rgb[:, w - 1 - i])), limit)
    if h - top - bottom < 2 or w - left - right < 2:
        return _full(rgb)
    return (left, top, w - right, h - bottom)


Step = Callable[[np.ndarray], Box]

STEPS: dict[str, Step] = {
    "trim_uniform_borders": trim_uniform_borders,
    "remove_screenshot_chrome": remove_screenshot_chrome,
    "remove_caption_panels": remove_caption_panels,
}

DEFAULT_STEPS: tuple[str, ...] = (
    "remove_screenshot_chrome",
    "remove_caption_panels",
    "trim_uniform_borders",
)


def core_view(rgb: np.ndarray, steps: Sequence[str] = DEFAULT_STEPS) -> View:
    """The picture with borders, caption panels and screenshot chrome removed.

    ``steps`` names functions of :data:`STEPS`, run in order, each on the previous crop.
    """
    image = to_rgb(rgb)
    x0, y0 = 0, 0
    for name in steps:
        bx0, by0, bx1, by1 = STEPS[name](image)
        if (bx0, by0, bx1, by1) != (0, 0, image.shape[1], image.shape[0]):
            image = np.ascontiguousarray(image[by0:by1, bx0:bx1])
        x0, y0 = x0 + bx0, y0 + by0
    h, w = image.shape[:2]
    return View(image=image, box=(x0, y0, x0 + w, y0 + h))
