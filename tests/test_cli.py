"""The command line, end to end on both stores (in-process ``main`` and one real subprocess)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memetrack.cli import main
from memetrack.errors import EXIT_PARTIAL
from tests.imagegen import encode, scene


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    (root / "sub").mkdir(parents=True)
    for i in range(3):
        img = scene(100 + i)
        (root / f"meme{i}.jpg").write_bytes(encode(img, "JPEG", quality=90))
    (root / "sub" / "meme0_mirror.png").write_bytes(
        encode(np.ascontiguousarray(scene(100)[:, ::-1]), "PNG"))
    (root / "sub" / "broken.jpg").write_bytes(encode(scene(5), "JPEG")[:500])
    (root / "notes.png").write_text("not an image at all")
    (root / "README.txt").write_text("ignored: not an image suffix")
    rows = [
        {"path": "media/meme0.jpg", "platform": "x", "account": "a1", "post_id": "1",
         "posted_at": "2026-05-01T10:00:00Z"},
        {"path": "media/meme0.jpg", "platform": "telegram", "account": "a2", "post_id": "9",
         "posted_at": "2026-05-01T10:00:30+02:00"},
        {"path": "media/meme1.jpg", "platform": "x", "account": "a1", "post_id": "2",
         "posted_at": "2026-05-01 10:00"},  # no timezone: a bad row
    ]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def run(settings, *args: str) -> int:  # type: ignore[no-untyped-def]
    return main(["--data-dir", str(settings.data_dir), "--database-url",
                 settings.resolved_database_url, *args])


def test_index_then_match(settings, folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(settings, "db", "upgrade") == 0
    capsys.readouterr()
    manifest = str(folder.parent / "manifest.jsonl")
    code = run(settings, "index", str(folder), "--manifest", manifest, "--json")
    summary = json.loads(capsys.readouterr().out)
    assert code == EXIT_PARTIAL
    assert summary["files"] == 6 and summary["indexed"] == 4
    assert summary["sightings_added"] == 2
    failed = {(f["where"].split("/")[-1], f["code"]) for f in summary["failed"]}
    assert failed == {("broken.jpg", "truncated_image"), ("notes.png", "not_an_image"),
                      ("manifest.jsonl:3", "bad_metadata")}

    # running again changes nothing
    run(settings, "index", str(folder), "--manifest", manifest, "--json")
    again = json.loads(capsys.readouterr().out)
    assert again["indexed"] == 0 and again["already_known"] == 4
    assert again["sightings_added"] == 0 and again["sightings_known"] == 2

    assert run(settings, "match", str(folder / "sub" / "meme0_mirror.png"), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    by_transform = {m["transform"]: m for m in report["matches"]}
    assert by_transform["original"]["distance"] == 0
    mirrored = by_transform["flip_horizontal"]
    assert mirrored["media"]["format"] == "jpeg"
    assert {s["account"] for s in mirrored["sightings"]} == {"a1", "a2"}

    assert run(settings, "match", str(folder / "meme2.jpg")) == 0
    assert "distance 0" in capsys.readouterr().out


def test_errors_have_exit_codes(settings, folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(settings, "match", str(folder / "meme0.jpg")) == 8  # store not migrated
    assert "db upgrade" in capsys.readouterr().err
    run(settings, "db", "upgrade")
    assert run(settings, "match", str(folder / "notes.png")) == 3
    assert "not_an_image" in capsys.readouterr().err
    assert run(settings, "match", str(folder / "missing.png")) == 5
    assert run(settings, "show", "12345") == 5


def test_rebuild_index(settings, folder: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run(settings, "db", "upgrade")
    run(settings, "index", str(folder))
    capsys.readouterr()
    index_dir = settings.data_dir / "index"
    for f in index_dir.iterdir():
        f.unlink()
    assert run(settings, "rebuild-index") == 0
    assert "8 hashes" in capsys.readouterr().out
    assert run(settings, "match", str(folder / "meme1.jpg"), "--json") == 0
    assert json.loads(capsys.readouterr().out)["matches"][0]["distance"] == 0


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "memetrack.cli", "--data-dir", str(tmp_path),
                          "db", "current"], capture_output=True, text=True, check=False)
    assert out.returncode == 1 and "current: none" in out.stdout and "head: 0004" in out.stdout
