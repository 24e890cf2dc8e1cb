"""The store: the source of truth. Only this package imports SQLAlchemy.

Callers get domain records (``memetrack.records``), never ORM rows.
"""

from memetrack.store.store import Store, open_store

__all__ = ["Store", "open_store"]
