"""memetrack: track meme templates, transparent cut-outs and their spread.

The library knows nothing of HTTP; ``service/`` is a thin FastAPI layer over it.
"""

import os

# numpy's BLAS on one thread per process (set before numpy is loaded; an explicit setting wins).
# The hashes' matrix products are small: two worker processes that each start a BLAS thread per
# core spent 3.5x the time on them (measured with two processes on two cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
