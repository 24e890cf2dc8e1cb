"""Safe image loading: sniff, cap, decode small, once.

``load_image`` is the one door through which image bytes enter memetrack. It

1. sniffs the real format from the first bytes (the file name and the declared content type are
   never trusted),
2. enforces the byte cap and, from the header alone, the pixel cap (decompression bombs never reach
   the decoder),
3. decodes the first frame of animations, applies the EXIF orientation, and decodes JPEGs at a
   reduced DCT scale when only a small image is needed,
4. coerces every mode (CMYK, 16-bit, palette with transparency, LA, ...) to 8-bit RGB, keeping
   the alpha channel separately when the image really has transparency.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from memetrack.errors import (
    BadInput,
    CorruptImage,
    EmptyImage,
    NotAnImage,
    NotFound,
    TooManyBytes,
    TooManyPixels,
    TruncatedImage,
    UnsupportedImageType,
)

SUPPORTED_FORMATS = ("jpeg", "png", "webp", "gif", "bmp", "tiff")
_PIL_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP",
              "tiff": "TIFF"}
NEUTRAL_GREY = 128


def sniff_format(head: bytes) -> str:
    """The image format named by the file's magic bytes; raises if it is not a supported image."""
    if not head:
        raise EmptyImage("the file is empty")
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    known_other = {
        b"%PDF": "pdf", b"8BPS": "psd", b"\x00\x00\x01\x00": "ico", b"qoif": "qoi",
    }
    for magic, name in known_other.items():
        if head.startswith(magic):
            raise UnsupportedImageType(f"{name} files are not supported", format=name)
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("latin-1", "replace").strip()
        raise UnsupportedImageType(f"ISO media ({brand}: HEIC/AVIF) is not supported",
                                   format=brand)
    stripped = head.lstrip()
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<svg"):
        raise UnsupportedImageType("SVG is not supported (vector images have no pixels)",
                                   format="svg")
    raise NotAnImage("the file is not an image (no known image signature)")


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image: 8-bit RGB pixels, optional alpha, and what the file said about itself."""

    format: str
    width: int  # of the original, after EXIF orientation
    height: int
    mode: str  # the original PIL mode
    frames: int
    rgb: np.ndarray  # H x W x 3 uint8, possibly reduced in size
    alpha: np.ndarray | None  # H x W uint8, only when the image has transparent pixels

    @property
    def has_alpha(self) -> bool:
        return self.alpha is not None

    @property
    def scale(self) -> float:
        """Decoded size over original size."""
        return self.rgb.shape[1] / self.width

    def flattened(self, grey: int = NEUTRAL_GREY) -> np.ndarray:
        """RGB composited over neutral grey (the `full` view); the pixels if there is no alpha."""
        if self.alpha is None:
            return self.rgb
        a = self.alpha.astype(np.float32)[..., None] / 255.0
        out = self.rgb.astype(np.float32) * a + grey * (1.0 - a)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def rgba(self) -> np.ndarray:
        alpha = self.alpha if self.alpha is not None else np.full(self.rgb.shape[:2], 255, np.uint8)
        return np.dstack([self.rgb, alpha])


def _target_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if not max_side or max(width, height) <= max_side:
        return width, height
    ratio = max_side / max(width, height)
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale with OpenCV: area averaging for large reductions (no aliasing), bilinear for
    small ones (area averaging at non-integer ratios is 4x slower; PIL's resize is slower still).
    Measured on a 1024x768 image here: PIL bilinear 10 ms, OpenCV area 6 ms, OpenCV bilinear
    1.5 ms."""
    ratio = pixels.shape[1] / max(1, size[0])
    interp = cv2.INTER_AREA if ratio >= 2.0 else cv2.INTER_LINEAR
    return cv2.resize(pixels, size, interpolation=interp)


