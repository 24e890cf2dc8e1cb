#!/usr/bin/env python3
"""Generate the demo/test corpus in ``sample_images/``.

Everything is drawn with code (numpy + Pillow + OpenCV); no outside pictures are used.
The script is seeded, so re-running it rewrites byte-identical files (given the same
Pillow / libjpeg / zlib / libwebp builds).

    .venv/bin/python scripts/make_sample_images.py            # writes ./sample_images
    .venv/bin/python scripts/make_sample_images.py --out /tmp/x

Layout (see sample_images/README.md for what each file is meant to exercise)::

    shells/    blank meme templates
    memes/     captioned / re-encoded / mirrored / cropped variants of the shells
    cutouts/   RGBA figures on full transparency
    odd/       unusual but valid image files (CMYK, 16-bit, palette+tRNS, animations, EXIF...)
    bad/       broken files (truncated, empty, not an image, decompression bomb, random bytes)
    manifest.jsonl / manifest.csv   one sighting per line
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

SEED = 20260302
SS = 2  # supersampling factor: shapes are drawn at 2x and downscaled (anti-aliasing)
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
JPEG_QUALITY = 88


# --------------------------------------------------------------------------- helpers


def rng_for(name: str) -> np.random.Generator:
    """An independent, reproducible random stream per picture."""
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def font(size: int, bold: bool = True) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a supersampled canvas, expressed in final-image units."""
    ys, xs = np.mgrid[0 : h * SS, 0 : w * SS].astype(np.float32)
    return (ys + 0.5) / SS, (xs + 0.5) / SS


