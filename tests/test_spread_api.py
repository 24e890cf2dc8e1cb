"""The spread, coordination, accounts and batch-sighting endpoints on both stores."""

from __future__ import annotations

import base64
import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from memetrack.config import Settings
from memetrack.store import Store
from service.main import create_app
from tests.imagegen import encode, scene
from tests.test_spread import add, fake_media, sighting

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, load_in_background=False)) as c:
        yield c


def _rows(sha: str) -> list[dict]:
    return [
        {"media_sha256": sha, "platform": "x", "account": "a", "post_id": "1",
         "posted_at": "2026-06-01T10:00:00+02:00"},
        {"media_sha256": sha, "platform": "x", "account": "b", "post_id": "2",
         "posted_at": "2026-06-01T08:00:30Z"},
        {"media_sha256": sha, "platform": "telegram", "account": "c", "post_id": "3",
         "posted_at": "2026-06-01T11:30:00+03:00"},
        {"media_sha256": sha, "platform": "x", "account": "a", "post_id": "1",  # duplicate
         "posted_at": "2026-06-01T08:00:00Z"},
        {"media_sha256": sha, "platform": "x", "account": "d", "post_id": "4",
         "posted_at": "2026-06-01 08:00"},  # no timezone: bad
        {"media_sha256": "0" * 64, "platform": "x", "account": "e", "post_id": "5",
         "posted_at": "2026-06-01T08:00:00Z"},  # unknown media
        {"platform": "x", "account": "f", "post_id": "6"},  # no media at all
    ]


def test_batch_json_is_idempotent_and_reports_bad_rows(client: TestClient, store: Store) -> None:
    media = store.ingest(fake_media("batch"), []).media
    r = client.post("/v1/sightings/batch", json=_rows(media.sha256))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] == 7 and body["sightings_added"] == 3 and body["sightings_known"] == 1
    assert {(e["row"], e["code"]) for e in body["errors"]} == {
        (5, "bad_metadata"), (6, "not_found"), (7, "bad_input")}
    again = client.post("/v1/sightings/batch", json=_rows(media.sha256)).json()
    assert again["sightings_added"] == 0 and again["sightings_known"] == 4
    report = client.get(f"/v1/reports/media/{media.id}").json()
    assert report["totals"]["sightings"] == 3
    assert report["patient_zero"]["account"] == "a"
    firsts = {p["platform"]: p["lag_seconds"] for p in report["first_per_platform"]}
    assert firsts == {"x": 0, "telegram": 1800}


def test_batch_jsonl_csv_and_inline_images(client: TestClient, store: Store) -> None:
    media = store.ingest(fake_media("lines"), []).media
    lines = [json.dumps(row) for row in _rows(media.sha256)[:3]]
    body = "\n".join([lines[0], "{not json", "", lines[1], "[1, 2]", lines[2]]) + "\n"
    r = client.post("/v1/sightings/batch", content=body,
                    headers={"content-type": "application/x-ndjson"})
    out = r.json()
    assert out["sightings_added"] == 3
    assert [(e["row"], e["code"]) for e in out["errors"]] == [(2, "bad_metadata"),
                                                              (5, "bad_metadata")]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["media_sha256", "platform", "account", "post_id", "posted_at"])
    writer.writeheader()
    writer.writerow({"media_sha256": media.sha256, "platform": "reddit", "account": "r1",
                     "post_id": "9", "posted_at": "2026-06-02T00:00:00Z"})
    writer.writerow({"media_sha256": media.sha256, "platform": "reddit", "account": "r2",
                     "post_id": "10", "posted_at": "yesterday"})
    r = client.post("/v1/sightings/batch", content=buf.getvalue(),
                    headers={"content-type": "text/csv"})
    out = r.json()
    assert out["sightings_added"] == 1 and [e["row"] for e in out["errors"]] == [3]
    image = base64.b64encode(encode(scene(77), "JPEG")).decode()
    inline = [{"image_base64": image, "platform": "x", "account": "z", "post_id": "i1",
               "posted_at": "2026-06-01T09:00:00Z"},
              {"image_base64": "!!!", "platform": "x", "account": "z", "post_id": "i2"}]
    out = client.post("/v1/sightings/batch", json=inline).json()
    assert out["media_created"] == 1 and out["sightings_added"] == 1
    assert out["errors"][0]["row"] == 2
    assert client.post("/v1/sightings/batch", json=inline[:1]).json()["sightings_known"] == 1
    assert client.post("/v1/sightings/batch", content=b"  ").status_code == 400
    assert client.post("/v1/sightings/batch", json={"a": 1}).status_code == 400


def _campaign(store: Store) -> None:
    puppets = [("x", "p1"), ("x", "p2"), ("telegram", "p3")]
    for burst in range(4):
        start = T0 + timedelta(days=burst, hours=burst)
        add(store, f"camp{burst}", [sighting(p, a, f"{burst}{a}", start + timedelta(seconds=5 * i))
                                    for i, (p, a) in enumerate(puppets)])
    add(store, "organic", [sighting("x", f"o{i}", f"o{i}", T0 + timedelta(hours=7 * i))
                           for i in range(5)])


def test_reports_coordination_and_accounts(client: TestClient, store: Store) -> None:
    _campaign(store)
    media_id = store.find_media_by_sha256(fake_media("organic").sha256).id  # type: ignore[union-attr]
    r = client.get(f"/v1/reports/media/{media_id}", params={"platform": "x", "bucket": "day"})
    body = r.json()
    assert body["totals"]["sightings"] == 5 and body["bucket"] == "day"
    assert body["filters"]["platform"] == "x"
    r = client.get(f"/v1/reports/media/{media_id}",
                   params={"since": "2026-06-01T15:00:00Z", "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["section"] == "totals" and rows[0]["sightings"] == "4"  # since is inclusive
    assert client.get("/v1/reports/family/12345").status_code == 404
    assert client.get("/v1/reports/planet/1").status_code == 400
    assert client.get(f"/v1/reports/media/{media_id}",
                      params={"since": "2026-06-01"}).status_code == 422

    coord = client.get("/v1/coordination", params={"level": "media"}).json()
    assert len(coord["groups"]) == 1
    assert {a["handle"] for a in coord["groups"][0]["accounts"]} == {"p1", "p2", "p3"}
    assert coord["groups"][0]["evidence"]
    lean = client.get("/v1/coordination", params={"evidence": "false"}).json()
    assert "evidence" not in lean["groups"][0]
    for fmt in ("graphml", "gexf"):
        r = client.get("/v1/coordination", params={"format": fmt})
        assert r.status_code == 200 and "xml" in r.headers["content-type"]
        ET.fromstring(r.content)
    r = client.get("/v1/coordination", params={"format": "csv"})
    assert len(list(csv.DictReader(io.StringIO(r.text)))) == 3
    assert client.get("/v1/coordination", params={"window": "auto"}).status_code == 200
    assert client.get("/v1/coordination", params={"window": "soon"}).status_code == 400

    accounts = client.get("/v1/accounts", params={"platform": "telegram"}).json()
    assert [a["handle"] for a in accounts["accounts"]] == ["p3"]
    assert {p["name"] for p in accounts["platforms"]} == {"x", "telegram"}
    assert accounts["accounts"][0]["sightings"] == 4
