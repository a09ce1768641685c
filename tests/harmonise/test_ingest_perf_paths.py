"""The fast VCF paths give the rows the htslib readers give: the text engine (VCF text →
Arrow CSV reader) against pysam over the whole corpus, :func:`read_many` (many small files
in one columnar pass) against one file at a time, and the hand-over to htslib in the
middle of a file. No timings here: performance lives in ``bench/ingest``."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import harmonise.vcf.arrow as vcf_arrow
import harmonise.vcf.header as vcf_header
import harmonise.vcf.samples as vcf_samples
import harmonise.vcf.source as vcf_source
import harmonise.vcf.text as vcf_text
from harmonise.errors import HarmoniseError, VcfFormatError
from harmonise.vcf import ReadStats, SampleRoles, VcfSource, read_many, read_variants
from tests.harmonise.test_ingest_inputs import CORPUS, CORPUS_FILES

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=249250621>\n"
    '##INFO=<ID=BCSQ,Number=.,Type=String,Description="Format: Consequence|gene|transcript|'
    'biotype|strand|amino_acid_change|dna_change">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="d">\n'
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="a">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\tN\n"
)


def _rec(pos: int, gt: str = "0/1", alt: str = "T", info: str = ".") -> str:
    return (
        f"1\t{pos}\t.\tC\t{alt}\t{pos % 90}.5\tPASS\t{info}\tGT:DP:AD\t{gt}:30:20,10\t0/0:25:25,0\n"
    )


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Rows equal; QUAL compared at float32 (pysam reads it as BCF's float32)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for k in x.keys() | y.keys():
            u, v = x.get(k), y.get(k)
            if isinstance(u, float) and isinstance(v, float):
                if math.isnan(u) and math.isnan(v):
                    continue
                if k == "qual" and abs(u - v) <= 1e-6 * max(1.0, abs(u)):
                    continue
            if u != v:
                return False
    return True


def _read(path: Path | str, engine: str, roles: SampleRoles | None = None) -> Any:
    st = ReadStats()
    try:
        t = list(read_variants(path, roles, engine=engine, stats=st))  # type: ignore[arg-type]
    except HarmoniseError as exc:
        return ("refused", str(exc))
    rows = pa.concat_tables(t).to_pylist() if t else []
    return ("ok", rows, (st.records, st.rows, st.skipped_symbolic, st.skipped_reference_only))


@pytest.mark.skipif(not CORPUS_FILES, reason=f"needs {CORPUS} (shared real data), absent here")
def test_text_engine_agrees_with_pysam_over_the_corpus() -> None:
    """Every corpus file the text engine reads on its own gives pysam's rows and counts;
    none that htslib refuses is accepted; the rest is handed to htslib (auto)."""
    read = handed = 0
    for p in CORPUS_FILES:
        text, ref = _read(p, "text"), _read(p, "pysam")
        if text[0] == "refused":
            if "text engine cannot read it" in text[1]:
                handed += 1
            else:
                assert ref[0] == "refused", f"{p}: text engine refused, pysam read it"
            continue
        assert ref[0] == "ok", f"{p}: pysam refuses it ({ref[1]}) but the text engine read it"
        assert _same(text[1], ref[1]) and text[2] == ref[2], p
        read += 1
    assert read >= 150 and handed >= 1


@pytest.mark.skipif(not CORPUS_FILES, reason=f"needs {CORPUS} (shared real data), absent here")
def test_read_many_equals_one_file_at_a_time_over_the_corpus() -> None:
    good: list[tuple[Path, Any]] = []
    for p in CORPUS_FILES:
        r = _read(p, "auto")
        if r[0] == "ok":
            good.append((p, r))
    got = read_many([VcfSource(str(p)) for p, _ in good])
    assert len(got) == len(good)
    for (p, ref), (table, st) in zip(good, got, strict=True):
        counts = (st.records, st.rows, st.skipped_symbolic, st.skipped_reference_only)
        assert _same(table.to_pylist(), ref[1]) and counts == ref[2], p


def _small_files(tmp: Path, n: int) -> list[Path]:
    bcsq = "BCSQ=missense|BRAF|ENST00000288602|protein_coding|-|600V>600E|{pos}C>T"
    out = []
    for i in range(n):
        body = "".join(
            _rec(100 + 10 * j + i, info=bcsq.format(pos=100 + 10 * j + i) if j % 3 else ".")
            for j in range(20)
        )
        body += _rec(900 + i, alt="T,G", gt="1/2") + _rec(950 + i, alt=".")
        p = tmp / f"f{i}.vcf"
        p.write_text(HEADER + body)
        out.append(p)
    return out


def test_read_many_groups_split_back_per_file(tmp_path: Path) -> None:
    paths = _small_files(tmp_path, 12)
    got = read_many([VcfSource(str(p), SampleRoles("T", "N")) for p in paths])
    for p, (table, st) in zip(paths, got, strict=True):
        ref = _read(p, "pysam", SampleRoles("T", "N"))
        assert _same(table.to_pylist(), ref[1]), p
        assert (st.records, st.rows, st.skipped_reference_only) == (22, 22, 1)
    assert {r["protein_change"] for r in got[0][0].to_pylist()} >= {"V600E"}


def test_read_many_error_names_the_bad_file_among_good_ones(tmp_path: Path) -> None:
    paths = _small_files(tmp_path, 6)
    bad = paths[3]
    bad.write_text(HEADER + _rec(100) + "1\t200\t.\tCXG\tT\t.\tPASS\t.\tGT\t0/1\t0/0\n")
    with pytest.raises(VcfFormatError) as exc:
        read_many([VcfSource(str(p), SampleRoles("T", "N")) for p in paths])
    assert f"{bad}, line 9 (record 2, 1:200), field REF: 'CXG'" in str(exc.value)


def test_text_engine_hands_over_to_htslib_mid_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small batches; a genotype the text engine leaves to htslib in a later batch: the
    rows already read are kept, htslib reads the rest, the result is pysam's."""
    monkeypatch.setattr(vcf_text, "TEXT_BLOCK_BYTES", 256)
    monkeypatch.setattr(vcf_text, "NORMALISE_ROWS", 3)
    body = "".join(_rec(100 + i) for i in range(300)) + _rec(500, gt="0/1|1")
    body += "".join(_rec(600 + i) for i in range(50))
    p = tmp_path / "mixed.vcf"
    p.write_text(HEADER + body)
    auto, ref = _read(p, "auto"), _read(p, "pysam")
    assert auto[0] == "ok" and _same(auto[1], ref[1]) and auto[2] == ref[2]
    assert len(auto[1]) == 351
    assert len(list(read_variants(p, engine="auto"))) > 2  # batches before the hand-over
    strict = _read(p, "text")
    assert strict[0] == "refused" and "genotype '0/1|1'" in strict[1]


