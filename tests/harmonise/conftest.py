"""Fixtures of the ingest tests (names prefixed ``ingest_``): a real tumour/normal VCF
annotated with bcftools csq, a draft manifest, mCODE clinical data and consent."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harmonise.lake import Lake, LakeConfig

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
MCODE = SHARED / "mcode" / "hl7.fhir.us.mcode-4.0.0" / "example"
JENNY = MCODE / "Bundle-mcode-patient-bundle-jenny-m.json"
JENNY_ID = "cancer-patient-jenny-m"


def ingest_shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip naming what is missing."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs {p} (the shared real-data folder beside the repo), absent here")
    return p


@pytest.fixture(scope="session")
def ingest_tn_vcf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The EGFR hotspot VCF (ClinVar, GRCh37) as a tumour/normal VCF, annotated with
    bcftools csq against the real EGFR exons + Ensembl GFF3."""
    d = ingest_shared("annotation", "egfr-grch37")
    if shutil.which("bcftools") is None:
        pytest.skip("needs bcftools on PATH (make tools)")
    out = tmp_path_factory.mktemp("vcf")
    lines = (d / "egfr_hotspots.vcf").read_text().splitlines()
    body = []
    for i, line in enumerate(lines):
        if line.startswith("##"):
            body.append(line)
        elif line.startswith("#CHROM"):
            body.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
            body.append('##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">')
            body.append('##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allele depths">')
            body.append(line + "\tFORMAT\tT-001\tN-001")
        else:
            dp = 40 + i
            body.append(f"{line}\tGT:DP:AD\t0/1:{dp}:{dp - 10},10\t0/0:30:30,0")
    tn = out / "tn.vcf"
    tn.write_text("\n".join(body) + "\n")
    vcf = out / "P001.somatic.annotated.vcf.gz"
    subprocess.run(
        ["bcftools", "csq", "-l", "-f", str(d / "EGFR_exons.GRCh37.chr7.fa.gz"),
         "-g", str(d / "EGFR_region.GRCh37.87.gff3"), "-Oz", "-o", str(vcf), str(tn)],
        check=True, capture_output=True,
    )  # fmt: skip
    return vcf


def ingest_draft(patient: str = JENNY_ID) -> dict[str, Any]:
    """A draft manifest (centre-local ids) for one tumour/normal pair."""
    assay = {"type": "panel", "name": "EGFR-hotspots", "version": "1", "covered_genes": ["EGFR"]}
    common = {
        "patient_id": patient, "sample_type": "FFPE", "assay": assay,
        "platform": "Illumina NovaSeq 6000", "collection_year": 2019,
    }  # fmt: skip
    return {
        "format_version": 1,
        "dataset_id": "TST-egfr-demo",
        "title": "EGFR hotspots, test centre",
        "centre": {"id": "TST", "name": "Test Cancer Centre", "country": "NL"},
        "data_controller": {
            "name": "Test Cancer Centre",
            "contact_name": "Data office",
            "contact_email": "dpo@test.example",
        },
        "legal_basis": "consent",
        "data_types": ["variants", "clinical", "consent"],
        "analysis": "somatic",
        "samples": [
            {**common, "specimen_id": "T-001", "role": "tumour", "matched_normal": "N-001"},
            {**common, "specimen_id": "N-001", "role": "normal", "sample_type": "blood"},
        ],
        "reference": {"build": "GRCh37", "contig_naming": "ensembl"},
        "pipeline": {
            "id": "oncolake/dna_seq",
            "version": "0.1.0",
            "fingerprint": "sha256:" + "ab" * 32,
            "harmonised": True,
        },
        "consent_form_version": "TST-research-1",
        "duo_codes": ["DUO:0000042"],
        "files": [{"path": "placeholder", "sha256": "0" * 64, "size": 0, "format": "format_3016"}],
    }


def ingest_consent_resource(patient: str = JENNY_ID, status: str = "active") -> dict[str, Any]:
    """A harmonised FHIR Consent (general research use) for ``patient`` (local id)."""
    return {
        "resourceType": "Consent",
        "id": f"consent-{patient}",
        "status": status,
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": "2019-04-01",
        "policy": [{"uri": "urn:oncolake:consent-form:TST-research-1"}],
        "provision": {
            "type": "permit",
            "class": [
                {"system": "https://oncolake.org/fhir/CodeSystem/data-scope", "code": "genomic"},
                {"system": "https://oncolake.org/fhir/CodeSystem/data-scope", "code": "clinical"},
            ],
            "code": [
                {
                    "coding": [
                        {"system": "http://purl.obolibrary.org/obo/duo.owl", "code": "DUO:0000042"}
                    ]
                }
            ],
        },
    }


@pytest.fixture
def ingest_consent_file(tmp_path: Path) -> Path:
    """An ndjson file with the active consent of Jenny M."""
    p = tmp_path / "consent.ndjson"
    p.write_text(json.dumps(ingest_consent_resource()) + "\n")
    return p


@pytest.fixture
def ingest_lake(tmp_path: Path) -> Lake:
    """A fresh lake on SQLite + a local warehouse."""
    wh = tmp_path / "warehouse"
    wh.mkdir()
    lake = Lake(LakeConfig(f"sqlite:///{tmp_path / 'catalog.db'}", str(wh)), b"test-tag-key")
    lake.init()
    return lake


KEY = b"centre-secret-key-for-tests"
