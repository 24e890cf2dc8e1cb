from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="Liveness: the process answers")
def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/health/ready", summary="Readiness: 503 until the search indexes are loaded")
def ready(request: Request) -> JSONResponse:
    app = request.app.state.memetrack
    state = request.app.state
    if not app.ready:
        body = {"status": "loading"}
        if state.load_error:
            body = {"status": "failed", "error": state.load_error}
        return JSONResponse(status_code=503, content=body)
    return JSONResponse({"status": "ready", "indexes": app.indexes.sizes()})
