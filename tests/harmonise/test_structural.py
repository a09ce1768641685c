"""The structural VCF reader (harmonise.structural): a delly-style somatic SV VCF to rows,
and hostile or malformed files refused with one line naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmonise.errors import ContigError, GenomeBuildError, VcfError, VcfFormatError
from harmonise.structural import read_structural
from tests.harmonise.genomic_fixtures import SV_HEADER, SV_RECORDS, sv_vcf_text, write_sv_vcf


def _read(tmp_path: Path, text: str | None = None, name: str = "sv.vcf.gz") -> list[dict]:
    path = write_sv_vcf(tmp_path / name, text)
    return [r.row() for r in read_structural(path, "GRCh37", "ensembl").records]


def test_delly_records_become_rows_with_genes_and_fusions(tmp_path: Path) -> None:
    rows = _read(tmp_path)
    by_id = {r["sv_id"]: r for r in rows}
    assert [r["sv_type"] for r in rows] == ["INV", "DUP", "DEL", "INS", "BND", "DEL"]
    bnd = by_id["BND00000001"]
    assert (bnd["chrom"], bnd["pos"], bnd["chrom2"], bnd["pos2"]) == (
        "12",
        12022903,
        "15",
        88576000,
    )
    assert bnd["fusion"] == "ETV6::NTRK3" and bnd["fusion_genes"] == ["ETV6", "NTRK3"]
    assert bnd["gene_a"] == ["ETV6"] and bnd["gene_b"] == ["NTRK3"]
    assert bnd["connection"] == "3to3" and bnd["pe"] == 20 and bnd["sr"] == 11
    assert bnd["caller"] == "EMBL.DELLYv1.1.6" and bnd["sv_length"] is None
    inv = by_id["INV00000001"]
    assert (inv["chrom2"], inv["pos2"], inv["sv_length"]) == ("2", 42522656, 42522656 - 29446394)
    assert inv["fusion_genes"] == ["EML4", "ALK"]
    assert by_id["DUP00000001"]["sv_type"] == "DUP"  # <DUP:TANDEM> kept as its base type
    assert by_id["DEL00000001"]["gene_a"] == ["CDKN2A"] and by_id["DEL00000001"]["fusion"] is None
    assert by_id["INS00000001"]["sv_length"] == 320
    assert by_id["DEL00000002"]["filter"] == "LowQual"


def test_mate_pairs_are_stored_once_and_must_name_each_other(tmp_path: Path) -> None:
    pair = [
        ("12", "12022903", "bnd_1", "T", "T]15:88576000]", "PASS",
         "SVTYPE=BND;MATEID=bnd_2;GENE_A=ETV6;GENE_B=NTRK3;FUSION=ETV6::NTRK3"),
        ("15", "88576000", "bnd_2", "A", "A]12:12022903]", "PASS",
         "SVTYPE=BND;MATEID=bnd_1;GENE_A=NTRK3;GENE_B=ETV6"),
    ]  # fmt: skip
    rows = _read(tmp_path, sv_vcf_text(pair))
    assert [r["sv_id"] for r in rows] == ["bnd_1"]
    wrong = [pair[0], (*pair[1][:6], pair[1][6].replace("MATEID=bnd_1", "MATEID=bnd_9"))]
    with pytest.raises(
        VcfFormatError,
        match=r"line 3[0-9], record 12:12022903: field INFO/MATEID: its mate 'bnd_2' "
        r"\(line 3[0-9]\) does not name 'bnd_1'",
    ):
        _read(tmp_path, sv_vcf_text(wrong), "w1.vcf.gz")
    moved = [pair[0], (pair[1][0], "88576001", *pair[1][2:])]
    with pytest.raises(
        VcfFormatError,
        match=r"the mate 'bnd_2' .* is at 15:88576001, not at this breakend's partner 15:88576000",
    ):
        _read(tmp_path, sv_vcf_text(moved), "w2.vcf.gz")
    alone = [(*pair[0][:6], pair[0][6])]
    with pytest.raises(VcfFormatError, match=r"field INFO/MATEID: no record has ID 'bnd_2'"):
        _read(tmp_path, sv_vcf_text(alone), "w3.vcf.gz")


HOSTILE: list[tuple[str, tuple[str, ...], str]] = [
    ("sequence ALT", ("7", "100", ".", "A", "AT", "PASS", "SVTYPE=INS"),
     r"field ALT: 'AT' is neither a symbolic allele"),
    ("svtype disagrees", ("7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DUP;END=200"),
     r"field ALT: '<DEL>' disagrees with INFO/SVTYPE=DUP"),
    ("unknown svtype", ("7", "100", ".", "A", "<CNV>", "PASS", "SVTYPE=CNV;END=200"),
     r"field INFO/SVTYPE: 'CNV' is not one of DEL, DUP, INV, INS, BND"),
    ("end before pos", ("7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL;END=50"),
     r"field INFO/END: 50 is before POS 100"),
    ("no end", ("7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL"),
     r"a DEL record needs INFO/END"),
    ("bnd without mate", ("7", "100", ".", "A", "<BND>", "PASS", "SVTYPE=BND"),
     r"a BND record needs its mate's position"),
    ("bnd alt vs chr2", ("7", "100", ".", "A", "A[9:500[", "PASS", "SVTYPE=BND;CHR2=2;POS2=500"),
     r"the ALT's mate 9:500 differs from CHR2/POS2 2:500"),
    ("mate off the contig", ("7", "100", ".", "A", "A[9:999999999[", "PASS", "SVTYPE=BND"),
     r"field INFO/CHR2,POS2: field POS: 999999999 is past the end of contig '9'"),
    ("ucsc name", ("chr7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL;END=200"),
     r"field CHROM/POS: field CHROM: 'chr7' is a ucsc name"),
    ("undeclared info", ("7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL;END=200;XX=1"),
     r"field INFO: key 'XX' is not declared in the header"),
    ("bad gene", ("7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL;END=200;GENE_A=egfr x"),
     r"field INFO/GENE_A: 'egfr x' is not a gene name"),
    ("fusion partner not a breakpoint gene",
     ("7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL;END=200;GENE_A=EGFR;FUSION=EGFR::ALK"),
     r"field INFO/FUSION: partner\(s\) ALK of EGFR::ALK are not genes of the breakpoints"),
    ("fusion notation", ("7", "100", ".", "A", "<DEL>", "PASS",
                         "SVTYPE=DEL;END=200;GENE_A=EGFR;FUSION=EGFR-ALK"),
     r"field INFO/FUSION: 'EGFR-ALK' is not 5PRIME::3PRIME"),
    ("inter-chromosomal del", ("7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL;END=200;CHR2=9"),
     r"field INFO/CHR2: '9' differs from CHROM for a DEL"),
    ("two alleles", ("7", "100", ".", "A", "<DEL>,<DUP>", "PASS", "SVTYPE=DEL;END=200"),
     r"field ALT: '<DEL>,<DUP>' has several alleles"),
    ("pos not a number", ("7", "1e5", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL;END=200"),
     r"field POS: not a position"),
    ("end not a number", ("7", "100", ".", "A", "<DEL>", "PASS", "SVTYPE=DEL;END=2x"),
     r"field INFO/END: '2x' is not an integer"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "record", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_bad_records_are_refused_naming_file_line_and_field(
    tmp_path: Path, case: str, record: tuple[str, ...], message: str
) -> None:
    text = sv_vcf_text([SV_RECORDS[1], record])
    with pytest.raises(VcfError) as err:
        _read(tmp_path, text)
    msg = str(err.value)
    assert "\n" not in msg
    header_lines = SV_HEADER.count("\n")
    assert msg.startswith(f"{tmp_path / 'sv.vcf.gz'}, line {header_lines + 2}, record "), msg
    import re

    assert re.search(message, msg), msg


def test_bad_files_are_refused(tmp_path: Path) -> None:
    path = write_sv_vcf(tmp_path / "sv.vcf.gz")
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(VcfFormatError, match=r"cut\.vcf\.gz"):
        read_structural(cut, "GRCh37", "ensembl")
    no_svtype = SV_HEADER.replace(
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">\n', ""
    )
    with pytest.raises(VcfFormatError, match=r"header: no ##INFO=<ID=SVTYPE"):
        _read(tmp_path, sv_vcf_text([], header=no_svtype), "h.vcf.gz")
    grch38 = SV_HEADER.replace(
        "##contig=<ID=7,length=159138663>", "##contig=<ID=7,length=159345973>"
    )
    with pytest.raises(GenomeBuildError, match=r"the length is that of GRCh38"):
        _read(tmp_path, sv_vcf_text([], header=grch38), "b.vcf.gz")
    short = sv_vcf_text([SV_RECORDS[0]]).replace("\tGT:DV\t0/1:12\t0/0:0", "\tGT:DV\t0/1:12")
    with pytest.raises(VcfFormatError, match=r"line 31: 10 tab-separated columns, expected 11"):
        _read(tmp_path, short, "s.vcf.gz")
    dup = sv_vcf_text([SV_RECORDS[1], SV_RECORDS[1]])
    with pytest.raises(VcfFormatError, match=r"field ID: 'DUP00000001' is also the ID of line"):
        _read(tmp_path, dup, "d.vcf.gz")
    with pytest.raises(ContigError, match=r"not declared in the header"):
        _read(tmp_path, sv_vcf_text([("GL000192.1", "10", ".", "A", "<DEL>", "PASS",
                                      "SVTYPE=DEL;END=20")]), "c.vcf.gz")  # fmt: skip


DELLY_SIM02 = Path(__file__).with_name("data") / "delly_sim02.sv.annotated.vcf.gz"


def test_real_delly_output_of_the_pipeline_is_read() -> None:
    """``delly_sim02.sv.annotated.vcf.gz``: the dna_seq workflow's own SV output (delly
    1.1.6 tumour/normal + ``delly filter -f somatic`` + sv_annotate.py, helper sv23's run on
    the truth generator's SIM02 instance: synthetic reads, two spiked gene fusions)."""
    rows = [r.row() for r in read_structural(DELLY_SIM02, "GRCh37", "ensembl").records]
    assert [r["sv_type"] for r in rows] == ["DEL", "DEL", "DUP", "INV", "INV", "BND", "BND"]
    assert {r["fusion"] for r in rows} - {None} == {"OR4G4P::OR4G11P", "OR4F5::FAM110C"}
    bnd = rows[5]
    assert (bnd["chrom"], bnd["pos"], bnd["chrom2"], bnd["pos2"]) == ("2", 40000, "1", 35300)
    assert all(r["caller"] == "EMBL.DELLYv1.1.6" and r["filter"] == "PASS" for r in rows)
    assert all(r["fusion_genes"] is None or set(r["fusion_genes"]) <= set(r["gene_a"] or []) |
               set(r["gene_b"] or []) for r in rows)  # fmt: skip
