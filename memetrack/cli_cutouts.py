"""CLI commands for cut-outs (placeholder until built)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's subcommands to the ``memetrack`` parser."""
