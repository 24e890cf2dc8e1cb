from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile

from memetrack.records import SightingInput
from service.deps import MemetrackDep, read_upload
from service.schemas import ErrorOut, IndexOut, MediaWithSightings

router = APIRouter(tags=["media"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 404, 413, 415, 422)}


def _media_out(app, media_id: int) -> dict:  # type: ignore[no-untyped-def]
    media = app.store.get_media(media_id)
    sightings = app.store.sightings_for_media([media_id]).get(media_id, ())
    return media.to_dict() | {"sightings": [s.to_dict() for s in sightings]}


@router.post("/media", response_model=IndexOut, status_code=201, responses=ERRORS,
             summary="Index an image, optionally with one sighting")
async def index_media(
    app: MemetrackDep,
    response: Response,
    file: Annotated[UploadFile, File(description="the image")],
    platform: Annotated[str | None, Form()] = None,
    account: Annotated[str | None, Form()] = None,
    post_id: Annotated[str | None, Form()] = None,
    url: Annotated[str | None, Form()] = None,
    posted_at: Annotated[str | None, Form(description="ISO-8601 with timezone")] = None,
    collected_at: Annotated[str | None, Form(description="ISO-8601 with timezone")] = None,
    text: Annotated[str | None, Form(description="the post's text")] = None,
) -> dict:
    sighting = SightingInput.from_mapping({
        "platform": platform, "account": account, "post_id": post_id, "url": url,
        "posted_at": posted_at, "collected_at": collected_at, "text": text,
    })
    data = await read_upload(file, app.settings.max_image_bytes)
    result = app.index_bytes(data, [sighting] if sighting else [])
    if not result.media_created:
        response.status_code = 200
    return {"created": result.media_created, "sightings_added": result.sightings_created,
            "media": _media_out(app, result.media.id)}


@router.get("/media/{media_id}", response_model=MediaWithSightings, responses=ERRORS,
            summary="A media with its hashes and sightings")
def get_media(app: MemetrackDep, media_id: int) -> dict:
    return _media_out(app, media_id)
