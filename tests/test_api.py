"""The HTTP API on both stores, through FastAPI's test client (real app, real store, real FAISS)."""

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from memetrack.config import Settings
from memetrack.hashing import pdq
from service.main import create_app
from tests.imagegen import encode, scene


@pytest.fixture
def client(settings: Settings, store) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings, load_in_background=False)) as c:
        yield c


def upload(client: TestClient, data: bytes, name: str = "m.jpg", **form: str):  # type: ignore[no-untyped-def]
    return client.post("/v1/media", files={"file": (name, data, "image/jpeg")}, data=form)


def test_health(client: TestClient) -> None:
    assert client.get("/v1/health/live").json() == {"status": "alive"}
    ready = client.get("/v1/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_not_ready_until_the_store_is_migrated(settings: Settings) -> None:
    with TestClient(create_app(settings, load_in_background=False)) as c:
        r = c.get("/v1/health/ready")
        assert r.status_code == 503 and "db upgrade" in r.json()["error"]
        assert c.get("/v1/health/live").status_code == 200
        m = c.post("/v1/match", files={"file": ("a.png", encode(scene(1)), "image/png")})
        assert m.status_code == 503 and m.json()["error"]["code"] == "not_ready"


def test_upload_with_sighting_is_idempotent(client: TestClient) -> None:
    data = encode(scene(20), "JPEG")
    form = {"platform": "Reddit", "account": "u1", "post_id": "t3_1",
            "url": "https://reddit.example/r/x/1", "posted_at": "2026-06-01T08:00:00-05:00",
            "text": "hello"}
    first = upload(client, data, **form)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] and body["sightings_added"] == 1
    media = body["media"]
    assert media["width"] == 480 and {h["algorithm"] for h in media["hashes"]} == {"pdq", "phash"}
    assert media["sightings"][0]["posted_at"] == "2026-06-01T13:00:00+00:00"
    assert media["sightings"][0]["platform"] == "reddit"
    again = upload(client, data, **form)
    assert again.status_code == 200 and again.json()["sightings_added"] == 0
    fetched = client.get(f"/v1/media/{media['id']}").json()
    assert len(fetched["sightings"]) == 1 and fetched["sha256"] == media["sha256"]


def test_match_by_image_and_by_hash_stores_nothing(client: TestClient) -> None:
    img = scene(21)
    upload(client, encode(img, "JPEG"), platform="x", account="a", post_id="1")
    mirrored = np.ascontiguousarray(img[:, ::-1])
    r = client.post("/v1/match", files={"file": ("q.png", encode(mirrored), "image/png")})
    assert r.status_code == 200
    matches = r.json()["matches"]
    assert len(matches) == 1 and matches[0]["transform"] == "flip_horizontal"
    assert matches[0]["sightings"][0]["account"] == "a"
    r = client.post("/v1/match/hash", json={"algorithm": "pdq", "hash": pdq(img).hash.hex})
    assert r.status_code == 200 and r.json()["matches"][0]["distance"] <= 10
    unrelated = client.post("/v1/match", files={"file": ("u.png", encode(scene(99)), "image/png")})
    assert unrelated.json()["matches"] == []
    assert client.get("/v1/health/ready").json()["indexes"] == {"pdq": 1, "phash": 1}


@pytest.mark.parametrize("payload,status,code", [
    (b"just text", 400, "not_an_image"),
    (b"%PDF-1.4\n" + b"0" * 100, 415, "unsupported_type"),
    (b"", 400, "empty_image"),
])
def test_bad_files(client: TestClient, payload: bytes, status: int, code: str) -> None:
    r = upload(client, payload, platform="x")
    assert r.status_code == status
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_truncated_upload_stores_nothing(client: TestClient) -> None:
    data = encode(scene(22), "JPEG")
    r = upload(client, data[: len(data) // 2], platform="x", account="a", post_id="9")
    assert r.status_code == 400 and r.json()["error"]["code"] == "truncated_image"
    assert client.get("/v1/health/ready").json()["indexes"]["pdq"] == 0


def test_too_large(settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"max_image_bytes": 1000})
    with TestClient(create_app(small, load_in_background=False)) as c:
        r = upload(c, encode(scene(23), "PNG"))
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_bytes"


def test_bad_metadata_is_422_and_stores_nothing(client: TestClient) -> None:
    data = encode(scene(24), "JPEG")
    r = upload(client, data, platform="x", posted_at="2026-06-01 08:00")
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_metadata"
    assert "timezone" in r.json()["error"]["message"]
    r = upload(client, data, account="someone")  # a sighting without a platform
    assert r.status_code == 422
    assert client.get("/v1/health/ready").json()["indexes"]["pdq"] == 0


def test_bad_hash_and_missing_media(client: TestClient) -> None:
    r = client.post("/v1/match/hash", json={"algorithm": "pdq", "hash": "abc"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_hash"
    r = client.post("/v1/match/hash", json={"hash": "abc"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_metadata"
    r = client.get("/v1/media/4242")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_openapi_lists_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/media", "/v1/media/{media_id}", "/v1/match", "/v1/match/hash",
            "/v1/health/ready", "/v1/health/live"} <= set(paths)
    assert client.get("/docs").status_code == 200
