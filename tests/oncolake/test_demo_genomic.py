"""The demo's SV/CNV/TMB/MSI results (oncolake.demo.genomic): frequencies as cited, and
the synthetic centres' results through submit → ingest, checked with DuckDB SQL over the
lake's Parquet files ("NTRK fusion OR MSI-high OR TMB ≥ 10", per tumour type)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from harmonise.bundle import SubmitInputs, build_bundle
from harmonise.ingest import ingest
from harmonise.lake import Lake, LakeConfig
from oncolake.demo.genomic import (
    TMB_HIGH,
    basket_counts,
    draw,
    parquet_connection,
    patient_rng,
)
from oncolake.demo.network import TUMOUR_TYPES, CentreSpec, write_centre

PIPELINE = {
    "id": "oncolake/dna_seq",
    "version": "0.1.0",
    "fingerprint": "sha256:" + "ab" * 32,
    "harmonised": True,
}


def test_frequencies_follow_the_cited_literature() -> None:
    rng = np.random.default_rng(23)
    weights = np.array([t.weight for t in TUMOUR_TYPES])
    types = rng.choice([t.oncotree for t in TUMOUR_TYPES], size=12_000, p=weights / weights.sum())
    seen: Counter[str] = Counter()
    hits: Counter[tuple[str, str]] = Counter()
    for n, tt in enumerate(types):
        g = draw(patient_rng(1, f"P{n}"), str(tt), {})
        seen[tt] += 1
        genes = {x for f in g.fusions for x in (f.five, f.three)}
        hits[("NTRK", tt)] += bool(genes & {"NTRK1", "NTRK2", "NTRK3"})
        hits[("ALK", tt)] += "ALK" in genes
        hits[("RET", tt)] += "RET" in genes
        hits[("MSI", tt)] += g.msi_high
        hits[("TMB", tt)] += (g.tmb or 0) >= TMB_HIGH
        hits[("ERBB2", tt)] += g.calls["ERBB2"] == "amplification"
        hits[("CDKN2A", tt)] += g.calls["CDKN2A"] == "deep_deletion"

    def rate(what: str, tt: str) -> float:
        return hits[(what, tt)] / seen[tt]

    ntrk = sum(v for (w, _), v in hits.items() if w == "NTRK") / len(types)
    assert 0.0015 < ntrk < 0.0045, ntrk  # ~0.3 % overall (Westphalen 2021)
    assert 0.22 < rate("MSI", "UCEC") < 0.34 and 0.11 < rate("MSI", "COAD") < 0.19
    assert rate("MSI", "LUAD") < 0.03
    assert 0.14 < rate("ERBB2", "IDC") < 0.21 and 0.10 < rate("ERBB2", "STAD") < 0.21
    assert rate("ERBB2", "PRAD") < 0.02
    assert 0.03 < rate("ALK", "LUAD") < 0.065 and rate("ALK", "IDC") < 0.005
    assert rate("RET", "THPA") > 0.10 and 0.005 < rate("RET", "LUAD") < 0.04
    assert 0.48 < rate("CDKN2A", "GB") < 0.62
    assert rate("TMB", "MEL") > 0.45 and rate("TMB", "PRAD") < 0.12  # TMB-high ≥ 10
    assert rate("TMB", "UCEC") > 0.25  # through MSI-H


def _counts_from_files(export: Path) -> dict[str, dict[str, int]]:
    """The basket counts from the centre's own files (an independent reading)."""
    by_snomed = {t.snomed: t.oncotree for t in TUMOUR_TYPES}
    tumour: dict[str, str] = {}
    for line in (export / "clinical.ndjson").read_text().splitlines():
        r = json.loads(line)
        if r["resourceType"] == "Condition":
            pid = r["subject"]["reference"].split("/", 1)[1]
            tumour[pid] = by_snomed[r["code"]["coding"][0]["code"]]
    out: dict[str, dict[str, int]] = {}
    for pid, tt in tumour.items():
        row = out.setdefault(tt, Counter())
        row["patients"] += 1
        sv = gzip.decompress(
            (export / "results" / "annotated" / "sv" / f"{pid}.sv.annotated.vcf.gz").read_bytes()
        ).decode()
        ntrk = any(
            "\tPASS\t" in ln and "FUSION=" in ln and "NTRK" in ln.split("FUSION=")[1]
            for ln in sv.splitlines()
            if not ln.startswith("#")
        )
        tm = export / "results" / "biomarkers" / f"{pid}.tmb_msi.json"
        doc = json.loads(tm.read_text()) if tm.exists() else None
        msi = bool(doc and doc["msi"]["status"] == "MSI-H")
        tmb = bool(doc and doc["tmb"]["mutations_per_mb"] >= TMB_HIGH)
        row["ntrk_fusion"] += ntrk
        row["msi_high"] += msi
        row["tmb_high"] += tmb
        row["basket"] += ntrk or msi or tmb
    return {k: dict(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, list[Path]]:
    tmp = tmp_path_factory.mktemp("demo-genomic")
    (tmp / "wh").mkdir()
    lake = Lake(LakeConfig(f"sqlite:///{tmp / 'catalog.db'}", str(tmp / "wh")), b"tag-key")
    lake.init()
    exports = []
    for spec in (
        CentreSpec("NKI", "NKI", "NL", 160, "WES"),
        CentreSpec("GR", "GR", "FR", 40, "panel"),
    ):
        exp = write_centre(spec, tmp / spec.centre_id, 20261122, PIPELINE)
        assert exp.results is not None
        inputs = SubmitInputs(
            json.loads(exp.manifest.read_text()), vcfs=list(exp.vcfs), clinical=[exp.clinical],
            consent=[exp.consent], results=exp.results,
        )  # fmt: skip
        bundle, _ = build_bundle(inputs, b"centre-key", tmp / "out")
        report, _ = ingest(lake, bundle)
        assert report.status == "committed"
        exports.append(tmp / spec.centre_id)
    return lake, exports


def test_the_basket_query_over_the_lakes_parquet_matches_the_centres_files(
    demo_lake: tuple[Lake, list[Path]],
) -> None:
    lake, (wes, panel) = demo_lake
    tables = ["conditions", "structural_variants", "biomarkers"]
    from_parquet = basket_counts(parquet_connection(lake, tables))
    from_arrow = basket_counts(lake.duckdb(tables=tables))
    assert from_parquet == from_arrow
    expected = _counts_from_files(wes)
    for tt, row in _counts_from_files(panel).items():  # no TMB/MSI, no fusion partner
        assert row["basket"] == 0, tt
        have = expected.setdefault(tt, {k: 0 for k in row})
        have["patients"] += row["patients"]
    got = {r.pop("tumour_type"): r for r in from_parquet}
    assert got == expected
    assert sum(r["basket"] for r in got.values()) > 0
    assert sum(r["msi_high"] for r in got.values()) > 0


def test_panel_specimens_say_what_was_assessed(demo_lake: tuple[Lake, list[Path]]) -> None:
    lake, _ = demo_lake
    rows = lake.read("specimens", columns=["centre_id", "role", "analyses"]).to_pylist()
    tumours = [r for r in rows if r["role"] == "tumour"]
    wes = {tuple(r["analyses"]) for r in tumours if r["centre_id"] == "NKI"}
    panel = {tuple(r["analyses"]) for r in tumours if r["centre_id"] == "GR"}
    assert wes == {("copy_number", "msi", "small_variants", "structural_variants", "tmb")}
    assert panel == {("copy_number", "small_variants", "structural_variants")}
    genes = lake.read("copy_number_genes", columns=["centre_id", "gene"]).to_pylist()
    assert "ERBB2" not in {g["gene"] for g in genes if g["centre_id"] == "GR"}  # not covered