def value_noise(
    rng: np.random.Generator, h: int, w: int, cell: float, octaves: int = 3
) -> np.ndarray:
    """Smooth fractal noise in [0, 1] of shape (h, w); ``cell`` is the coarsest feature size."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
        g = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
        cell = max(1.0, cell / 2)
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def noise_1d(rng: np.random.Generator, n: int, cell: float, octaves: int = 4) -> np.ndarray:
    return value_noise(rng, 1, n, cell, octaves)[0]


def lerp(a, b, t):
    return np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t


def to_img(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def finish(
    img: Image.Image, w: int, h: int, rng: np.random.Generator, grain: float = 3.0
) -> Image.Image:
    """Downscale the supersampled canvas and add a little film grain (texture for ORB/JPEG)."""
    img = img.resize((w, h), Image.LANCZOS)
    if grain <= 0:
        return img
    arr = np.asarray(img).astype(np.float32)
    arr += rng.normal(0, grain, arr.shape[:2])[..., None]
    return to_img(arr)


class Pen:
    """ImageDraw wrapper that takes final-image coordinates and draws on a supersampled canvas."""

    def __init__(self, img: Image.Image, s: int = SS):
        self.d = ImageDraw.Draw(img)
        self.s = s

    def _pts(self, pts):
        return [(x * self.s, y * self.s) for x, y in pts]

    def _box(self, box):
        return [v * self.s for v in box]

    def _w(self, width):
        return max(1, round(width * self.s))

    def poly(self, pts, fill=None, outline=None, width=1):
        self.d.polygon(self._pts(pts), fill=fill, outline=outline, width=self._w(width))

    def rect(self, box, fill=None, outline=None, width=1):
        self.d.rectangle(self._box(box), fill=fill, outline=outline, width=self._w(width))

    def rrect(self, box, radius, fill=None, outline=None, width=1):
        self.d.rounded_rectangle(
            self._box(box), radius * self.s, fill=fill, outline=outline, width=self._w(width)
        )

    def ellipse(self, box, fill=None, outline=None, width=1):
        self.d.ellipse(self._box(box), fill=fill, outline=outline, width=self._w(width))

    def circle(self, cx, cy, r, fill=None, outline=None, width=1):
        self.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width)

    def line(self, pts, fill, width=1, round_ends=False):
        self.d.line(self._pts(pts), fill=fill, width=self._w(width), joint="curve")
        if round_ends:
            for x, y in (pts[0], pts[-1]):
                self.circle(x, y, width / 2, fill=fill)

    def arc(self, box, start, end, fill, width=1):
        self.d.arc(self._box(box), start, end, fill=fill, width=self._w(width))

    def pie(self, box, start, end, fill=None, outline=None, width=1):
        self.d.pieslice(
            self._box(box), start, end, fill=fill, outline=outline, width=self._w(width)
        )

    def text(self, xy, s, size, fill, bold=True, anchor="mm"):
        self.d.text(
            (xy[0] * self.s, xy[1] * self.s),
            s,
            font=font(size * self.s, bold),
            fill=fill,
            anchor=anchor,
        )


def gear(pen: Pen, cx, cy, r, teeth, fill, rot=0.0, hole=None):
    pts = []
    n = teeth * 4
    for i in range(n):
        a = rot + 2 * math.pi * i / n
        rr = r if (i % 4) in (0, 1) else r * 0.8
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    pen.poly(pts, fill=fill, outline=(30, 30, 30), width=2)
    pen.circle(cx, cy, r * 0.55, outline=(30, 30, 30), width=2)
    pen.circle(cx, cy, r * 0.2, fill=hole or (40, 40, 40))
    for k in range(4):  # spokes cut-outs
        a = rot + k * math.pi / 2 + math.pi / 4
        pen.circle(
            cx + r * 0.38 * math.cos(a),
            cy + r * 0.38 * math.sin(a),
            r * 0.09,
            fill=hole or (40, 40, 40),
        )


def star(cx, cy, r_out, r_in, n=5, rot=-math.pi / 2):
    pts = []
    for i in range(2 * n):
        r = r_out if i % 2 == 0 else r_in
        a = rot + math.pi * i / n
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


# --------------------------------------------------------------------------- shells


def shell_mountain_lake() -> Image.Image:
    W, H = 720, 480
    rng = rng_for("mountain_lake")
    Y, X = grid(W, H)
    horizon, shore = 300.0, 398.0
    t = np.clip(Y / horizon, 0, 1)[..., None]
    img = lerp((35, 85, 168), (252, 196, 150), t**1.4)
    clouds = value_noise(rng, H * SS, W * SS, 110 * SS, 5)
    c = (np.clip((clouds - 0.55) * 3.5, 0, 1) * (Y < 230))[..., None] * 0.9
    img = img * (1 - c) + np.array([255, 250, 245]) * c
    d = np.hypot(X - 560, Y - 112)
    img += np.exp(-((d / 95) ** 2))[..., None] * np.array([70, 45, 0])
    img[d < 36] = (255, 241, 175)

    ridges = [  # base line, amplitude, colour, snowy?, feature size
        (185, 105, (118, 124, 158), True, 140),
        (228, 70, (78, 96, 118), True, 90),
        (268, 40, (50, 78, 58), False, 45),
    ]
    for base, amp, col, snowy, cell in ridges:
        prof = noise_1d(rng, W * SS, cell * SS, 5)
        prof = 1 - np.abs(prof - 0.5) * 2  # ridged noise: sharp peaks
        r = base - amp * prof  # y of the ridge per (supersampled) column
        slope = cv2.GaussianBlur(np.gradient(r)[None, :].astype(np.float32), (0, 0), 6 * SS)[0] * SS
        light = 1 + 0.35 * np.clip(-slope * 1.5, -1, 1)
        tex = value_noise(rng, H * SS, W * SS, 14 * SS, 4)
        mask = (Y >= r[None, :]) & (Y < horizon)
        depth = np.clip((Y - r[None, :]) / 80, 0, 1)
        strata = 0.92 + 0.08 * np.sin((Y - r[None, :] * 0.6) * 0.45 + tex * 6)
        colimg = (
            np.array(col, np.float32)
            * ((0.7 + 0.5 * tex) * strata * light[None, :] * (1 - 0.25 * depth))[..., None]
        )
        img[mask] = colimg[mask]
        if snowy:
            snow = mask & (Y < r[None, :] + 10 + 26 * tex) & (r[None, :] < base - amp * 0.45)
            snowcol = (
                np.array([236, 240, 250], np.float32)
                * (0.8 + 0.2 * np.clip(light, 0, 1.2))[None, :, None]
            )
            img[snow] = np.broadcast_to(snowcol, img.shape)[snow]
    # lake: rippled reflection of everything above the horizon
    h2, hz2, sh2 = H * SS, int(horizon * SS), int(shore * SS)
    ys, xs = np.mgrid[0:h2, 0 : W * SS].astype(np.float32)
    src_y = np.where(ys >= hz2, 2 * hz2 - ys - 1, ys)
    ripple = 4 * SS * np.sin(ys / (2.1 * SS)) * np.clip((ys - hz2) / (sh2 - hz2), 0.15, 1)
    src_x = np.where(ys >= hz2, xs + ripple, xs)
    refl = cv2.remap(img.astype(np.float32), src_x, np.clip(src_y, 0, h2 - 1), cv2.INTER_LINEAR)
    water = (Y >= horizon) & (Y < shore)
    wt = lerp((34, 72, 112), (18, 40, 70), np.clip((Y - horizon) / 100, 0, 1)[..., None])
    streak = (np.sin(Y * 1.7 + 3 * np.sin(X / 40)) > 0.93)[..., None] * 45
    img[water] = (refl * 0.55 + wt * 0.45 + streak)[water]
    # shore grass
    edge = shore + 6 * noise_1d(rng, W * SS, 60 * SS)
    grass = Y >= edge[None, :]
    gtex = value_noise(rng, H * SS, W * SS, 6 * SS, 3)
    blades = np.sin(X * 2.3 + gtex * 9) * 0.5 + 0.5
    gcol = np.stack([40 + 40 * gtex, 95 + 70 * gtex * blades, 35 + 20 * blades], -1)
    img[grass] = gcol[grass]

    im = to_img(img)
    pen = Pen(im)
    # pine trees
    for tx, base_y, hgt in [
        (40, 470, 190),
        (95, 455, 140),
        (640, 470, 210),
        (690, 450, 120),
        (600, 440, 95),
    ]:
        pen.rect((tx - 6, base_y - 30, tx + 6, base_y), fill=(92, 58, 30))
        for k in range(4):
            top = base_y - hgt + k * hgt * 0.2
            half = 18 + k * 12 * hgt / 150
            bot = top + hgt * 0.32
            pen.poly(
                [(tx, top), (tx - half, bot), (tx + half, bot)],
                fill=(22 + 6 * k, 70 + 8 * k, 40),
                outline=(12, 40, 22),
                width=1.5,
            )
    # cabin with plank walls, windows, door, chimney and smoke
    cx0, cy0, cx1, cy1 = 300, 360, 440, 450
    pen.rect((cx0, cy0, cx1, cy1), fill=(140, 88, 48), outline=(60, 35, 18), width=2)
    for y in range(cy0 + 10, cy1, 10):
        pen.line([(cx0, y), (cx1, y)], fill=(95, 58, 30), width=1.5)
        for x in range(cx0 + (15 if (y // 10) % 2 else 5), cx1, 28):
            pen.line([(x, y - 10), (x, y)], fill=(95, 58, 30), width=1)
    pen.rect((402, 318, 420, 350), fill=(110, 100, 95), outline=(50, 45, 40), width=2)
    for i, (sx, sy, sr) in enumerate(
        [(412, 305, 7), (420, 290, 10), (432, 270, 13), (448, 250, 16)]
    ):
        pen.circle(sx, sy, sr, fill=(225 - 10 * i, 225 - 10 * i, 230 - 10 * i))
    pen.poly(
        [(cx0 - 18, cy0 + 2), ((cx0 + cx1) / 2, 305), (cx1 + 18, cy0 + 2)],
        fill=(120, 40, 36),
        outline=(60, 20, 18),
        width=2,
    )
    for k in range(1, 6):
        y = 305 + k * 10
        dx = (y - 305) * ((cx1 + 18 - (cx0 + cx1) / 2) / (cy0 + 2 - 305))
        pen.line(
            [((cx0 + cx1) / 2 - dx, y), ((cx0 + cx1) / 2 + dx, y)], fill=(90, 30, 28), width=1.2
        )
    for wx in (315, 395):
        pen.rect((wx, 378, wx + 32, 408), fill=(250, 220, 120), outline=(60, 35, 18), width=3)
        pen.line([(wx + 16, 378), (wx + 16, 408)], fill=(60, 35, 18), width=2)
        pen.line([(wx, 393), (wx + 32, 393)], fill=(60, 35, 18), width=2)
    pen.rect((358, 395, 382, 450), fill=(90, 52, 26), outline=(50, 28, 12), width=2)
    pen.circle(377, 424, 2, fill=(230, 200, 80))
    # a little rowing boat on the lake
    pen.poly(
        [(160, 350), (240, 350), (228, 364), (172, 364)],
        fill=(180, 60, 40),
        outline=(60, 20, 10),
        width=2,
    )
    pen.line([(185, 340), (215, 372)], fill=(110, 70, 30), width=2.5)
    return finish(im, W, H, rng)


def shell_surprised_guy() -> Image.Image:
    W, H = 600, 600
    rng = rng_for("surprised_guy")
    Y, X = grid(W, H)
    ang = np.arctan2(Y - 260, X - 300)
    wedge = (np.floor((ang + math.pi) / (2 * math.pi) * 28) % 2)[..., None]
    img = lerp((255, 206, 64), (255, 150, 40), wedge)
    dist = np.hypot(X - 300, Y - 260)
    cell = 14.0
    gx, gy = (X % cell) - cell / 2, (Y % cell) - cell / 2
    rad = np.clip((dist - 180) / 260, 0, 1) * cell * 0.45
    dots = (gx**2 + gy**2) < rad**2
    img[dots] = (200, 60, 40)
    im = to_img(img)
    pen = Pen(im)
    ink = (25, 20, 20)
    skin, skin_dark = (255, 206, 166), (226, 160, 120)
    # shirt with stripes and collar
    pen.poly(
        [(90, 600), (150, 470), (450, 470), (510, 600)], fill=(52, 110, 200), outline=ink, width=4
    )
    for k in range(7):
        x = 170 + k * 45
        pen.line([(x, 472), (x - 18 + k * 6, 600)], fill=(240, 240, 250), width=8)
    pen.rect((255, 400, 345, 480), fill=skin_dark, outline=ink, width=4)
    pen.poly([(300, 505), (235, 462), (255, 440)], fill=(250, 250, 250), outline=ink, width=3)
    pen.poly([(300, 505), (365, 462), (345, 440)], fill=(250, 250, 250), outline=ink, width=3)
    # ears and head
    for ex in (150, 450):
        pen.ellipse((ex - 28, 240, ex + 28, 320), fill=skin, outline=ink, width=4)
        pen.arc(
            (ex - 14, 256, ex + 14, 304),
            60 if ex > 300 else 240,
            300 if ex > 300 else 120,
            fill=skin_dark,
            width=4,
        )
    pen.ellipse((150, 110, 450, 440), fill=skin, outline=ink, width=5)
    # spiky hair
    hair = [(150, 230), (140, 170)]
    for k in range(11):
        x = 150 + k * 30
        hair += [(x + 8, 80 + 25 * (k % 2) - 10 * rng.random()), (x + 24, 104 + 10 * rng.random())]
    hair += [(460, 170), (450, 230), (420, 170), (300, 150), (180, 170)]
    pen.poly(hair, fill=(80, 45, 25), outline=ink, width=4)
    # raised eyebrows, eyes, pupils, highlights
    for ex in (235, 365):
        pen.arc((ex - 50, 160, ex + 50, 230), 200, 340, fill=ink, width=10)
        pen.ellipse((ex - 42, 205, ex + 42, 305), fill=(255, 255, 255), outline=ink, width=4)
        pen.circle(ex + (6 if ex < 300 else -6), 258, 15, fill=(40, 90, 60))
        pen.circle(ex + (6 if ex < 300 else -6), 258, 8, fill=ink)
        pen.circle(ex + (1 if ex < 300 else -11), 252, 4, fill=(255, 255, 255))
    # nose, blush, open mouth with tongue, sweat drop
    pen.arc((282, 280, 320, 330), 300, 120, fill=skin_dark, width=5)
    for bx in (200, 400):
        pen.ellipse((bx - 26, 320, bx + 26, 340), fill=(250, 160, 150))
    pen.ellipse((260, 345, 340, 425), fill=(90, 20, 30), outline=ink, width=5)
    pen.ellipse((278, 390, 322, 420), fill=(230, 90, 100))
    pen.rect((272, 352, 328, 364), fill=(250, 250, 250))
    pen.poly(
        [(440, 150), (428, 185), (452, 185)], fill=(150, 210, 255), outline=(40, 90, 160), width=2
    )
    pen.circle(440, 188, 12, fill=(150, 210, 255), outline=(40, 90, 160), width=2)
    pen.rect((429, 180, 451, 188), fill=(150, 210, 255))
    # motion lines
    for k in range(4):
        pen.line([(60, 150 + 40 * k), (110, 165 + 40 * k)], fill=ink, width=5, round_ends=True)
        pen.line([(540, 150 + 40 * k), (490, 165 + 40 * k)], fill=ink, width=5, round_ends=True)
    return finish(im, W, H, rng, grain=0)


def shell_robot_workshop() -> Image.Image:
    W, H = 700, 520
    rng = rng_for("robot_workshop")
    Y, X = grid(W, H)
    bh, bw = 28.0, 64.0
    row = np.floor(Y / bh)
    col = np.floor((X + (row % 2) * bw / 2) / bw)
    brick_id = (row * 97 + col * 31).astype(np.int64) % 1024
    tint = rng.random(1024)[brick_id].astype(np.float32)
    tex = value_noise(rng, H * SS, W * SS, 8 * SS, 3)
    img = (
        np.stack([150 + 50 * tint, 62 + 25 * tint, 45 + 15 * tint], -1)
        * (0.8 + 0.35 * tex)[..., None]
    )
    mortar = ((Y % bh) < 3.5) | (((X + (row % 2) * bw / 2) % bw) < 3.5)
    img[mortar] = (np.array([190, 182, 170]) * (0.85 + 0.2 * tex[..., None]))[mortar]
    # workbench wood grain
    bench = Y >= 410
    wn = value_noise(rng, H * SS, W * SS, 40 * SS, 3)
    grain = np.sin(Y * 0.9 + wn * 14 + np.sin(X / 55) * 2) * 0.5 + 0.5
    wood = np.stack([150 + 50 * grain, 95 + 35 * grain, 50 + 20 * grain], -1)
    img[bench] = wood[bench]
    img[(Y >= 410) & (Y < 418)] = (90, 55, 28)
    im = to_img(img)
    pen = Pen(im)
    ink = (25, 25, 30)
    # pegboard with tools
    pen.rect((30, 40, 300, 250), fill=(205, 170, 120), outline=(110, 80, 50), width=4)
    for py in range(55, 245, 18):
        for px in range(45, 295, 18):
            pen.circle(px, py, 2.6, fill=(95, 70, 45))
    pen.rect((60, 70, 72, 200), fill=(150, 100, 55), outline=ink, width=2)  # hammer
    pen.rect((40, 62, 95, 88), fill=(120, 125, 135), outline=ink, width=2)
    pen.line([(130, 70), (130, 210)], fill=(170, 175, 185), width=10)  # wrench
    pen.circle(130, 70, 16, fill=(170, 175, 185), outline=ink, width=2)
    pen.rect((124, 50, 136, 70), fill=(205, 170, 120))
    pen.circle(130, 212, 12, fill=(170, 175, 185), outline=ink, width=2)
    pen.circle(130, 212, 5, fill=(205, 170, 120))
    pen.rrect((175, 65, 195, 140), 6, fill=(220, 40, 40), outline=ink, width=2)  # screwdriver
    pen.rect((182, 140, 188, 220), fill=(180, 185, 195), outline=ink, width=1)
    pen.poly(
        [(225, 70), (275, 70), (265, 150), (235, 150)], fill=(240, 200, 40), outline=ink, width=2
    )  # oil can
    pen.line([(265, 85), (292, 60)], fill=(240, 200, 40), width=5)
    gear(pen, 255, 205, 28, 10, (150, 150, 160), rot=0.2)
    gear(pen, 620, 90, 50, 14, (185, 140, 60), rot=0.1, hole=(150, 62, 45))
    gear(pen, 560, 160, 32, 10, (160, 165, 175), rot=0.35, hole=(150, 62, 45))
    # robot
    metal, dark = (168, 178, 190), (110, 118, 130)
    pen.rect((385, 380, 410, 420), fill=dark, outline=ink, width=3)
    pen.rect((470, 380, 495, 420), fill=dark, outline=ink, width=3)
    pen.rrect((345, 230, 535, 385), 14, fill=metal, outline=ink, width=4)
    for k in range(8):
        pen.circle(358 + k * 24.5, 242, 3.5, fill=dark)
        pen.circle(358 + k * 24.5, 373, 3.5, fill=dark)
    pen.rect((370, 255, 510, 360), fill=(60, 66, 78), outline=ink, width=3)
    for i, (dx, val) in enumerate([(400, 0.3), (450, 0.8), (485, 0.55)]):
        r = 16 if i else 20
        pen.circle(dx, 285, r, fill=(235, 235, 220), outline=ink, width=2)
        a = math.pi * (1 + val)
        pen.line(
            [(dx, 285), (dx + (r - 4) * math.cos(a), 285 + (r - 4) * math.sin(a))],
            fill=(200, 30, 30),
            width=2.5,
        )
    for i, colr in enumerate([(230, 60, 60), (60, 200, 90), (60, 120, 230), (240, 200, 50)]):
        pen.rect((385 + i * 30, 325, 405 + i * 30, 345), fill=colr, outline=ink, width=2)
    pen.rect((425, 205, 455, 232), fill=dark, outline=ink, width=3)
    pen.rrect((370, 110, 510, 210), 18, fill=metal, outline=ink, width=4)
    for ex in (410, 470):
        pen.circle(ex, 150, 22, fill=(30, 40, 50), outline=ink, width=3)
        pen.circle(ex, 150, 13, fill=(90, 230, 240))
        pen.circle(ex - 5, 145, 4, fill=(255, 255, 255))
    pen.rect((405, 180, 475, 198), fill=(60, 66, 78), outline=ink, width=2)
    for k in range(1, 7):
        pen.line([(405 + k * 10, 180), (405 + k * 10, 198)], fill=(170, 180, 190), width=1.5)
    pen.line([(440, 110), (440, 70)], fill=ink, width=4)
    pen.circle(440, 64, 9, fill=(230, 40, 40), outline=ink, width=2)
    for sx in (368, 512):
        pen.rect((sx - 8, 140, sx + 8, 170), fill=dark, outline=ink, width=2)
    # arms: left holds a wrench up, right rests on bench
    pen.line([(345, 260), (300, 240), (285, 185)], fill=dark, width=18)
    pen.circle(300, 240, 12, fill=metal, outline=ink, width=2)
    pen.poly([(270, 180), (300, 180), (305, 160), (265, 160)], fill=metal, outline=ink, width=2)
    pen.line([(535, 260), (580, 320), (575, 400)], fill=dark, width=18)
    pen.circle(580, 320, 12, fill=metal, outline=ink, width=2)
    pen.poly([(560, 395), (590, 395), (595, 412), (555, 412)], fill=metal, outline=ink, width=2)
    # bench clutter: bolts and a coffee mug
    for k in range(6):
        bx = 120 + k * 22
        pen.poly(
            [(bx, 440), (bx + 8, 436), (bx + 16, 440), (bx + 16, 448), (bx + 8, 452), (bx, 448)],
            fill=(150, 155, 165),
            outline=ink,
            width=1.5,
        )
    pen.rrect((620, 430, 665, 490), 6, fill=(240, 240, 235), outline=ink, width=3)
    pen.arc((650, 445, 685, 478), 270, 90, fill=ink, width=4)
    pen.text((642, 460), "</>", 16, (40, 90, 200))
    return finish(im, W, H, rng)


def shell_city_night() -> Image.Image:
    W, H = 800, 450
    rng = rng_for("city_night")
    Y, X = grid(W, H)
    waterline = 330.0
    img = lerp((10, 14, 40), (70, 40, 95), np.clip(Y / waterline, 0, 1)[..., None] ** 1.2)
    haze = value_noise(rng, H * SS, W * SS, 160 * SS, 4)
    img += (haze * 25 * (Y < waterline))[..., None] * np.array([0.6, 0.4, 1.0])
    im = to_img(img)
    pen = Pen(im)
    for _ in range(170):
        sx, sy = rng.random() * W, rng.random() * 220
        r = 0.6 + 1.4 * rng.random() ** 3
        b = int(170 + 85 * rng.random())
        pen.circle(sx, sy, r, fill=(b, b, min(255, b + 20)))
    for _ in range(5):
        sx, sy = 40 + rng.random() * 560, 20 + rng.random() * 140
        pen.poly(star(sx, sy, 6, 2.2, 4, 0), fill=(255, 255, 230))
    pen.circle(650, 82, 42, fill=(236, 232, 205))
    for cx, cy, cr in [(636, 70, 9), (664, 95, 7), (655, 62, 5), (630, 98, 6), (675, 75, 4)]:
        pen.circle(cx, cy, cr, fill=(205, 200, 175), outline=(190, 185, 160), width=1)
    # skyline: back layer then front layer
    for layer, (dark, lit_p, hmin, hmax) in enumerate(
        [((38, 36, 70), 0.25, 140, 230), ((22, 24, 40), 0.45, 60, 200)]
    ):
        x = -10.0
        while x < W:
            bw = 38 + rng.random() * 55
            top = waterline - (hmin + rng.random() * (hmax - hmin))
            shade = tuple(int(c + rng.integers(-6, 7)) for c in dark)
            pen.rect((x, top, x + bw, waterline), fill=shade, outline=(10, 10, 18), width=1)
            kind = rng.integers(0, 4)
            if kind == 0:
                pen.line([(x + bw / 2, top), (x + bw / 2, top - 35)], fill=(90, 90, 110), width=2)
                pen.circle(x + bw / 2, top - 36, 2.5, fill=(255, 60, 60))
            elif kind == 1:
                pen.poly(
                    [(x, top), (x + bw / 2, top - 28), (x + bw, top)],
                    fill=shade,
                    outline=(10, 10, 18),
                    width=1,
                )
            elif kind == 2:
                pen.rect((x + bw * 0.2, top - 18, x + bw * 0.5, top), fill=shade)
                pen.ellipse((x + bw * 0.15, top - 24, x + bw * 0.55, top - 14), fill=(60, 55, 70))
            wy = top + 8
            while wy < waterline - 10:
                wx = x + 5
                while wx < x + bw - 9:
                    if rng.random() < lit_p:
                        warm = rng.random()
                        colr = (
                            (255, int(200 + 40 * warm), int(90 + 90 * warm))
                            if rng.random() < 0.85
                            else (150, 220, 255)
                        )
                        pen.rect((wx, wy, wx + 5, wy + 7), fill=colr)
                    wx += 9
                wy += 12 if layer else 14
            x += bw + (rng.random() * 8 if layer == 0 else 0)
    # suspension bridge in front (left half)
    deck_y = 296.0
    pen.rect((0, deck_y, 470, deck_y + 8), fill=(150, 45, 40), outline=(60, 15, 15), width=1)
    for tx in (90, 360):
        pen.rect(
            (tx - 8, 150, tx + 8, waterline), fill=(175, 55, 45), outline=(70, 20, 18), width=2
        )
        for cy in (175, 230):
            pen.rect((tx - 8, cy, tx + 8, cy + 6), fill=(110, 30, 26))

    def cable(x0, x1, y0, sag):
        return [
            (x, y0 + sag * (1 - ((x - (x0 + x1) / 2) / ((x1 - x0) / 2)) ** 2))
            for x in np.linspace(x0, x1, 40)
        ]

    main = cable(90, 360, 152, 120)
    pen.line(main, fill=(210, 80, 60), width=3)
    pen.line([(0, 230), (30, 200), (60, 172), (90, 152)], fill=(210, 80, 60), width=3)
    pen.line([(360, 152), (410, 210), (470, 270)], fill=(210, 80, 60), width=3)
    for x, y in main[1:-1:2]:
        pen.line([(x, y), (x, deck_y)], fill=(190, 70, 55), width=1)
    for k in range(0, 470, 18):
        pen.circle(k + 6, deck_y - 3, 1.6, fill=(255, 230, 150))
    arr = np.asarray(im).astype(np.float32)
    # water: rippled, darkened reflection
    h2, wl2 = H * SS, int(waterline * SS)
    ys, xs = np.mgrid[0:h2, 0 : W * SS].astype(np.float32)
    src_y = np.clip(np.where(ys >= wl2, 2 * wl2 - ys - 1, ys), 0, h2 - 1)
    ripple = 5 * SS * np.sin(ys / (1.6 * SS) + 2 * np.sin(xs / (30 * SS)))
    src_x = np.where(ys >= wl2, xs + ripple, xs)
    refl = cv2.remap(arr, src_x, src_y, cv2.INTER_LINEAR)
    water = Y >= waterline
    arr[water] = (refl * 0.5 + np.array([8, 12, 30]) * 0.5)[water]
    arr[(Y >= waterline) & (Y < waterline + 1.5)] = (90, 90, 120)
    return finish(to_img(arr), W, H, rng)


def shell_chess_cat() -> Image.Image:
    W, H = 520, 520
    rng = rng_for("chess_cat")
    Y, X = grid(W, H)
    wall_end, horizon = 290.0, 170.0
    # wallpaper: diamonds with dots
    u, v = (X + Y) / 40.0, (X - Y) / 40.0
    diam = ((np.floor(u) + np.floor(v)) % 2)[..., None]
    img = lerp((110, 150, 140), (92, 128, 120), diam)
    dotm = ((X % 40 - 20) ** 2 + (Y % 40) ** 2) < 12
    img[dotm] = (230, 210, 140)
    # perspective checkerboard floor
    dy = np.maximum(Y - horizon, 1)
    tx = np.floor((X - W / 2) / dy * 5)
    tz = np.floor(1500 / dy)
    check = ((tx + tz) % 2)[..., None]
    fog = np.clip((Y - wall_end) / 230, 0, 1)[..., None]
    floor = lerp((28, 24, 30), (238, 232, 220), check) * (0.7 + 0.3 * fog)
    fl = Y >= wall_end
    img[fl] = floor[fl]
    img[(Y >= wall_end - 10) & (Y < wall_end)] = (70, 50, 40)
    im = to_img(img)
    pen = Pen(im)
    ink = (20, 15, 15)
    # framed picture on the wall
    pen.rect((40, 40, 160, 150), fill=(150, 110, 50), outline=ink, width=3)
    pen.rect((52, 52, 148, 138), fill=(150, 200, 235))
    pen.poly([(52, 138), (85, 85), (110, 115), (125, 95), (148, 138)], fill=(70, 120, 80))
    pen.circle(128, 70, 9, fill=(250, 220, 90))
    # a chess king and a pawn
    for px, py, s, colr in [(410, 440, 1.0, (245, 245, 240)), (100, 470, 0.7, (35, 35, 40))]:
        pen.ellipse(
            (px - 40 * s, py - 8 * s, px + 40 * s, py + 10 * s), fill=colr, outline=ink, width=3
        )
        pen.poly(
            [
                (px - 28 * s, py),
                (px - 14 * s, py - 80 * s),
                (px + 14 * s, py - 80 * s),
                (px + 28 * s, py),
            ],
            fill=colr,
            outline=ink,
            width=3,
        )
        pen.ellipse(
            (px - 24 * s, py - 92 * s, px + 24 * s, py - 78 * s), fill=colr, outline=ink, width=3
        )
        pen.circle(px, py - 112 * s, 22 * s, fill=colr, outline=ink, width=3)
        if s == 1.0:
            pen.rect((px - 4, py - 160, px + 4, py - 128), fill=colr, outline=ink, width=2)
            pen.rect((px - 14, py - 152, px + 14, py - 144), fill=colr, outline=ink, width=2)
    # the cat
    orange, stripe = (235, 140, 50), (170, 80, 25)
    pen.line(
        [(330, 430), (370, 410), (385, 360), (370, 330)], fill=orange, width=22, round_ends=True
    )
    pen.line([(330, 430), (370, 410), (385, 360), (370, 330)], fill=stripe, width=3)
    pen.ellipse((170, 260, 350, 470), fill=orange, outline=ink, width=4)
    pen.ellipse((215, 330, 305, 460), fill=(250, 225, 190))
    for k in range(5):
        y = 290 + k * 28
        pen.arc((160, y - 20, 230, y + 20), 300, 60, fill=stripe, width=6)
        pen.arc((290, y - 20, 360, y + 20), 120, 240, fill=stripe, width=6)
    for fx in (225, 295):
        pen.ellipse((fx - 28, 445, fx + 28, 478), fill=orange, outline=ink, width=3)
        for t in (-10, 0, 10):
            pen.line([(fx + t, 462), (fx + t, 476)], fill=ink, width=2)
    pen.poly([(180, 200), (190, 110), (240, 160)], fill=orange, outline=ink, width=4)
    pen.poly([(340, 200), (330, 110), (280, 160)], fill=orange, outline=ink, width=4)
    pen.poly([(195, 180), (198, 135), (225, 162)], fill=(250, 170, 180))
    pen.poly([(325, 180), (322, 135), (295, 162)], fill=(250, 170, 180))
    pen.ellipse((170, 130, 350, 300), fill=orange, outline=ink, width=4)
    for k in range(3):
        pen.line([(240 + k * 20, 140), (245 + k * 15, 172)], fill=stripe, width=6, round_ends=True)
    for ex in (225, 295):
        pen.ellipse((ex - 24, 190, ex + 24, 230), fill=(140, 210, 90), outline=ink, width=3)
        pen.ellipse((ex - 5, 192, ex + 5, 228), fill=ink)
        pen.circle(ex + 8, 200, 4, fill=(255, 255, 255))
    pen.poly([(250, 240), (270, 240), (260, 252)], fill=(240, 120, 140), outline=ink, width=2)
    pen.arc((236, 244, 262, 268), 0, 150, fill=ink, width=3)
    pen.arc((258, 244, 284, 268), 30, 180, fill=ink, width=3)
    for side in (-1, 1):
        for k, dyy in enumerate((-8, 2, 12)):
            pen.line(
                [(260 + side * 30, 250 + k * 4), (260 + side * 110, 240 + dyy * 2.2)],
                fill=(250, 250, 250),
                width=2,
            )
    return finish(im, W, H, rng, grain=0)


def shell_comic_grid() -> Image.Image:
    W, H = 600, 600
    rng = rng_for("comic_grid")
    Y, X = grid(W, H)
    paper = value_noise(rng, H * SS, W * SS, 5 * SS, 2)
    img = np.stack([244 + 8 * paper, 238 + 8 * paper, 222 + 8 * paper], -1)
    im = to_img(img)
    pen = Pen(im)
    ink = (20, 20, 20)
    g = 14
    half = (W - 3 * g) / 2
    boxes = [
        (g, g, g + half, g + half),
        (2 * g + half, g, W - g, g + half),
        (g, 2 * g + half, g + half, H - g),
        (2 * g + half, 2 * g + half, W - g, H - g),
    ]
    fills = [(190, 225, 245), (250, 240, 170), (250, 200, 210), (215, 205, 245)]
    for b, f in zip(boxes, fills, strict=True):
        pen.rect(b, fill=f)
        for k in range(int(b[0]) - 300, int(b[2]), 12):  # hatching in the lower-right corner
            pen.line(
                [
                    (max(b[0], k), b[3] - max(0, b[0] - k)),
                    (min(b[2], k + (b[3] - b[1])), b[1] + max(0, k + (b[3] - b[1]) - b[2])),
                ],
                fill=tuple(int(c * 0.93) for c in f),
                width=1,
            )
    # panel 1: stick figure with speech bubble
    x0, y0 = boxes[0][:2]
    pen.circle(x0 + 80, y0 + 150, 22, fill=(255, 255, 255), outline=ink, width=4)
    pen.circle(x0 + 73, y0 + 146, 3, fill=ink)
    pen.circle(x0 + 89, y0 + 146, 3, fill=ink)
    pen.arc((x0 + 68, y0 + 148, x0 + 92, y0 + 164), 20, 160, fill=ink, width=3)
    pen.line([(x0 + 80, y0 + 172), (x0 + 80, y0 + 225)], fill=ink, width=5)
    pen.line(
        [(x0 + 45, y0 + 180), (x0 + 80, y0 + 190), (x0 + 115, y0 + 170)],
        fill=ink,
        width=5,
        round_ends=True,
    )
    pen.line(
        [(x0 + 55, y0 + 268), (x0 + 80, y0 + 225), (x0 + 105, y0 + 268)],
        fill=ink,
        width=5,
        round_ends=True,
    )
    pen.ellipse((x0 + 110, y0 + 25, x0 + 270, y0 + 115), fill=(255, 255, 255), outline=ink, width=4)
    pen.poly(
        [(x0 + 140, y0 + 100), (x0 + 110, y0 + 140), (x0 + 165, y0 + 108)], fill=(255, 255, 255)
    )
    pen.line([(x0 + 140, y0 + 104), (x0 + 110, y0 + 140), (x0 + 163, y0 + 111)], fill=ink, width=4)
    pen.text((x0 + 190, y0 + 70), "?!", 44, ink)
    # panel 2: rising chart
    x0, y0, x1, y1 = boxes[1]
    for k in range(1, 6):
        pen.line([(x0 + 20, y0 + k * 45), (x1 - 15, y0 + k * 45)], fill=(200, 190, 120), width=1)
        pen.line(
            [(x0 + 20 + k * 45, y0 + 20), (x0 + 20 + k * 45, y1 - 25)],
            fill=(200, 190, 120),
            width=1,
        )
    pen.line([(x0 + 25, y0 + 20), (x0 + 25, y1 - 25), (x1 - 15, y1 - 25)], fill=ink, width=4)
    pts = [(x0 + 30, y1 - 45)]
    for k in range(1, 11):
        pts.append((x0 + 30 + k * 22, y1 - 45 - k * 17 + (25 if k % 2 else -5) + rng.random() * 10))
    pen.line(pts, fill=(30, 150, 60), width=5)
    ex, ey = pts[-1]
    pen.poly(
        [(ex + 18, ey - 20), (ex - 12, ey - 8), (ex + 6, ey + 14)],
        fill=(30, 150, 60),
        outline=ink,
        width=2,
    )
    for k, (px, py) in enumerate(pts):
        if k % 3 == 0:
            pen.circle(px, py, 5, fill=(255, 255, 255), outline=ink, width=2)
    # panel 3: pie chart
    x0, y0, x1, y1 = boxes[2]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    start = -90.0
    for share, colr in [
        (0.42, (230, 80, 70)),
        (0.23, (70, 140, 220)),
        (0.17, (250, 200, 60)),
        (0.11, (90, 190, 110)),
        (0.07, (160, 90, 190)),
    ]:
        end = start + 360 * share
        off = 12 if share == 0.11 else 0
        m = math.radians((start + end) / 2)
        ox, oy = off * math.cos(m), off * math.sin(m)
        pen.pie(
            (cx - 105 + ox, cy - 105 + oy, cx + 105 + ox, cy + 105 + oy),
            start,
            end,
            fill=colr,
            outline=ink,
            width=3,
        )
        start = end
    # panel 4: light bulb idea
    x0, y0, x1, y1 = boxes[3]
    cx, cy = (x0 + x1) / 2, y0 + 120
    for k in range(12):
        a = 2 * math.pi * k / 12
        pen.line(
            [
                (cx + 78 * math.cos(a), cy + 78 * math.sin(a)),
                (cx + 108 * math.cos(a), cy + 108 * math.sin(a)),
            ],
            fill=(240, 170, 20),
            width=6,
            round_ends=True,
        )
    pen.circle(cx, cy, 60, fill=(255, 240, 120), outline=ink, width=4)
    pen.line(
        [(cx - 15, cy + 30), (cx - 8, cy - 5), (cx, cy + 10), (cx + 8, cy - 5), (cx + 15, cy + 30)],
        fill=(200, 120, 20),
        width=3,
    )
    for k in range(4):
        pen.rect(
            (cx - 28 + k * 2, cy + 55 + k * 13, cx + 28 - k * 2, cy + 66 + k * 13),
            fill=(160, 165, 175),
            outline=ink,
            width=2,
        )
    pen.text((cx, y1 - 28), "!!!", 30, ink)
    for b in boxes:
        pen.rect(b, outline=ink, width=5)
    return finish(im, W, H, rng, grain=2)


# --------------------------------------------------------------------------- cut-outs


def cutout_head_blue() -> Image.Image:
    W, H = 360, 420
    rng = rng_for("head_blue")
    im = Image.new("RGBA", (W * SS, H * SS), (0, 0, 0, 0))
    pen = Pen(im)
    ink = (20, 20, 30, 255)
    skin, skin_d = (200, 140, 100, 255), (165, 105, 70, 255)
    pen.rect((140, 330, 220, 405), fill=skin_d, outline=ink, width=4)
    pen.poly(
        [(60, 420), (95, 380), (265, 380), (300, 420)],
        fill=(220, 60, 60, 255),
        outline=ink,
        width=4,
    )
    for ex in (62, 298):
        pen.ellipse((ex - 24, 190, ex + 24, 260), fill=skin, outline=ink, width=4)
    pen.ellipse((65, 90, 295, 360), fill=skin, outline=ink, width=5)
    # cap: dome, brim, button, panel seams, logo star
    pen.pie((62, 40, 298, 250), 180, 360, fill=(40, 90, 200, 255), outline=ink, width=5)
    pen.poly(
        [(55, 146), (305, 146), (345, 170), (60, 168)],
        fill=(30, 65, 160, 255),
        outline=ink,
        width=4,
    )
    pen.circle(180, 42, 9, fill=(40, 90, 200, 255), outline=ink, width=3)
    pen.arc((120, 40, 240, 250), 200, 340, fill=(25, 60, 150, 255), width=3)
    pen.poly(star(180, 105, 24, 10), fill=(255, 215, 60, 255), outline=ink, width=2)
    # sunglasses
    pen.rrect((90, 190, 170, 245), 16, fill=(15, 15, 25, 255), outline=ink, width=3)
    pen.rrect((190, 190, 270, 245), 16, fill=(15, 15, 25, 255), outline=ink, width=3)
    pen.line([(170, 205), (190, 205)], fill=ink, width=6)
    pen.line([(100, 202), (125, 202)], fill=(140, 160, 255, 255), width=4)
    pen.line([(200, 202), (225, 202)], fill=(140, 160, 255, 255), width=4)
    # nose, smirk, stubble
    pen.arc((160, 235, 200, 285), 300, 100, fill=skin_d, width=5)
    pen.arc((140, 275, 240, 325), 20, 120, fill=ink, width=6)
    for _ in range(70):
        a = rng.random() * math.pi
        r = 95 + rng.random() * 25
        x, y = 180 + r * 0.9 * math.cos(a), 240 + r * math.sin(a)
        if y > 290:
            pen.circle(x, y, 1.3, fill=(110, 70, 45, 255))
    return im.resize((W, H), Image.LANCZOS)


def cutout_bust_orange() -> Image.Image:
    W, H = 400, 480
    rng = rng_for("bust_orange")
    im = Image.new("RGBA", (W * SS, H * SS), (0, 0, 0, 0))
    pen = Pen(im)
    ink = (25, 20, 20, 255)
    skin, skin_d = (250, 215, 185, 255), (225, 175, 140, 255)
    hair, hair_d = (235, 110, 30, 255), (190, 75, 15, 255)
    # curly hair back volume
    for _ in range(90):
        a = rng.random() * 2 * math.pi
        r = rng.random() ** 0.5 * 150
        x, y = 200 + r * 1.05 * math.cos(a), 200 + r * 0.95 * math.sin(a)
        if y < 330:
            pen.circle(x, y, 20 + rng.random() * 14, fill=hair, outline=hair_d, width=3)
    # shoulders in a knitted sweater
    pen.poly(
        [(25, 480), (45, 395), (130, 355), (270, 355), (355, 395), (375, 480)],
        fill=(60, 150, 100, 255),
        outline=ink,
        width=4,
    )
    for row in range(4):
        y = 385 + row * 24
        x0 = 72 if row == 0 else 52
        pts = [(x0 + k * 16, y + (8 if k % 2 else 0)) for k in range(int((400 - 2 * x0) / 16) + 1)]
        pen.line(pts, fill=(240, 235, 200, 255), width=4)
    pen.pie((150, 320, 250, 400), 0, 180, fill=skin, outline=ink, width=3)
    pen.rect((165, 300, 235, 360), fill=skin_d)
    pen.ellipse((105, 110, 295, 335), fill=skin, outline=ink, width=5)
    # bangs (front curls)
    for k in range(8):
        pen.circle(115 + k * 24, 125 + (k % 2) * 8, 24, fill=hair, outline=hair_d, width=3)
    # eyes with lashes, glasses
    for ex in (160, 240):
        pen.ellipse((ex - 24, 200, ex + 24, 236), fill=(255, 255, 255, 255), outline=ink, width=3)
        pen.circle(ex, 218, 11, fill=(70, 120, 190, 255))
        pen.circle(ex, 218, 5, fill=ink)
        pen.circle(ex + 4, 213, 3, fill=(255, 255, 255, 255))
        for t in (-16, -6, 6, 16):
            pen.line([(ex + t, 202), (ex + t * 1.4, 190)], fill=ink, width=2.5)
        pen.circle(ex, 218, 36, outline=(120, 60, 140, 255), width=5)
    pen.line([(196, 214), (204, 214)], fill=(120, 60, 140, 255), width=5)
    # freckles, nose, smile with teeth
    for _ in range(24):
        side = 1 if rng.random() < 0.5 else -1
        pen.circle(
            200 + side * (40 + rng.random() * 40),
            255 + rng.random() * 22,
            2,
            fill=(200, 120, 70, 255),
        )
    pen.arc((186, 236, 214, 270), 20, 160, fill=skin_d, width=4)
    pen.pie((160, 265, 240, 320), 0, 180, fill=(160, 40, 60, 255), outline=ink, width=4)
    pen.rect((170, 291, 230, 300), fill=(255, 255, 255, 255))
    # earrings
    for ex in (110, 290):
        pen.circle(ex, 262, 7, fill=(250, 210, 60, 255), outline=ink, width=2)
    return im.resize((W, H), Image.LANCZOS)


# --------------------------------------------------------------------------- captions and variants


def _wrap(draw: ImageDraw.ImageDraw, text: str, f, max_w: float) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split():
            trial = f"{cur} {word}".strip()
            if cur and draw.textlength(trial, font=f) > max_w:
                lines.append(cur)
                cur = word
            else:
                cur = trial
        lines.append(cur)
    return lines


def classic_caption(img: Image.Image, top: str, bottom: str) -> Image.Image:
    """Impact-style caption: white bold upper-case text with a black outline, top and bottom."""
    img = img.convert("RGB").copy()
    W, H = img.size
    d = ImageDraw.Draw(img)
    for text, where in ((top, "top"), (bottom, "bottom")):
        if not text:
            continue
        text = text.upper()
        size = int(H * 0.10)
        while True:
            f = font(size)
            lines = _wrap(d, text, f, W * 0.92)
            if (
                len(lines) <= 2 and all(d.textlength(s, font=f) <= W * 0.94 for s in lines)
            ) or size <= 12:
                break
            size -= 2
        stroke = max(2, size // 11)
        step = int(size * 1.12)
        margin = int(H * 0.025) + stroke
        y = margin if where == "top" else H - margin - step * len(lines)
        for s in lines:
            d.text(
                (W / 2, y),
                s,
                font=f,
                fill="white",
                anchor="ma",
                stroke_width=stroke,
                stroke_fill="black",
            )
            y += step
    return img


def panel_caption(img: Image.Image, text: str) -> Image.Image:
    """Modern caption: black text in a white panel added above the picture."""
    img = img.convert("RGB")
    W, H = img.size
    size = max(14, int(W * 0.052))
    f = font(size, bold=False)
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pad = int(size * 0.8)
    lines = _wrap(scratch, text, f, W - 2 * pad)
    step = int(size * 1.3)
    ph = 2 * pad + step * len(lines) - (step - size)
    out = Image.new("RGB", (W, H + ph), "white")
    out.paste(img, (0, ph))
    d = ImageDraw.Draw(out)
    y = pad
    for s in lines:
        d.text((pad, y), s, font=f, fill=(15, 15, 15), anchor="la")
        y += step
    return out


def watermark(img: Image.Image, text: str) -> Image.Image:
    base = img.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    W, H = base.size
    f = font(max(12, W // 28))
    x, y = W - 10, H - 10
    box = d.textbbox((x, y), text, font=f, anchor="rd")
    d.rounded_rectangle((box[0] - 8, box[1] - 5, box[2] + 8, box[3] + 5), 6, fill=(0, 0, 0, 110))
    d.text((x, y), text, font=f, fill=(255, 255, 255, 200), anchor="rd")
    return Image.alpha_composite(base, layer).convert("RGB")


def paste_cutout(
    img: Image.Image, cut: Image.Image, scale: float, xy: tuple[int, int]
) -> Image.Image:
    base = img.convert("RGBA")
    c = cut.resize((round(cut.width * scale), round(cut.height * scale)), Image.LANCZOS)
    base.alpha_composite(c, xy)
    return base.convert("RGB")


def repost(img: Image.Image) -> Image.Image:
    return img.resize((round(img.width * 0.7), round(img.height * 0.7)), Image.LANCZOS)


def crop_frac(
    img: Image.Image, left: float, top: float, right: float, bottom: float
) -> Image.Image:
    W, H = img.size
    return img.crop((round(W * left), round(H * top), round(W * right), round(H * bottom)))


# --------------------------------------------------------------------------- writers


def save(img: Image.Image, path: Path, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower()
    if fmt in (".jpg", ".jpeg"):
        kw.setdefault("quality", JPEG_QUALITY)
        kw.setdefault("optimize", True)
        img = img if img.mode in ("RGB", "L", "CMYK") else img.convert("RGB")
    elif fmt == ".png":
        kw.setdefault("optimize", True)
    img.save(path, **kw)


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def png_bomb(out: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A valid 16x16 PNG whose IHDR is patched to claim a huge size (CRC recomputed)."""
    import io

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:20] = width.to_bytes(4, "big")
    data[20:24] = height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    write_bytes(out, bytes(data))


