"""Seeded, pure generators of query variants for the evaluation commands.

Every generator takes a PIL image and a :class:`random.Random` and returns a *new* RGB image; the
input is never modified and the same seed always gives the same pixels (on one machine: text is
rendered with the fonts installed there). Nothing here touches the network or the store.

The kinds in :data:`VARIANT_KINDS` model how a blank template turns up in the wild:

=====================  ===========================================================================
``caption``            classic top/bottom caption (white uppercase text, black outline)
``panel``              a white caption panel with black text above the picture (image grows)
``caption_jpeg_resize`` caption, then 50 % downscale, then JPEG quality 30 (a repost chain)
``caption_crop``       caption, then a crop of 8-15 % on each side (chosen per side)
``screenshot``         caption, then a synthetic social-media post screenshot around it
``mirror``             the template flipped left-right, then captioned (text stays readable)
``rotate``             the plain template rotated by 4 degrees either way, corners white or black
``greyscale``          the plain template in greyscale
``sticker``            the plain template with 1-3 emoji-like stickers over 5-15 % of its area
``watermark``          the plain template with a semi-transparent handle in a corner or across it
=====================  ===========================================================================

The last four are applied to the plain template so that each isolates one transformation; the
caption kinds cover captioned memes. :func:`composite_cutout` builds the cut-out detection cases:
a transparent asset pasted into a background at a known place and scale.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont, ImageOps

from memetrack.errors import BadInput, EmptyImage

VARIANT_KINDS: tuple[str, ...] = (
    "caption",
    "panel",
    "caption_jpeg_resize",
    "caption_crop",
    "screenshot",
    "mirror",
    "rotate",
    "greyscale",
    "sticker",
    "watermark",
)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
CAPTION_FONT_FILES = ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf")
UI_FONT_FILES = {False: ("DejaVuSans.ttf",), True: ("DejaVuSans-Bold.ttf",)}

# Caption geometry. Top + bottom text covers CAPTION_MIN_SHARE..CAPTION_MAX_SHARE of the height
# unless a very narrow picture forces the font below that.
CAPTION_START_SIZE = 0.10  # font size as a share of the image height before fitting
CAPTION_MAX_SHARE = 0.30
CAPTION_WIDTH_SHARE = 0.94  # usable line width
CAPTION_LINE_SPACING = 1.1  # line height / font size
CAPTION_STROKE_DIVISOR = 12  # stroke width = font size / 12
MIN_FONT_SIZE = 9

JPEG_QUALITY = 30
RESIZE_FACTOR = 0.5
CROP_RANGE = (0.08, 0.15)
ROTATE_DEGREES = 4.0
STICKER_AREA_RANGE = (0.05, 0.15)
ALPHA_THRESHOLD = 16  # alpha below this counts as transparent (as in memetrack.cutouts)

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)

_STARTERS = (
    "when",
    "me when",
    "nobody:",
    "pov:",
    "me after",
    "my brain when",
    "that moment when",
    "how it feels when",
    "me explaining",
    "everyone:",
    "when your",
    "me trying to",
)
_WORDS = (
    "you",
    "me",
    "my",
    "the",
    "finally",
    "monday",
    "code",
    "works",
    "teacher",
    "says",
    "friends",
    "mom",
    "boss",
    "weekend",
    "homework",
    "wifi",
    "again",
    "nobody",
    "asked",
    "coffee",
    "exam",
    "tomorrow",
    "deadline",
    "cat",
    "dog",
    "pizza",
    "sleep",
    "at",
    "3am",
    "phone",
    "battery",
    "dies",
    "group",
    "chat",
    "bug",
    "production",
    "gym",
    "diet",
    "starts",
    "just",
    "one",
    "more",
    "episode",
    "forgot",
    "password",
    "meeting",
    "could",
    "email",
    "crypto",
    "goes",
    "up",
    "down",
    "landlord",
    "rent",
    "due",
    "be",
    "like",
    "literally",
)
_NAMES = (
    "Meme Central",
    "daily dose",
    "Sam K.",
    "Laughing Llama",
    "Ana Souza",
    "the real joe",
    "Kai",
    "Dank Archive",
    "Mira Patel",
    "Top Kek",
    "Jonas",
    "lol factory",
)
_HANDLES = (
    "@memes_daily",
    "@dank.central",
    "@lol.factory",
    "memezone.net",
    "@daily.laughs",
    "@funnyposts",
    "@kek_hub",
    "@shitpost.hq",
)


# --------------------------------------------------------------------------------------- fonts


@lru_cache(maxsize=256)
def _font_from(files: tuple[str, ...], size: int) -> ImageFont.FreeTypeFont:
    for name in files:
        path = FONT_DIR / name
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


def caption_font(size: int) -> ImageFont.FreeTypeFont:
    """The Impact-like caption font at ``size`` px: bold and condensed.

    Uses DejaVu Sans Condensed Bold from ``/usr/share/fonts/truetype/dejavu`` (Debian package
    ``fonts-dejavu-core``), else DejaVu Sans Bold from there, else Pillow's built-in scalable
    default font (``ImageFont.load_default(size=size)``, Aileron Regular).
    """
    return _font_from(CAPTION_FONT_FILES, max(1, int(size)))


def _ui_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Interface font for screenshot chrome: DejaVu Sans (Bold), else Pillow's default."""
    return _font_from(UI_FONT_FILES[bold], max(1, int(size)))


