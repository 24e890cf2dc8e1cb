"""Spread, coordination and batch sighting endpoints (placeholder until built)."""

from fastapi import APIRouter

router = APIRouter(tags=["spread"])
