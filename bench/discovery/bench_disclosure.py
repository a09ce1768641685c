"""The disclosure check's cost per count on the application database (issue 20, gap 5).

Runs ``DisclosureControl.check`` as the count service does: one user, answers of
``--patients`` patients with a by-centre breakdown of ``--centres`` cells, against a
history of ``--history`` earlier answers, on SQLite (a file, as the embedded default)
or PostgreSQL (``--database-url``). Prints per-check wall time (p50, p95) for a new
answer (remembered: cells written) and for a repeated one (the bench's common case), and
the process's max RSS.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/discovery/bench_disclosure.py
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from pyroaring import BitMap

from catalog_api.db import make_engine, upgrade
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.discovery.history import SqlStore


def answer(rng: np.random.Generator, n: int, centres: int, universe: int) -> dict[str, BitMap]:
    """A count answer: ``n`` random patients and their by-centre cells (every cell ≥ 5)."""
    n = int(rng.integers(n // 2, 2 * n))
    ids = np.sort(rng.choice(universe, size=n, replace=False)).astype(np.uint32)
    labels = rng.integers(0, centres, size=n)
    out = {"count": BitMap(ids)}
    for c in range(centres):
        cell = ids[labels == c]
        if len(cell) >= 5:
            out[f"centre:C{c:04d}"] = BitMap(cell)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--centres", type=int, default=200)
    ap.add_argument("--history", type=int, default=200)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    rng = np.random.default_rng(20)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'app.db'}"
        engine = make_engine(url)
        upgrade(engine)
        ctl = DisclosureControl(store=SqlStore(engine, b"bench"), budget=10**9)
        ctl.reset()
        universe = args.patients * 50
        for i in range(args.history):
            ctl.check("bench", f"h{i}", answer(rng, args.patients, args.centres, universe), "v1")
        fresh, repeat = [], []
        same = answer(rng, args.patients, args.centres, universe)
        ctl.check("bench", "same", same, "v1")
        for i in range(args.runs):
            a = answer(rng, args.patients, args.centres, universe)
            t0 = time.perf_counter()
            ctl.check("bench", f"new{i}", a, "v1")
            fresh.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ctl.check("bench", "same", same, "v1")
            repeat.append(time.perf_counter() - t0)
        engine.dispose()

    def ms(xs: list[float], q: float) -> float:
        return 1000 * float(np.quantile(xs, q))

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cells = len(same) - 1
    print(
        f"{url.split('://')[0]}: {args.patients} patients, {cells} centre cells, history "
        f"{args.history}: new answer p50 {ms(fresh, 0.5):.2f} ms p95 {ms(fresh, 0.95):.2f} ms; "
        f"repeated p50 {ms(repeat, 0.5):.2f} ms p95 {ms(repeat, 0.95):.2f} ms "
        f"(mean {1000 * statistics.mean(repeat):.2f}); max RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
