"""The copy-number TSV readers (harmonise.copy_number) and the TMB/MSI record reader
(harmonise.tmb_msi): CONTRACT23's files to rows; bad files refused naming file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harmonise.copy_number import calls_by_gene, read_genes, read_segments
from harmonise.errors import ResultFileError
from harmonise.tmb_msi import assessed, biomarker_rows, read_tmb_msi
from tests.harmonise.genomic_fixtures import GENES, SEGMENTS, tmb_msi_doc


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_contract_tables_become_rows(tmp_path: Path) -> None:
    segs = read_segments(_write(tmp_path, "s.tsv", SEGMENTS), "GRCh37", "ensembl")
    assert len(segs) == 4 and segs[1] == {
        "chrom": "7", "start": 55000000, "end": 55300000, "log2": 2.61, "copy_number": 13.4,
        "probes": 40,
    }  # fmt: skip
    genes = read_genes(_write(tmp_path, "g.tsv", GENES), "GRCh37", "ensembl")
    assert calls_by_gene(genes) == {
        "EGFR": "amplification", "CDKN2A": "deep_deletion", "ERBB2": "amplification",
        "TP53": "loss", "BRAF": "neutral",
    }  # fmt: skip
    assert genes[1]["copy_number"] == 0.0 and genes[1]["start"] == 21967751


SEG_BAD: list[tuple[str, str, str]] = [
    ("header", SEGMENTS.replace("probes", "bins"), r"line 1: the header is .*; expected"),
    ("start >= end", SEGMENTS.replace("7\t0\t55000000", "7\t55000000\t55000000"),
     r"line 2: columns start/end: 55000000 ≥ 55000000"),
    ("overlap", SEGMENTS.replace("7\t55000000\t55300000", "7\t54000000\t55300000"),
     r"line 3: the segment 7:54000000-55300000 overlaps the one before"),
    ("unsorted", SEGMENTS + "7\t100\t200\t0.1\t2\t3\n",
     r"line 6: segments of 7 are not sorted"),
    ("nan", SEGMENTS.replace("2.61", "nan"), r"line 3: column log2: 'nan' is not a finite"),
    ("negative cn", SEGMENTS.replace("13.4", "-1"), r"line 3: column copy_number: -1.0 is below"),
    ("ucsc", SEGMENTS.replace("\n9\t", "\nchr9\t"), r"line 4: column chrom: 'chr9' is a ucsc name"),
    ("past the contig", SEGMENTS.replace("37900000", "99000000"),
     r"line 5: column end: 99000000 is past the end of 17"),
    ("columns", SEGMENTS.replace("\t812", ""), r"line 2: 5 tab-separated columns, expected 6"),
    ("probes", SEGMENTS.replace("\t812", "\t8.5"), r"line 2: column probes: '8.5'"),
    ("crlf", SEGMENTS.replace("\n", "\r\n"), r"line 2: the line ends with CR"),
    ("empty", "", r"the file is empty"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "message"), SEG_BAD, ids=[c[0] for c in SEG_BAD])
def test_bad_segments_are_refused(tmp_path: Path, case: str, text: str, message: str) -> None:
    path = _write(tmp_path, "x.segments.tsv", text)
    with pytest.raises(ResultFileError, match=message) as err:
        read_segments(path, "GRCh37", "ensembl")
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


GENE_BAD: list[tuple[str, str, str]] = [
    ("call", GENES.replace("deep_deletion", "homdel"), r"line 3: column call: 'homdel' is not one"),
    ("duplicate", GENES + "EGFR\t7\t1\t2\t0\t2\tneutral\n",
     r"line 7: column gene: EGFR is also on line 2"),
    ("symbol", GENES.replace("TP53", "TP 53"), r"line 5: column gene: 'TP 53' is not a gene"),
    ("binary", GENES.replace("BRAF", "BR\udcffAF"), r"not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "message"), GENE_BAD, ids=[c[0] for c in GENE_BAD])
def test_bad_gene_tables_are_refused(tmp_path: Path, case: str, text: str, message: str) -> None:
    path = tmp_path / "x.genes.tsv"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ResultFileError, match=message):
        read_genes(path, "GRCh37", "ensembl")


def test_tmb_msi_record_becomes_biomarker_rows(tmp_path: Path) -> None:
    doc = read_tmb_msi(_write(tmp_path, "t.json", json.dumps(tmb_msi_doc())))
    tmb, msi = biomarker_rows(doc)
    assert (tmb["marker"], tmb["value_numeric"], tmb["unit"], tmb["interpretation"]) == (
        "TMB",
        12.3,
        "1/1000000",
        "high",
    )
    assert (msi["marker"], msi["value_display"], msi["value_code"], msi["value_numeric"]) == (
        "MSI",
        "MSI-H",
        "LA26203-2",
        31.0,
    )
    assert tmb["source"] == msi["source"] == "pipeline"
    assert json.loads(tmb["details_json"])["callable_mb"] == 3.66
    assert doc.purity == 0.62
    low = tmb_msi_doc(
        tmb={**tmb_msi_doc()["tmb"], "mutations_per_mb": 2.0, "mutations": 7, "callable_mb": 3.5},
        msi={**tmb_msi_doc()["msi"], "score_percent": 3.0, "status": "MSS", "loci_unstable": 4},
        purity=None,
    )
    t2, m2 = biomarker_rows(read_tmb_msi(_write(tmp_path, "l.json", json.dumps(low))))
    assert t2["interpretation"] == "low" and m2["interpretation"] == "negative"


def test_unmeasured_tmb_or_msi_gives_no_row(tmp_path: Path) -> None:
    """The pipeline writes null where too few loci or too little territory was seen."""
    doc = tmb_msi_doc(
        msi={**tmb_msi_doc()["msi"], "score_percent": None, "status": None, "loci_evaluated": 0,
             "loci_unstable": 0},
    )  # fmt: skip
    rec = read_tmb_msi(_write(tmp_path, "n.json", json.dumps(doc)))
    assert [r["marker"] for r in biomarker_rows(rec)] == ["TMB"] and assessed(rec) == ("tmb",)
    no_tmb = tmb_msi_doc(tmb={**tmb_msi_doc()["tmb"], "mutations_per_mb": None})
    rec = read_tmb_msi(_write(tmp_path, "t.json", json.dumps(no_tmb)))
    assert [r["marker"] for r in biomarker_rows(rec)] == ["MSI"] and assessed(rec) == ("msi",)


def _msi(**kw: Any) -> dict[str, Any]:
    return {**tmb_msi_doc()["msi"], **kw}


def _tmb(**kw: Any) -> dict[str, Any]:
    return {**tmb_msi_doc()["tmb"], **kw}


TMB_BAD: list[tuple[str, Any, str]] = [
    ("json", "{\"schema\": ", r"line 1, column 12: not valid JSON"),
    ("schema", tmb_msi_doc(schema="oncolake.tmb_msi/2"), r"field schema: 'oncolake.tmb_msi/2'"),
    ("rate", tmb_msi_doc(tmb=_tmb(mutations_per_mb=40.0)),
     r"field tmb: mutations_per_mb 40.0 is not mutations / callable_mb \(45 / 3.66 = 12.30\)"),
    ("status", tmb_msi_doc(msi=_msi(status="MSS")),
     r"field msi: status MSS disagrees with score_percent 31.0"),
    ("loci", tmb_msi_doc(msi=_msi(loci_unstable=500)), r"loci_unstable 500 exceeds"),
    ("purity", tmb_msi_doc(purity=1.5), r"field purity: .*less than or equal to 1"),
    ("extra", tmb_msi_doc(extra=1), r"field extra: unknown field"),
    ("missing", {k: v for k, v in tmb_msi_doc().items() if k != "msi"},
     r"field msi: Field required"),
    ("status value", tmb_msi_doc(msi=_msi(status="MSI-L")), r"field msi.status: "),
    ("negative", tmb_msi_doc(tmb=_tmb(mutations=-1)), r"field tmb.mutations: "),
    ("array", [1], r"a JSON object is expected"),
    ("half null", tmb_msi_doc(msi=_msi(status=None)),
     r"field msi: score_percent and status are null together"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "doc", "message"), TMB_BAD, ids=[c[0] for c in TMB_BAD])
def test_bad_tmb_msi_records_are_refused(tmp_path: Path, case: str, doc: Any, message: str) -> None:
    path = _write(tmp_path, "x.tmb_msi.json", doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(ResultFileError, match=message) as err:
        read_tmb_msi(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