def test_text_engine_streams_in_batches_like_pysam(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vcf_text, "TEXT_BLOCK_BYTES", 512)
    monkeypatch.setattr(vcf_text, "NORMALISE_ROWS", 7)
    p = tmp_path / "long.vcf"
    bcsq = "BCSQ=missense|BRAF|ENST00000288602|protein_coding|-|600V>600E|{}C>T"
    p.write_text(HEADER + "".join(_rec(100 + i, info=bcsq.format(100 + i)) for i in range(400)))
    batches = list(read_variants(p, SampleRoles("T", "N"), engine="text"))
    assert len(batches) > 2
    ref = _read(p, "pysam", SampleRoles("T", "N"))
    assert _same(pa.concat_tables(batches).to_pylist(), ref[1])


@pytest.mark.skipif(not CORPUS_FILES, reason=f"needs {CORPUS} (shared real data), absent here")
def test_header_parser_agrees_with_htslib_over_the_corpus() -> None:
    """The strict Python header parser (used for text VCFs) gives cyvcf2/htslib's header
    wherever it accepts one, and leaves to htslib every header htslib refuses."""
    parsed = 0
    for p in CORPUS_FILES:
        is_bcf, lines, text = vcf_source._sniff(str(p))
        try:
            ref: Any = vcf_header._read_header_htslib(str(p), is_bcf, lines)
        except HarmoniseError as exc:
            ref = exc
        got = None if is_bcf else vcf_header._parse_header_text(str(p), text, lines)
        if got is None:
            continue
        assert got == ref, p
        parsed += 1
    assert parsed >= 200


