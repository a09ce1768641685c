"""A small, exactly known discovery lake: patients described one by one, committed per centre.

Each :class:`P` describes one patient (tumour type, stage, age, sex, variants, biomarkers,
treatments, consent, assay); :func:`submission` turns a centre's patients into a lake
submission. The discovery tests count on these patients, so every expected number in them
can be checked by reading this file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from harmonise.lake import Lake, LakeConfig, Submission
from tests.conftest import TAG_KEY

GRU = "DUO:0000042"
HMB = "DUO:0000006"
DS = "DUO:0000007"
NPU = "DUO:0000018"
FP_NEW = "sha256:" + "a" * 64
FP_OLD = "sha256:" + "b" * 64
PANEL = ["BRAF", "KRAS", "EGFR", "TP53"]


@dataclass
class V:
    """A variant of a patient."""

    gene: str
    protein_change: str | None
    consequence: str = "missense_variant"
    variant_class: str = "SNV"
    origin: str = "somatic"


@dataclass
class P:
    """One patient of the test lake."""

    pid: str
    oncotree: str = "LUAD"
    stage: str | None = "IIIA"
    age: int | None = 60
    sex: str = "female"
    deceased: bool = False
    variants: Sequence[V] = ()
    biomarkers: Sequence[tuple[str, str | None, float | None]] = ()  # marker, interp, value
    treatments: Sequence[tuple[str, int]] = ()  # drug, line
    permissions: Sequence[str] = (GRU,)
    modifiers: Sequence[str] = ()
    disease_codes: Sequence[str] = ()
    status: str = "active"
    panel: Sequence[str] | None = None  # None: WES (genome-wide)
    extra: dict[str, str] = field(default_factory=dict)


def submission(
    dataset: str,
    centre: str,
    patients: Sequence[P],
    *,
    fingerprint: str = FP_NEW,
    revision: int = 0,
) -> Submission:
    """The lake submission of ``patients`` for ``centre``."""
    sid = hashlib.sha256(
        f"{dataset}/{centre}/{revision}/{[p.pid for p in patients]}".encode()
    ).hexdigest()
    ids = [p.pid for p in patients]
    v_rows = [(p.pid, v) for p in patients for v in p.variants]
    b_rows = [(p.pid, b) for p in patients for b in p.biomarkers]
    t_rows = [(p.pid, t) for p in patients for t in p.treatments]
    tables = {
        "patients": pa.table(
            {
                "patient_id": ids,
                "sex": [p.sex for p in patients],
                "deceased": [p.deceased for p in patients],
            }
        ),
        "conditions": pa.table(
            {
                "patient_id": ids,
                "condition_id": [f"{i}-c" for i in ids],
                "kind": ["primary"] * len(ids),
                "oncotree_code": [p.oncotree for p in patients],
                "stage_group": [p.stage for p in patients],
                "age_at_diagnosis": pa.array([p.age for p in patients], pa.int32()),
            }
        ),
        "specimens": pa.table(
            {
                "patient_id": ids,
                "specimen_id": [f"{i}-T" for i in ids],
                "role": ["tumour"] * len(ids),
                "assay_type": ["panel" if p.panel is not None else "WES" for p in patients],
                "assay_name": [
                    "PANEL4:1.0" if p.panel is not None else "EXOME:2.0" for p in patients
                ],
                "covered_genes": pa.array(
                    [list(p.panel) if p.panel is not None else None for p in patients],
                    pa.list_(pa.string()),
                ),
            }
        ),
        "consents": pa.table(
            {
                "patient_id": ids,
                "consent_id": [f"{i}-consent" for i in ids],
                "status": [p.status for p in patients],
                "permissions": [list(p.permissions) for p in patients],
                "modifiers": [list(p.modifiers) for p in patients],
                "disease_codes": [list(p.disease_codes) for p in patients],
            }
        ),
    }
    if v_rows:
        tables["variants"] = pa.table(
            {
                "patient_id": [r[0] for r in v_rows],
                "genome_build": ["GRCh37"] * len(v_rows),
                "chrom": ["7"] * len(v_rows),
                "pos": list(range(1000, 1000 + len(v_rows))),
                "ref": ["A"] * len(v_rows),
                "alt": ["T"] * len(v_rows),
                "gene": [r[1].gene for r in v_rows],
                "protein_change": [r[1].protein_change for r in v_rows],
                "consequence": [r[1].consequence for r in v_rows],
                "variant_class": [r[1].variant_class for r in v_rows],
                "origin": [r[1].origin for r in v_rows],
            }
        )
    if b_rows:
        tables["biomarkers"] = pa.table(
            {
                "patient_id": [r[0] for r in b_rows],
                "marker": [r[1][0] for r in b_rows],
                "interpretation": [r[1][1] for r in b_rows],
                "value_numeric": pa.array([r[1][2] for r in b_rows], pa.float64()),
            }
        )
    if t_rows:
        tables["treatments"] = pa.table(
            {
                "patient_id": [r[0] for r in t_rows],
                "kind": ["medication"] * len(t_rows),
                "drug": [r[1][0] for r in t_rows],
                "line_of_therapy": pa.array([r[1][1] for r in t_rows], pa.int32()),
            }
        )
    return Submission(
        submission_id=sid,
        dataset_id=dataset,
        centre_id=centre,
        dataset={
            "centre_name": f"Centre {centre}",
            "country": "NL",
            "title": f"{dataset}",
            "genome_build": "GRCh37",
            "data_types": ["variants", "clinical", "consent"],
            "assays": ["WES:EXOME:2.0"],
            "pipeline_id": "oncolake/dna_seq",
            "pipeline_version": "1.0.0",
            "pipeline_fingerprint": fingerprint,
            "harmonised": fingerprint == FP_NEW,
            "duo_codes": [GRU],
            "consent_form_version": "1",
        },
        tables=tables,
        tags={"metadata_digest": sid, "duo_codes": [GRU], "consent_version": "1"},
    )


def braf_melanoma(n: int, prefix: str, **kw: object) -> list[P]:
    """``n`` melanoma patients with BRAF V600E (and TP53 R175H), stage IV, GRU consent."""
    return [
        P(
            f"{prefix}{i:03d}",
            oncotree="SKCM",
            stage="IV",
            age=40 + i % 30,
            variants=[V("BRAF", "V600E"), V("TP53", "R175H")],
            **kw,
        )  # type: ignore[arg-type]
        for i in range(n)
    ]


def centre_a() -> list[P]:
    """Centre A: 23 patients (see the test module for the expected counts)."""
    pats = braf_melanoma(12, "A-mel")
    pats += [
        P(
            f"A-crc{i:02d}",
            oncotree="COAD",
            stage="IIIB",
            age=70,
            sex="male",
            variants=[V("BRAF", "V600E"), V("KRAS", "G12D")],
            biomarkers=[("MSI", "high", None), ("TMB", None, 25.0)],
            treatments=[("fluorouracil", 1), ("cetuximab", 2)],
        )
        for i in range(6)
    ]
    # five HER2-positive breast cancers: HMB consent, one not-for-profit only
    pats += [
        P(
            f"A-brc{i:02d}",
            oncotree="IDC",
            stage="IIA",
            age=50 + i,
            sex="female",
            variants=[
                V("PIK3CA", "H1047R"),
                V("BRCA2", "E1953*", "stop_gained", "SNV", "germline"),
            ],
            biomarkers=[("HER2", "positive", None), ("TMB", None, 4.0)],
            treatments=[("trastuzumab", 1)],
            permissions=[HMB],
            modifiers=[NPU] if i == 0 else [],
        )
        for i in range(5)
    ]
    return pats


def centre_b() -> list[P]:
    """Centre B: 14 patients sequenced with a 4-gene panel (no PIK3CA coverage)."""
    pats = braf_melanoma(8, "B-mel", panel=PANEL, deceased=True)
    # six lung cancers: disease-specific consent for lung only; EGFR L858R; one V600K
    pats += [
        P(
            f"B-lung{i:02d}",
            oncotree="LUAD",
            stage="IV",
            age=65,
            sex="male",
            variants=[V("EGFR", "L858R")] + ([V("BRAF", "V600K")] if i == 0 else []),
            treatments=[("osimertinib", 1)],
            permissions=[DS],
            disease_codes=["LUNG"],
            panel=PANEL,
        )
        for i in range(6)
    ]
    return pats


def make_discovery_lake(root: str) -> Lake:
    """A fresh lake with centres A (WES, new pipeline) and B (panel, old pipeline)."""
    lake = Lake(
        LakeConfig(catalog_uri=f"sqlite:///{root}/catalog.db", warehouse=f"{root}/wh"), TAG_KEY
    )
    lake.init()
    lake.commit(submission("DA", "CA", centre_a()))
    lake.commit(submission("DB", "CB", centre_b(), fingerprint=FP_OLD))
    return lake
