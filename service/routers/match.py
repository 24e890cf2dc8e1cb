from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from memetrack.hashing import PerceptualHash
from service.deps import MemetrackDep, read_upload
from service.schemas import ErrorOut, HashQuery, MatchResponse

router = APIRouter(tags=["match"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 413, 415, 422, 503)}


@router.post("/match", response_model=MatchResponse, responses=ERRORS,
             summary="Near-duplicates of an uploaded image (nothing is stored)")
async def match_image(
    app: MemetrackDep,
    file: Annotated[UploadFile, File(description="the image")],
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> dict:
    data = await read_upload(file, app.settings.max_image_bytes)
    return app.match_bytes(data, limit).to_dict()


@router.post("/match/hash", response_model=MatchResponse, responses=ERRORS,
             summary="Near-duplicates of a PDQ or pHash value")
def match_hash(app: MemetrackDep, query: HashQuery) -> dict:
    value = PerceptualHash.from_hex(query.algorithm, query.hash)
    return app.match_hash(value, query.limit).to_dict()
