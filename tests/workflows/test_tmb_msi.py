"""TMB and MSI in workflows/dna_seq (issue 23 item 3; CONTRACT23 item 4), on the session's
two-patient truth run (SIM01 microsatellite-stable with coding SNVs, SIM02 MSI-like) and
on the ``.test`` run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pysam
import pytest
import yaml

from tests.workflows.conftest import WORKFLOW, Run, Truth23

SCRIPTS = WORKFLOW / "workflow" / "scripts"
PARAMS: dict[str, Any] = yaml.safe_load((WORKFLOW / "workflow" / "analysis.yaml").read_text())[
    "parameters"
]


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


msi = _load(SCRIPTS / "msi.py", "dna_seq_msi")
tmb = _load(SCRIPTS / "tmb.py", "dna_seq_tmb")
truth_tmb = _load(WORKFLOW / "truth" / "tmb.py", "dna_seq_truth_tmb")


# ---- the scorers' pieces on hand-made input -------------------------------------------


def test_microsatellite_loci_are_homopolymers_and_short_repeats_with_flanks() -> None:
    p = PARAMS["msi"]
    seq = "GATCGATCGC" + "A" * 10 + "GCTAGCTAGC" + "CA" * 6 + "TTGACCTGAG" + "C" * 6 + "GTAC"
    loci = msi.find_loci(seq, "1", [(0, len(seq))], p)
    assert [(x.start, x.end, x.unit) for x in loci] == [(10, 20, "A"), (30, 42, "CA")]
    # A locus whose flank leaves the interval is not used.
    assert msi.find_loci(seq, "1", [(12, len(seq))], p)[0].unit == "CA"


def test_repeat_length_of_a_read_counts_the_indels_inside_the_locus(tmp_path: Path) -> None:
    header = pysam.AlignmentHeader.from_dict({"SQ": [{"SN": "1", "LN": 1000}]})
    locus = msi.Locus("1", 100, 110, "A")

    def read(start: int, cigar: str) -> pysam.AlignedSegment:
        r = pysam.AlignedSegment(header)
        r.reference_start, r.cigarstring = start, cigar
        r.query_sequence = "A" * (r.infer_query_length() or 0)
        return r

    assert msi.repeat_length(read(50, "100M"), locus, 5) == 10
    assert msi.repeat_length(read(50, "55M2D45M"), locus, 5) == 8
    assert msi.repeat_length(read(50, "55M1I44M"), locus, 5) == 11
    assert msi.repeat_length(read(98, "100M"), locus, 5) is None  # no left flank
    assert msi.repeat_length(read(50, "52M48S"), locus, 5) is None  # clipped in the window


def test_benjamini_hochberg_matches_the_definition() -> None:
    assert msi.bh_fdr([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert msi.chi_square_p(Counter({10: 30}), Counter({10: 30})) == 1.0


def test_tmb_counts_non_synonymous_pass_calls_inside_callable_cds(tmp_path: Path) -> None:
    """Hand-made BCSQ records: missense and frameshift in the territory count; synonymous,
    intronic, a filtered missense and a missense outside the callable BED do not."""
    head = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1,length=1000>",
        '##INFO=<ID=BCSQ,Number=.,Type=String,Description="csq">',
        '##FILTER=<ID=strand_bias,Description="x">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    rows = [
        "1\t110\t.\tA\tT\t.\tPASS\tBCSQ=missense|G|T1|protein_coding|+|5K>5N|110A>T",
        "1\t120\t.\tAC\tA\t.\tPASS\tBCSQ=frameshift|G|T1|protein_coding|+|8P|120AC>A",
        "1\t130\t.\tA\tG\t.\tPASS\tBCSQ=synonymous|G|T1|protein_coding|+|9P|130A>G",
        "1\t140\t.\tA\tG\t.\tstrand_bias\tBCSQ=missense|G|T1|protein_coding|+|9P>9S|140A>G",
        "1\t300\t.\tA\tG\t.\tPASS\tBCSQ=intron|G|T1|protein_coding",
        "1\t180\t.\tA\tG\t.\tPASS\tBCSQ=missense|G|T1|protein_coding|+|20K>20E|180A>G",
    ]
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("\n".join(head + rows) + "\n")
    # CDS 100-200 (0-based half-open), callable 100-150 and 250-400: territory 50 bp.
    territory = tmb.intersect({"1": [(100, 150), (250, 400)]}, {"1": [(100, 200)]})
    out = tmb.tmb(vcf, territory, PARAMS["tmb"])
    assert (out["mutations"], out["callable_mb"]) == (2, 0.00005)
    assert out["mutations_per_mb"] == pytest.approx(40000.0)
    assert tmb.consequences(["*missense&inframe_altering|G", "@123"]) == {
        "missense", "inframe_altering"
    }  # fmt: skip


# ---- the truth run ----------------------------------------------------------------------


def _doc(run: Truth23, patient: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (run.workdir / "results" / "biomarkers" / f"{patient}.tmb_msi.json").read_text()
    )
    return data


@pytest.mark.pipeline
def test_tmb_is_within_ten_percent_of_the_truth_over_the_same_territory(
    truth23_run: Truth23,
) -> None:
    inst = truth23_run.instances["SIM01"]
    doc = _doc(truth23_run, "SIM01")
    ref = truth23_run.workdir / "resources" / "reference"
    truth = truth_tmb.truth_tmb(
        inst / "truth",
        truth23_run.workdir / "results" / "callable" / "SIM01.callable.bed",
        ref / "genome.fa",
        ref / "annotation.gff3",
        PARAMS["tmb"]["counted"],
    )
    got = doc["tmb"]
    assert got["callable_mb"] == pytest.approx(truth["callable_mb"], abs=1e-6)
    assert truth["mutations"] >= 3, truth  # the coding spikes land in the CDS
    assert (
        abs(got["mutations_per_mb"] - truth["mutations_per_mb"]) <= 0.1 * truth["mutations_per_mb"]
    ), (got, truth)
    print(
        f"\nSIM01 TMB {got['mutations_per_mb']} /Mb ({got['mutations']} in "
        f"{got['callable_mb']} Mb) vs truth {truth['mutations_per_mb']} ({truth['mutations']})"
    )


@pytest.mark.pipeline
def test_msi_status_is_right_on_the_stable_and_the_msi_like_tumour(truth23_run: Truth23) -> None:
    threshold = PARAMS["msi"]["threshold_percent"]
    expected = {"SIM01": "MSS", "SIM02": "MSI-H"}
    scores = {}
    for patient, status in expected.items():
        m = _doc(truth23_run, patient)["msi"]
        scores[patient] = m
        assert m["status"] == status, (patient, m)
        assert m["loci_evaluated"] >= PARAMS["msi"]["min_loci"]
        assert m["threshold_percent"] == threshold
    # Margins: the stable tumour well below the cut-off, the MSI-like one well above.
    assert scores["SIM01"]["score_percent"] <= threshold / 2, scores
    assert scores["SIM02"]["score_percent"] >= 2 * threshold, scores
    # Every spiked locus evaluated is unstable, and every unstable locus holds a truth
    # indel (an MSI spike, or one of the generator's somatic indels in a repeat) within
    # its window (locus +- flank): no unstable locus from noise.
    flank = PARAMS["msi"]["flank"]
    for patient in expected:
        truth = truth23_run.instances[patient] / "truth"
        indels, spiked = [], set()
        for name in ("somatic.vcf.gz", "msi.vcf.gz"):
            if not (truth / name).exists():
                continue
            out = subprocess.run(
                ["bcftools", "query", "-f", "%POS\t%REF\t%ALT\n", str(truth / name)],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            for line in out.splitlines():
                pos, ref, alt = line.split("\t")
                if len(ref) != len(alt):
                    indels.append(int(pos))
                    if name == "msi.vcf.gz":
                        spiked.add(int(pos))  # 1-based anchor = 0-based repeat start
        loci_tsv = truth23_run.workdir / f"results/biomarkers/msi/{patient}.msi_loci.tsv"
        rows = [ln.split("\t") for ln in loci_tsv.read_text().splitlines()[1:]]
        for row in rows:
            start, end, unstable = int(row[1]), int(row[2]), row[6] == "1"
            if start in spiked:
                assert unstable, (patient, row)
            if unstable:
                assert any(start - flank - 1 <= p - 1 <= end + flank for p in indels), row
        assert sum(int(r[1]) in spiked for r in rows) >= 0.8 * len(spiked), patient
    print(
        "\nMSI "
        + ", ".join(f"{k}: {v['score_percent']} % {v['status']}" for k, v in scores.items())
    )


@pytest.mark.pipeline
def test_biomarker_document_meets_the_contract_on_dot_test(local_run: Run) -> None:
    doc = json.loads((local_run.results / "biomarkers" / "TINY01.tmb_msi.json").read_text())
    assert doc["schema"] == "oncolake.tmb_msi/1"
    assert set(doc) == {"schema", "tmb", "msi", "purity"}
    assert set(doc["tmb"]) == {"mutations_per_mb", "mutations", "callable_mb", "counted", "rule"}
    assert set(doc["msi"]) == {
        "score_percent", "status", "loci_evaluated", "loci_unstable", "threshold_percent"
    }  # fmt: skip
    # .test: no microsatellite has 20 reads in both samples: not evaluable, null.
    assert doc["msi"]["status"] is None and doc["msi"]["score_percent"] is None
    # The lake's reader (harmonise/tmb_msi.py, lake23) accepts the document as it is.
    from harmonise.tmb_msi import read_tmb_msi

    read_tmb_msi(local_run.results / "biomarkers" / "TINY01.tmb_msi.json")
    assert doc["purity"] is None or 0 < doc["purity"] <= 1
    assert doc["tmb"]["callable_mb"] >= 0 and doc["tmb"]["counted"] == PARAMS["tmb"]["counted"]
    prov = json.loads((local_run.results / "provenance" / "provenance.json").read_text())
    paths = {o["path"] for o in prov["outputs"]}
    for name in ("biomarkers/TINY01.tmb_msi.json", "cnv/TINY01.genes.tsv",
                 "cnv/TINY01.segments.tsv", "callable/TINY01.callable.bed"):  # fmt: skip
        assert any(p.endswith(name) for p in paths), (name, paths)
