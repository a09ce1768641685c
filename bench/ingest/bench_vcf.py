"""Ingest benchmarks, side by side with bcftools (not part of make test).

    python bench/ingest/bench_vcf.py large [--records 1000000] [--commit]
    python bench/ingest/bench_vcf.py small [--files 2000] [--records 300]

``large``: one tumour/normal VCF.gz → normalised variant rows (and, with --commit, a lake
commit) vs ``bcftools query`` extracting the same fields to text; records/s and ratio.
``small``: many small VCFs read in-process (engine auto → pysam) vs spawning
``bcftools query`` once per file; also our bcftools engine per file. Peak RSS is printed.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def _make(path: Path, n: int, seed: int) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "make_vcf.py"), str(path), str(n), "--seed", str(seed)],
        check=True,
    )


def _query(path: Path) -> None:
    from harmonise.vcf import SampleRoles, _query_format, read_header

    fmt, _ = _query_format(read_header(path), SampleRoles("TUMOUR", "NORMAL"))
    subprocess.run(
        ["bcftools", "query", "-f", fmt, "-s", "TUMOUR,NORMAL", str(path)],
        stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip


def large(records: int, commit: bool, work: Path) -> None:
    """Ratio of our rate to bcftools query's on one large file."""
    from harmonise.vcf import ReadStats, SampleRoles, read_variants

    path = work / f"large{records}.vcf.gz"
    if not path.exists():
        _make(path, records, 1)
    t = time.perf_counter()
    _query(path)
    t_query = time.perf_counter() - t
    t = time.perf_counter()
    st = ReadStats()
    tables = list(
        read_variants(path, SampleRoles("TUMOUR", "NORMAL"), "GRCh37", "bcftools", stats=st)
    )
    if commit:
        import pyarrow as pa

        from harmonise.lake import Lake, LakeConfig, Submission

        lake = Lake(LakeConfig(f"sqlite:///{work}/cat.db", str(work / "wh")), b"k")
        (work / "wh").mkdir(exist_ok=True)
        lake.init()
        data = pa.concat_tables(tables)
        n = data.num_rows
        extra = {"patient_id": "P", "specimen_id": "T", "genome_build": "GRCh37"}
        for k, v in extra.items():
            data = data.append_column(k, pa.array([v] * n))
        lake.commit(Submission(f"s{time.time()}", "D", "C", {"manifest_digest": "x"},
                               {"variants": data}, {}))  # fmt: skip
    t_ours = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"large: {st.records} records; bcftools query {st.records / t_query:,.0f} rec/s; "
          f"ours{' +commit' if commit else ''} {st.records / t_ours:,.0f} rec/s; "
          f"ratio {t_query / t_ours:.2f}; peak RSS {rss:.0f} MiB")  # fmt: skip


def small(files: int, records: int, work: Path) -> None:
    """In-process ingest of many small files vs one bcftools query process per file."""
    from harmonise.vcf import ReadStats, SampleRoles, read_variants

    base = work / f"small{records}.vcf.gz"
    if not base.exists():
        _make(base, records, 2)
    paths = []
    for i in range(files):  # same content, distinct files (as many patients' VCFs)
        p = work / f"s{records}_{i}.vcf.gz"
        if not p.exists():
            p.write_bytes(base.read_bytes())
        paths.append(p)
    roles = SampleRoles("TUMOUR", "NORMAL")
    t = time.perf_counter()
    for p in paths:
        _query(p)
    t_query = time.perf_counter() - t
    t = time.perf_counter()
    for p in paths:
        list(read_variants(p, roles, "GRCh37", "bcftools", stats=ReadStats()))
    t_ours_bcf = time.perf_counter() - t
    t = time.perf_counter()
    for p in paths:
        list(read_variants(p, roles, "GRCh37", "auto", stats=ReadStats()))
    t_ours = time.perf_counter() - t
    print(f"small: {files} files x {records} records; bcftools query per file {t_query:.2f} s; "
          f"ours (bcftools engine) {t_ours_bcf:.2f} s; ours in-process {t_ours:.2f} s; "
          f"speed-up vs bcftools query {t_query / t_ours:.2f}x")  # fmt: skip


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["large", "small"])
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--commit", action="store_true")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "oncolake-bench")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    if a.what == "large":
        large(a.records or 1_000_000, a.commit, a.work)
    else:
        small(a.files, a.records or 300, a.work)


if __name__ == "__main__":
    main()
