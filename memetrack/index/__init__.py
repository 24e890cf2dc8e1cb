"""Derived, rebuildable search indexes. Only this package imports FAISS."""
