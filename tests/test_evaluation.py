"""The two evaluation commands, end to end on a small folder of drawn templates and cut-outs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from memetrack.cli import main
from memetrack.evaluation.shells import format_table, pooled, run_shell_eval
from tests.imagegen import encode
from tests.matcher_scenes import scene


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("templates")
    for i, name in enumerate("abcdef"):
        (root / f"meme_{name}__0.png").write_bytes(encode(scene(700 + i, 420, 320), "PNG"))
    # nothing visible: no template (flattened it is a grey rectangle)
    blank = np.zeros((200, 200, 4), np.uint8)
    blank[..., :3] = scene(790, 200, 200)
    (root / "blank__logo.png").write_bytes(encode(blank, "PNG"))
    # cut-outs: about half transparent
    for i, name in enumerate("xyz"):
        alpha = np.zeros((300, 260), np.uint8)
        cv2.ellipse(alpha, (130, 150), (110, 135), 0, 0, 360, 255, -1)
        rgba = np.dstack([scene(800 + i, 260, 300), alpha])
        (root / f"cut_{name}__0.png").write_bytes(encode(rgba, "PNG"))
    return root


def test_eval_shells_reports_every_kind_with_baselines(folder: Path) -> None:
    report = run_shell_eval(folder, split="all", index_size=20, kinds=["caption", "panel"])
    assert report.skipped_blank == ["blank__logo.png"]
    assert report.n_indexed_templates + report.n_heldout_templates == 6
    assert report.n_heldout_templates == 2 and report.n_distractors == 16
    for kind in ("caption", "panel"):
        m = report.row(kind)
        assert (m.n_positive, m.n_negative) == (4, 2)
        assert m.recall >= 0.75 and m.false_positive_rate == 0.0 and m.median_ms > 0
        assert {report.row(kind, b).method for b in ("pdq", "phash")} == {"pdq", "phash"}
    # a panel above the picture moves the whole-image hashes away, not the matcher
    assert report.row("panel").recall > report.row("panel", "pdq").recall
    total = pooled(report)
    assert total["negatives"] == 4 and total["positives"] == 8
    table = format_table(report)
    assert "skipped (nothing visible): blank__logo.png" in table
    assert "matcher, all kinds: held-out queries matched 0 of 4" in table


def test_eval_shells_is_reproducible_from_the_cli(folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["eval", "shells", "--templates", str(folder), "--split", "all", "--index-size", "20",
            "--kinds", "caption", "--no-baselines", "--json", "--quiet"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    strip = [{k: v for k, v in r.items() if k != "median_ms"} for r in first["rows"]]
    assert strip == [{k: v for k, v in r.items() if k != "median_ms"} for r in second["rows"]]
    assert first["pooled"]["matcher"]["negatives"] == 2
    assert [r["method"] for r in first["rows"]] == ["matcher"]


def test_eval_cutouts_from_the_cli(folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["eval", "cutouts", "--cutouts", str(folder), "--split", "all", "--per-bucket",
                 "1", "--negatives-per-bucket", "1", "--scale-to", "0", "--json", "--quiet"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["registered"] + out["heldout"] == 3
    buckets = {r["bucket"] for r in out["rows"]}
    assert len(buckets) == 3
    for row in out["rows"]:
        assert 0.0 <= row["recall"] <= 1.0 and 0.0 <= row["false_positive_rate"] <= 1.0
    found = [r for r in out["rows"] if r["recall"] > 0]
    assert found and all(r["median_iou"] >= 0.8 for r in found)


def test_eval_shells_pools_several_seeds(folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["eval", "shells", "--templates", str(folder), "--split", "all", "--index-size", "20",
            "--kinds", "caption", "--no-baselines", "--quiet", "--seeds", "0,1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "split `all`, seed 0" in out and "split `all`, seed 1" in out
    assert "| kind | seed 0 | seed 1 | pooled |" in out
    assert "all kinds and seeds: held-out queries matched 0 of 4" in out
    assert main([*args, "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in reports] == [0, 1]
    pooled_row = [line for line in out.splitlines() if line.startswith("| caption |")][-1]
    found = sum(round(r["rows"][0]["recall"] * r["rows"][0]["n_positive"]) for r in reports)
    assert pooled_row.endswith(f"({found} of 8) |")


def test_eval_cutouts_pools_several_seeds(folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["eval", "cutouts", "--cutouts", str(folder), "--split", "all", "--per-bucket", "1",
            "--negatives-per-bucket", "1", "--scale-to", "0", "--quiet", "--seeds", "0,1"]
    assert main([*args, "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in reports] == [0, 1]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "split `all`, seed 0" in out and "split `all`, seed 1" in out
    assert "| seed 0 | seed 1 | pooled recall |" in out
    for bucket in ("20-30 %", "30-45 %", "45-60 %"):
        rows = [next(r for r in rep["rows"] if r["bucket"] == bucket) for rep in reports]
        found = sum(round(r["recall"] * r["n_positive"]) for r in rows)
        positives = sum(r["n_positive"] for r in rows)
        hits = sum(round(r["false_positive_rate"] * r["n_negative"]) for r in rows)
        negatives = sum(r["n_negative"] for r in rows)
        line = next(x for x in out.splitlines() if x.startswith(f"| {bucket} | the split's own |"))
        assert f"({found} of {positives})" in line and f"({hits} of {negatives})" in line


def test_eval_commands_refuse_a_missing_folder_or_one_without_cut_outs(
        folder: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    missing = str(tmp_path / "nowhere")
    assert main(["eval", "shells", "--templates", missing, "--quiet"]) == 2
    assert "not a folder" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "only__0.png").write_bytes((folder / "meme_a__0.png").read_bytes())
    assert main(["eval", "cutouts", "--cutouts", str(plain), "--quiet"]) == 2
    assert "need at least one cut-out" in capsys.readouterr().err


def test_most_missed_cut_outs_are_counted_per_bucket() -> None:
    from memetrack.evaluation.cutouts import CutoutEvalReport, Miss, format_missed

    def miss(bucket: str, file: str, positive: bool = True,
             got: tuple[str, ...] = ()) -> Miss:
        return Miss(bucket, file, positive, 0.3, False, False, None, got, None)

    first = CutoutEvalReport("dev", 0, 2, 2, 1, 1, 5, 0, misses=[
        miss("20-30 %", "drop.png"), miss("30-45 %", "drop.png"),
        miss("30-45 %", "logo.png"),
        miss("45-60 %", "held.png", positive=False, got=("drop.png",)),  # a false positive
        miss("45-60 %", "logo.png", got=("logo.png", "other.png")),  # found, plus a wrong one
    ])
    second = CutoutEvalReport("dev", 1, 2, 2, 1, 1, 5, 0,
                              misses=[miss("30-45 %", "drop.png"), miss("45-60 %", "logo.png")])
    table = format_missed([first, second]).splitlines()
    assert table[0] == "| most often missed cut-out | 20-30 % | 30-45 % | 45-60 % | all |"
    assert table[2:] == ["| drop.png | 1 | 2 | 0 | 3 |", "| logo.png | 0 | 1 | 1 | 2 |"]
    assert format_missed([CutoutEvalReport("dev", 0, 2, 2, 1, 1, 5, 0)]) == ""


def test_seeds_pool_when_each_seed_registers_a_different_number() -> None:
    from memetrack.evaluation.cutouts import BucketRow, CutoutEvalReport, format_seeds

    def report(seed: int, registered: int, found: int) -> CutoutEvalReport:
        rows = [BucketRow("30-45 %", registered, 10, 20, found / 10, 0.05, 0, 0.99, 30.0),
                BucketRow("30-45 %", 500, 10, 20, (found - 1) / 10, 0.1, 1, 0.99, 40.0)]
        return CutoutEvalReport("dev", seed, registered, 5, 3, 2, 9, 500, rows=rows)

    table = format_seeds([report(0, 31, 9), report(1, 33, 7)]).splitlines()
    assert table[2] == ("| 30-45 % | the split's own | 0.900 | 0.700 | 0.800 (16 of 20) "
                        "| 0.0500 (2 of 40) | 0 |")
    assert table[3] == "| 30-45 % | 500 | 0.800 | 0.600 | 0.700 (14 of 20) | 0.1000 (4 of 40) | 2 |"
    # without the 500-registered runs (--scale-to 0): one line per bucket
    unscaled = [report(0, 31, 9), report(1, 33, 7)]
    for r in unscaled:
        r.rows = r.rows[:1]
    assert format_seeds(unscaled).splitlines()[2:] == [table[2]]


def test_seeds_must_be_whole_numbers(capsys) -> None:  # type: ignore[no-untyped-def]
    for command in (["eval", "cutouts", "--cutouts", "x"], ["eval", "shells", "--templates", "x"]):
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--seeds", "0,one"])
        assert exit_.value.code == 2
        assert "expected comma-separated whole numbers" in capsys.readouterr().err
