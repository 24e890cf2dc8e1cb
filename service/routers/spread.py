"""Spread reports, coordination, accounts and batch sightings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from memetrack import network
from memetrack.coordination import (
    DEFAULT_LEVEL,
    DEFAULT_MIN_GROUP_SIZE,
    DEFAULT_MIN_OVERLAP,
    DEFAULT_MIN_REPETITIONS,
    CoordinationParams,
    find_coordination,
)
from memetrack.errors import BadInput, TooManyBytes
from memetrack.spread import SpreadFilter, Target, ingest_batch, report_to_csv
from memetrack.store.spread import list_accounts, list_platforms, spread_report
from service.deps import MemetrackDep
from service.schemas import ErrorOut

router = APIRouter(tags=["spread"])
ERRORS = {code: {"model": ErrorOut} for code in (400, 404, 413, 422)}
BATCH_MAX_BYTES = 256 * 1024 * 1024

Since = Annotated[str | None, Query(description="ISO-8601 time with zone (inclusive)")]
Until = Annotated[str | None, Query(description="ISO-8601 time with zone (exclusive)")]


@router.get("/reports/{kind}/{target_id}", responses=ERRORS,
            summary="Spread of a family, variant, cut-out or media (JSON or CSV)")
def report(
    app: MemetrackDep,
    kind: str,
    target_id: int,
    platform: str | None = None,
    since: Since = None,
    until: Until = None,
    account: str | None = None,
    bucket: Annotated[str | None, Query(pattern="^(hour|day)$")] = None,
    top: Annotated[int, Query(ge=1, le=1000)] = 10,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    filters = SpreadFilter.parse(platform=platform, since=since, until=until, account=account)
    result = spread_report(app.store, Target(kind, target_id), filters, bucket=bucket, top=top)
    if format == "csv":
        return Response(report_to_csv(result), media_type="text/csv")
    return result.to_dict()


@router.get("/coordination", responses=ERRORS,
            summary="Groups of accounts posting the same item within seconds, repeatedly")
def coordination(
    app: MemetrackDep,
    window: Annotated[str | None, Query(description="seconds, or 'auto' (default 60)")] = None,
    min_repetitions: Annotated[int, Query(ge=1)] = DEFAULT_MIN_REPETITIONS,
    level: Annotated[str, Query(pattern="^(family|variant|media)$")] = DEFAULT_LEVEL,
    min_overlap: Annotated[float, Query(ge=0, le=1)] = DEFAULT_MIN_OVERLAP,
    min_group_size: Annotated[int, Query(ge=2)] = DEFAULT_MIN_GROUP_SIZE,
    platform: str | None = None,
    since: Since = None,
    until: Until = None,
    evidence: bool = True,
    format: Annotated[str, Query(pattern="^(json|graphml|gexf|csv)$")] = "json",
) -> Any:
    params = CoordinationParams.parse(window, min_repetitions=min_repetitions, level=level,
                                      min_overlap=min_overlap, min_group_size=min_group_size,
                                      filters=SpreadFilter.parse(platform, since, until))
    result = find_coordination(app.store, params)
    if format == "json":
        return result.to_dict(evidence=evidence)
    render, media_type = network.EXPORTS[format]
    return Response(render(result), media_type=media_type)


@router.get("/accounts", responses=ERRORS,
            summary="Accounts and platforms with first/last seen and sighting counts")
def accounts(
    app: MemetrackDep,
    platform: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    order: Annotated[str, Query(pattern="^(sightings|first_seen)$")] = "sightings",
) -> dict[str, Any]:
    rows = list_accounts(app.store, platform, limit=limit, offset=offset, order=order)
    platforms = list_platforms(app.store)
    return {
        "platforms": [{"name": n, "sightings": s, "accounts": a,
                       "first_seen_at": f.isoformat() if f else None,
                       "last_seen_at": last.isoformat() if last else None}
                      for n, s, f, last, a in platforms],
        "accounts": [a.to_dict() for a in rows],
    }


@router.post("/sightings/batch", responses=ERRORS,
             summary="Store many sightings: a JSON array, JSONL or CSV of rows (idempotent)",
             description="Each row has the sighting fields (platform, account, post_id, url, "
                         "posted_at, collected_at, text) and its media as `media_sha256` of an "
                         "indexed media or inline as `image_base64`. Bad rows are reported by "
                         "row number (array position, or line for JSONL/CSV); the rest are "
                         "stored. Content-Type: application/json, application/x-ndjson or "
                         "text/csv.")
async def sightings_batch(app: MemetrackDep, request: Request) -> dict[str, Any]:
    declared = int(request.headers.get("content-length") or 0)
    if declared > BATCH_MAX_BYTES:
        raise TooManyBytes(f"a batch is at most {BATCH_MAX_BYTES} bytes", limit=BATCH_MAX_BYTES)
    body = await request.body()
    if len(body) > BATCH_MAX_BYTES:
        raise TooManyBytes(f"a batch is at most {BATCH_MAX_BYTES} bytes", limit=BATCH_MAX_BYTES)
    if not body.strip():
        raise BadInput("the batch is empty")
    result = await run_in_threadpool(ingest_batch, app, body,
                                     request.headers.get("content-type", ""))
    return result.to_dict()
