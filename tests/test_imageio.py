import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from memetrack import errors
from memetrack.imageio import load_image, sniff_format
from tests.imagegen import encode, scene

CAPS = {"max_bytes": 20_000_000, "max_pixels": 40_000_000}


def load(data: bytes, **kw):  # type: ignore[no-untyped-def]
    return load_image(data, **(CAPS | kw))


@pytest.mark.parametrize("fmt,name", [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"),
                                      ("GIF", "gif"), ("BMP", "bmp"), ("TIFF", "tiff")])
def test_sniffs_real_format_whatever_the_name(fmt: str, name: str) -> None:
    data = encode(scene(1, 64, 48), fmt)
    assert sniff_format(data[:32]) == name
    img = load(data)
    assert img.format == name and (img.width, img.height) == (64, 48)
    assert img.rgb.shape == (48, 64, 3) and img.rgb.dtype == np.uint8


def test_jpeg_is_decoded_at_reduced_scale() -> None:
    data = encode(scene(2, 1600, 1200), "JPEG", quality=90)
    img = load(data, max_side=512)
    assert (img.width, img.height) == (1600, 1200)
    assert max(img.rgb.shape[:2]) == 512


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = encode(scene(3, 80, 60), "PNG")
    cmyk = Image.open(io.BytesIO(data)).convert("CMYK")
    buf = io.BytesIO()
    cmyk.save(buf, "JPEG")
    img = load(buf.getvalue())
    assert img.mode == "CMYK" and img.rgb.shape == (60, 80, 3)


def test_16_bit_grey_png_is_scaled_to_8_bits() -> None:
    ramp = (np.linspace(0, 65535, 100 * 50).reshape(50, 100)).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(ramp).save(buf, "PNG")
    img = load(buf.getvalue())
    assert img.rgb.shape == (50, 100, 3)
    assert img.rgb[0, 0, 0] == 0 and img.rgb[-1, -1, 0] == 255


def test_palette_png_with_transparency_keeps_alpha() -> None:
    pal = Image.new("P", (40, 40), 0)
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.paste(1, (10, 10, 30, 30))
    buf = io.BytesIO()
    pal.save(buf, "PNG", transparency=0)
    img = load(buf.getvalue())
    assert img.has_alpha and img.alpha is not None
    assert img.alpha[0, 0] == 0 and img.alpha[20, 20] == 255
    assert tuple(img.flattened()[0, 0]) == (128, 128, 128)  # transparent -> neutral grey


def test_opaque_rgba_has_no_alpha() -> None:
    rgba = np.dstack([scene(4, 30, 30), np.full((30, 30), 255, np.uint8)])
    assert not load(encode(rgba, "PNG")).has_alpha


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_images_use_the_first_frame(fmt: str) -> None:
    frames = [Image.fromarray(np.full((32, 32, 3), c, np.uint8)) for c in (10, 250, 120)]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    img = load(buf.getvalue())
    assert img.frames == 3
    assert abs(int(img.rgb[16, 16, 0]) - 10) < 12


def test_exif_orientation_is_applied() -> None:
    rgb = np.zeros((40, 80, 3), np.uint8)
    rgb[:, :40] = 255  # left half white
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 clockwise on display
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    img = load(buf.getvalue())
    assert (img.width, img.height) == (40, 80)
    assert img.rgb.shape == (80, 40, 3)
    assert img.rgb[5, 20, 0] > 200 and img.rgb[75, 20, 0] < 50  # white half is now on top


def test_one_pixel_image_loads() -> None:
    assert load(encode(np.zeros((1, 1, 3), np.uint8), "PNG")).rgb.shape == (1, 1, 3)


def test_truncated_jpeg() -> None:
    data = encode(scene(5, 300, 200), "JPEG")
    with pytest.raises(errors.TruncatedImage):
        load(data[: len(data) // 2])


def test_not_an_image() -> None:
    with pytest.raises(errors.NotAnImage):
        load(b"hello, I am a text file pretending to be a PNG\n")


def test_empty_file() -> None:
    with pytest.raises(errors.EmptyImage):
        load(b"")


def test_too_many_bytes_is_refused_before_decoding() -> None:
    data = encode(scene(6, 100, 100), "PNG")
    with pytest.raises(errors.TooManyBytes) as info:
        load(data, max_bytes=len(data) - 1)
    assert info.value.http_status == 413


def _png_with_declared_size(width: int, height: int) -> bytes:
    data = bytearray(encode(np.zeros((8, 8, 3), np.uint8), "PNG"))
    ihdr = 8 + 8  # signature, then length+type of IHDR
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:ihdr + 13]))
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_decompression_bomb_is_refused_from_the_header() -> None:
    with pytest.raises(errors.TooManyPixels):
        load(_png_with_declared_size(100_000, 100_000))


def test_pixel_cap_from_settings() -> None:
    with pytest.raises(errors.TooManyPixels):
        load(encode(scene(7, 200, 100), "PNG"), max_pixels=199 * 100)


@pytest.mark.parametrize("head,fmt", [
    (b"%PDF-1.7\n", "pdf"), (b"<?xml version='1.0'?><svg", "svg"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00", "heic"),
])
def test_unsupported_types(head: bytes, fmt: str) -> None:
    with pytest.raises(errors.UnsupportedImageType) as info:
        load(head + b"\x00" * 64)
    assert info.value.http_status == 415


def test_damaged_png_header() -> None:
    data = bytearray(encode(scene(8, 64, 64), "PNG"))
    data[29] ^= 0xFF  # break the IHDR checksum
    with pytest.raises(errors.CorruptImage, match="damaged"):
        load(bytes(data))
