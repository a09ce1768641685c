"""Leaf latency of the issue-23 criteria vs the variant criterion, on a synthetic index.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/discovery/bench_genomic_leaves.py

Builds a :class:`LakeIndex` in memory with ``LakeIndex.add_batch`` (no lake: Arrow tables
of ``--patients`` patients: 3 variants each over 500 genes, a fusion in 2 %, 20 gene
copy-number calls each, a structural variant per two patients, a TMB and an MSI row
each) and times each criterion's cold evaluation (the engine's leaf cache cleared before
every run; the index's own structures, e.g. the TMB value cuts, are kept, as a server
keeps them): p50 and p95 over ``--runs``, and the first run (after a load from disk the
value cuts are made by the first range question: ``first`` of ``tmb`` shows that). Leaf
evaluation only (no consent, no breakdowns): the part that differs between criteria.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from typing import Any

import numpy as np
import pyarrow as pa

from catalog_api.discovery.definition import parse_definition
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.index import COLUMNS, DatasetInfo, LakeIndex
from catalog_api.discovery.index_genomic import ValueCuts


def tables(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    pids = np.array([f"P{i:07d}" for i in range(n)], dtype=object)
    genes = np.array([f"G{i:03d}" for i in range(500)] + ["BRAF", "ERBB2", "NTRK1"], dtype=object)
    out: dict[str, pa.Table] = {}
    for name, cols in COLUMNS.items():
        out[name] = pa.table({c: pa.nulls(0, pa.string()) for c in cols})
    out["patients"] = pa.table(
        {"patient_id": pids, "submission_id": ["S1"] * n, "sex": ["female"] * n,
         "deceased": np.zeros(n, bool)}
    )  # fmt: skip
    v = rng.integers(0, len(genes), 3 * n)
    out["variants"] = pa.table(
        {"patient_id": np.repeat(pids, 3), "gene": genes[v],
         "protein_change": [f"X{x % 50}Y" for x in v], "consequence": ["missense_variant"] * 3 * n,
         "variant_class": ["SNV"] * 3 * n, "origin": ["somatic"] * 3 * n}
    )  # fmt: skip
    f = np.flatnonzero(rng.random(n) < 0.02)
    partners = np.array(["NTRK1", "NTRK3", "ALK", "RET"], dtype=object)[rng.integers(0, 4, len(f))]
    sv = rng.integers(0, n, n // 2)  # other SVs: one per two patients, a gene at each end
    kinds = np.array(["DEL", "DUP", "INV", "INS", "BND"], dtype=object)
    strs = pa.list_(pa.string())
    out["structural_variants"] = pa.table(
        {"patient_id": np.concatenate([pids[f], pids[sv]]),
         "sv_type": np.concatenate([np.full(len(f), "BND", object),
                                    kinds[rng.integers(0, 5, len(sv))]]),
         "gene_a": pa.array([["ETV6"]] * len(f)
                            + [[g] for g in genes[rng.integers(0, len(genes), len(sv))]], strs),
         "gene_b": pa.array([[p] for p in partners]
                            + [[g] for g in genes[rng.integers(0, len(genes), len(sv))]], strs),
         "fusion": [f"ETV6::{p}" for p in partners] + [None] * len(sv),
         "fusion_genes": pa.array([["ETV6", p] for p in partners] + [None] * len(sv), strs),
         "filter": ["PASS"] * (len(f) + len(sv))}
    )  # fmt: skip
    calls = np.array(["amplification", "gain", "neutral", "loss", "deep_deletion"], dtype=object)
    c = rng.choice(5, 20 * n, p=[0.02, 0.08, 0.8, 0.08, 0.02])
    out["copy_number_genes"] = pa.table(
        {"patient_id": np.repeat(pids, 20), "gene": np.tile(genes[-20:], n), "call": calls[c]}
    )
    msi = rng.random(n) < 0.1
    out["biomarkers"] = pa.table(
        {"patient_id": np.concatenate([pids, pids]), "marker": ["TMB"] * n + ["MSI"] * n,
         "interpretation": [None] * n + ["high" if m else "negative" for m in msi],
         "value_numeric": np.concatenate([rng.gamma(1.5, 3.0, n), np.zeros(n)]),
         "value_code": pa.nulls(2 * n, pa.string()),
         "value_display": [None] * n + ["MSI-H" if m else "MSS" for m in msi]}
    )  # fmt: skip
    return out


CRITERIA: list[tuple[str, dict[str, Any]]] = [
    ("variant gene BRAF", {"type": "variant", "gene": "BRAF"}),
    ("variant BRAF X1Y", {"type": "variant", "gene": "BRAF", "protein_change": "X1Y"}),
    ("fusion NTRK1 any partner", {"type": "fusion", "gene": "NTRK1"}),
    ("fusion ETV6::NTRK3", {"type": "fusion", "gene": "ETV6::NTRK3"}),
    (
        "copy_number ERBB2 amplification",
        {"type": "copy_number", "gene": "ERBB2", "calls": ["amplification"]},
    ),
    ("sv NTRK1 any type", {"type": "structural_variant", "gene": "NTRK1"}),
    (
        "sv BRAF DEL or DUP",
        {"type": "structural_variant", "gene": "BRAF", "sv_types": ["DEL", "DUP"]},
    ),
    ("tmb >= 10", {"type": "tmb", "min": 10}),
    ("tmb >= 9.5 (between cuts)", {"type": "tmb", "min": 9.5}),
    ("tmb <= 5", {"type": "tmb", "max": 5}),
    ("tmb 5-15", {"type": "tmb", "min": 5, "max": 15}),
    ("msi MSI-H", {"type": "msi", "status": ["MSI-H"]}),
    ("msi MSI-H or MSI-L", {"type": "msi", "status": ["MSI-H", "MSI-L"]}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    rng = np.random.default_rng(23)
    t0 = time.perf_counter()
    data = tables(args.patients, rng)
    t1 = time.perf_counter()
    idx = LakeIndex()
    idx.add_batch(data, [DatasetInfo("D1", "C1", "S1", {})])
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"patients {args.patients}: tables {t1 - t0:.1f} s, add_batch {t2 - t1:.1f} s, "
          f"max RSS {rss:.0f} MiB")  # fmt: skip
    cuts = idx.value_cuts["TMB"]
    s = time.perf_counter()
    ValueCuts(cuts.vals, cuts.slots)
    made = (time.perf_counter() - s) * 1000
    size = sum(b.get_statistics()["n_bytes_array_containers"]
               + b.get_statistics()["n_bytes_bitset_containers"]
               + b.get_statistics()["n_bytes_run_containers"] for b in cuts.above)  # fmt: skip
    print(f"TMB value cuts: {len(cuts.cuts)} cuts, made in {made:.0f} ms, "
          f"{size / 2**20:.1f} MiB of kept bitmaps")  # fmt: skip
    idx.value_cuts.pop("TMB")  # the first TMB question after a load makes them again
    engine = DiscoveryEngine.__new__(DiscoveryEngine)
    base = None
    for name, crit in CRITERIA:
        leaf = parse_definition({"criteria": crit}).criteria
        times = []
        for _ in range(args.runs):
            idx.memo = {}
            s = time.perf_counter()
            bm = engine._leaf(idx, leaf)
            times.append((time.perf_counter() - s) * 1000)
        p50 = statistics.median(times)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        base = base or p50
        print(f"{name:34s} n={len(bm):8d}  p50 {p50:7.3f} ms  p95 {p95:7.3f} ms  "
              f"first {times[0]:8.3f} ms  x{p50 / base:5.2f} of variant gene")  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
