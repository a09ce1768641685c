"""Harmonisation: submission bundles, VCF and mCODE FHIR ingest, the lake layer."""

import os

# Arrow allocates through mimalloc, which gives freed memory back to the OS after 1 s
# (its purge delay). An ingest allocates and frees hundreds of MB of intermediate arrays
# per second, so pages went back to the OS and were faulted in again all along a commit:
# 0.2-0.7 s of system time per 1M-record commit on 2 vCPUs under KVM, against 0.06-0.16 s
# with a 10 s delay (getrusage over five commits each; the committed rate rose from
# 0.74-0.75 to 0.76-0.79 of `bcftools query`, peak RSS from ~730 to ~800 MiB). Freed
# memory still goes back after 10 s idle. mimalloc reads this when libarrow loads: it
# applies to processes that import harmonise before pyarrow (the `oncolake` command and
# the benchmarks do); an operator's own setting wins.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "10000")
