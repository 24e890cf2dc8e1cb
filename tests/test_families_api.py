"""Families through the HTTP API and the CLI (both stores)."""

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from memetrack.cli import main
from memetrack.config import Settings
from memetrack.evaluation.variants import add_caption_panel, add_top_bottom_caption
from service.main import create_app
from tests.imagegen import encode, scene


def jpeg(img: Image.Image) -> bytes:
    return encode(np.asarray(img), "JPEG", quality=90)


@pytest.fixture
def client(settings: Settings, store) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings, load_in_background=False)) as c:
        yield c


def test_family_lifecycle_over_http(client: TestClient) -> None:
    shell = Image.fromarray(scene(40))
    r = client.post("/v1/families", files={"file": ("shell.png", jpeg(shell), "image/jpeg")},
                    data={"name": "Galaxy brain", "notes": "registered by hand"})
    assert r.status_code == 201, r.text
    family = r.json()
    assert family["registered_shell"] and family["name"] == "Galaxy brain"

    meme = jpeg(add_top_bottom_caption(shell, "small brain", "big caption"))
    up = client.post("/v1/media", files={"file": ("m.jpg", meme, "image/jpeg")},
                     data={"platform": "x", "account": "a", "post_id": "1"})
    media_id = up.json()["media"]["id"]
    detail = client.get(f"/v1/families/{family['id']}").json()
    assert {m["media_id"] for m in detail["members"]} == {family["representative_media_id"],
                                                          media_id}

    probe = jpeg(add_caption_panel(shell, "an unseen caption"))
    match = client.post("/v1/match", files={"file": ("p.jpg", probe, "image/jpeg")}).json()
    assert match["templates"][0]["family"]["id"] == family["id"]
    assert len(match["templates"][0]["evidence"]["region"]) == 4

    r = client.patch(f"/v1/families/{family['id']}", json={"name": "Expanding brain"})
    assert r.json()["name"] == "Expanding brain"

    other = client.post("/v1/media", files={"file": ("o.jpg", jpeg(Image.fromarray(scene(41))),
                                                     "image/jpeg")}).json()["media"]["id"]
    listed = client.get("/v1/families").json()
    assert len(listed) == 2
    other_family = next(f["id"] for f in listed if f["representative_media_id"] == other)
    merged = client.post(f"/v1/families/{family['id']}/merge",
                         json={"source_family_id": other_family})
    assert merged.status_code == 200 and merged.json()["member_count"] == 3
    assert client.get(f"/v1/families/{other_family}").json()["id"] == family["id"]

    out = client.delete(f"/v1/families/{family['id']}/members/{other}?wrong_match=true")
    assert out.status_code == 200 and out.json()["family_id"] != family["id"]

    png = client.get(f"/v1/families/{family['id']}/shell")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size[0] > 100

    assert client.get("/v1/families/999").status_code == 404
    bad = client.delete(f"/v1/families/{family['id']}/members/{other}")
    assert bad.status_code == 404


def test_family_commands(settings: Settings, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def run(*args: str) -> int:
        return main(["--data-dir", str(settings.data_dir), "--database-url",
                     settings.resolved_database_url, *args])

    shell = Image.fromarray(scene(42))
    (tmp_path / "shell.jpg").write_bytes(jpeg(shell))
    folder = tmp_path / "memes"
    folder.mkdir()
    for i, (top, bottom) in enumerate([("a", "b c"), ("d e", "f"), ("g", "h i j")]):
        (folder / f"m{i}.jpg").write_bytes(jpeg(add_top_bottom_caption(shell, top, bottom)))
    assert run("db", "upgrade") == 0
    assert run("families", "register", str(tmp_path / "shell.jpg"), "--name", "Drake") == 0
    assert run("index", str(folder), "--workers", "1") == 0
    capsys.readouterr()
    assert run("families", "list", "--json") == 0
    families = json.loads(capsys.readouterr().out)
    assert len(families) == 1 and families[0]["member_count"] == 4
    fid = families[0]["id"]
    assert run("families", "show", str(fid)) == 0
    shown = capsys.readouterr().out
    assert "Drake" in shown and shown.count("\n  media ") == 4
    assert run("families", "rename", str(fid), "--notes", "hotline") == 0
    assert run("families", "shell", str(fid), "--out", str(tmp_path / "out.png")) == 0
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == shell.size
    assert run("families", "rebuild") == 0
    assert "1 families" in capsys.readouterr().out
    assert run("match", str(folder / "m0.jpg")) == 0
    assert f"template family {fid} (Drake)" in capsys.readouterr().out