def test_bundle_with_several_vcfs_links_each_files_rows(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Any
) -> None:
    """prepare() reads all VCFs of a bundle in one read_many pass and adds each file's
    patient/specimen columns to that file's rows only."""
    import json
    import subprocess

    from harmonise.bundle import SubmitInputs, build_bundle
    from harmonise.ingest import ingest
    from harmonise.pseudonymise import pseudonym
    from tests.harmonise.conftest import KEY, ingest_consent_resource, ingest_draft

    second = tmp_path / "P002.vcf.gz"
    names = tmp_path / "names.txt"
    names.write_text("T-002\nN-002\n")
    subprocess.run(
        ["bcftools", "reheader", "-s", str(names), "-o", str(second), str(ingest_tn_vcf)],
        check=True, capture_output=True,
    )  # fmt: skip
    draft = ingest_draft()
    pair = [dict(s) for s in draft["samples"]]
    for s in pair:
        s["patient_id"] = "patient-2"
        s["specimen_id"] = s["specimen_id"].replace("001", "002")
        if s.get("matched_normal"):
            s["matched_normal"] = "N-002"
    draft["samples"] += pair
    draft["data_types"] = ["variants", "consent"]
    consent = tmp_path / "consent.ndjson"
    consent.write_text(
        "".join(
            json.dumps(ingest_consent_resource(p)) + "\n"
            for p in (draft["samples"][0]["patient_id"], "patient-2")
        )
    )
    bundle, _ = build_bundle(
        SubmitInputs(draft, vcfs=[ingest_tn_vcf, second], consent=[consent]), KEY, tmp_path / "o"
    )
    report, _ = ingest(ingest_lake, bundle)
    rows = ingest_lake.read("variants").to_pylist()
    one = _read(ingest_tn_vcf, "pysam", SampleRoles("T-001", "N-001"))[1]
    assert report.variants == len(rows) == 2 * len(one)
    for local, patient in (("001", draft["samples"][0]["patient_id"]), ("002", "patient-2")):
        mine = [
            r for r in rows if r["specimen_id"] == pseudonym(KEY, "TST", "Specimen", f"T-{local}")
        ]
        assert len(mine) == len(one)
        assert {r["patient_id"] for r in mine} == {pseudonym(KEY, "TST", "Patient", patient)}
        assert {r["normal_specimen_id"] for r in mine} == {
            pseudonym(KEY, "TST", "Specimen", f"N-{local}")
        }
        assert sorted(r["pos"] for r in mine) == sorted(r["pos"] for r in one)


BRAF = "missense|BRAF|ENST00000288602.6|protein_coding|-|600V>600E|100C>T"


@pytest.mark.parametrize(
    ("info", "missing"),
    [
        (f"BCSQ={BRAF}", False),  # a '.' inside an entry (versioned transcript) is no gap
        (f"BCSQ=.,{BRAF}", True),
        (f"BCSQ={BRAF},.", True),
        (f"BCSQ={BRAF},.,{BRAF}", True),
    ],
)
def test_missing_annotation_entry_is_left_to_htslib(
    tmp_path: Path, info: str, missing: bool
) -> None:
    """A missing (".") BCSQ entry is not read by the text engine (htslib renders it its own
    way): `auto` hands the file over and gives pysam's rows; an entry that merely holds a
    '.' is read by the text engine itself."""
    p = tmp_path / "ann.vcf"
    p.write_text(HEADER + _rec(100, info=info))
    ref, auto, text = _read(p, "pysam"), _read(p, "auto"), _read(p, "text")
    assert ref[0] == "ok" and auto[0] == "ok"
    assert _same(auto[1], ref[1]) and auto[2] == ref[2]
    if missing:
        assert text[0] == "refused" and "text engine cannot read it" in text[1]
    else:
        assert text[0] == "ok" and _same(text[1], ref[1])


