"""Template families and their curation."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from PIL import Image

from service.deps import MemetrackDep, read_upload
from service.schemas import ErrorOut, FamilyDetail, FamilyOut, FamilyPatch, MemberOut, MergeRequest

router = APIRouter(tags=["families"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 404, 409, 413, 415, 422, 503)}


def _detail(app, family_id: int, limit: int = 200) -> dict:  # type: ignore[no-untyped-def]
    family = app.store.families.get(family_id)
    members = app.store.families.members(family.id, limit=limit)
    return family.to_dict() | {"members": [m.to_dict() for m in members]}


@router.get("/families", response_model=list[FamilyOut], summary="Template families")
def list_families(app: MemetrackDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  offset: Annotated[int, Query(ge=0)] = 0) -> list[dict]:
    return [f.to_dict() for f in app.store.families.list(limit, offset)]


@router.get("/families/{family_id}", response_model=FamilyDetail, responses=ERRORS,
            summary="A family with its members (a merged family's id leads to the survivor)")
def get_family(app: MemetrackDep, family_id: int,
               limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> dict:
    return _detail(app, family_id, limit)


@router.post("/families", response_model=FamilyOut, status_code=201, responses=ERRORS,
             summary="Register a known blank shell as a new family")
async def register_shell(
    app: MemetrackDep,
    file: Annotated[UploadFile, File(description="the blank template")],
    name: Annotated[str | None, Form()] = None,
    notes: Annotated[str | None, Form()] = None,
) -> dict:
    data = await read_upload(file, app.settings.max_image_bytes)
    return app.register_shell(data, name=name, notes=notes).to_dict()


@router.patch("/families/{family_id}", response_model=FamilyOut, responses=ERRORS,
              summary="Rename a family or change its notes")
def patch_family(app: MemetrackDep, family_id: int, body: FamilyPatch) -> dict:
    return app.rename_family(family_id, name=body.name, notes=body.notes).to_dict()


@router.post("/families/{family_id}/merge", response_model=FamilyOut, responses=ERRORS,
             summary="Merge another family into this one")
def merge(app: MemetrackDep, family_id: int, body: MergeRequest) -> dict:
    return app.merge_families(family_id, body.source_family_id).to_dict()


@router.delete("/families/{family_id}/members/{media_id}", response_model=MemberOut | None,
               responses=ERRORS,
               summary="Move a media out of its family (wrong_match: never match it again)")
def remove_member(app: MemetrackDep, family_id: int, media_id: int,
                  wrong_match: bool = False) -> dict | None:
    member = app.store.families.membership(media_id)
    if member is None or member.family_id != app.store.families.get(family_id).id:
        from memetrack.errors import NotFound

        raise NotFound(f"media {media_id} is not a member of family {family_id}")
    moved = app.remove_from_family(media_id, wrong_match=wrong_match)
    return moved.to_dict() if moved else None


@router.get("/families/{family_id}/shell", responses=ERRORS | {200: {"content": {"image/png": {}}}},
            response_class=Response, summary="The recovered (or registered) blank shell, as PNG")
def shell(app: MemetrackDep, family_id: int) -> Response:
    pixels, used = app.recover_shell(family_id)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return Response(buf.getvalue(), media_type="image/png",
                    headers={"X-Memetrack-Members-Used": str(used)})