# --------------------------------------------------------------------------- manifest


def _tz(s: str) -> timezone:
    sign = -1 if s[0] == "-" else 1
    hh, mm = s[1:].split(":")
    return timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))


# (path, platform, account, local posted time "YYYY-mm-ddTHH:MM:SS", UTC offset,
#  collection delay in minutes, post text)
SIGHTINGS: list[tuple[str, str, str, str, str, int, str]] = [
    # --- family A: mountain_lake_classic and its derivatives
    (
        "memes/mountain_lake_classic.jpg",
        "reddit",
        "trailmix_tony",
        "2026-03-02T18:14:09",
        "-05:00",
        95,
        "Moved to the mountains for peace and quiet. The router had other plans.",
    ),
    (
        "memes/mountain_lake_classic_repost.jpg",
        "facebook",
        "cabinlife.official",
        "2026-03-04T09:30:00",
        "+00:00",
        600,
        "😂 so true!! share if your cabin wifi is like this",
    ),
    (
        "memes/mountain_lake_classic_repost.jpg",
        "telegram",
        "laughfactory_channel",
        "2026-03-05T21:02:44",
        "+05:30",
        43,
        "Cabin mood 🏔️📶",
    ),
    (
        "memes/mountain_lake_classic_mirrored.jpg",
        "x",
        "pixel_pundit",
        "2026-03-06T11:47:10",
        "-05:00",
        180,
        "found this gem, no idea who made it",
    ),
    (
        "memes/mountain_lake_classic_cropped.jpg",
        "instagram",
        "wanderlust.jen",
        "2026-03-09T07:05:33",
        "+00:00",
        1440,
        "weekend vibes #cabinlife #nowifi",
    ),
    (
        "odd/exif_rotated.jpg",
        "instagram",
        "hike.and.seek",
        "2026-03-10T16:20:00",
        "-08:00",
        300,
        "posting this from the trailhead lol (phone photo of my screen)",
    ),
    (
        "memes/mountain_lake_classic_repost.jpg",
        "mastodon",
        "retro_rita@mastodon.social",
        "2026-03-14T20:11:02",
        "+01:00",
        55,
        "Old but gold.",
    ),
    # --- family B: surprised_guy_panel
    (
        "memes/surprised_guy_panel.jpg",
        "x",
        "nightowl_nina",
        "2026-03-03T03:12:55",
        "+00:00",
        30,
        "every. single. night.",
    ),
    (
        "memes/surprised_guy_panel.jpg",
        "telegram",
        "devhumor_hub",
        "2026-03-03T10:40:00",
        "+05:30",
        120,
        "relatable content",
    ),
    (
        "memes/surprised_guy_panel_watermarked.jpg",
        "reddit",
        "quietcoder",
        "2026-03-07T22:01:30",
        "-05:00",
        240,
        "Saw this on Telegram, added credit",
    ),
    (
        "memes/surprised_guy_panel_watermarked.jpg",
        "facebook",
        "mary.h.thompson",
        "2026-03-11T13:15:00",
        "-05:00",
        2880,
        "Is this what the kids do at 3am? 🤔",
    ),
    (
        "memes/surprised_guy_panel.jpg",
        "x",
        "bytebarista",
        "2026-03-16T08:30:45",
        "+00:00",
        15,
        'me, "sleeping early", again',
    ),
    # --- family C: robot_workshop_classic, with a coordinated burst on X (5 accounts, < 1 minute)
    (
        "memes/robot_workshop_classic.jpg",
        "telegram",
        "devhumor_hub",
        "2026-03-12T16:58:20",
        "+05:30",
        65,
        "Friday deploy energy",
    ),
    (
        "memes/robot_workshop_classic.jpg",
        "x",
        "byte_storm_2291",
        "2026-03-12T14:03:05",
        "+00:00",
        57,
        "When you fix one bug... #DevLife #CodingHumor",
    ),
    (
        "memes/robot_workshop_classic.jpg",
        "x",
        "kernel_panic_kat",
        "2026-03-12T09:03:17",
        "-05:00",
        57,
        "When you fix one bug… #DevLife #CodingHumor",
    ),
    (
        "memes/robot_workshop_classic.jpg",
        "x",
        "merge_conflict_mo",
        "2026-03-12T14:03:29",
        "+00:00",
        57,
        "when you fix one bug #DevLife #CodingHumor",
    ),
    (
        "memes/robot_workshop_classic.jpg",
        "x",
        "null_pointer_pat",
        "2026-03-12T19:33:41",
        "+05:30",
        57,
        "When you fix one bug... #CodingHumor #DevLife",
    ),
    (
        "memes/robot_workshop_classic.jpg",
        "x",
        "stack_trace_sam",
        "2026-03-12T14:03:58",
        "+00:00",
        57,
        "When u fix one bug... #DevLife #CodingHumor",
    ),
    (
        "memes/robot_workshop_classic.jpg",
        "reddit",
        "quietcoder",
        "2026-03-13T10:22:10",
        "-05:00",
        200,
        "Every. Time.",
    ),
    (
        "memes/robot_workshop_classic.jpg",
        "facebook",
        "techdads.group",
        "2026-03-15T18:45:00",
        "+01:00",
        720,
        "Tag a developer who needs to see this",
    ),
    # --- family C': same robot shell, different caption (template family)
    (
        "memes/robot_workshop_alt.jpg",
        "x",
        "bytebarista",
        "2026-03-08T17:12:00",
        "+00:00",
        25,
        "automation is a journey, not a destination",
    ),
    (
        "memes/robot_workshop_alt.jpg",
        "mastodon",
        "retro_rita@mastodon.social",
        "2026-03-18T09:05:12",
        "+01:00",
        90,
        "xkcd was right about this, as usual",
    ),
    (
        "memes/robot_workshop_alt.jpg",
        "telegram",
        "devhumor_hub",
        "2026-03-19T12:00:00",
        "+05:30",
        30,
        "Automation, but make it personal",
    ),
    # --- family D: city_night_cutout (has cutouts/head_blue.png pasted in)
    (
        "memes/city_night_cutout.jpg",
        "x",
        "nightowl_nina",
        "2026-03-17T01:44:00",
        "+00:00",
        60,
        "2am walks hit different",
    ),
    (
        "memes/city_night_cutout.jpg",
        "telegram",
        "laughfactory_channel",
        "2026-03-17T12:30:30",
        "+05:30",
        35,
        "Nobody: / Absolutely nobody: / Him:",
    ),
    (
        "memes/city_night_cutout.jpg",
        "instagram",
        "wanderlust.jen",
        "2026-03-19T22:10:00",
        "+00:00",
        600,
        "city lights, cool guy, no context",
    ),
    # --- family E: chess_cat_classic
    (
        "memes/chess_cat_classic.jpg",
        "reddit",
        "trailmix_tony",
        "2026-03-05T13:00:00",
        "-05:00",
        75,
        "My cat has learned chess. Send help.",
    ),
    (
        "memes/chess_cat_classic.jpg",
        "facebook",
        "mary.h.thompson",
        "2026-03-13T08:40:00",
        "-05:00",
        1500,
        "LOL our cat Biscuit, every morning",
    ),
    (
        "memes/chess_cat_classic.jpg",
        "x",
        "pixel_pundit",
        "2026-03-20T15:55:55",
        "-05:00",
        20,
        "cats, chess, chaos",
    ),
    # --- odd-but-valid files seen in the wild
    (
        "odd/animated.gif",
        "telegram",
        "laughfactory_channel",
        "2026-03-18T19:19:19",
        "+05:30",
        40,
        "WAIT. WHAT. NO WAY.",
    ),
    ("odd/animated.webp", "x", "bytebarista", "2026-03-19T10:10:10", "+00:00", 12, "beep boop"),
    (
        "odd/cmyk.jpg",
        "facebook",
        "mary.h.thompson",
        "2026-03-20T09:00:00",
        "-05:00",
        600,
        "Found this in an old magazine scan, comics were better back then",
    ),
    (
        "odd/palette_transparent.png",
        "mastodon",
        "retro_rita@mastodon.social",
        "2026-03-21T11:11:11",
        "+01:00",
        45,
        "new sticker for the server, use it wisely",
    ),
    (
        "odd/gray16.png",
        "reddit",
        "quietcoder",
        "2026-03-21T06:30:00",
        "-05:00",
        300,
        "scanned in greyscale, 16 bits per pixel, because why not",
    ),
    # --- broken files (the demo should report errors for these rows)
    (
        "bad/truncated.jpg",
        "x",
        "pixel_pundit",
        "2026-03-20T18:00:00",
        "-05:00",
        10,
        "this image never fully loads for me, anyone else?",
    ),
    (
        "bad/not_an_image.png",
        "telegram",
        "devhumor_hub",
        "2026-03-20T21:45:00",
        "+05:30",
        5,
        "[attachment]",
    ),
    (
        "bad/empty.jpg",
        "facebook",
        "cabinlife.official",
        "2026-03-21T16:00:00",
        "+00:00",
        60,
        "photo unavailable",
    ),
    (
        "bad/bomb.png",
        "reddit",
        "trailmix_tony",
        "2026-03-22T02:22:22",
        "-05:00",
        33,
        "try opening this one, I dare you",
    ),
    (
        "bad/random_bytes.webp",
        "instagram",
        "hike.and.seek",
        "2026-03-22T08:08:08",
        "-08:00",
        120,
        "sunset at the lake",
    ),
]


