"""oncolake's composition root: settings, the ``oncolake`` command line and the demo."""

import os

__version__ = "0.1.0"

# The process's allocator tuning, set here (the first module the `oncolake` command loads)
# because mimalloc reads it when libarrow loads, before any of our packages import pyarrow.
# Arrow allocates through mimalloc, which gives freed memory back to the OS after 1 s (its
# purge delay); an ingest frees hundreds of MB of intermediate arrays per second, so pages
# went back and were faulted in again all along a commit. With 10 s, system time per
# 1M-record commit fell from 0.2-0.7 s to 0.06-0.16 s (figures: docs/ingest.md, "The
# allocator"). Freed memory still goes back after 10 s idle; an operator's own setting wins.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "10000")
