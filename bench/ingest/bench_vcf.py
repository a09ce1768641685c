"""Ingest benchmarks, side by side with bcftools (not part of make test).

    python bench/ingest/bench_vcf.py large [--records 1000000] [--commit | --bundle] [--engine auto]
    python bench/ingest/bench_vcf.py small [--files 2000] [--records 300] [--per-file] [--bundle]

``large``: one tumour/normal VCF.gz → normalised variant rows (with --commit, streamed into
a lake commit; with --bundle, the hub's whole ``harmonise.ingest.ingest`` of a submission
bundle holding the VCF: checksums, manifest, consent, headers, the streamed records and
the commit) vs ``bcftools query`` extracting the same fields to text; records/s and ratio,
best of --repeat rounds each (bcftools and ours alternate, as the machine may be shared), and
the median of the rounds' ratios. ``small``: many small VCFs read
in-process by :func:`harmonise.vcf.read_many` (one columnar pass) vs spawning
``bcftools query`` once per file (--per-file adds our one-file-at-a-time reader). Peak RSS
of the process is printed (run 100k and 1M records in separate processes to compare).
Both warm up first (imports, one tiny read): a hub process ingests continuously.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import oncolake  # noqa: F401  (before pyarrow: its allocator setting, as `oncolake` runs)

if TYPE_CHECKING:
    from harmonise.vcf import Engine

HERE = Path(__file__).parent


def _make(path: Path, n: int, seed: int) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "make_vcf.py"), str(path), str(n), "--seed", str(seed)],
        check=True,
    )


def _fmt(path: Path) -> str:
    from harmonise.vcf import SampleRoles, read_header
    from harmonise.vcf.htslib import _query_format

    return _query_format(read_header(path), SampleRoles("TUMOUR", "NORMAL"))[0]


def _query(path: Path, fmt: str) -> None:
    subprocess.run(
        ["bcftools", "query", "-f", fmt, "-s", "TUMOUR,NORMAL", str(path)],
        stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip


def _best(
    fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None
) -> float:
    best = float("inf")
    for _ in range(repeat):
        if setup is not None:
            setup()  # not timed
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _warm(work: Path) -> None:
    from harmonise.vcf import SampleRoles, VcfSource, read_many, read_variants

    tiny = work / "warm.vcf.gz"
    if not tiny.exists():
        _make(tiny, 50, 3)
    list(read_variants(tiny, SampleRoles("TUMOUR", "NORMAL"), "GRCh37"))
    read_many([VcfSource(str(tiny), SampleRoles("TUMOUR", "NORMAL"))], "GRCh37")


def _bundle(vcfs: list[Path], work: Path, name: str) -> Path:
    """A submission bundle (built once, as the centre would) holding ``vcfs``, one patient
    each, whose tumour/normal sample columns are ``T<i>``/``N<i>`` (``TUMOUR``/``NORMAL``
    for a single file)."""
    import json

    from harmonise.bundle import SubmitInputs, build_bundle

    out = work / f"bundle-{name}"
    found = sorted(out.glob("*/manifest.json")) if out.exists() else []
    if found:
        return found[0].parent
    assay = {"type": "WGS", "name": "WGS", "version": "1"}
    samples = []
    for i in range(len(vcfs)):
        t, n = ("TUMOUR", "NORMAL") if len(vcfs) == 1 else (f"T{i}", f"N{i}")
        common = {"patient_id": f"P{i}", "sample_type": "FFPE", "assay": assay,
                  "platform": "Illumina NovaSeq 6000", "collection_year": 2020}  # fmt: skip
        samples += [
            {**common, "specimen_id": t, "role": "tumour", "matched_normal": n},
            {**common, "specimen_id": n, "role": "normal", "sample_type": "blood"},
        ]
    draft = {
        "format_version": 1, "dataset_id": "BENCH-large", "title": "bench",
        "centre": {"id": "BENCH", "name": "Bench centre", "country": "NL"},
        "data_controller": {"name": "Bench centre", "contact_name": "Data office",
                            "contact_email": "dpo@bench.example"},
        "legal_basis": "consent", "data_types": ["variants", "consent"], "analysis": "somatic",
        "samples": samples,
        "reference": {"build": "GRCh37", "contig_naming": "ensembl"},
        "pipeline": {"id": "oncolake/dna_seq", "version": "0.1.0",
                     "fingerprint": "sha256:" + "ab" * 32, "harmonised": True},
        "consent_form_version": "BENCH-1", "duo_codes": ["DUO:0000042"],
        "files": [{"path": "x", "sha256": "0" * 64, "size": 0, "format": "format_3016"}],
    }  # fmt: skip
    duo = {"coding": [{"system": "http://purl.obolibrary.org/obo/duo.owl", "code": "DUO:0000042"}]}
    consent = [{
        "resourceType": "Consent", "id": f"c{i}", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": f"Patient/P{i}"}, "dateTime": "2020-01-01",
        "policy": [{"uri": "urn:oncolake:consent-form:BENCH-1"}],
        "provision": {"type": "permit", "code": [duo], "class": [
            {"system": "https://oncolake.org/fhir/CodeSystem/data-scope", "code": "genomic"}]},
    } for i in range(len(vcfs))]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    cfile = out / "consent.ndjson"
    cfile.write_text("".join(json.dumps(c) + "\n" for c in consent))
    inputs = SubmitInputs(draft, vcfs=vcfs, consent=[cfile])
    bundle, _ = build_bundle(inputs, b"bench-centre-key", out)
    return bundle


def large(records: int, mode: str, work: Path, engine: str, repeat: int) -> None:
    """Ratio of our rate to bcftools query's on one large file."""
    import pyarrow as pa

    from harmonise.vcf import ReadStats, SampleRoles, read_variants

    path = work / f"large{records}.vcf.gz"
    if not path.exists():
        _make(path, records, 1)
    _warm(work)
    fmt = _fmt(path)
    st = ReadStats()
    lake = None
    bundle = _bundle([path], work, path.stem) if mode == "bundle" else None
    if mode != "read":
        # the hub's lake exists before a bundle arrives: its set-up (imports, creating the
        # tables) is not timed; each of the --repeat runs commits one more submission to it
        from harmonise.lake import Lake, LakeConfig, Submission, constant

        home = Path(tempfile.mkdtemp(prefix="lake-", dir=work))  # removed at the end

        def new_lake() -> None:
            nonlocal lake
            wh = Path(tempfile.mkdtemp(prefix="run-", dir=home))
            lake = Lake(LakeConfig(f"sqlite:///{wh}/cat.db", str(wh / "wh")), b"k")
            lake.init()

        new_lake()

    def ours() -> None:
        nonlocal st
        st = ReadStats()
        if bundle is not None:
            from harmonise.ingest import ingest

            assert lake is not None
            report, _ = ingest(lake, bundle, engine=cast("Engine", engine))
            st.records = report.vcf_records
            return
        batches = read_variants(
            path,
            SampleRoles("TUMOUR", "NORMAL"),
            "GRCh37",
            cast("Engine", engine),
            stats=st,
        )
        if lake is None:
            for _ in batches:
                pass
            return
        extra = {"patient_id": "P", "specimen_id": "T", "genome_build": "GRCh37"}

        def rows() -> Iterator[pa.Table]:
            # streamed into the commit: the lake writes a chunk while the next is read; the
            # file's constant columns as ingest adds them (one-value dictionaries)
            for batch in batches:
                for k, v in extra.items():
                    batch = batch.append_column(k, constant(v, batch.num_rows))
                yield batch

        lake.commit(Submission(f"s{time.time()}", "D", "C", {"manifest_digest": "x"},
                               {"variants": rows()}, {}))  # fmt: skip

    # interleaved, bcftools then ours in each of the --repeat rounds, so that both see the
    # same state of a shared machine: the ratio of the best times, and the median of the
    # rounds' ratios. A bundle is committed once per lake (a re-ingest is a no-op): a new
    # lake per round, made before the clock starts.
    rounds = []
    for _ in range(repeat):
        tq = _best(lambda: _query(path, fmt), 1)
        to = _best(ours, 1, new_lake if bundle is not None else None)
        rounds.append((tq, to))
    t_query, t_ours = min(q for q, _ in rounds), min(o for _, o in rounds)
    ratios = sorted(q / o for q, o in rounds)
    median = ratios[len(ratios) // 2]
    if lake is not None:
        shutil.rmtree(home, ignore_errors=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"large: {st.records:,} records; bcftools query {st.records / t_query:,.0f} rec/s "
          f"({t_query:.2f} s); ours ({engine}{'' if mode == 'read' else ' +' + mode}) "
          f"{st.records / t_ours:,.0f} rec/s ({t_ours:.2f} s); ratio {t_query / t_ours:.2f} "
          f"(rounds: median {median:.2f}, {ratios[0]:.2f}-{ratios[-1]:.2f}); "
          f"peak RSS {rss:.0f} MiB")  # fmt: skip


def small(
    files: int, records: int, work: Path, per_file: bool, repeat: int, as_bundle: bool
) -> None:
    """In-process ingest of many small files vs one bcftools query process per file.

    With ``as_bundle``: the files are one centre's submission (a patient each, distinct
    sample columns), and ours is the hub's whole ``ingest`` of that bundle, committed to a
    new lake each round; bcftools reads the bundle's (pseudonymised) files."""
    from harmonise.vcf import ReadStats, SampleRoles, VcfSource, read_many, read_variants

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
    _warm(work)
    fmt = _fmt(paths[0])
    lake = None
    bundle = None
    if as_bundle:
        named = []
        for i, p in enumerate(paths):  # a patient per file: its own sample names
            q = work / f"n{records}_{i}.vcf.gz"
            if not q.exists():
                names = work / "names.txt"
                names.write_text(f"TUMOUR T{i}\nNORMAL N{i}\n")
                subprocess.run(["bcftools", "reheader", "-s", str(names), "-o", str(q), str(p)],
                               check=True, capture_output=True)  # fmt: skip
            named.append(q)
        bundle = _bundle(named, work, f"small{files}x{records}")
        paths = sorted((bundle / "variants").glob("*.vcf.gz"))

    def query_each() -> None:
        for p in paths:
            if bundle is None:
                _query(p, fmt)
            else:  # the bundle's files hold exactly the tumour and the normal, in order
                subprocess.run(["bcftools", "query", "-f", fmt, str(p)],
                               stdout=subprocess.DEVNULL, check=True)  # fmt: skip

    rows = 0

    def new_lake() -> None:
        nonlocal lake
        from harmonise.lake import Lake, LakeConfig

        wh = Path(tempfile.mkdtemp(prefix="run-", dir=home))
        lake = Lake(LakeConfig(f"sqlite:///{wh}/cat.db", str(wh / "wh")), b"k")
        lake.init()

    def many() -> None:
        nonlocal rows
        if bundle is not None:
            from harmonise.ingest import ingest

            assert lake is not None
            report, _ = ingest(lake, bundle)
            rows = report.variants
            return
        got = read_many([VcfSource(str(p), roles) for p in paths], "GRCh37")
        rows = sum(t.num_rows for t, _ in got)

    home = Path(tempfile.mkdtemp(prefix="lake-", dir=work))  # removed at the end
    rounds = []
    for _ in range(repeat):  # interleaved, as in ``large``
        tq = _best(query_each, 1)
        to = _best(many, 1, new_lake if bundle is not None else None)
        rounds.append((tq, to))
    shutil.rmtree(home, ignore_errors=True)
    t_query, t_ours = min(q for q, _ in rounds), min(o for _, o in rounds)
    what = "ingest of the bundle (committed)" if bundle is not None else "read_many"
    line = (f"small: {files} files x {records} records ({rows:,} rows); bcftools query per "
            f"file {t_query:.2f} s; ours {what} {t_ours:.2f} s "
            f"({t_ours / files * 1000:.2f} ms/file); speed-up {t_query / t_ours:.2f}x")  # fmt: skip
    if per_file:
        t = time.perf_counter()
        for p in paths:
            list(read_variants(p, None if bundle else roles, "GRCh37", stats=ReadStats()))
        line += f"; ours one file at a time {time.perf_counter() - t:.2f} s"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{line}; peak RSS {rss:.0f} MiB")


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["large", "small"])
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--commit", action="store_true", help="stream the rows into a lake commit")
    ap.add_argument("--bundle", action="store_true", help="the hub's ingest of a bundle")
    ap.add_argument("--engine", default="auto", help="auto, text, pysam or bcftools")
    ap.add_argument("--per-file", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "oncolake-bench")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    if a.what == "large":
        mode = "bundle" if a.bundle else "commit" if a.commit else "read"
        large(a.records or 1_000_000, mode, a.work, a.engine, a.repeat)
    else:
        small(a.files, a.records or 300, a.work, a.per_file, a.repeat, a.bundle)


if __name__ == "__main__":
    main()
