"""Reading sighting manifests (JSONL or CSV) delivered by scrapers.

One row per post: ``path`` (the media file, relative to the manifest's folder) and the sighting
fields ``platform, account, post_id, url, posted_at, collected_at, text``. A bad row is reported
with its line number and reason; the other rows are still used.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from memetrack.errors import BadMetadata, MemetrackError
from memetrack.records import SightingInput

PATH_KEYS = ("path", "file", "media_path")


@dataclass(frozen=True)
class ManifestRow:
    line: int
    path: Path
    sighting: SightingInput | None


@dataclass(frozen=True)
class ManifestError:
    line: int
    code: str
    message: str


def _rows(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    suffix = path.suffix.lower()
    with path.open(newline="", encoding="utf-8") as fh:
        if suffix == ".csv":
            reader = csv.DictReader(fh)
            for row in reader:
                yield reader.line_num, dict(row), None
            return
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, None, f"not valid JSON: {exc.msg}"
                continue
            if not isinstance(value, dict):
                yield number, None, "a row must be a JSON object"
                continue
            yield number, value, None


def read_manifest(path: Path) -> tuple[list[ManifestRow], list[ManifestError]]:
    """Parse and validate a whole manifest (``.csv``; anything else is read as JSONL)."""
    if not path.is_file():
        raise BadMetadata(f"manifest not found: {path}")
    base = path.resolve().parent
    rows: list[ManifestRow] = []
    errors: list[ManifestError] = []
    for line, raw, problem in _rows(path):
        if raw is None:
            errors.append(ManifestError(line, BadMetadata.code, problem or "bad row"))
            continue
        file_value = next((raw[k] for k in PATH_KEYS if raw.get(k)), None)
        if not isinstance(file_value, str):
            errors.append(ManifestError(line, BadMetadata.code, "row has no media path ('path')"))
            continue
        try:
            sighting = SightingInput.from_mapping(raw)
        except MemetrackError as exc:
            errors.append(ManifestError(line, exc.code, exc.message))
            continue
        media_path = Path(file_value)
        rows.append(ManifestRow(line, media_path if media_path.is_absolute() else base / media_path,
                                sighting))
    return rows, errors