def test_field_split_by_csv_gives_what_the_split_and_gather_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample columns and the annotation entries are split by one CSV parse when every
    value has exactly its fields; the rows are the same as through ``split_pattern`` and a
    gather per field (the path taken otherwise), empty and '.' sub-fields included."""
    infos = [
        f"BCSQ={BRAF}",
        "BCSQ=missense|BRAF||protein_coding|-|600V>600E|100C>T",  # empty transcript
        "BCSQ=synonymous|KRAS|ENST1|protein_coding|+|12G|100C>T,intron|KRAS|ENST2|.|+||",
        "BCSQ=*missense|BRAF|ENST1|protein_coding|-|600V>600E|100C>T,intron|BRAF|ENST2|.|-||",
        "BCSQ=**|BRAF|ENST3|protein_coding|-|600V>600E|100C>T",  # nothing left of field 1
        ".",
    ]
    samples = ["0/1:30:20,10", "./.:.:.", "1/1:7:0,7", "0|1:12:6,6"]
    lines = [
        f"1\t{100 + i}\t.\tC\tT\t{i}.5\tPASS\t{info}\tGT:DP:AD\t{smp}\t0/0:25:25,0\n"
        for i, (info, smp) in enumerate((info, smp) for info in infos for smp in samples)
    ]
    p = tmp_path / "fields.vcf"
    p.write_text(HEADER + "".join(lines))
    fast = _read(p, "text")
    calls: list[int] = []
    real = vcf_arrow._split_fields

    def counted(*a: Any, **k: Any) -> Any:
        got = real(*a, **k)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(vcf_arrow, "_split_fields", counted)
    assert _read(p, "text") == fast
    assert any(calls), "the CSV split was taken"
    monkeypatch.setattr(vcf_arrow, "_split_fields", lambda *_a, **_k: None)
    slow = _read(p, "text")
    assert fast[0] == slow[0] == "ok"
    assert _same(fast[1], slow[1]) and fast[2] == slow[2]
    assert _same(fast[1], _read(p, "pysam")[1])


def test_typed_sample_parse_gives_the_rows_of_the_string_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sample values of exactly GT:DP:AD with two AD values are parsed as integers in one
    pass (':' and ',' both split); missing values, phased genotypes and a two-ALT record
    with only two AD values give the rows of the string split and of pysam."""
    samples = ["0/1:30:20,10", "0/1:.:20,10", "1/1:7:.,.", "0|1:12:6,.", "./.:.:0,0"]
    lines = [
        f"1\t{100 + i}\t.\tC\t{alt}\t{i}.5\tPASS\t.\tGT:DP:AD\t{smp}\t0/0:25:25,0\n"
        for i, (alt, smp) in enumerate((a, s) for a in ("T", "T,G") for s in samples)
    ]
    p = tmp_path / "typed.vcf"
    p.write_text(HEADER + "".join(lines))
    taken: list[bool] = []
    real = vcf_samples._typed_sample

    def counted(col: Any) -> Any:
        got = real(col)
        taken.append(got is not None)
        return got

    monkeypatch.setattr(vcf_samples, "_typed_sample", counted)
    fast = _read(p, "text")
    assert taken and all(taken), "every sample column was parsed as integers"
    monkeypatch.setattr(vcf_samples, "_typed_sample", lambda _col: None)
    slow = _read(p, "text")
    assert fast[0] == slow[0] == "ok"
    assert _same(fast[1], slow[1]) and fast[2] == slow[2]
    assert _same(fast[1], _read(p, "pysam")[1])
    depths = [(r["depth"], r["alt_depth"]) for r in fast[1][:5]]
    assert depths == [(30, 10), (30, 10), (7, None), (12, None), (0, 0)]


