"""One error hierarchy for the whole library.

Every error carries a stable machine-readable ``code`` and a human ``message``; the edges map the
class to an HTTP status (``service/errors.py``) and to a CLI exit code (``EXIT_CODES`` below).
"""

from __future__ import annotations

from typing import Any


class MemetrackError(Exception):
    """Base class. ``code`` is stable and documented; ``details`` is extra JSON-able data."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class BadInput(MemetrackError):
    """The caller sent something unusable."""

    code = "bad_input"
    http_status = 400


class ImageError(BadInput):
    """Base for everything wrong with an image file."""

    code = "bad_image"
    http_status = 400


class NotAnImage(ImageError):
    code = "not_an_image"
    http_status = 400


class UnsupportedImageType(ImageError):
    code = "unsupported_type"
    http_status = 415


class TruncatedImage(ImageError):
    code = "truncated_image"
    http_status = 400


class CorruptImage(ImageError):
    code = "corrupt_image"
    http_status = 400


class TooManyPixels(ImageError):
    code = "too_many_pixels"
    http_status = 413


class TooManyBytes(ImageError):
    code = "too_many_bytes"
    http_status = 413


class EmptyImage(ImageError):
    code = "empty_image"
    http_status = 400


class BadMetadata(BadInput):
    code = "bad_metadata"
    http_status = 422


class BadHash(BadInput):
    code = "bad_hash"
    http_status = 422


class NotFound(MemetrackError):
    code = "not_found"
    http_status = 404


class Conflict(MemetrackError):
    code = "conflict"
    http_status = 409


class NotReady(MemetrackError):
    code = "not_ready"
    http_status = 503


class StoreError(MemetrackError):
    code = "store_error"
    http_status = 500


# CLI exit codes, by class (first match in MRO order wins). Documented in the README.
EXIT_OK = 0
EXIT_CODES: dict[type[MemetrackError], int] = {
    BadMetadata: 4,
    ImageError: 3,
    BadInput: 2,
    NotFound: 5,
    Conflict: 6,
    NotReady: 7,
    StoreError: 8,
    MemetrackError: 1,
}
EXIT_PARTIAL = 10  # a batch finished but some files failed


def exit_code_for(error: MemetrackError) -> int:
    for klass in type(error).__mro__:
        if klass in EXIT_CODES:
            return EXIT_CODES[klass]
    return 1
