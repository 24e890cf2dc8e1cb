"""The benchmark commands run and report every figure (their speeds are never asserted)."""

from __future__ import annotations

from pathlib import Path

from memetrack.bench import bench_index, bench_search


def test_bench_index_reports_every_rate_on_its_files(tmp_path: Path) -> None:
    result = bench_index(n=20, workers=2, keep=tmp_path / "files")
    assert result.files == 20
    assert result.shape == {"jpeg_1024x768": 9, "jpeg_1600x1200": 9, "png_rgba_800x600": 2}
    for rate in (result.decode_only_per_s, result.naive_imagehash_per_s,
                 result.global_hash_index_per_s, result.full_index_per_s):
        assert rate > 0
    assert result.peak_rss_mb > 0
    assert set(result.cpu_ms_per_file) == {"global hashes", "full indexing"}
    for cpu in result.cpu_ms_per_file.values():
        assert cpu["main"] > 0 and cpu["workers"] > 0 and cpu["cores_busy"] > 0
    assert "full indexing" in result.table()
    again = bench_index(n=20, workers=2, keep=tmp_path / "files")  # reuses the files
    assert again.shape == result.shape


def test_bench_search_measures_each_size() -> None:
    result = bench_search(sizes=(5_000, 10_000), queries=5)
    assert [int(r["size"]) for r in result.rows] == [5_000, 10_000]
    for row in result.rows:
        # PDQ (32 bytes) + pHash (8 bytes) per media at the very least
        assert row["bytes_per_media"] > 40
        assert row["match_median_ms"] > 0 and row["pdq_median_ms"] > 0


def test_bench_pdq_scale_compares_downscaled_copies_with_the_full_image(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from memetrack.bench import _picture, bench_pdq_scale

    rng = np.random.default_rng(3)
    for i in range(3):
        Image.fromarray(_picture(rng, 800, 600)).save(tmp_path / f"{i}.jpg", quality=90)
    Image.fromarray(_picture(rng, 300, 200)).save(tmp_path / "small.png")  # under 600 px
    (tmp_path / "notes.txt").write_text("not an image")
    result = bench_pdq_scale(tmp_path, sides=(256, 1024))
    assert result.images == 3
    by_side = {int(r["side"]): r for r in result.rows}
    assert by_side[1024]["median"] == 0  # not upscaled: the full image itself
    assert by_side[256]["median"] > 0
    assert "longer side" in result.table()
