"""The one typed settings object.

Every field has help text; values come from arguments, then ``MEMETRACK_*`` environment
variables (nested groups use a double underscore: ``MEMETRACK_MATCHER__MIN_INLIERS``).
A test checks that every setting is documented in the README.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MatcherSettings(BaseModel):
    """Thresholds of the caption-robust template matcher (calibrated by ``memetrack eval shells``)."""

    min_inliers: int = Field(12, description="RANSAC inliers needed to accept a local-feature match.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEMETRACK_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        Path("data"),
        description="Folder for the embedded SQLite store and the persisted FAISS indexes.",
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the store, e.g. postgresql+psycopg://user@host/db. "
            "Empty: SQLite file memetrack.db inside data_dir."
        ),
    )
    max_image_bytes: int = Field(
        50 * 1024 * 1024, description="Largest accepted image file, in bytes (larger: 413)."
    )
    max_image_pixels: int = Field(
        60_000_000,
        description="Largest accepted width*height, checked from the header before decoding.",
    )
    decode_max_side: int = Field(
        512,
        description=(
            "Hashes and features are computed on a decode whose longer side is at most this "
            "(JPEGs are decoded at reduced DCT scale)."
        ),
    )
    pdq_threshold: int = Field(
        31, description="Largest PDQ Hamming distance (of 256 bits) reported as a near-duplicate."
    )
    pdq_min_quality: int = Field(
        50, description="PDQ hashes of lower quality (flat images) are not used for matching."
    )
    phash_threshold: int = Field(
        10, description="Largest pHash Hamming distance (of 64 bits) reported as a near-duplicate."
    )
    match_limit: int = Field(10, description="Most near-duplicates returned by one match.")
    workers: int = Field(
        0, description="Processes used to hash a batch; 0 means one per CPU core."
    )
    batch_size: int = Field(64, description="Images written to the store per transaction in a batch.")
    faiss_threads: int = Field(
        1, description="OpenMP threads FAISS may use (one is fastest for single queries here)."
    )
    host: str = Field("127.0.0.1", description="Address `memetrack serve` listens on.")
    port: int = Field(8000, description="Port `memetrack serve` listens on.")
    matcher: MatcherSettings = Field(
        default_factory=MatcherSettings, description="Template-matcher thresholds."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'memetrack.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
