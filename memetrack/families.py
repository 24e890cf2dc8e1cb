"""Template families: stored matcher representations, variant choice and shell recovery.

A media joins a family only by a verified match to the family's *representative* (never through
another member), so families cannot chain: A~B and B~C never put C with A unless C matches A's
family representative itself. Within a family, members whose full-image PDQ is within the
near-duplicate threshold of a variant's representative are that variant (same shell, same caption).
"""

from __future__ import annotations

import io
import json
import struct

import cv2
import numpy as np
from PIL import Image

from memetrack.appearance import Thumbnail
from memetrack.config import MatcherSettings
from memetrack.features import LocalFeatures, text_mask
from memetrack.hashing import PerceptualHash
from memetrack.matcher import Representation, TemplateMatch, TemplateMatcher

REPRESENTATION_ALGORITHM = "tmref"  # stored in media_features.algorithm
REPRESENTATION_VERSION = 2  # 2: with the appearance thumbnail
SAMPLE_MAX_SIDE = 768  # stored member samples (for shell recovery) are at most this large
SAMPLE_QUALITY = 90
_HEAD = struct.Struct("<I")


def pack_representation(rep: Representation) -> bytes:
    """A matcher reference as bytes: a small JSON header, the local features, then the
    appearance thumbnail (when there is one)."""
    feats = rep.features.to_bytes()
    header = json.dumps({"box": list(rep.box), "scale": rep.scale,
                         "pdq": bytes(rep.pdq).hex(), "quality": rep.pdq_quality,
                         "features": len(feats)}).encode()
    thumb = rep.thumb.to_bytes() if rep.thumb is not None else b""
    return _HEAD.pack(len(header)) + header + feats + thumb


def unpack_representation(data: bytes) -> Representation:
    (n,) = _HEAD.unpack_from(data)
    header = json.loads(data[_HEAD.size:_HEAD.size + n])
    start = _HEAD.size + n
    end = start + int(header.get("features", len(data) - start))
    feats = LocalFeatures.from_bytes(data[start:end])
    thumb = Thumbnail.from_bytes(data[end:]) if end < len(data) else None
    return Representation(tuple(header["box"]), float(header["scale"]),  # type: ignore[arg-type]
                          np.frombuffer(bytes.fromhex(header["pdq"]), np.uint8).copy(),
                          int(header["quality"]), feats, thumb)


def choose_variant(value: PerceptualHash, variants: list[tuple[int, bytes]],
                   threshold: int) -> tuple[int | None, int | None]:
    """The closest variant whose representative hash is within ``threshold`` (id, distance)."""
    best: tuple[int | None, int | None] = (None, None)
    for variant_id, bits in variants:
        d = value - PerceptualHash(value.algorithm, value.version, bits)
        if d <= threshold and (best[1] is None or d < best[1]):
            best = (variant_id, d)
    return best


def match_evidence(m: TemplateMatch, scale: float = 1.0) -> dict[str, object]:
    """What a membership records about how it matched; ``scale`` maps the matched pixels to the
    original image's (the region is reported in original pixels)."""
    return {"kind": m.kind, "score": round(float(m.score), 4), "inliers": m.inliers,
            "pdq_distance": m.distance, "mirrored": m.mirrored,
            "appearance": None if m.appearance is None else round(float(m.appearance), 3),
            "region": [[round(float(x) * scale, 1), round(float(y) * scale, 1)]
                       for x, y in m.region]}


def encode_sample(rgb: np.ndarray, alpha: np.ndarray | None = None) -> tuple[bytes, int, int]:
    """A media's pixels, downscaled, as kept in the store: JPEG, or PNG with its alpha channel
    when the image has transparency (cut-outs need their mask)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, SAMPLE_MAX_SIDE / max(h, w))
    img = Image.fromarray(rgb if alpha is None else np.dstack([rgb, alpha]))
    if scale < 1.0:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                         Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    if alpha is None:
        img.save(buf, "JPEG", quality=SAMPLE_QUALITY)
    else:
        img.save(buf, "PNG", compress_level=6)
    return buf.getvalue(), img.width, img.height


def decode_sample_rgba(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """A stored sample's RGB pixels and alpha channel (None for opaque samples)."""
    with Image.open(io.BytesIO(data)) as im:
        if im.mode == "RGBA":
            arr = np.asarray(im)
            return np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3])
        return np.asarray(im.convert("RGB")), None


def decode_sample(data: bytes, grey: int = 128) -> np.ndarray:
    """A stored sample as RGB, transparent pixels composited over neutral grey."""
    return over_grey(*decode_sample_rgba(data), grey=grey)


def over_grey(rgb: np.ndarray, alpha: np.ndarray | None, grey: int = 128) -> np.ndarray:
    """RGB with transparent pixels composited over neutral grey."""
    if alpha is None:
        return rgb
    a = alpha.astype(np.float32)[..., None] / 255.0
    return np.clip(rgb * a + grey * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)


def recover_shell(representative: np.ndarray, members: list[np.ndarray],
                  settings: MatcherSettings) -> tuple[np.ndarray, int]:
    """The blank shell: every member aligned to the representative, then the per-pixel median.

    Caption letters (white with a dark outline) are masked out of every aligned member first, so
    the median is taken over the members whose pixel there is picture; where every member has
    text, the hole is inpainted from its surroundings. Members that do not verify against the
    representative are skipped. Returns the image and how many members (representative
    included) it was built from.
    """
    matcher = TemplateMatcher(settings)
    rep = matcher.add_reference(0, representative)
    # the reference view may trim uniform borders: the shell is that view, in full resolution
    x0, y0, x1, y1 = (round(v / rep.scale) for v in rep.box)
    representative = np.ascontiguousarray(representative[y0:y1, x0:x1])
    h, w = representative.shape[:2]
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    stack = [representative]
    masks = [text_mask(representative)]
    for rgb in members:
        found = [m for m in matcher.match(rgb) if m.ref_id == 0]
        if not found:
            continue
        region = found[0].region.astype(np.float32)  # the reference view, in the member's pixels
        transform = cv2.getPerspectiveTransform(region, target)
        warped = cv2.warpPerspective(rgb, transform, (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
        outside = cv2.warpPerspective(np.full(rgb.shape[:2], 255, np.uint8), transform, (w, h),
                                      flags=cv2.INTER_NEAREST, borderValue=0) == 0
        stack.append(warped)
        masks.append(text_mask(warped) | outside)
    if len(stack) < 2:
        return representative, len(stack)
    pixels = np.stack(stack).astype(np.float32)
    hidden = np.stack(masks)
    pixels[hidden] = np.nan
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels are inpainted below
            shell = np.nanmedian(pixels, axis=0)
    holes = np.isnan(shell).any(axis=2)
    shell = np.nan_to_num(shell, nan=0.0).clip(0, 255).astype(np.uint8)
    if holes.any():
        shell = cv2.inpaint(shell, holes.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    return shell, len(stack)