def _stroke(size: int) -> int:
    return max(1, round(size / CAPTION_STROKE_DIVISOR))


def _text_width(text: str, font: ImageFont.FreeTypeFont, stroke: int = 0) -> int:
    left, _, right, _ = font.getbbox(text, stroke_width=stroke)
    return int(right - left)


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float, stroke: int = 0) -> list[str]:
    """Greedy word wrap; a single word wider than ``max_width`` keeps its own line."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}" if current else word
        if current and _text_width(trial, font, stroke) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


# ------------------------------------------------------------------------------------ captions


def random_caption(rng: random.Random, words: tuple[int, int] = (2, 7)) -> str:
    """A lower-case meme-like phrase of ``words[0]..words[1]`` words (inclusive)."""
    count = rng.randint(words[0], words[1])
    out: list[str] = []
    if rng.random() < 0.5:
        out.extend(rng.choice(_STARTERS).split()[:count])
    while len(out) < count:
        out.append(rng.choice(_WORDS))
    return " ".join(out)


def _to_rgb(image: Image.Image, background: RGB = WHITE) -> Image.Image:
    """A new RGB copy; transparency is flattened onto ``background``."""
    if image.mode == "RGB":
        return image.copy()
    if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return image.convert("RGB")


@dataclass(frozen=True)
class _Layout:
    size: int
    top: list[str]
    bottom: list[str]

    @property
    def line_height(self) -> int:
        return max(1, round(self.size * CAPTION_LINE_SPACING))


def _fit_top_bottom(top: str, bottom: str, width: int, height: int) -> _Layout:
    """Largest font (from 10 % of the height down) whose wrapped lines fit width and 30 % height."""
    size = max(MIN_FONT_SIZE, round(height * CAPTION_START_SIZE))
    while True:
        font, stroke = caption_font(size), _stroke(size)
        max_width = width * CAPTION_WIDTH_SHARE
        layout = _Layout(size, _wrap(top, font, max_width, stroke), _wrap(bottom, font, max_width, stroke))
        lines = layout.top + layout.bottom
        widest = max((_text_width(line, font, stroke) for line in lines), default=0)
        total = len(lines) * layout.line_height
        if (widest <= max_width and total <= CAPTION_MAX_SHARE * height) or size <= MIN_FONT_SIZE:
            return layout
        size = max(MIN_FONT_SIZE, int(size * 0.92))


def add_top_bottom_caption(img: Image.Image, top: str, bottom: str) -> Image.Image:
    """Classic meme caption: white uppercase text with a black outline, top and bottom.

    The font starts at 10 % of the height and shrinks until every wrapped line fits the width and
    all lines together take at most 30 % of the height, so one line each covers about 22 %.
    """
    out = _to_rgb(img)
    width, height = out.size
    layout = _fit_top_bottom(top.upper(), bottom.upper(), width, height)
    font, stroke = caption_font(layout.size), _stroke(layout.size)
    draw = ImageDraw.Draw(out)
    margin = max(2, round(height * 0.015)) + stroke
    step = layout.line_height
    starts = ((layout.top, margin), (layout.bottom, height - margin - len(layout.bottom) * step))
    for lines, y0 in starts:
        for i, line in enumerate(lines):
            draw.text(
                (width / 2, y0 + i * step),
                line,
                fill=WHITE,
                font=font,
                anchor="mt",
                stroke_width=stroke,
                stroke_fill=BLACK,
            )
    return out


def add_caption_panel(img: Image.Image, text: str) -> Image.Image:
    """A white band ABOVE the picture with centred black text; the image grows in height."""
    picture = _to_rgb(img)
    width, height = picture.size
    size = max(MIN_FONT_SIZE + 3, round(width / 17))
    while True:
        font = caption_font(size)
        lines = _wrap(text, font, width * 0.9)
        widest = max((_text_width(line, font) for line in lines), default=0)
        if (len(lines) <= 3 and widest <= width * 0.9) or size <= MIN_FONT_SIZE:
            break
        size = max(MIN_FONT_SIZE, int(size * 0.9))
    step = round(size * 1.2)
    pad = round(size * 0.6)
    band = 2 * pad + len(lines) * step
    out = Image.new("RGB", (width, height + band), WHITE)
    out.paste(picture, (0, band))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((width / 2, pad + i * step), line, fill=BLACK, font=font, anchor="mt")
    return out


def _random_top_bottom(img: Image.Image, rng: random.Random) -> Image.Image:
    return add_top_bottom_caption(img, random_caption(rng, (2, 6)), random_caption(rng, (2, 6)))


# ----------------------------------------------------------------------- simple transformations


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def _resize(img: Image.Image, factor: float) -> Image.Image:
    width, height = img.size
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return img.resize(size, Image.Resampling.BILINEAR)


def _crop_sides(img: Image.Image, rng: random.Random) -> Image.Image:
    width, height = img.size
    left, top, right, bottom = (rng.uniform(*CROP_RANGE) for _ in range(4))
    box = (
        round(width * left),
        round(height * top),
        width - round(width * right),
        height - round(height * bottom),
    )
    return img.crop(box)


def _rotate(img: Image.Image, rng: random.Random) -> Image.Image:
    angle = ROTATE_DEGREES * rng.choice((-1, 1))
    fill = rng.choice((WHITE, BLACK))
    return _to_rgb(img).rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


# ------------------------------------------------------------------------------------- shapes


def _heart_points(x0: float, y0: float, side: float) -> list[tuple[float, float]]:
    """A heart polygon filling the square at (x0, y0) of size ``side``."""
    points = []
    for k in range(72):
        t = 2 * math.pi * k / 72
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        points.append((x0 + (x + 17) / 34 * side, y0 + (y + 13) / 31 * side))
    return points


def _star_points(cx: float, cy: float, radius: float, inner: float = 0.45) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * inner
        a = -math.pi / 2 + k * math.pi / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def _draw_face(draw: ImageDraw.ImageDraw, s: int, laughing: bool) -> None:
    line = max(2, s // 28)
    brown = (101, 67, 33, 255)
    draw.ellipse((line, line, s - line, s - line), fill=(255, 204, 51, 255), outline=brown, width=line)
    if laughing:
        for cx in (0.33, 0.67):  # closed eyes as arcs, tears below
            draw.arc(
                (s * (cx - 0.1), s * 0.3, s * (cx + 0.1), s * 0.45),
                200,
                340,
                fill=brown,
                width=line * 2,
            )
            draw.ellipse((s * (cx - 0.2), s * 0.42, s * (cx - 0.06), s * 0.6), fill=(80, 170, 255, 255))
        draw.chord((s * 0.22, s * 0.4, s * 0.78, s * 0.85), 0, 180, fill=brown)
    else:
        for cx in (0.35, 0.65):
            draw.ellipse((s * (cx - 0.06), s * 0.28, s * (cx + 0.06), s * 0.46), fill=brown)
        draw.arc((s * 0.25, s * 0.35, s * 0.75, s * 0.78), 20, 160, fill=brown, width=line * 2)


def _render_sticker(shape: str, side: int) -> Image.Image:
    """An RGBA sticker drawn at 4x and downsampled (anti-aliased)."""
    s = max(8, side) * 4
    sticker = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(sticker)
    if shape in ("smiley", "laughing"):
        _draw_face(draw, s, laughing=shape == "laughing")
    elif shape == "heart":
        draw.polygon(
            _heart_points(s * 0.03, s * 0.05, s * 0.94),
            fill=(230, 30, 60, 255),
            outline=(120, 0, 20, 255),
            width=max(2, s // 40),
        )
    else:
        draw.polygon(
            _star_points(s / 2, s * 0.53, s * 0.48),
            fill=(255, 190, 0, 255),
            outline=(160, 90, 0, 255),
            width=max(2, s // 40),
        )
    return sticker.resize((max(1, side), max(1, side)), Image.Resampling.LANCZOS)


@lru_cache(maxsize=8)
def _fill_ratio(shape: str) -> float:
    alpha = np.asarray(_render_sticker(shape, 96).getchannel("A"))
    return float((alpha >= ALPHA_THRESHOLD).mean())


def add_stickers(img: Image.Image, rng: random.Random) -> Image.Image:
    """Paste 1-3 opaque or semi-transparent emoji-like stickers covering 5-15 % of the area."""
    out = _to_rgb(img).convert("RGBA")
    width, height = out.size
    count = rng.randint(1, 3)
    weights = [rng.uniform(0.5, 1.5) for _ in range(count)]
    total_area = rng.uniform(*STICKER_AREA_RANGE) * width * height
    for weight in weights:
        shape = rng.choice(("smiley", "laughing", "heart", "star"))
        area = total_area * weight / sum(weights)
        side = min(round(math.sqrt(area / _fill_ratio(shape))), width, height)
        sticker = _render_sticker(shape, side)
        sticker = sticker.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BICUBIC)
        if rng.random() < 0.4:  # semi-transparent
            opacity = rng.uniform(0.55, 0.85)
            sticker.putalpha(sticker.getchannel("A").point(lambda a, o=opacity: round(a * o)))
        position = (rng.randint(0, width - sticker.width), rng.randint(0, height - sticker.height))
        out.alpha_composite(sticker, position)
    return out.convert("RGB")


def add_watermark(img: Image.Image, rng: random.Random) -> Image.Image:
    """A semi-transparent handle: small with a logo in a corner, or large and tilted mid-image."""
    out = _to_rgb(img).convert("RGBA")
    width, height = out.size
    handle = rng.choice(_HANDLES)
    if rng.random() < 0.5:
        size = max(MIN_FONT_SIZE, round(min(width, height) * rng.uniform(0.045, 0.07)))
        layer = _watermark_label(handle, size, logo=rng.random() < 0.6)
        layer = _scale_alpha(layer, rng.uniform(0.5, 0.8))
        margin = round(min(width, height) * 0.03)
        x = margin if rng.random() < 0.5 else width - margin - layer.width
        y = margin if rng.random() < 0.5 else height - margin - layer.height
    else:
        size = max(MIN_FONT_SIZE, round(width / max(1, len(handle)) * rng.uniform(1.1, 1.5)))
        layer = _watermark_label(handle, size, logo=False)
        layer = layer.rotate(
            rng.choice((-1, 1)) * rng.uniform(15, 35),
            expand=True,
            resample=Image.Resampling.BICUBIC,
        )
        layer = _scale_alpha(layer, rng.uniform(0.25, 0.45))
        x, y = (width - layer.width) // 2, (height - layer.height) // 2
    canvas = Image.new("RGBA", out.size, (0, 0, 0, 0))
    canvas.paste(layer, (x, y))  # may hang over the edges when tilted; paste clips it
    return Image.alpha_composite(out, canvas).convert("RGB")


def _watermark_label(text: str, size: int, logo: bool) -> Image.Image:
    font, stroke = _ui_font(size, bold=True), max(1, size // 14)
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    logo_side = round(size * 1.3) if logo else 0
    gap = round(size * 0.3) if logo else 0
    w, h = logo_side + gap + (right - left), max(logo_side, bottom - top)
    label = Image.new("RGBA", (int(w) + 2, int(h) + 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(label)
    if logo:
        y0 = (h - logo_side) / 2
        draw.rounded_rectangle(
            (0, y0, logo_side, y0 + logo_side),
            radius=logo_side // 4,
            fill=(255, 255, 255, 255),
            outline=(40, 40, 40, 255),
            width=stroke,
        )
        draw.text(
            (logo_side / 2, y0 + logo_side / 2),
            text.lstrip("@")[0].upper(),
            font=_ui_font(round(size * 0.9), bold=True),
            fill=(40, 40, 40, 255),
            anchor="mm",
        )
    draw.text(
        (logo_side + gap - left, (h - (bottom - top)) / 2 - top),
        text,
        font=font,
        fill=(255, 255, 255, 255),
        stroke_width=stroke,
        stroke_fill=(40, 40, 40, 255),
    )
    return label


def _scale_alpha(layer: Image.Image, opacity: float) -> Image.Image:
    out = layer.copy()
    out.putalpha(layer.getchannel("A").point(lambda a: round(a * opacity)))
    return out


# --------------------------------------------------------------------------------- screenshot


@dataclass(frozen=True)
class _Theme:
    page: RGB
    text: RGB
    muted: RGB
    border: RGB
    accent: RGB
    panel: RGB


_LIGHT = _Theme(
    (255, 255, 255), (15, 20, 25), (83, 100, 113), (207, 217, 222), (29, 155, 240), (247, 249, 249)
)
_DARK = _Theme((0, 0, 0), (231, 233, 234), (113, 118, 123), (47, 51, 54), (29, 155, 240), (22, 24, 28))
_DIM = _Theme((21, 32, 43), (247, 249, 249), (139, 152, 165), (56, 68, 77), (29, 155, 240), (30, 39, 50))


def _counter(rng: random.Random) -> str:
    value = int(10 ** rng.uniform(0.5, 5.3))
    if value >= 1000:
        return f"{value / 1000:.1f}K".replace(".0K", "K")
    return str(value)


def _icon(draw: ImageDraw.ImageDraw, kind: str, x: float, y: float, s: float, colour: RGB) -> None:
    """Outline icons for footers and navigation bars, in the square (x, y, s)."""
    w = max(1, round(s / 11))
    if kind == "reply":
        draw.rounded_rectangle((x, y + s * 0.1, x + s, y + s * 0.75), radius=s * 0.3, outline=colour, width=w)
        draw.line((x + s * 0.3, y + s * 0.75, x + s * 0.25, y + s * 0.95), fill=colour, width=w)
    elif kind == "repost":
        draw.line(
            (x + s * 0.2, y + s * 0.7, x + s * 0.2, y + s * 0.25, x + s * 0.8, y + s * 0.25),
            fill=colour,
            width=w,
            joint="curve",
        )
        draw.polygon(
            ((x + s * 0.8, y + s * 0.1), (x + s, y + s * 0.25), (x + s * 0.8, y + s * 0.4)),
            fill=colour,
        )
        draw.line(
            (x + s * 0.8, y + s * 0.3, x + s * 0.8, y + s * 0.75, x + s * 0.2, y + s * 0.75),
            fill=colour,
            width=w,
            joint="curve",
        )
        draw.polygon(((x + s * 0.2, y + s * 0.6), (x, y + s * 0.75), (x + s * 0.2, y + s * 0.9)), fill=colour)
    elif kind == "like":
        draw.polygon(_heart_points(x, y + s * 0.05, s), outline=colour, width=w)
    elif kind == "share":
        draw.line((x + s / 2, y + s * 0.05, x + s / 2, y + s * 0.65), fill=colour, width=w)
        draw.line(
            (x + s * 0.25, y + s * 0.3, x + s / 2, y + s * 0.05, x + s * 0.75, y + s * 0.3),
            fill=colour,
            width=w,
        )
        draw.line(
            (
                x + s * 0.1,
                y + s * 0.55,
                x + s * 0.1,
                y + s * 0.95,
                x + s * 0.9,
                y + s * 0.95,
                x + s * 0.9,
                y + s * 0.55,
            ),
            fill=colour,
            width=w,
        )
    elif kind == "views":
        for i, top in enumerate((0.55, 0.15, 0.4)):
            bx = x + s * (0.15 + 0.3 * i)
            draw.line((bx, y + s * top, bx, y + s * 0.95), fill=colour, width=w + 1)
    elif kind == "home":
        draw.polygon(
            (
                (x + s / 2, y),
                (x + s, y + s * 0.45),
                (x + s * 0.85, y + s * 0.45),
                (x + s * 0.85, y + s),
                (x + s * 0.15, y + s),
                (x + s * 0.15, y + s * 0.45),
                (x, y + s * 0.45),
            ),
            outline=colour,
            width=w,
        )
    elif kind == "search":
        draw.ellipse((x, y, x + s * 0.7, y + s * 0.7), outline=colour, width=w)
        draw.line((x + s * 0.6, y + s * 0.6, x + s, y + s), fill=colour, width=w + 1)
    elif kind == "bell":
        draw.chord((x + s * 0.1, y, x + s * 0.9, y + s * 1.3), 180, 360, outline=colour, width=w)
        draw.line((x, y + s * 0.75, x + s, y + s * 0.75), fill=colour, width=w)
        draw.ellipse((x + s * 0.4, y + s * 0.8, x + s * 0.6, y + s), fill=colour)
    else:  # mail
        draw.rectangle((x, y + s * 0.15, x + s, y + s * 0.85), outline=colour, width=w)
        draw.line((x, y + s * 0.15, x + s / 2, y + s * 0.55, x + s, y + s * 0.15), fill=colour, width=w)


def _avatar(draw: ImageDraw.ImageDraw, x: float, y: float, d: float, name: str, rng: random.Random) -> None:
    colour = (rng.randint(40, 220), rng.randint(40, 220), rng.randint(40, 220))
    draw.ellipse((x, y, x + d, y + d), fill=colour)
    draw.text(
        (x + d / 2, y + d / 2),
        name[0].upper(),
        font=_ui_font(round(d * 0.5), bold=True),
        fill=WHITE,
        anchor="mm",
    )


def _post_text(rng: random.Random, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    text = random_caption(rng, (3, 14))
    if rng.random() < 0.4:
        text += " " + rng.choice(("lol", "#meme", "#relatable", "fr", "(real)", "again"))
    text = text[0].upper() + text[1:]
    return _wrap(text, font, width)[:2]


def _draw_post(
    out: Image.Image,
    picture: Image.Image,
    rng: random.Random,
    x0: float,
    y0: float,
    col_w: float,
    u: float,
    max_pic_h: float,
    theme: _Theme,
) -> float:
    """Draw one post (header, text, picture, footer) into a column; return the bottom y."""
    draw = ImageDraw.Draw(out)
    pad, d = 16 * u, 40 * u
    name = rng.choice(_NAMES)
    handle = "@" + name.lower().replace(" ", "_").replace(".", "")
    stamp = rng.choice(("2h", "14m", "5h", "Mar 3", "1d", "Just now", "Nov 18"))
    _avatar(draw, x0 + pad, y0 + pad, d, name, rng)
    tx = x0 + pad + d + 12 * u
    draw.text((tx, y0 + pad + 1 * u), name, font=_ui_font(round(15 * u), True), fill=theme.text)
    draw.text(
        (tx, y0 + pad + 21 * u),
        f"{handle} · {stamp}",
        font=_ui_font(round(14 * u)),
        fill=theme.muted,
    )
    y = y0 + pad + d + 12 * u
    body = _ui_font(round(16 * u))
    for line in _post_text(rng, body, col_w - 2 * pad):
        draw.text((x0 + pad, y), line, font=body, fill=theme.text)
        y += 22 * u
    y += 10 * u
    scale = min((col_w - 2 * pad) / picture.width, max_pic_h / picture.height)
    pic = picture.resize(
        (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
        Image.Resampling.BILINEAR,
    )
    px = round(x0 + (col_w - pic.width) / 2)
    py = round(y)
    box = (px - 1, py - 1, px + pic.width, py + pic.height)
    if rng.random() < 0.7:  # rounded corners with a hairline
        radius = round(14 * u)
        mask = Image.new("L", pic.size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, pic.width - 1, pic.height - 1), radius, fill=255)
        out.paste(pic, (px, py), mask)
        draw.rounded_rectangle(box, radius, outline=theme.border, width=1)
    else:
        out.paste(pic, (px, py))
        draw.rectangle(box, outline=theme.border, width=1)
    y = py + pic.height + 12 * u
    if rng.random() < 0.5:
        views = _counter(rng)
        draw.text(
            (x0 + pad, y),
            f"10:{rng.randint(10, 59)} AM · {stamp} · {views} Views",
            font=_ui_font(round(14 * u)),
            fill=theme.muted,
        )
        y += 26 * u
    draw.line((x0 + pad, y, x0 + col_w - pad, y), fill=theme.border, width=1)
    y += 12 * u
    kinds = ("reply", "repost", "like", "views", "share")
    slot = (col_w - 2 * pad) / len(kinds)
    small = _ui_font(round(13 * u))
    for i, kind in enumerate(kinds):
        ix = x0 + pad + i * slot
        _icon(draw, kind, ix, y, 18 * u, theme.muted)
        if kind != "share":
            draw.text((ix + 24 * u, y + 1 * u), _counter(rng), font=small, fill=theme.muted)
    y += 30 * u
    draw.line((x0, y, x0 + col_w, y), fill=theme.border, width=1)
    return y


def _draw_feed(
    out: Image.Image,
    rng: random.Random,
    x0: float,
    y0: float,
    col_w: float,
    u: float,
    bottom: float,
    theme: _Theme,
) -> None:
    """Short text posts below the main one, the last cut off by the screen edge."""
    draw = ImageDraw.Draw(out)
    body = _ui_font(round(16 * u))
    y = y0
    while bottom - y >= 40 * u:
        name = rng.choice(_NAMES)
        _avatar(draw, x0 + 16 * u, y + 12 * u, 40 * u, name, rng)
        draw.text((x0 + 68 * u, y + 13 * u), name, font=_ui_font(round(15 * u), True), fill=theme.text)
        text = random_caption(rng, (3, 16))
        ty = y + 36 * u
        for line in _wrap(text[0].upper() + text[1:], body, col_w - 84 * u):
            if ty + 22 * u > bottom:
                return
            draw.text((x0 + 68 * u, ty), line, font=body, fill=theme.text)
            ty += 22 * u
        y = max(ty, y + 64 * u) + 12 * u
        draw.line((x0, y, x0 + col_w, y), fill=theme.border, width=1)


def _phone_screenshot(picture: Image.Image, rng: random.Random, theme: _Theme) -> Image.Image:
    width = rng.choice((720, 750, 828, 1080))
    u = width / 390
    height = round(width * rng.choice((16 / 9, 19.5 / 9)))
    nav_h = 50 * u
    out = Image.new("RGB", (width, height), theme.page)
    draw = ImageDraw.Draw(out)
    draw.text(
        (24 * u, 14 * u),
        rng.choice(("9:41", "14:07", "22:13", "8:02")),
        font=_ui_font(round(15 * u), True),
        fill=theme.text,
    )
    for i in range(4):  # signal bars and battery
        bx = width - 80 * u + i * 5 * u
        draw.rectangle((bx, 28 * u - i * 3 * u, bx + 3 * u, 30 * u), fill=theme.text)
    draw.rounded_rectangle(
        (width - 52 * u, 18 * u, width - 26 * u, 30 * u),
        3 * u,
        outline=theme.text,
        width=max(1, round(u)),
    )
    draw.rectangle((width - 50 * u, 20 * u, width - 50 * u + rng.uniform(6, 22) * u, 28 * u), fill=theme.text)
    draw.line((16 * u, 66 * u, 32 * u, 66 * u), fill=theme.text, width=round(2 * u))  # back arrow
    draw.line((24 * u, 58 * u, 16 * u, 66 * u, 24 * u, 74 * u), fill=theme.text, width=round(2 * u))
    draw.text((64 * u, 56 * u), "Post", font=_ui_font(round(19 * u), True), fill=theme.text)
    top = 97 * u
    chrome = top + 230 * u + nav_h
    max_pic_h = max(120 * u, min(1.3 * width, height - chrome))
    bottom = _draw_post(out, picture, rng, 0, top, width, u, max_pic_h, theme)
    if bottom + nav_h + 10 * u > height:  # a very long post: make the screen taller
        grown = Image.new("RGB", (width, round(bottom + nav_h + 10 * u)), theme.page)
        grown.paste(out, (0, 0))
        out, height = grown, grown.height
        draw = ImageDraw.Draw(out)
    _draw_feed(out, rng, 0, bottom, width, u, height - nav_h, theme)
    draw.rectangle((0, height - nav_h, width, height), fill=theme.page)
    draw.line((0, height - nav_h, width, height - nav_h), fill=theme.border, width=1)
    for i, kind in enumerate(("home", "search", "bell", "mail")):
        _icon(
            draw,
            kind,
            width * (0.125 + 0.25 * i) - 12 * u,
            height - nav_h + 13 * u,
            24 * u,
            theme.text,
        )
    return out


def _desktop_screenshot(picture: Image.Image, rng: random.Random, theme: _Theme) -> Image.Image:
    width, height = rng.choice(((1280, 800), (1366, 768), (1440, 900), (1920, 1080)))
    u = 1.0 if width < 1900 else 1.25
    side_w, col_w, right_w = 250 * u, 600 * u, 330 * u
    left = (width - (side_w + col_w + right_w)) / 2
    col_x = left + side_w
    out = Image.new("RGB", (width, height), theme.page)
    draw = ImageDraw.Draw(out)
    draw.ellipse((left + 12 * u, 12 * u, left + 44 * u, 44 * u), fill=theme.text)  # logo
    nav = ("Home", "Explore", "Notifications", "Messages", "Bookmarks", "Profile")
    for i, (label, kind) in enumerate(
        zip(nav, ("home", "search", "bell", "mail", "mail", "home"), strict=True)
    ):
        y = 70 * u + i * 56 * u
        _icon(draw, kind, left + 14 * u, y, 24 * u, theme.text)
        draw.text((left + 56 * u, y), label, font=_ui_font(round(19 * u), i == 0), fill=theme.text)
    py = 70 * u + len(nav) * 56 * u + 10 * u
    draw.rounded_rectangle((left + 8 * u, py, left + side_w - 24 * u, py + 50 * u), 25 * u, fill=theme.accent)
    draw.text(
        (left + side_w / 2 - 8 * u, py + 25 * u),
        "Post",
        font=_ui_font(round(17 * u), True),
        fill=WHITE,
        anchor="mm",
    )
    draw.line((col_x, 0, col_x, height), fill=theme.border)
    draw.line((col_x + col_w, 0, col_x + col_w, height), fill=theme.border)
    draw.line((col_x + 16 * u, 26 * u, col_x + 32 * u, 26 * u), fill=theme.text, width=2)
    draw.line(
        (col_x + 24 * u, 18 * u, col_x + 16 * u, 26 * u, col_x + 24 * u, 34 * u),
        fill=theme.text,
        width=2,
    )
    draw.text((col_x + 60 * u, 14 * u), "Post", font=_ui_font(round(20 * u), True), fill=theme.text)
    top = 53 * u
    max_pic_h = max(150 * u, height - top - 250 * u)
    bottom = _draw_post(out, picture, rng, col_x, top, col_w, u, max_pic_h, theme)
    _draw_feed(out, rng, col_x, bottom, col_w, u, height, theme)
    rx = col_x + col_w + 24 * u
    draw.rounded_rectangle((rx, 8 * u, rx + right_w - 32 * u, 50 * u), 21 * u, fill=theme.panel)
    _icon(draw, "search", rx + 16 * u, 20 * u, 17 * u, theme.muted)
    draw.text((rx + 44 * u, 19 * u), "Search", font=_ui_font(round(15 * u)), fill=theme.muted)
    box_bottom = min(height - 16 * u, 66 * u + 340 * u)
    draw.rounded_rectangle((rx, 66 * u, rx + right_w - 32 * u, box_bottom), 16 * u, fill=theme.panel)
    draw.text(
        (rx + 16 * u, 78 * u),
        "What's happening",
        font=_ui_font(round(19 * u), True),
        fill=theme.text,
    )
    y = 120 * u
    while y + 50 * u < box_bottom:
        draw.text((rx + 16 * u, y), "Trending", font=_ui_font(round(13 * u)), fill=theme.muted)
        draw.text(
            (rx + 16 * u, y + 18 * u),
            "#" + rng.choice(_WORDS).capitalize(),
            font=_ui_font(round(15 * u), True),
            fill=theme.text,
        )
        y += 60 * u
    return out


def screenshot(img: Image.Image, rng: random.Random) -> Image.Image:
    """A synthetic social-media post screenshot around the picture.

    Light, dark or dim theme; phone (720-1080 px wide, 16:9 or 19.5:9, status bar, app bar,
    bottom navigation) or desktop (1280x800 to 1920x1080, sidebar, timeline column, trends box).
    The post has an avatar, display name, @handle and timestamp, 1-2 lines of post text, the
    picture scaled into the column with rounded corners or a hairline border, a footer row of
    icons and counters, and the top of the next post below.
    """
    picture = _to_rgb(img)
    theme = rng.choice((_LIGHT, _LIGHT, _DARK, _DIM))
    if rng.random() < 0.6:
        return _phone_screenshot(picture, rng, theme)
    return _desktop_screenshot(picture, rng, theme)


# ------------------------------------------------------------------------------------ dispatch


def _caption_variant(img: Image.Image, rng: random.Random) -> Image.Image:
    return _random_top_bottom(img, rng)


def _panel_variant(img: Image.Image, rng: random.Random) -> Image.Image:
    text = random_caption(rng, (4, 14))
    return add_caption_panel(img, text[0].upper() + text[1:])


def _jpeg_resize_variant(img: Image.Image, rng: random.Random) -> Image.Image:
    return _jpeg(_resize(_random_top_bottom(img, rng), RESIZE_FACTOR), JPEG_QUALITY)


def _crop_variant(img: Image.Image, rng: random.Random) -> Image.Image:
    return _crop_sides(_random_top_bottom(img, rng), rng)


def _screenshot_variant(img: Image.Image, rng: random.Random) -> Image.Image:
    return screenshot(_random_top_bottom(img, rng), rng)


def _mirror_variant(img: Image.Image, rng: random.Random) -> Image.Image:
    return _random_top_bottom(ImageOps.mirror(_to_rgb(img)), rng)


def _greyscale_variant(img: Image.Image, rng: random.Random) -> Image.Image:
    return _to_rgb(img).convert("L").convert("RGB")


_GENERATORS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "caption": _caption_variant,
    "panel": _panel_variant,
    "caption_jpeg_resize": _jpeg_resize_variant,
    "caption_crop": _crop_variant,
    "screenshot": _screenshot_variant,
    "mirror": _mirror_variant,
    "rotate": _rotate,
    "greyscale": _greyscale_variant,
    "sticker": add_stickers,
    "watermark": add_watermark,
}


def make_variant(kind: str, image: Image.Image, rng: random.Random) -> Image.Image:
    """A new RGB variant of ``image`` of the given kind (one of :data:`VARIANT_KINDS`).

    Transparent input is flattened onto white first. Raises :class:`~memetrack.errors.BadInput`
    for an unknown kind.
    """
    try:
        generator = _GENERATORS[kind]
    except KeyError:
        raise BadInput(f"unknown variant kind {kind!r}", kind=kind, known=list(VARIANT_KINDS)) from None
    return generator(image, rng)


# ------------------------------------------------------------------------------------ cut-outs


@dataclass(frozen=True)
class Composite:
    """A cut-out pasted into a background, with the ground truth of where it went.

    ``quad`` holds where the corners of the cut-out's opaque bounding box (its own top-left,
    top-right, bottom-right, bottom-left, in that order) landed in ``image``, in pixel-edge
    coordinates. When ``mirrored`` the cut-out's top-left lands on the right, so the quad runs
    right to left; its bounding rectangle is the pasted box either way. ``scale`` is the pasted
    box's height over the shorter side of ``image``.
    """

    image: Image.Image
    quad: npt.NDArray[np.float64]
    scale: float
    mirrored: bool


def _opaque_crop(cutout: Image.Image) -> Image.Image:
    rgba = cutout.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    rows = np.flatnonzero((alpha >= ALPHA_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((alpha >= ALPHA_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise EmptyImage("the cut-out has no opaque pixels")
    return rgba.crop((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))


def composite_cutout(
    background: Image.Image,
    cutout: Image.Image,
    rng: random.Random,
    *,
    size_frac: float,
    mirror: bool,
    caption: bool,
    jpeg_quality: int | None,
) -> Composite:
    """Paste ``cutout`` (RGBA) into ``background`` at a random place, fully inside.

    The cut-out is cropped to its opaque bounding box (alpha >= 16), optionally mirrored, and
    scaled so its larger side is ``size_frac`` of the background's shorter side (0.2-0.6 in the
    evaluation), then alpha-composited. Optionally a top/bottom caption goes over the result and it
    is JPEG re-encoded at ``jpeg_quality``.
    """
    base = _to_rgb(background)
    width, height = base.size
    piece = _opaque_crop(cutout)
    if mirror:
        piece = ImageOps.mirror(piece)
    factor = size_frac * min(width, height) / max(piece.size)
    pw = min(width, max(1, round(piece.width * factor)))
    ph = min(height, max(1, round(piece.height * factor)))
    piece = piece.resize((pw, ph), Image.Resampling.LANCZOS)
    x, y = rng.randint(0, width - pw), rng.randint(0, height - ph)
    canvas = base.convert("RGBA")
    canvas.alpha_composite(piece, (x, y))
    image = canvas.convert("RGB")
    if caption:
        image = _random_top_bottom(image, rng)
    if jpeg_quality is not None:
        image = _jpeg(image, jpeg_quality)
    corners: Sequence[tuple[float, float]] = ((x, y), (x + pw, y), (x + pw, y + ph), (x, y + ph))
    if mirror:
        corners = (corners[1], corners[0], corners[3], corners[2])
    return Composite(
        image=image,
        quad=np.array(corners, dtype=np.float64),
        scale=ph / min(width, height),
        mirrored=mirror,
    )
