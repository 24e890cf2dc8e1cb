"""Evaluation: seeded query variants and the measurements built on them."""
