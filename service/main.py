"""The app factory: ``create_app(settings)``."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from memetrack import __version__
from memetrack.config import Settings
from memetrack.errors import MemetrackError
from memetrack.pipeline import Memetrack
from service import errors
from service.routers import cutouts, families, health, match, media, spread

log = logging.getLogger("memetrack.service")


def create_app(settings: Settings | None = None, *, load_in_background: bool = True) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        core = Memetrack(settings)
        app.state.memetrack = core
        app.state.load_error = None

        def load() -> None:
            try:
                core.load_indexes()
                log.info("indexes ready: %s", core.indexes.sizes())
            except MemetrackError as exc:
                app.state.load_error = exc.message
                log.error("cannot load indexes: %s", exc.message)
                return
            if core.store.cutouts.interrupted_backfills():
                # backfills a stopped service left running go on, without holding up readiness
                # (in the foreground when loading is, as in tests)
                if load_in_background:
                    threading.Thread(target=core.resume_backfills, name="backfill-resume",
                                     daemon=True).start()
                else:
                    core.resume_backfills()

        loader = threading.Thread(target=load, name="index-loader", daemon=True)
        loader.start()
        if not load_in_background:
            loader.join()
        try:
            yield
        finally:
            loader.join(timeout=30)
            core.save_indexes()
            core.close()

    app = FastAPI(
        title="memetrack",
        version=__version__,
        description="Find meme templates, cut-outs and near-duplicates, and where they spread.",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in (health.router, media.router, match.router, families.router,
                   cutouts.router, spread.router):
        app.include_router(router, prefix="/v1")
    return app