def _post_id(platform: str, rng: np.random.Generator) -> str:
    if platform == "x":
        return str(1_897_000_000_000_000_000 + int(rng.integers(0, 10**16)))
    if platform == "telegram":
        return str(int(rng.integers(1000, 60000)))
    if platform == "facebook":
        return str(10_000_000_000_000 + int(rng.integers(0, 10**14)) * 10)
    if platform == "reddit":
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
        return "1j" + "".join(alphabet[int(i)] for i in rng.integers(0, 36, 5))
    if platform == "instagram":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
        return "DG" + "".join(alphabet[int(i)] for i in rng.integers(0, 64, 9))
    if platform == "mastodon":
        return str(114_000_000_000_000_000 + int(rng.integers(0, 10**15)))
    raise ValueError(platform)


def _url(platform: str, account: str, post_id: str) -> str:
    if platform == "x":
        return f"https://x.com/{account}/status/{post_id}"
    if platform == "telegram":
        return f"https://t.me/{account}/{post_id}"
    if platform == "facebook":
        return f"https://www.facebook.com/{account}/posts/{post_id}"
    if platform == "reddit":
        sub = "ProgrammerHumor" if account == "quietcoder" else "memes"
        return f"https://www.reddit.com/r/{sub}/comments/{post_id}/"
    if platform == "instagram":
        return f"https://www.instagram.com/p/{post_id}/"
    if platform == "mastodon":
        user, host = account.split("@")
        return f"https://{host}/@{user}/{post_id}"
    raise ValueError(platform)


