"""workflows/dna_seq somatic SVs and fusions (issue 23): the fusion rule on constructed BND
records, the step on the .test run, on a simulated instance with spiked SVs and fusions
(truth/sv.py) and on the Manta HCC1954 demo (its three expected junctions)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.workflows.conftest import SHARED_DATA, WORKFLOW, Run, snakemake, vcf_records

SCRIPTS = WORKFLOW / "workflow" / "scripts"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


annotate = _load(SCRIPTS / "sv_annotate.py", "dna_seq_sv_annotate")
truth_sv = _load(WORKFLOW / "truth" / "sv.py", "dna_seq_truth_sv")
simulate = _load(WORKFLOW / "truth" / "simulate.py", "dna_seq_truth_simulate")


def _query(vcf: Path, fmt: str) -> list[list[str]]:
    out = subprocess.run(
        ["bcftools", "query", "-f", fmt, str(vcf)], capture_output=True, text=True, check=True
    )
    return [ln.split("\t") for ln in out.stdout.splitlines()]


# ---- the fusion rule on constructed records -------------------------------------------

# Genes on contig 1 (1-based spans): GP+ and HP+ on the plus strand, GM- and KM- on minus.
GFF = "\n".join(
    [
        "##gff-version 3",
        "1\tt\tgene\t1001\t2000\t.\t+\t.\tID=gene:1;Name=GP",
        "1\tt\tgene\t3001\t4000\t.\t-\t.\tID=gene:2;Name=GM",
        "1\tt\tgene\t5001\t6000\t.\t+\t.\tID=gene:3;Name=HP",
        "2\tt\tgene\t1001\t2000\t.\t-\t.\tID=gene:4;Name=KM",
        "1\tt\tgene\t7001\t8000\t.\t+\t.\tID=gene:5;Name=AC012345.1",
        "",
    ]
)

#: (POS, ALT, INFO, expected FUSION); POS is on contig 1.
CASES = [
    # t]p]: GP's bases up to 1500 (its 5' part, + strand) + KM's up to 1500 reversed (3'
    # part of a - gene): the ETV6::NTRK3 kind of join.
    (1500, "N]2:1500]", "SVTYPE=BND;CHR2=2;POS2=1500", "GP::KM"),
    # t[p[: GP's 5' part then HP's bases from 5500 on (its 3' part), same strand.
    (1500, "N[1:5500[", "SVTYPE=BND;CHR2=1;POS2=5500", "GP::HP"),
    # t[p[ with a - gene: GP's 5' part then GM's bases from 3500 on (GM's 5' part):
    # head-to-head, no fusion.
    (1500, "N[1:3500[", "SVTYPE=BND;CHR2=1;POS2=3500", ""),
    # t]p] with two + genes: both 5' parts, no fusion.
    (1500, "N]1:5500]", "SVTYPE=BND;CHR2=1;POS2=5500", ""),
    # ]p]t: HP's bases up to 5500 (5' part) joined before GP's from 1500 on (3' part).
    (1500, "]1:5500]N", "SVTYPE=BND;CHR2=1;POS2=5500", "HP::GP"),
    # [p[t: KM's bases from 1500 on (5' part of a - gene), reversed, before GP's 3' part.
    (1500, "[2:1500[N", "SVTYPE=BND;CHR2=2;POS2=1500", "KM::GP"),
    # ]p]t between two - genes: KM's bases up to 1500 (its 3' part) joined before GM's
    # from 3500 on (its 5' part); read on the minus strand, GM's exons run into KM's.
    (3500, "]2:1500]N", "SVTYPE=BND;CHR2=2;POS2=1500", "GM::KM"),
    # One breakend between genes: no fusion.
    (2500, "N]2:1500]", "SVTYPE=BND;CHR2=2;POS2=1500", ""),
    # Inside one gene: no fusion.
    (1200, "N[1:1800[", "SVTYPE=BND;CHR2=1;POS2=1800", ""),
    # Symbolic records: a deletion from GP into HP (TMPRSS2::ERG kind), a tandem
    # duplication over the same genes (HP's 5' part, then GP's 3' part), inversions.
    (1500, "<DEL>", "SVTYPE=DEL;END=5500;CT=3to5", "GP::HP"),
    (1500, "<DUP>", "SVTYPE=DUP;END=5500;CT=5to3", "HP::GP"),
    (1500, "<INV>", "SVTYPE=INV;END=3500;CT=3to3", "GP::GM"),
    (1500, "<INV>", "SVTYPE=INV;END=3500;CT=5to5", "GM::GP"),
    (1500, "<INV>", "SVTYPE=INV;END=5500;CT=3to3", ""),
    # An inversion without CT: both junctions; the 3to3 one is named.
    (1500, "<INV>", "SVTYPE=INV;END=3500", "GP::GM"),
    # A clone-named locus (not an HGNC symbol) is no partner: GP 5' + nothing.
    (1500, "N[1:7500[", "SVTYPE=BND;CHR2=1;POS2=7500", ""),
]


def test_fusion_rule_on_constructed_records(tmp_path: Path) -> None:
    """Every join orientation against the strands of the two genes, through the
    annotation script's own VCF path (pysam in, bgzip + tabix out)."""
    gff = tmp_path / "genes.gff3"
    gff.write_text(GFF)
    head = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=10000>",
        "##contig=<ID=2,length=10000>",
        '##ALT=<ID=DEL,Description="d">',
        '##ALT=<ID=DUP,Description="d">',
        '##ALT=<ID=INV,Description="i">',
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="t">',
        '##INFO=<ID=END,Number=1,Type=Integer,Description="e">',
        '##INFO=<ID=CHR2,Number=1,Type=String,Description="c">',
        '##INFO=<ID=POS2,Number=1,Type=Integer,Description="p">',
        '##INFO=<ID=CT,Number=1,Type=String,Description="c">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\tN",
    ]
    rows = [  # sorted by position (tabix needs it); c<i> names the case
        f"1\t{pos}\tc{i}\tN\t{alt}\t.\tPASS\t{info}\tGT\t0/1\t0/0"
        for i, (pos, alt, info, _) in sorted(enumerate(CASES), key=lambda c: c[1][0])
    ]
    src = tmp_path / "in.vcf"
    src.write_text("\n".join(head + rows) + "\n")
    out = tmp_path / "out.vcf.gz"
    header = ["##oncolake_pipeline_id=oncolake/dna_seq"]
    n, n_fusions = annotate.annotate(str(src), str(gff), header, str(out))
    assert n == len(CASES) and n_fusions == sum(bool(c[3]) for c in CASES)
    assert (tmp_path / "out.vcf.gz.tbi").exists()
    rows_out = _query(out, "%ID\t%INFO/GENE_A\t%INFO/GENE_B\t%INFO/FUSION\n")
    got = [r for _, r in sorted((int(r[0][1:]), r) for r in rows_out)]
    for (i, gene_a, gene_b, fusion), (pos, alt, _info, want) in zip(got, CASES, strict=True):
        assert fusion == (want or "."), (i, pos, alt, gene_a, gene_b, fusion)
    # Genes at each breakpoint: POS, and END or the BND mate.
    assert got[0][1:3] == ["GP", "KM"] and got[7][1:3] == [".", "KM"]
    assert got[9][1:3] == ["GP", "HP"] and got[15][1:3] == ["GP", "."]
    assert annotate.parse_bnd("N[1:5500[") == ("1", 5500, "left", "right")
    assert annotate.parse_bnd("<DEL>") is None


