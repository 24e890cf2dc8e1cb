"""memetrack errors as JSON responses: ``{"error": {"code", "message", "details"?}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from memetrack.errors import BadMetadata, MemetrackError


def error_response(exc: MemetrackError) -> JSONResponse:
    return JSONResponse(status_code=exc.http_status, content={"error": exc.to_dict()})


def install(app: FastAPI) -> None:
    @app.exception_handler(MemetrackError)
    async def _memetrack(_request: Request, exc: MemetrackError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "problem": e.get("msg")}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "problem": "invalid request"}
        return error_response(BadMetadata(
            f"{first['field'] or 'request'}: {first['problem']}", problems=problems))
