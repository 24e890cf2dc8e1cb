"""Cut-outs through the HTTP API and the CLI (both stores)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from memetrack.cli import main
from memetrack.config import Settings
from service.main import create_app
from tests.test_cutout_detect import background, cutout_rgba, paste
from tests.test_cutouts_store import jpeg, png


@pytest.fixture
def client(settings: Settings, store) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings, load_in_background=False)) as c:
        yield c


def test_cutout_lifecycle_over_http(client: TestClient) -> None:
    comp = paste(30, cutout_rgba(300), size_frac=0.4, mirror=True)
    early = client.post("/v1/media", files={"file": ("a.jpg", jpeg(comp.image), "image/jpeg")},
                        data={"platform": "x", "account": "ann", "post_id": "1",
                              "posted_at": "2026-01-02T10:00:00Z"})
    assert early.status_code in (200, 201), early.text
    early_id = early.json()["media"]["id"]

    r = client.post("/v1/cutouts", files={"file": ("c.png", png(cutout_rgba(300)), "image/png")},
                    data={"name": "Candidate", "notes": "official portrait"})
    assert r.status_code == 201, r.text
    cutout = r.json()
    assert cutout["created"] and cutout["name"] == "Candidate"
    # the same cut-out with different hidden pixels is the same cut-out
    again = client.post("/v1/cutouts", files={
        "file": ("d.png", png(cutout_rgba(300, hidden=200)), "image/png")})
    assert again.status_code == 200 and again.json()["id"] == cutout["id"]

    # the registration's backfill found the earlier upload
    occ = client.get(f"/v1/cutouts/{cutout['id']}/occurrences").json()
    assert [o["media_id"] for o in occ] == [early_id]
    assert occ[0]["mirrored"] and len(occ[0]["quad"]) == 4

    later = paste(31, cutout_rgba(300), size_frac=0.5, caption=True, jpeg_quality=75)
    up = client.post("/v1/media", files={"file": ("b.jpg", jpeg(later.image), "image/jpeg")},
                     data={"platform": "telegram", "account": "bob", "post_id": "2",
                           "posted_at": "2026-01-05T10:00:00Z"})
    later_id = up.json()["media"]["id"]

    detail = client.get(f"/v1/cutouts/{cutout['id']}").json()
    assert detail["cutout"]["occurrence_count"] == 2
    assert set(detail["media_ids"]) == {early_id, later_id}
    assert {p["platform"] for p in detail["platforms"]} == {"x", "telegram"}
    assert {a["account"] for a in detail["accounts"]} == {"ann", "bob"}
    assert detail["first_seen"].startswith("2026-01-02")
    assert detail["last_seen"].startswith("2026-01-05")
    assert detail["backfill"]["state"] == "done"

    match = client.post("/v1/match", files={"file": ("q.jpg", jpeg(later.image), "image/jpeg")})
    none = client.post("/v1/match", files={"file": ("n.jpg", jpeg(background(32)),
                                                    "image/jpeg")})
    assert [c["cutout_id"] for c in match.json()["cutouts"]] == [cutout["id"]]
    assert none.json()["cutouts"] == []

    job = client.post(f"/v1/cutouts/{cutout['id']}/backfill")
    assert job.status_code == 202
    status = client.get(f"/v1/cutouts/{cutout['id']}").json()["backfill"]
    # the earlier upload, the later one, and the re-uploaded copy of the cut-out itself
    assert status["state"] == "done" and status["found"] == 3

    listed = client.get("/v1/cutouts").json()
    assert [c["id"] for c in listed] == [cutout["id"]]

    renamed = client.patch(f"/v1/cutouts/{cutout['id']}", json={"name": "Candidate A"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["notes"]) == ("Candidate A", "official portrait")
    assert client.delete(f"/v1/cutouts/{cutout['id']}").status_code == 204
    assert client.get(f"/v1/cutouts/{cutout['id']}").status_code == 404
    gone = client.post("/v1/match", files={"file": ("q.jpg", jpeg(later.image), "image/jpeg")})
    assert gone.json()["cutouts"] == []
    assert client.get(f"/v1/media/{early_id}").status_code == 200  # its media stay indexed


def test_service_start_resumes_an_interrupted_backfill(settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    from memetrack.pipeline import Memetrack

    with Memetrack(settings, store) as core:
        core.load_indexes()
        media = core.index_bytes(jpeg(paste(37, cutout_rgba(290), size_frac=0.4).image)).media
        cutout, _created = core.add_cutout(png(cutout_rgba(290)), name="R", backfill=False)
        # a service that stopped before its backfill searched anything
        core.store.cutouts.save_backfill(cutout.id, state="running", done=0, total=2,
                                         found=0, after_media_id=0)
    with TestClient(create_app(settings, load_in_background=False)) as c:
        detail = c.get(f"/v1/cutouts/{cutout.id}").json()
    assert detail["backfill"]["state"] == "done" and detail["backfill"]["found"] == 1
    assert detail["media_ids"] == [media.id]


def test_cutout_errors_over_http(client: TestClient) -> None:
    opaque = client.post("/v1/cutouts", files={"file": ("o.jpg", jpeg(background(33)),
                                                         "image/jpeg")})
    assert opaque.status_code == 400
    assert opaque.json()["error"]["code"] == "bad_input"
    assert client.get("/v1/cutouts/999").status_code == 404
    assert client.get("/v1/cutouts/999/occurrences").status_code == 404
    assert client.post("/v1/cutouts/999/backfill").status_code == 404
    assert client.patch("/v1/cutouts/999", json={"name": "x"}).status_code == 404
    assert client.delete("/v1/cutouts/999").status_code == 404
    junk = client.post("/v1/cutouts", files={"file": ("x.png", b"not an image", "image/png")})
    assert junk.status_code in (400, 415)


def test_cutout_commands(settings: Settings, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def run(*args: str) -> int:
        return main(["--data-dir", str(settings.data_dir), "--database-url",
                     settings.resolved_database_url, *args])

    (tmp_path / "cut.png").write_bytes(png(cutout_rgba(310)))
    (tmp_path / "flat.jpg").write_bytes(jpeg(background(34)))
    folder = tmp_path / "memes"
    folder.mkdir()
    comp = paste(35, cutout_rgba(310), size_frac=0.45, mirror=True)
    (folder / "meme.jpg").write_bytes(jpeg(comp.image))
    (folder / "other.jpg").write_bytes(jpeg(background(36)))
    assert run("db", "upgrade") == 0
    assert run("index", str(folder), "--workers", "1") == 0
    capsys.readouterr()
    assert run("cutouts", "register", str(tmp_path / "cut.png"), "--name", "Cand",
               "--notes", "n", "--no-progress", "--json") == 0
    registered = json.loads(capsys.readouterr().out)
    assert registered["created"] and registered["occurrence_count"] == 1
    cid = str(registered["id"])
    assert run("cutouts", "register", str(tmp_path / "flat.jpg")) == 2  # BadInput
    capsys.readouterr()
    assert run("cutouts", "list", "--json") == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)] == ["Cand"]
    assert run("cutouts", "show", cid) == 0
    assert "found in 1 media" in capsys.readouterr().out
    assert run("cutouts", "show", cid, "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["occurrences"][0]["mirrored"] is True
    assert run("cutouts", "backfill", cid, "--no-progress") == 0
    assert "1 occurrences" in capsys.readouterr().out
    assert run("cutouts", "show", cid, "--json") == 0
    assert json.loads(capsys.readouterr().out)["backfill"]["state"] == "done"
    assert run("cutouts", "backfill", "--resume", "--no-progress") == 0
    assert "0 interrupted backfill(s) finished" in capsys.readouterr().out
    assert run("cutouts", "rename", cid, "--name", "Renamed") == 0
    assert run("cutouts", "show", "999") == 5  # NotFound
    capsys.readouterr()
    assert run("match", str(folder / "meme.jpg"), "--json") == 0
    assert json.loads(capsys.readouterr().out)["cutouts"][0]["cutout_id"] == int(cid)
    assert run("cutouts", "delete", cid) == 0
    assert np.asarray(comp.image).shape[2] == 3