def test_truth_scorer_parses_joins_like_the_vcf_spec() -> None:
    """The scorer's own parser (written apart from the annotation script) agrees with it
    on every constructed record, and the tolerance and sides decide a match."""
    for pos, alt, info, _ in CASES:
        fields = dict(kv.split("=") for kv in info.split(";"))
        theirs = truth_sv.record_junctions("1", pos, alt, fields)
        end = int(fields.get("END", 0)) or None
        ours = annotate.junctions("1", pos, alt, fields["SVTYPE"], end, fields.get("CT"))
        assert [(j.chrom_a, j.pos_a, j.side_a, j.chrom_b, j.pos_b, j.side_b) for j in ours] == [
            (a[0], a[1], a[2], b[0], b[1], b[2]) for a, b in theirs
        ], (pos, alt, info)
    rec = truth_sv.Record
    t = rec("t", "1", 100, "BND", "PASS", {}, [(("1", 100, "left"), ("2", 500, "left"))])
    near = rec("c", "2", 650, "BND", "PASS", {}, [(("2", 650, "left"), ("1", 10, "left"))])
    wrong_side = rec("w", "1", 100, "BND", "PASS", {}, [(("1", 100, "left"), ("2", 500, "right"))])
    assert truth_sv.matches(near, t) and not truth_sv.matches(near, t, tol=100)
    assert not truth_sv.matches(wrong_side, t)