COLUMNS = ["path", "platform", "account", "post_id", "url", "posted_at", "collected_at", "text"]


def manifest_rows() -> list[dict[str, str]]:
    rng = rng_for("manifest")
    rows = []
    for path, platform, account, local, off, delay_min, text in SIGHTINGS:
        posted = datetime.fromisoformat(local).replace(tzinfo=_tz(off))
        collected = (posted + timedelta(minutes=delay_min)).astimezone(UTC)
        pid = _post_id(platform, rng)
        rows.append(
            {
                "path": path,
                "platform": platform,
                "account": account,
                "post_id": pid,
                "url": _url(platform, account, pid),
                "posted_at": posted.isoformat(),
                "collected_at": collected.isoformat(),
                "text": text,
            }
        )
    return rows


def write_manifest(out: Path) -> int:
    rows = manifest_rows()
    missing = [r["path"] for r in rows if not (out / r["path"]).exists()]
    if missing:
        raise SystemExit(f"manifest points to missing files: {missing}")
    with open(out / "manifest.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(out / "manifest.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return len(rows)


# --------------------------------------------------------------------------- main


def build(out: Path) -> None:
    shells = {
        "mountain_lake": (shell_mountain_lake(), "jpg"),
        "surprised_guy": (shell_surprised_guy(), "png"),
        "robot_workshop": (shell_robot_workshop(), "jpg"),
        "city_night": (shell_city_night(), "jpg"),
        "chess_cat": (shell_chess_cat(), "png"),
        "comic_grid": (shell_comic_grid(), "jpg"),
    }
    for name, (img, ext) in shells.items():
        save(img, out / "shells" / f"{name}.{ext}")
    S = {k: v[0] for k, v in shells.items()}

    head, bust = cutout_head_blue(), cutout_bust_orange()
    save(head, out / "cutouts" / "head_blue.png")
    save(bust, out / "cutouts" / "bust_orange.png")

    memes = out / "memes"
    lake = classic_caption(
        S["mountain_lake"],
        "Moved to a cabin for some peace and quiet",
        "Router: one bar, on a good day",
    )
    save(lake, memes / "mountain_lake_classic.jpg")
    save(repost(lake), memes / "mountain_lake_classic_repost.jpg", quality=60)
    save(ImageOps.mirror(lake), memes / "mountain_lake_classic_mirrored.jpg")
    save(crop_frac(lake, 0.10, 0.06, 0.95, 0.94), memes / "mountain_lake_classic_cropped.jpg")

    guy = panel_caption(
        S["surprised_guy"],
        "me: I'll go to bed early tonight\nalso me at 3:47 am, reading about how octopuses sleep:",
    )
    save(guy, memes / "surprised_guy_panel.jpg")
    save(watermark(guy, "@quietcoder"), memes / "surprised_guy_panel_watermarked.jpg")

    robot = classic_caption(S["robot_workshop"], "I fixed the bug", "Now there are two bugs")
    save(robot, memes / "robot_workshop_classic.jpg")
    save(
        classic_caption(
            S["robot_workshop"], "Spent 6 hours automating it", "The task takes 5 minutes"
        ),
        memes / "robot_workshop_alt.jpg",
    )

    city = paste_cutout(S["city_night"], head, 0.72, (520, 450 - round(420 * 0.72)))
    city = classic_caption(city, "Nobody:", "Me at 2 am admiring the bridge")
    save(city, memes / "city_night_cutout.jpg")

    cat = classic_caption(S["chess_cat"], "Checkmate, human", "Now fill the bowl")
    save(cat, memes / "chess_cat_classic.jpg")

    # odd but valid files
    odd = out / "odd"
    save(
        S["comic_grid"].resize((420, 420), Image.LANCZOS).convert("CMYK"),
        odd / "cmyk.jpg",
        quality=85,
    )
    grey = np.asarray(S["chess_cat"].convert("L")).astype(np.uint16) * 257
    grey16 = Image.fromarray(grey)
    assert grey16.mode == "I;16", grey16.mode
    save(grey16, odd / "gray16.png")
    b = bust.resize((200, 240), Image.LANCZOS)
    alpha = np.asarray(b.getchannel("A"))
    q = b.convert("RGB").quantize(
        colors=63, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    idx = np.asarray(q).astype(np.uint8) + 1
    idx[alpha < 128] = 0
    pal_img = Image.frombytes(
        "P", (idx.shape[1], idx.shape[0]), np.ascontiguousarray(idx).tobytes()
    )
    pal_img.putpalette([0, 0, 0] + q.getpalette()[: 63 * 3])
    save(pal_img, odd / "palette_transparent.png", transparency=0)

    small = S["surprised_guy"].resize((240, 240), Image.LANCZOS)
    frames = []
    for i, word in enumerate(["WAIT", "WHAT", "NO WAY"]):
        z = 1 + 0.12 * i
        c = 240 / z
        f = small.crop((120 - c / 2, 120 - c / 2, 120 + c / 2, 120 + c / 2)).resize(
            (240, 240), Image.LANCZOS
        )
        frames.append(classic_caption(f, "", word))
    frames[0].save(
        odd / "animated.gif",
        save_all=True,
        append_images=frames[1:],
        duration=[500, 500, 900],
        loop=0,
        optimize=False,
    )

    rob = S["robot_workshop"].resize((350, 260), Image.LANCZOS)
    wf = [classic_caption(rob, "BEEP", ""), classic_caption(ImageOps.invert(rob), "", "BOOP")]
    wf[0].save(
        odd / "animated.webp",
        save_all=True,
        append_images=wf[1:],
        duration=600,
        loop=0,
        quality=80,
        method=4,
    )

    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    stored = lake.rotate(
        90, expand=True
    )  # upright picture turned 90 CCW, as a phone camera stores it
    save(stored, odd / "exif_rotated.jpg", exif=exif.tobytes())

    save(Image.new("RGB", (1, 1), (255, 0, 255)), odd / "tiny_1x1.png")
    save(cat.resize((200, 200), Image.LANCZOS), odd / "bitmap.bmp")
    save(city.resize((320, 180), Image.LANCZOS), odd / "scan.tiff", compression="tiff_lzw")

    # bad files
    bad = out / "bad"
    src = (memes / "robot_workshop_classic.jpg").read_bytes()
    write_bytes(bad / "truncated.jpg", src[: len(src) // 2])
    write_bytes(
        bad / "not_an_image.png",
        b"This is a plain text file that merely has a .png name.\nNothing to decode here.\n",
    )
    write_bytes(bad / "empty.jpg", b"")
    png_bomb(bad / "bomb.png")
    write_bytes(
        bad / "random_bytes.webp",
        rng_for("random_bytes").integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    )

    n = write_manifest(out)
    print(f"wrote {out} ({n} sightings)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_images"
    )
    args = ap.parse_args()
    build(args.out)


if __name__ == "__main__":
    main()
