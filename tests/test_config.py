from pathlib import Path

import pytest

from memetrack.config import Settings, documented_settings
from memetrack.errors import EXIT_CODES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_has_help_and_is_in_the_readme() -> None:
    rows = documented_settings()
    assert len(rows) > 10
    for name, _default, help_text in rows:
        assert help_text, f"{name} has no help text"
        assert f"`{name}`" in README, f"{name} is not documented in README.md"


def test_environment_and_nested_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMETRACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEMETRACK_MATCHER__MIN_INLIERS", "99")
    s = Settings()
    assert s.data_dir == tmp_path and s.matcher.min_inliers == 99
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/memetrack.db"


def test_exit_codes_are_documented() -> None:
    for code in set(EXIT_CODES.values()) | {10}:
        assert f"| {code} |" in README