# ---- the .test run ----------------------------------------------------------------------


def test_sv_vcf_of_the_test_run_has_the_pair_and_is_in_provenance(local_run: Run) -> None:
    """The Sarek tiny pair holds fewer read pairs than delly needs to estimate the insert
    size: the step writes an empty call set saying so, with the small-variant VCF's
    samples, and provenance lists it with its checksum and delly's version."""
    import hashlib

    sv = local_run.results / "annotated" / "sv" / "TINY01.sv.annotated.vcf.gz"
    assert Path(f"{sv}.tbi").exists()
    lines = subprocess.run(
        ["bcftools", "view", "-h", str(sv)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    small = subprocess.run(
        ["bcftools", "query", "-l", str(local_run.vcf())], capture_output=True, text=True
    ).stdout.split()
    assert lines[-1].split("\t")[9:] == small == ["tiny_T", "tiny_N"]
    assert any(ln.startswith("##oncolake_sv_status=delly: too few read pairs") for ln in lines)
    assert any(ln.startswith("##oncolake_pipeline_fingerprint=sha256:") for ln in lines)
    for field in ("GENE_A", "GENE_B", "FUSION", "SVTYPE", "CHR2", "POS2", "PE", "SR"):
        assert any(ln.startswith(f"##INFO=<ID={field},") for ln in lines), field
    assert vcf_records(sv) == []
    prov = json.loads((local_run.results / "provenance" / "provenance.json").read_text())
    (entry,) = [o for o in prov["outputs"] if o["path"].endswith("TINY01.sv.annotated.vcf.gz")]
    assert entry["sha256"] == hashlib.sha256(sv.read_bytes()).hexdigest()
    assert prov["tool_versions"]["delly"] == "1.1.6"
    assert {"step": "call_structural_variants", "tool": "delly", "version": "1.1.6"} in prov[
        "steps"
    ]


# ---- the simulated instance -----------------------------------------------------------

needs_art = pytest.mark.skipif(
    shutil.which("art_illumina") is None
    or shutil.which("delly") is None
    or not SHARED_DATA.is_dir(),
    reason="art_illumina, delly (make tools) and ../shared/data are needed",
)

#: A small instance: the small variants kept to a 10-kb region away from the SVs, tumour
#: 60x, normal 30x (the default 5 % tumour in the normal).
SV_INSTANCE = {
    "seed": 1,
    "start": 155_001,
    "end": 165_000,
    "tumour_depth": 60.0,
    "normal_depth": 30.0,
    "somatic_per_bin": 1,
    "germline_indels": 0,
    "oxidation": 0,
    "sv": 1,
}


@pytest.fixture(scope="module")
def sv_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inst = tmp_path_factory.mktemp("sv_truth") / "inst"
    simulate.simulate(simulate.Options(**SV_INSTANCE), inst)
    target = "results/annotated/sv/SIM01.sv.annotated.vcf.gz"
    snakemake(inst, "--cores", "2", target, configfile=inst / "config" / "config.yaml")
    return inst


@needs_art
@pytest.mark.pipeline
def test_spiked_svs_and_fusions_are_called_and_named(sv_instance: Path) -> None:
    """All six spiked somatic SVs (DEL, DUP, INV, two translocations, a deletion fusion)
    found within 200 bp with their joins, no other call (the germline deletion in both
    samples refused); the two fusions named 5'::3', and the tail-to-tail translocation
    between two genes annotated but not called a fusion."""
    calls = sv_instance / "results" / "annotated" / "sv" / "SIM01.sv.annotated.vcf.gz"
    result = truth_sv.score(sv_instance / "truth" / "sv.vcf.gz", calls)
    assert result.recall == 1.0 and result.precision == 1.0, result
    assert result.truth == 6 and result.germline_called == [], result
    assert result.fusions["tra_fusion"]["FUSION"] == "OR4F5::FAM110C", result
    assert result.fusions["del_fusion"]["FUSION"] == "OR4G4P::OR4G11P", result
    tail = result.fusions["tra_tail_to_tail"]
    assert tail["FUSION"] == "" and {tail["GENE_A"], tail["GENE_B"]} == {"FAM138A", "FAM110C"}
    rows = _query(calls, "%INFO/SVTYPE\t%INFO/SOMATIC\n")
    assert {r[0] for r in rows} == {"DEL", "DUP", "INV", "BND"}
    assert all(r[1] == "1" for r in rows)
    sv_json = json.loads((sv_instance / "truth" / "sv.json").read_text())
    assert len(sv_json["spikes"]) == 7  # and the germline deletion, not called
    # The lake's reader (CONTRACT23 item 1) takes the file as it is.
    from harmonise.structural import read_structural

    lake = read_structural(calls, "GRCh37", "ensembl")
    assert len(lake.records) == result.calls
    assert {r.fusion for r in lake.records} == {None, "OR4F5::FAM110C", "OR4G4P::OR4G11P"}


def test_spikes_outside_the_small_variant_region_are_enforced() -> None:
    with pytest.raises(ValueError, match="overlaps the small-variant region"):
        truth_sv.check_layout(60_001, 160_000)
    truth_sv.check_layout(155_001, 165_000)


# ---- the Manta HCC1954 demo -----------------------------------------------------------

MANTA = SHARED_DATA / "genome" / "manta-demo"
TUMOUR_BAM = MANTA / "G15512.HCC1954.1.COST16011_region.bam"
NORMAL_BAM = MANTA / "HCC1954.NORMAL.30x.compare.COST16011_region.bam"
MANTA_FASTA = MANTA / "Homo_sapiens_assembly19.COST16011_region.fa.gz"
GTF = (
    SHARED_DATA
    / "annotation"
    / "grch37-ensembl75"
    / "Homo_sapiens.GRCh37.75.sarek_small_regions.gtf"
)


def _gff_from_gtf(gtf: Path, contigs: set[str]) -> str:
    """GFF3 gene lines (ID, Name) from the GTF's gene records on ``contigs``."""
    out = ["##gff-version 3"]
    for line in gtf.read_text().splitlines():
        f = line.split("\t")
        if len(f) < 9 or f[0] not in contigs or f[2] != "gene":
            continue
        attrs = dict(
            (kv.strip().split(" ", 1)[0], kv.strip().split(" ", 1)[1].strip('"'))
            for kv in f[8].split(";")
            if kv.strip()
        )
        out.append(
            "\t".join(
                [
                    *f[:2],
                    "gene",
                    f[3],
                    f[4],
                    ".",
                    f[6],
                    ".",
                    f"ID=gene:{attrs['gene_id']};Name={attrs['gene_name']}",
                ]
            )
        )
    return "\n".join(out) + "\n"


def _replicated_normal(dest: Path, copies: int = 3) -> None:
    """The demo normal (1,179 reads, 520 pairs: below delly's floor of 1,000 for its
    insert-size estimate) as ``copies`` copies with suffixed read names, SM without the
    space (delly's samples file splits on whitespace). Copies add no ALT read: a somatic
    call still needs the normal to show none."""
    import pysam

    with pysam.AlignmentFile(str(NORMAL_BAM)) as src:
        header: dict[str, Any] = src.header.to_dict()
        for rg in header.get("RG", []):
            rg["SM"] = "HCC1954_BL"
        unsorted = dest.with_suffix(".unsorted.bam")
        with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
            for read in src:
                for k in range(copies):
                    copy = pysam.AlignedSegment.from_dict(read.to_dict(), out.header)
                    copy.query_name = f"{read.query_name}_c{k}"
                    out.write(copy)
    pysam.sort("-o", str(dest), str(unsorted))
    pysam.index(str(dest))
    unsorted.unlink()


needs_manta = pytest.mark.skipif(
    not TUMOUR_BAM.exists() or shutil.which("delly") is None,
    reason="../shared/data/genome/manta-demo and delly (make tools) are needed",
)


@needs_manta
@pytest.mark.pipeline
def test_manta_demo_junctions_are_all_called(tmp_path: Path) -> None:
    """delly through the workflow's SV rules on the demo's own alignments (GRCh37 8 and 11
    around COST16011) against Manta's expectedResults/somaticSV.vcf.gz: all three
    junctions within 200 bp with their joins, no other call; the chr8 breakends fall in
    OXR1, the chr11 ones in no gene: no fusion."""
    work = tmp_path / "manta"
    for sub in ("config", "data", "results/alignments/samtools", "resources/reference"):
        (work / sub).mkdir(parents=True)
    (work / "config" / "samples.tsv").write_text(
        "sample_name\tpatient\ttype\nHCC1954\tHCC1954\ttumour\nHCC1954_BL\tHCC1954\tnormal\n"
    )
    (work / "config" / "units.tsv").write_text(
        "sample_name\tunit_name\tplatform\tfq1\tfq2\n"
        "HCC1954\tL1\tILLUMINA\tunused_1.fq.gz\tunused_2.fq.gz\n"
        "HCC1954_BL\tL1\tILLUMINA\tunused_1.fq.gz\tunused_2.fq.gz\n"
    )
    (work / "data" / "annotation.gff3").write_text(_gff_from_gtf(GTF, {"8", "11"}))
    (work / "config" / "config.yaml").write_text(
        "samples: config/samples.tsv\nunits: config/units.tsv\nreference:\n"
        f"  fasta: {MANTA_FASTA}\n  gff3: data/annotation.gff3\n  build: GRCh37\n"
        "threads: 2\nmemory_mb: 2000\n"
    )
    bams = work / "results" / "alignments" / "samtools"
    shutil.copy(TUMOUR_BAM, bams / "HCC1954.bam")
    shutil.copy(f"{TUMOUR_BAM}.bai", bams / "HCC1954.bam.bai")
    _replicated_normal(bams / "HCC1954_BL.bam")
    # The demo's bgzipped FASTA stands in for the decompressed copy (htslib reads both;
    # 281 Mb of mostly N need not be written out).
    ref = work / "resources" / "reference"
    for suffix in ("", ".fai", ".gzi"):
        (ref / f"genome.fa{suffix}").symlink_to(Path(f"{MANTA_FASTA}{suffix}"))
    target = "results/annotated/sv/HCC1954.sv.annotated.vcf.gz"
    rules = ["call_structural_variants", "annotate_structural_variants"]
    rules += ["compute_fingerprint", "prepare_annotation"]
    snakemake(
        work, "--cores", "2", "--allowed-rules", *rules, "--", target,
        configfile=work / "config" / "config.yaml",
    )  # fmt: skip
    calls = work / target
    result = truth_sv.score(truth_sv.MANTA_EXPECTED, calls)
    assert result.truth == 3 and result.recall == 1.0 and result.precision == 1.0, result
    rows = _query(calls, "%CHROM\t%POS\t%INFO/CHR2\t%INFO/GENE_A\t%INFO/GENE_B\t%INFO/FUSION\n")
    assert all(r[5] == "." for r in rows), rows
    for chrom, _pos, chr2, gene_a, gene_b, _ in rows:
        genes_8 = gene_a if chrom == "8" else gene_b if chr2 == "8" else None
        if genes_8 is not None:
            assert genes_8 == "OXR1", rows  # RP11-649G15.2 there is no HGNC symbol
