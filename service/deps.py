"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, UploadFile

from memetrack.errors import TooManyBytes
from memetrack.pipeline import Memetrack


def get_memetrack(request: Request) -> Memetrack:
    return request.app.state.memetrack


MemetrackDep = Annotated[Memetrack, Depends(get_memetrack)]


async def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The uploaded bytes, refusing (413) anything over the cap without reading it all."""
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooManyBytes(f"upload is larger than the limit of {max_bytes} bytes",
                           limit=max_bytes)
    return data
