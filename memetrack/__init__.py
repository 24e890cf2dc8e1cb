"""memetrack: track meme templates, transparent cut-outs and their spread.

The library knows nothing of HTTP; ``service/`` is a thin FastAPI layer over it.
"""

__version__ = "0.1.0"
