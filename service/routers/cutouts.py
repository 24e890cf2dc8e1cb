"""Cut-out endpoints (placeholder until built)."""

from fastapi import APIRouter

router = APIRouter(tags=["cutouts"])
