"""The simulator, and the whole path on both stores: simulate -> index -> report -> coordination."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from memetrack.cli import main
from memetrack.coordination import CoordinationParams, find_coordination
from memetrack.records import SightingInput
from memetrack.simulate import (
    BenchShape,
    SimulationConfig,
    bench_columns,
    campaign_accounts,
    manifest_rows,
    score_accounts,
    simulate,
)
from memetrack.store import Store
from tests.test_spread import add, assign


def test_simulator_writes_a_consistent_log(tmp_path: Path) -> None:
    config = SimulationConfig(accounts=40, days=4, campaigns=2, seed=3, templates=4)
    summary = simulate(tmp_path / "a", config)
    rows = list(manifest_rows(summary.manifest))
    truth = json.loads(summary.truth.read_text())
    assert len(rows) == summary.sightings and summary.campaign_accounts == len(
        campaign_accounts(truth))
    images = truth["images"]
    for row in rows:
        assert SightingInput.from_mapping(row) is not None  # every row is valid
        assert (tmp_path / "a" / row["path"]).is_file()
    assert all(i["template"] is not None for i in images.values())
    kinds = {i["kind"] for i in images.values()}
    assert {"blank", "caption", "cutout_composite"} <= kinds
    posted = [r["posted_at"] for r in rows]
    assert posted != sorted(posted)  # delivered in collection order, not posting order
    assert len({r["posted_at"][-6:] for r in rows}) > 1  # several UTC offsets
    for camp in truth["campaigns"]:
        assert 6 <= len(camp["accounts"]) and len(camp["platforms"]) >= 2
        assert (tmp_path / "a" / camp["cutout"]).is_file()
        assert any(images[i]["kind"] == "cutout_composite" for i in camp["items"])
    again = simulate(tmp_path / "b", config)  # seeded: the same log again
    assert again.manifest.read_text() == summary.manifest.read_text()
    assert score_accounts(campaign_accounts(truth), truth)["precision"] == 1.0


def test_no_images_mode_and_bench_columns(tmp_path: Path) -> None:
    summary = simulate(tmp_path, SimulationConfig(accounts=30, days=3, campaigns=1, seed=1,
                                                  images=False))
    rows = list(manifest_rows(summary.manifest))
    assert rows and all("image" in r and "path" not in r for r in rows)
    assert not (tmp_path / "images").exists()
    shape = BenchShape(sightings=5000, accounts=300, families=50, campaigns=2, bursts=5)
    cols = bench_columns(shape)
    assert len(cols["media"]) == 5000 and cols["media"].max() < shape.media
    assert np.all((cols["t"] >= 0) & (cols["t"] < shape.days * 86400))


def _load_log(store: Store, folder: Path) -> dict:
    """Load a no-images simulated log into the store (fake media per image id) and assign
    the families and variants the truth file names."""
    truth = json.loads((folder / "truth.json").read_text())
    per_image: dict[str, list[SightingInput]] = {}
    for row in manifest_rows(folder / "manifest.jsonl"):
        s = SightingInput.from_mapping(row)
        assert s is not None
        per_image.setdefault(row["image"], []).append(s)
    media = {image: add(store, image, rows) for image, rows in sorted(per_image.items())}
    families: dict[str, dict[str, list[int]]] = {}
    for image, info in truth["images"].items():
        if image in media:
            families.setdefault(f"t{info['template']}", {}).setdefault(
                f"t{info['template']}:{info['caption']}", []).append(media[image])
    assign(store, families)
    return truth


def test_campaigns_are_found_in_a_simulated_log(store: Store, tmp_path: Path) -> None:
    simulate(tmp_path, SimulationConfig(accounts=80, days=8, campaigns=2, seed=11,
                                        images=False, bursts=10))
    truth = _load_log(store, tmp_path)
    for level in ("family", "variant", "media"):
        result = find_coordination(store, CoordinationParams(level=level))
        found = {(a.platform, a.handle) for g in result.groups for a in g.accounts}
        scores = score_accounts(found, truth)
        assert scores["precision"] >= 0.95 and scores["recall"] >= 0.9, (level, scores)
        assert len(result.groups) >= 2


def test_cli_end_to_end(settings, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def run(*args: str) -> int:
        return main(["--data-dir", str(settings.data_dir), "--database-url",
                     settings.resolved_database_url, *args])

    sim = tmp_path / "sim"
    assert run("simulate", "--out", str(sim), "--accounts", "20", "--days", "2",
               "--campaigns", "1", "--seed", "2", "--template-count", "2", "--bursts", "9",
               "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["campaign_accounts"] >= 6
    # an extra bad row (no timezone) is reported with its line number; the rest are stored
    manifest = sim / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    bad = json.loads(lines[0]) | {"posted_at": "2026-03-02 10:00", "post_id": "bad1"}
    manifest.write_text("\n".join([*lines, json.dumps(bad)]) + "\n")
    assert run("db", "upgrade") == 0
    capsys.readouterr()
    code = run("index", "--manifest", str(manifest), "--json", "--workers", "1")
    out = json.loads(capsys.readouterr().out)
    assert code != 0 and out["sightings_added"] == summary["sightings"]
    assert [f["where"].rsplit(":", 1)[-1] for f in out["failed"]] == [str(len(lines) + 1)]
    run("index", "--manifest", str(manifest), "--json", "--workers", "1")  # again: idempotent
    assert json.loads(capsys.readouterr().out)["sightings_added"] == 0

    gexf = tmp_path / "net.gexf"
    assert run("coordination", "--level", "media", "--gexf", str(gexf), "--graphml",
               str(tmp_path / "net.graphml"), "--edges-csv", str(tmp_path / "edges.csv"),
               "--truth", str(sim / "truth.json"), "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["truth"]["recall"] >= 0.9 and result["truth"]["precision"] >= 0.95
    ET.parse(gexf)
    ET.parse(tmp_path / "net.graphml")
    media_id = result["groups"][0]["evidence"][0]["media_a"]
    assert run("report", "media", str(media_id), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["sightings"] >= 2 and report["patient_zero"]["platform"]
    assert run("report", "media", str(media_id), "--csv") == 0
    assert capsys.readouterr().out.startswith("section,")
    assert run("accounts", "--json") == 0
    accounts = json.loads(capsys.readouterr().out)["accounts"]
    assert accounts and all(a["first_at"] for a in accounts)
    assert run("report", "family", "424242") == 5  # not found
