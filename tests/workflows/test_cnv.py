"""Copy number in workflows/dna_seq (issue 23 item 2): CNVkit against the matched normal,
purity from the somatic SNVs, gene-level calls; the callable territory (CONTRACT23 item 5).

The figures come from the session's two-patient truth run (``truth23_run``: SIM01 with a
clonal amplification to 10 copies and a clonal deep deletion, purity 0.9) and from the
``.test`` run (``local_run``), both real runs of the workflow."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.workflows.conftest import WORKFLOW, Run, Truth23

SCRIPTS = WORKFLOW / "workflow" / "scripts"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cnv_genes = _load(SCRIPTS / "cnv_genes.py", "dna_seq_cnv_genes")
callable_ = _load(SCRIPTS / "callable.py", "dna_seq_callable")
PARAMS: dict[str, Any] = yaml.safe_load((WORKFLOW / "workflow" / "analysis.yaml").read_text())[
    "parameters"
]


def table(path: Path) -> list[dict[str, str]]:
    head, *rows = path.read_text().splitlines()
    names = head.split("\t")
    return [dict(zip(names, r.split("\t"), strict=True)) for r in rows]


# ---- the scripts' arithmetic (real functions, hand-made inputs) ------------------------


def test_copy_number_is_purity_adjusted_and_calls_follow_the_analysis_thresholds() -> None:
    p = PARAMS["copy_number"]
    # Purity 0.8, 6 copies: ratio = 0.2 + 0.8 * 3 = 2.6.
    assert cnv_genes.copy_number(math.log2(2.6), 0.8) == pytest.approx(6.0)
    assert cnv_genes.copy_number(-10.0, 0.9) == 0.0
    assert cnv_genes.copy_number(0.0, None) == 2.0
    assert cnv_genes.call(6.0, 5, p) == "amplification"
    assert cnv_genes.call(3.0, 5, p) == "gain"
    assert cnv_genes.call(2.0, 5, p) == "neutral"
    assert cnv_genes.call(1.0, 5, p) == "loss"
    assert cnv_genes.call(0.2, 5, p) == "deep_deletion"
    assert cnv_genes.call(0.2, 2, p) == "neutral"  # fewer bins than min_bins


def test_purity_is_twice_the_highest_clonal_vaf_peak_and_null_without_snvs() -> None:
    p = PARAMS["copy_number"]
    vafs = [0.05, 0.06, 0.04, 0.1, 0.11, 0.09] * 3 + [0.30, 0.31, 0.29, 0.30, 0.32] * 3
    purity, info = cnv_genes.estimate_purity(vafs, p)
    assert purity == pytest.approx(0.6, abs=0.02) and info["snvs"] == len(vafs)
    # A lone high-VAF outlier is not a peak with enough SNVs behind it.
    purity2, _ = cnv_genes.estimate_purity([*vafs, 0.48], p)
    assert purity2 == purity
    none, why = cnv_genes.estimate_purity([0.3] * 5, p)
    assert none is None and "fewer than" in why["reason"]


def test_callable_territory_is_the_intersection_of_both_samples_and_the_regions() -> None:
    t = {"1": [(0, 100), (200, 300)]}
    n = {"1": [(50, 250)], "2": [(0, 10)]}
    assert callable_.intersect(t, n) == {"1": [(50, 100), (200, 250)]}
    assert callable_.merge([(5, 9), (0, 5), (20, 20)]) == [(0, 9)]


# ---- the truth instance: the spiked amplification and deep deletion --------------------


@pytest.mark.pipeline
def test_spiked_amplification_and_deep_deletion_are_called_at_their_genes(
    truth23_run: Truth23,
) -> None:
    inst = truth23_run.instances["SIM01"]
    truth = table(inst / "truth" / "cnv.tsv")
    genes = {r["gene"]: r for r in table(truth23_run.workdir / "results/cnv/SIM01.genes.tsv")}
    expected = {g: t["call"] for t in truth for g in t["genes"].split(",") if g}
    assert expected == {"RNU6-1100P": "amplification", "CICP27": "deep_deletion"}
    for gene, want in expected.items():
        assert genes[gene]["call"] == want, genes[gene]
    amp = float(genes["RNU6-1100P"]["copy_number"])
    dele = float(genes["CICP27"]["copy_number"])
    assert 6.0 <= amp <= 13.0 and dele < 0.5, (amp, dele)
    # Every other gene of the region: no false amplification or deletion; and in SIM02
    # (no copy-number spike, same region) the same two genes and all others are neutral.
    others = {g: r["call"] for g, r in genes.items() if g not in expected}
    assert set(others.values()) <= {"neutral"}, others
    control = table(truth23_run.workdir / "results/cnv/SIM02.genes.tsv")
    assert {r["gene"] for r in control} >= set(expected), control
    assert {r["call"] for r in control} == {"neutral"}, control
    control_segments = table(truth23_run.workdir / "results/cnv/SIM02.segments.tsv")
    assert all(abs(float(s["log2"])) < 0.2 for s in control_segments), control_segments
    purity_doc = json.loads((truth23_run.workdir / "results/cnv/SIM01.purity.json").read_text())
    purity = float(purity_doc["purity"])
    assert abs(purity - 0.9) <= 0.1, purity
    segments = table(truth23_run.workdir / "results/cnv/SIM01.segments.tsv")
    amp_seg = [s for s in segments if int(s["start"]) < 157_784 < int(s["end"])]
    assert len(amp_seg) == 1 and abs(int(amp_seg[0]["start"]) - 151_000) <= 2_000, amp_seg
    print(f"\nSIM01 amplification CN {amp:.2f}, deep deletion CN {dele:.3f}, purity {purity}")


@pytest.mark.pipeline
def test_copy_number_outputs_meet_the_contract_on_dot_test(local_run: Run) -> None:
    cnv = local_run.results / "cnv"
    seg_head = (cnv / "TINY01.segments.tsv").read_text().splitlines()[0]
    gene_head = (cnv / "TINY01.genes.tsv").read_text().splitlines()[0]
    assert seg_head == "chrom\tstart\tend\tlog2\tcopy_number\tprobes"
    assert gene_head == "gene\tchrom\tstart\tend\tlog2\tcopy_number\tcall"
    calls = {"amplification", "gain", "neutral", "loss", "deep_deletion"}
    rows = table(cnv / "TINY01.genes.tsv")
    assert {"CICP27", "AL627309.1"} <= {r["gene"] for r in rows}  # .test reads' genes
    for row in rows:
        assert row["call"] in calls and int(row["start"]) < int(row["end"])
    # The lake's readers (harmonise/copy_number.py, lake23) accept both tables as they are.
    from harmonise.copy_number import read_genes, read_segments

    assert len(read_segments(cnv / "TINY01.segments.tsv", "GRCh37", "ensembl")) >= 1
    assert len(read_genes(cnv / "TINY01.genes.tsv", "GRCh37", "ensembl")) == len(rows)
    bed = (local_run.results / "callable" / "TINY01.callable.bed").read_text().splitlines()
    regions = [(132_700, 134_000), (136_000, 139_738)]  # .test/data/reference/regions.bed
    for line in bed:
        chrom, a, b = line.split("\t")
        assert chrom == "1" and any(lo <= int(a) < int(b) <= hi for lo, hi in regions), line
