"""memetrack's HTTP service: a thin FastAPI layer over the library."""