@pytest.mark.parametrize(
    "sample",
    ["0/1:30:-1,5", "0/1: 30:20,10", "0/1:0x1e:20,10", "0/1:30:20,10,5", "0/1:30:.", "0/1::5,5"],
)
def test_typed_sample_parse_declines_what_is_not_plain_integers(
    tmp_path: Path, sample: str
) -> None:
    """A negative AD, spaces or a hex prefix (which Arrow's integer parser would take), a
    third AD value, a lone '.' or an empty DP: the typed parse declines the column, and
    the reader (auto: the string split, or htslib where the text engine hands over) gives
    pysam's rows, or refuses the file as pysam does."""
    odd = f"1\t200\t.\tC\tT\t5.5\tPASS\t.\tGT:DP:AD\t{sample}\t0/0:25:25,0\n"
    p = tmp_path / "odd.vcf"
    p.write_text(HEADER + _rec(100) + odd)
    col = pa.array(["0/1:30:20,10", sample])
    assert vcf_samples._typed_sample(col) is None
    auto, ref = _read(p, "auto"), _read(p, "pysam")
    assert auto[0] == ref[0]
    if ref[0] == "ok":
        assert _same(auto[1], ref[1])


def _csq(csq: str, transcript: str, aa: str, dna: str = "100C>T") -> str:
    return f"{csq}|BRAF|{transcript}|protein_coding|-|{aa}|{dna}"


@pytest.mark.parametrize(
    ("entries", "transcript", "short", "hgvs_p"),
    [
        # the same in all else: the longer protein (amino_acid_change's position)
        ([_csq("missense", "ENSTA", "600V>600E"), _csq("missense", "ENSTB", "766V>766E")],
         "ENSTB", "V766E", "p.Val766Glu"),
        # severity before protein length
        ([_csq("synonymous", "ENSTA", "900V"), _csq("missense", "ENSTB", "600V>600E")],
         "ENSTB", "V600E", "p.Val600Glu"),
        # an entry of another allele loses to a less severe one of this allele
        ([_csq("missense", "ENSTA", "600V>600E", "100C>G"), _csq("synonymous", "ENSTB", "600V")],
         "ENSTB", "V600=", "p.Val600="),
        # the canonical transcript before severity and length
        ([_csq("missense", "ENSTA", "900V>900E"), _csq("synonymous", "ENST00000288602", "600V")],
         "ENST00000288602", "V600=", "p.Val600="),
        # a full tie: the first entry
        ([_csq("missense", "ENSTA", "600V>600E"), _csq("missense", "ENSTB", "600V>600A")],
         "ENSTA", "V600E", "p.Val600Glu"),
    ],
)  # fmt: skip
def test_one_consequence_is_chosen_per_record(
    tmp_path: Path, entries: list[str], transcript: str, short: str, hgvs_p: str
) -> None:
    """Of a record's BCSQ entries, the row keeps the one of its allele, on the canonical
    transcript, most severe, then on the longest protein, then the first; in both
    engines."""
    p = tmp_path / "choice.vcf"
    p.write_text(HEADER + _rec(100, info="BCSQ=" + ",".join(entries)) + _rec(200))
    for engine in ("text", "pysam"):
        got = _read(p, engine)
        assert got[0] == "ok", got
        row = got[1][0]
        assert (row["transcript"], row["protein_change"], row["hgvs_p"]) == (
            transcript, short, hgvs_p), engine  # fmt: skip
        assert got[1][1]["transcript"] is None


@pytest.mark.skipif(
    pa.default_memory_pool().backend_name != "mimalloc", reason="Arrow's pool is not mimalloc"
)
@pytest.mark.parametrize(("given", "expected"), [(None, "10000"), ("250", "250")])
def test_oncolake_process_keeps_freed_memory_for_a_while(given: str | None, expected: str) -> None:
    """The ``oncolake`` command's allocator waits 10 s before it gives freed memory back to
    the OS (oncolake/__init__.py sets it before pyarrow loads); an operator's own setting wins."""
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    if given is not None:
        env["MIMALLOC_PURGE_DELAY"] = given
    env["MIMALLOC_VERBOSE"] = "1"  # mimalloc prints its options when it starts
    cli = Path(sys.executable).with_name("oncolake")
    done = subprocess.run([str(cli), "--help"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"option 'purge_delay': {expected}" in done.stdout + done.stderr
