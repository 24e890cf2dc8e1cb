"""Write synthetic cut-outs (RGBA PNGs drawn here) for `memetrack eval cutouts --split all`.

Two kinds, for the classes of cut-out the real development set has few of:

- ``flat``: 32 flat drawings (drop, heart, star, arrow, bolt, crescent, speech bubble, flag), four
  styles each out of: one flat colour, shaded, strongly shaded, with a white highlight, with a dark
  outline, outlined and shaded. A random saturated colour each.
- ``wordmark``: 20 word-marks in DejaVu fonts: white, white with a dark outline, dark grey, mid
  grey or one random colour.

Each file is its own meme (``<name>__<style>.png``), so `--split all` holds 30 % of them out as
negatives. Seeded: the same seed writes the same files.

    .venv/bin/python scripts/make_synthetic_cutouts.py flat /tmp/flat
    .venv/bin/memetrack eval cutouts --cutouts /tmp/flat \\
        --backgrounds ../shared/datasets/memes-dev --split all --seeds 0,1 --scale-to 0
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIDE = 360
SHAPES = ("drop", "heart", "star", "arrow", "bolt", "crescent", "bubble", "flag")
STYLES = ("flat", "shade", "strongshade", "highlight", "outline", "outline_shade")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ("DejaVuSerif-Bold", "DejaVuSansMono", "DejaVuSans-ExtraLight",
         "DejaVuSerifCondensed-Italic", "DejaVuSerif-BoldItalic", "DejaVuSansMono-Oblique",
         "DejaVuSans", "DejaVuSerif")
WORDS = ("NOVAGAME", "Pixelia", "hyperion", "ZENTRAX", "Lumos Studio", "orbit.io", "KAIZEN",
         "Moonfall", "QUASAR", "velvet", "Stardrop", "TOKAMAK", "brightline", "Aurora",
         "MEGACORP", "fluxwave", "Nimbus", "OKTAVIA", "riverbend", "Solstice")


def _star(cx: float, cy: float, outer: float, inner: float) -> np.ndarray:
    return np.array([(cx + (outer if i % 2 == 0 else inner) * math.sin(i * math.pi / 5),
                      cy - (outer if i % 2 == 0 else inner) * math.cos(i * math.pi / 5))
                     for i in range(10)], np.int32)


def shape_mask(kind: str) -> np.ndarray:
    """A ``kind`` silhouette (uint8, 0 or 255, anti-aliased edges), cropped to its bounds."""
    m = np.zeros((SIDE, SIDE), np.uint8)
    c = SIDE // 2
    aa = cv2.LINE_AA
    if kind == "drop":
        r, cy = 110, SIDE - 130
        cv2.circle(m, (c, cy), r, 255, -1, aa)
        cv2.fillPoly(m, [np.array([[c + 30, 15], [c - r + 8, cy - 30], [c + r - 8, cy - 30]],
                                  np.int32)], 255, aa)
    elif kind == "heart":
        cv2.circle(m, (c - 70, 130), 85, 255, -1, aa)
        cv2.circle(m, (c + 70, 130), 85, 255, -1, aa)
        cv2.fillPoly(m, [np.array([[c - 150, 165], [c + 150, 165], [c, 340]], np.int32)], 255, aa)
    elif kind == "star":
        cv2.fillPoly(m, [_star(c, c, 160, 65)], 255, aa)
    elif kind == "arrow":
        cv2.fillPoly(m, [np.array([[20, 140], [220, 140], [220, 60], [345, 180], [220, 300],
                                   [220, 220], [20, 220]], np.int32)], 255, aa)
    elif kind == "bolt":
        cv2.fillPoly(m, [np.array([[200, 10], [60, 200], [170, 200], [120, 350], [300, 140],
                                   [190, 140], [260, 10]], np.int32)], 255, aa)
    elif kind == "crescent":
        cv2.circle(m, (c, c), 150, 255, -1, aa)
        cv2.circle(m, (c + 80, c - 40), 130, 0, -1, aa)
    elif kind == "bubble":
        cv2.ellipse(m, (c, 150), (160, 110), 0, 0, 360, 255, -1, aa)
        cv2.fillPoly(m, [np.array([[c - 60, 230], [c - 10, 240], [c - 110, 345]], np.int32)],
                     255, aa)
    elif kind == "flag":
        m[60:300, 20:340] = 255
    else:
        raise ValueError(kind)
    ys, xs = np.nonzero(m)
    return m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def flat_drawing(kind: str, style: str, rng: random.Random) -> np.ndarray:
    """One flat drawing (RGBA uint8) with a transparent margin."""
    mask = shape_mask(kind)
    h, w = mask.shape
    hsv = np.uint8([[[rng.randrange(180), rng.randint(150, 255), rng.randint(150, 240)]]])
    colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    rgb = np.ones((h, w, 3), np.float32) * colour
    if "shade" in style:
        low, high = (0.45, 1.3) if style == "strongshade" else (0.7, 1.15)
        rgb *= np.linspace(high, low, h)[:, None, None]
    if kind == "flag":
        for _ in range(rng.randint(1, 5)):
            x, y, r = rng.randrange(20, w // 2), rng.randrange(20, h // 2), rng.randint(8, 30)
            cv2.fillPoly(rgb, [_star(x, y, r, 0.4 * r)], (255, 220, 0), cv2.LINE_AA)
    if style == "highlight":
        cv2.ellipse(rgb, (int(w * 0.35), int(h * 0.35)), (max(3, w // 10), max(3, h // 6)), -30,
                    0, 360, (255, 255, 255), -1, cv2.LINE_AA)
    if "outline" in style:
        contours, _ = cv2.findContours((mask > 127).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(rgb, contours, -1, (25, 25, 25), 6, cv2.LINE_AA)
    out = np.dstack([np.clip(rgb, 0, 255).astype(np.uint8), mask])
    return np.pad(out, ((20, 20), (20, 20), (0, 0)))


def wordmark(i: int, word: str, rng: random.Random) -> tuple[np.ndarray, str]:
    """One word-mark (RGBA uint8) and its style name."""
    font = ImageFont.truetype(str(FONT_DIR / f"{rng.choice(FONTS)}.ttf"), rng.randint(60, 110))
    kind = ("white", "outlined", "dark", "grey", "colour")[i % 5]
    fill = {"white": (255, 255, 255), "outlined": (255, 255, 255), "dark": (40, 40, 40),
            "grey": (150, 150, 150)}.get(kind) or tuple(rng.randint(0, 255) for _ in range(3))
    stroke = rng.randint(2, 5) if kind == "outlined" else 0
    lines = [word] if rng.random() < 0.7 else [word, rng.choice(WORDS).lower()]
    text = "\n".join(lines)
    probe = ImageDraw.Draw(Image.new("RGBA", (10, 10)))
    left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font,
                                                        stroke_width=stroke)
    im = Image.new("RGBA", (right - left + 20, bottom - top + 20), (0, 0, 0, 0))
    ImageDraw.Draw(im).multiline_text((10 - left, 10 - top), text, font=font,
                                      fill=(*fill, 255), stroke_width=stroke,
                                      stroke_fill=(20, 20, 20) if stroke else None,
                                      align="center")
    return np.asarray(im), kind


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=("flat", "wordmark"))
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    n = 0
    if args.kind == "flat":
        for kind in SHAPES:
            for style in rng.sample(STYLES, 4):
                Image.fromarray(flat_drawing(kind, style, rng), "RGBA").save(
                    args.out / f"flat{n:02d}{kind}__{style}.png")
                n += 1
    else:
        for i, word in enumerate(WORDS):
            rgba, kind = wordmark(i, word, rng)
            Image.fromarray(rgba, "RGBA").save(args.out / f"wordmark{i:02d}__{kind}.png")
            n += 1
    print(f"{n} cut-outs written to {args.out}")


if __name__ == "__main__":
    main()
