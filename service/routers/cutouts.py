"""Cut-out endpoints: register, list, report, rename, delete, occurrences, backfill."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Response, UploadFile

from service.deps import MemetrackDep, read_upload
from service.schemas import CutoutPatch, ErrorOut

router = APIRouter(tags=["cutouts"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 404, 413, 415, 422, 503)}


def _detail(app, cutout_id: int) -> dict:  # type: ignore[no-untyped-def]
    return app.cutout_report(cutout_id).to_dict() | {
        "backfill": app.backfill_status(cutout_id)}


@router.post("/cutouts", status_code=201, responses=ERRORS | {200: {"description":
             "the same cut-out was registered before: that one"}},
             summary="Register an RGBA image as a cut-out (201 new, 200 identical existing)")
async def register_cutout(
    app: MemetrackDep,
    response: Response,
    tasks: BackgroundTasks,
    file: Annotated[UploadFile, File(description="the cut-out: an image with transparency")],
    name: Annotated[str | None, Form()] = None,
    notes: Annotated[str | None, Form()] = None,
    backfill: Annotated[bool, Form(description="search the indexed media for it")] = True,
) -> dict:
    data = await read_upload(file, app.settings.max_image_bytes)
    app.cutout_detector  # noqa: B018 - 503 until the detector is loaded
    cutout, created = app.add_cutout(data, name=name, notes=notes, backfill=False)
    if not created:
        response.status_code = 200
    elif backfill:
        tasks.add_task(app.backfill_job, [cutout.id])
    return cutout.to_dict() | {"created": created}


@router.get("/cutouts", summary="Registered cut-outs")
def list_cutouts(app: MemetrackDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0) -> list[dict]:
    return [c.to_dict() for c in app.store.cutouts.list(limit, offset)]


@router.get("/cutouts/{cutout_id}", responses=ERRORS,
            summary="A cut-out with its report: media, families, accounts, platforms, "
            "first and last seen, and the latest backfill's progress")
def get_cutout(app: MemetrackDep, cutout_id: int) -> dict:
    return _detail(app, cutout_id)


@router.patch("/cutouts/{cutout_id}", responses=ERRORS,
              summary="Rename a cut-out or change its notes (a field left out stays as it is)")
def patch_cutout(app: MemetrackDep, cutout_id: int, body: CutoutPatch) -> dict:
    return app.rename_cutout(cutout_id, name=body.name, notes=body.notes).to_dict()


@router.delete("/cutouts/{cutout_id}", status_code=204, responses=ERRORS,
               summary="Forget a cut-out and its occurrences (the media it came from stays "
               "indexed); it is no longer detected")
def delete_cutout(app: MemetrackDep, cutout_id: int) -> Response:
    app.delete_cutout(cutout_id)
    return Response(status_code=204)


@router.get("/cutouts/{cutout_id}/occurrences", responses=ERRORS,
            summary="Where the cut-out was found: media, quadrilateral, scale, mirrored, score")
def occurrences(app: MemetrackDep, cutout_id: int,
                limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
                offset: Annotated[int, Query(ge=0)] = 0) -> list[dict]:
    return [o.to_dict() for o in app.store.cutouts.occurrences(cutout_id, limit, offset)]


@router.post("/cutouts/{cutout_id}/backfill", status_code=202, responses=ERRORS,
             summary="Search every indexed media for the cut-out (a background job; its "
             "progress shows in GET /v1/cutouts/{id})")
def backfill(app: MemetrackDep, cutout_id: int, tasks: BackgroundTasks) -> dict:
    app.store.cutouts.get(cutout_id)
    app.cutout_detector  # noqa: B018 - 503 until the detector is loaded
    tasks.add_task(app.backfill_job, [cutout_id])
    return {"cutout_id": cutout_id, "state": "queued"}