def fit(pixels: np.ndarray, side: int) -> np.ndarray:
    """``pixels`` shrunk (area averaging) so that the longer side is at most ``side``; unchanged
    when already small enough. The one shared helper for every stage that works at a fixed size."""
    h, w = pixels.shape[:2]
    if max(h, w) <= side:
        return pixels
    k = side / max(h, w)
    return cv2.resize(pixels, (max(1, round(w * k)), max(1, round(h * k))),
                      interpolation=cv2.INTER_AREA)


def _to_rgb_alpha(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = im.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 or mode.startswith("I;16") else 255.0
        grey = np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return np.dstack([grey] * 3), None
    has_transparency = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    if has_transparency:
        arr = np.asarray(im.convert("RGBA"))
        alpha = np.ascontiguousarray(arr[..., 3])
        rgb = np.ascontiguousarray(arr[..., :3])
        if alpha.min() == 255:
            return rgb, None
        return rgb, alpha
    return np.ascontiguousarray(np.asarray(im.convert("RGB"))), None


def read_header(data: bytes, *, max_bytes: int, max_pixels: int) -> tuple[str, Image.Image]:
    """Sniff and open lazily, enforcing the byte and pixel caps before any decoding."""
    if len(data) == 0:
        raise EmptyImage("the file is empty")
    if len(data) > max_bytes:
        raise TooManyBytes(
            f"file has {len(data)} bytes, more than the limit of {max_bytes}",
            bytes=len(data), limit=max_bytes,
        )
    fmt = sniff_format(data[:32])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[_PIL_NAMES[fmt]])
    except Image.DecompressionBombError:
        raise TooManyPixels("image declares far too many pixels (a decompression bomb)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = ("the header is damaged" if isinstance(exc, UnidentifiedImageError)
                  else str(exc))
        if len(data) < 64 or "truncated" in reason.lower():
            raise TruncatedImage(f"{fmt} file is truncated: {reason}", format=fmt) from None
        raise CorruptImage(f"{fmt} file cannot be read: {reason}", format=fmt) from None
    width, height = im.size
    if width <= 0 or height <= 0:
        raise EmptyImage(f"image has zero size ({width}x{height})", format=fmt)
    if width * height > max_pixels:
        raise TooManyPixels(
            f"image has {width}x{height} = {width * height} pixels, "
            f"more than the limit of {max_pixels}",
            width=width, height=height, limit=max_pixels,
        )
    return fmt, im


def load_image(
    data: bytes, *, max_bytes: int, max_pixels: int, max_side: int | None = None
) -> LoadedImage:
    """Decode image bytes safely; the result's longer side is at most ``max_side``."""
    fmt, im = read_header(data, max_bytes=max_bytes, max_pixels=max_pixels)
    frames = int(getattr(im, "n_frames", 1) or 1)
    mode = im.mode
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the image
        orientation = 1
    width, height = im.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if fmt == "jpeg" and max_side:
                im.draft(None, _target_size(im.width, im.height, max_side))
            if frames > 1:
                im.seek(0)
            im.load()
            if orientation != 1:
                im = ImageOps.exif_transpose(im)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        msg = str(exc)
        if "truncated" in msg.lower() or isinstance(exc, EOFError):
            raise TruncatedImage(f"{fmt} file is truncated: {msg}", format=fmt) from None
        raise CorruptImage(f"{fmt} file cannot be decoded: {msg}", format=fmt) from None
    rgb, alpha = _to_rgb_alpha(im)
    size = _target_size(rgb.shape[1], rgb.shape[0], max_side)
    if size != (rgb.shape[1], rgb.shape[0]):
        rgb = resize(rgb, size)
        if alpha is not None:
            alpha = resize(alpha, size)
    return LoadedImage(fmt, width, height, mode, frames, rgb, alpha)


def read_capped(path: str | Path, max_bytes: int) -> bytes:
    """A file's bytes, reading at most one byte past the cap (so the cap check still fires)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}") from None
    except IsADirectoryError:
        raise BadInput(f"is a folder, not a file: {path}") from None
