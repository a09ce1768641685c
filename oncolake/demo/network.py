"""A seeded synthetic network of cancer centres, as the centres themselves would export it.

For each centre it writes what a centre's data steward hands to ``oncolake submit``: a
draft submission manifest (metadata/ model, the centre's local identifiers), the mCODE
STU4 export as FHIR R4 Bulk-Data ndjson (CancerPatient, PrimaryCancerCondition with real
SNOMED CT and ICD-10 codes, TNM stage group, tumour markers, cancer-related medications
with their order giving the line of therapy, CancerDiseaseStatus, death), one FHIR
``Consent`` per patient with DUO codes (a realistic mix of GRU, HMB and DS with
modifiers such as NPU and PUB), and one bgzipped tumour/normal VCF per patient annotated
like the pipeline's output (bcftools csq ``BCSQ``).

Frequencies: tumour types in the proportions of a large European cancer registry's
sequenced cases; hotspots per tumour type from the literature (BRAF V600E in about half of
melanomas and most papillary thyroid cancers, KRAS G12 in most pancreatic cancers, EGFR
L858R in about a tenth of lung adenocarcinomas in Europe …; genes from the Molecular
Oncology Almanac's actionable list); passenger mutations drawn from a bounded per-gene
vocabulary so that protein changes repeat. Everything is drawn from one seeded
``numpy.random.Generator``: the same seed gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pysam

from harmonise.drugs import rxnorm_codes
from oncolake.demo.genomic import GENOMIC_VERSION, write_centre_patient
from oncolake.demo.journeys import (
    centre_preference,
    draw_braf_melanoma,
    draw_journey,
    journey_resources,
    pathway_for,
    subgroup,
)

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DUO_SYSTEM = "http://purl.obolibrary.org/obo/duo.owl"
ONCOTREE_SYSTEM = "http://oncotree.mskcc.org"
SCOPE_SYSTEM = "https://oncolake.org/fhir/CodeSystem/data-scope"


@dataclass(frozen=True)
class TumourType:
    """A tumour type: OncoTree code, diagnosis codes, relative frequency, typical drugs."""

    oncotree: str
    snomed: str
    display: str
    icd10: str
    weight: float
    drugs: tuple[str, ...]


TUMOUR_TYPES: tuple[TumourType, ...] = (
    TumourType("LUAD", "254626006", "Adenocarcinoma of lung", "C34.1", 13.0,
               ("carboplatin", "pemetrexed", "pembrolizumab", "osimertinib", "sotorasib")),
    TumourType("LUSC", "254634000", "Squamous cell carcinoma of lung", "C34.9", 4.0,
               ("carboplatin", "paclitaxel", "pembrolizumab")),
    TumourType("IDC", "408643008", "Infiltrating duct carcinoma of breast", "C50.9", 14.0,
               ("tamoxifen", "letrozole", "trastuzumab", "paclitaxel", "alpelisib")),
    TumourType("COAD", "363406005", "Malignant tumor of colon", "C18.9", 9.0,
               ("oxaliplatin", "fluorouracil", "cetuximab", "encorafenib", "bevacizumab")),
    TumourType("READ", "363351006", "Malignant tumor of rectum", "C20", 3.0,
               ("oxaliplatin", "fluorouracil", "capecitabine")),
    TumourType("PRAD", "399068003", "Malignant tumor of prostate", "C61", 8.0,
               ("enzalutamide", "docetaxel", "olaparib")),
    TumourType("MEL", "372244006", "Malignant melanoma", "C43.9", 5.0,
               ("dabrafenib", "trametinib", "pembrolizumab", "nivolumab")),
    TumourType("PAAD", "363418001", "Malignant tumor of pancreas", "C25.9", 4.0,
               ("gemcitabine", "nab-paclitaxel", "oxaliplatin")),
    TumourType("GB", "393564001", "Glioblastoma multiforme", "C71.9", 3.0,
               ("temozolomide",)),
    TumourType("BLCA", "399326009", "Malignant tumor of urinary bladder", "C67.9", 3.0,
               ("cisplatin", "gemcitabine", "erdafitinib")),
    TumourType("RCC", "363518003", "Malignant tumor of kidney", "C64", 3.0,
               ("sunitinib", "nivolumab")),
    TumourType("STAD", "363349007", "Malignant tumor of stomach", "C16.9", 2.5,
               ("oxaliplatin", "capecitabine", "trastuzumab")),
    TumourType("HCC", "93870000", "Malignant neoplasm of liver", "C22.0", 2.0,
               ("sorafenib", "atezolizumab")),
    TumourType("OVT", "363443007", "Malignant tumor of ovary", "C56.9", 3.0,
               ("carboplatin", "paclitaxel", "olaparib")),
    TumourType("THPA", "363478007", "Malignant tumor of thyroid gland", "C73", 1.5,
               ("dabrafenib", "lenvatinib")),
    TumourType("AML", "91861009", "Acute myeloid leukemia", "C92.0", 2.0,
               ("cytarabine", "midostaurin", "ivosidenib")),
    TumourType("UCEC", "254878006", "Endometrial carcinoma", "C54.1", 3.0,
               ("carboplatin", "paclitaxel", "pembrolizumab")),  # issue 23: MSI-H baskets
)  # fmt: skip

#: RxNorm codes of the drugs above (ingredient level).
RXNORM_CODES: dict[str, str] = {
    "carboplatin": "40048", "pemetrexed": "68446", "pembrolizumab": "1547545",
    "osimertinib": "1721560", "sotorasib": "2550714", "paclitaxel": "56946",
    "tamoxifen": "10324", "letrozole": "72965", "trastuzumab": "224905",
    "alpelisib": "2169302", "oxaliplatin": "32592", "fluorouracil": "4492",
    "cetuximab": "318341", "encorafenib": "2049106", "bevacizumab": "253337",
    "capecitabine": "194000", "enzalutamide": "1307298", "docetaxel": "72962",
    "olaparib": "1597582", "dabrafenib": "1424911", "trametinib": "1425098",
    "nivolumab": "1597876", "gemcitabine": "12574", "nab-paclitaxel": "583214",
    "temozolomide": "37776", "cisplatin": "2555", "erdafitinib": "2178997",
    "sunitinib": "357977", "sorafenib": "495881", "atezolizumab": "1792776",
    "lenvatinib": "1603296", "cytarabine": "3041", "midostaurin": "1926191",
    "ivosidenib": "2099707",
}  # fmt: skip


@dataclass(frozen=True)
class Hotspot:
    """A recurrent somatic variant on GRCh37 with its csq-style annotation."""

    gene: str
    transcript: str
    strand: str
    chrom: str
    pos: int
    ref: str
    alt: str
    aa: str  # bcftools csq amino-acid change, e.g. 600V>600E
    frequency: dict[str, float]
    default: float = 0.002


HOTSPOTS: tuple[Hotspot, ...] = (
    Hotspot("BRAF", "ENST00000288602", "-", "7", 140453136, "A", "T", "600V>600E",
            {"MEL": 0.45, "THPA": 0.60, "COAD": 0.10, "LUAD": 0.02}, 0.004),
    Hotspot("KRAS", "ENST00000256078", "-", "12", 25398284, "C", "T", "12G>12D",
            {"PAAD": 0.40, "COAD": 0.12, "READ": 0.12, "LUAD": 0.04}, 0.003),
    Hotspot("KRAS", "ENST00000256078", "-", "12", 25398284, "C", "A", "12G>12V",
            {"PAAD": 0.30, "COAD": 0.09, "LUAD": 0.06}, 0.002),
    Hotspot("KRAS", "ENST00000256078", "-", "12", 25398285, "C", "A", "12G>12C",
            {"LUAD": 0.11, "COAD": 0.03, "PAAD": 0.02}, 0.001),
    Hotspot("NRAS", "ENST00000369535", "-", "1", 115256530, "G", "T", "61Q>61K",
            {"MEL": 0.10, "THPA": 0.03, "AML": 0.05}, 0.001),
    Hotspot("EGFR", "ENST00000275493", "+", "7", 55259515, "T", "G", "858L>858R",
            {"LUAD": 0.10}, 0.0005),
    Hotspot("EGFR", "ENST00000275493", "+", "7", 55249071, "C", "T", "790T>790M",
            {"LUAD": 0.02}, 0.0002),
    Hotspot("PIK3CA", "ENST00000263967", "+", "3", 178952085, "A", "G", "1047H>1047R",
            {"IDC": 0.14, "COAD": 0.05, "BLCA": 0.04}, 0.004),
    Hotspot("PIK3CA", "ENST00000263967", "+", "3", 178936091, "G", "A", "545E>545K",
            {"IDC": 0.07, "BLCA": 0.06, "LUSC": 0.04}, 0.003),
    Hotspot("IDH1", "ENST00000415913", "-", "2", 209113112, "C", "T", "132R>132H",
            {"GB": 0.08, "AML": 0.07}, 0.0005),
    Hotspot("TP53", "ENST00000269305", "-", "17", 7578406, "C", "T", "175R>175H",
            {"OVT": 0.08, "LUSC": 0.04, "COAD": 0.05, "PAAD": 0.04}, 0.02),
    Hotspot("TP53", "ENST00000269305", "-", "17", 7577120, "C", "T", "273R>273H",
            {"OVT": 0.06, "COAD": 0.04, "GB": 0.04}, 0.015),
    Hotspot("FGFR3", "ENST00000440486", "+", "4", 1803568, "C", "G", "249S>249C",
            {"BLCA": 0.12}, 0.0005),
    Hotspot("AKT1", "ENST00000349310", "-", "14", 105246551, "C", "T", "17E>17K",
            {"IDC": 0.03}, 0.0005),
)  # fmt: skip

#: Genes for passenger mutations: (gene, transcript, strand, chrom, first coding pos).
PASSENGER_GENES: tuple[tuple[str, str, str, str, int], ...] = (
    ("APC", "ENST00000257430", "+", "5", 112043195),
    ("ARID1A", "ENST00000324856", "+", "1", 27022522),
    ("ATM", "ENST00000278616", "+", "11", 108098352),
    ("BRCA1", "ENST00000357654", "-", "17", 41197694),
    ("BRCA2", "ENST00000380152", "+", "13", 32890598),
    ("CDKN2A", "ENST00000304494", "-", "9", 21967751),
    ("KMT2D", "ENST00000301067", "-", "12", 49412758),
    ("LRP1B", "ENST00000389484", "-", "2", 140990749),
    ("NF1", "ENST00000358273", "+", "17", 29422328),
    ("PTEN", "ENST00000371953", "+", "10", 89624227),
    ("RB1", "ENST00000267163", "+", "13", 48878049),
    ("SMAD4", "ENST00000342988", "+", "18", 48573416),
    ("TTN", "ENST00000589042", "-", "2", 179390717),
    ("MUC16", "ENST00000397910", "-", "19", 8959520),
    ("CSMD3", "ENST00000297405", "-", "8", 113235157),
    ("FAT4", "ENST00000394329", "+", "4", 126237567),
    ("KMT2C", "ENST00000262189", "-", "7", 151832010),
    ("NOTCH1", "ENST00000277541", "-", "9", 139390523),
    ("ERBB2", "ENST00000269571", "+", "17", 37856254),
    ("MET", "ENST00000318493", "+", "7", 116312459),
)

AMINO = "ACDEFGHIKLMNPQRSTVWY"
PANEL_GENES = tuple(sorted({h.gene for h in HOTSPOTS} | {g[0] for g in PASSENGER_GENES[:10]}))

#: (permission CURIE, extra code or None, weight) and modifier probabilities.
CONSENT_PERMISSIONS: tuple[tuple[str, float], ...] = (
    ("DUO:0000042", 0.45),  # GRU
    ("DUO:0000006", 0.30),  # HMB
    ("DUO:0000007", 0.25),  # DS (the patient's own tumour tissue)
)
CONSENT_MODIFIERS: tuple[tuple[str, float], ...] = (
    ("DUO:0000018", 0.25),  # NPU: not-for-profit use only
    ("DUO:0000019", 0.10),  # PUB: publication required
)
STAGES = ("I", "II", "III", "IV")
#: AJCC stage groups as SNOMED CT qualifier values ("American Joint Committee on Cancer
#: stage I (qualifier value)", …), descendants of the concepts the mCODE STU4 value set
#: mcode-tnm-stage-group-vs names. Sources and the check: tests/oncolake/test_demo_stage_codes.py.
STAGE_SNOMED = {"I": "1222723001", "II": "1222765007", "III": "1222801008", "IV": "1222837003"}
DISEASE_STATUS_DISPLAY = {
    "268910001": "Patient's condition improved",
    "359746009": "Patient's condition stable",
    "271299001": "Patient's condition worsened",
}


@dataclass(frozen=True)
class CentreSpec:
    """One synthetic centre."""

    centre_id: str
    name: str
    country: str
    patients: int
    assay: str  # "panel" or "WES"
    genomic: str = GENOMIC_VERSION  # the SV/CNV/TMB/MSI results (oncolake.demo.genomic)


@dataclass(frozen=True)
class CentreExport:
    """What one centre hands to ``oncolake submit`` (paths under its export folder)."""

    spec: CentreSpec
    manifest: Path
    clinical: Path
    consent: Path
    vcfs: tuple[Path, ...]

    @property
    def results(self) -> Path | None:
        """The pipeline ``results/`` folder of SV, copy-number and TMB/MSI outputs."""
        folder = self.manifest.parent / "results"
        return folder if folder.is_dir() else None


def default_centres(patients: int, centres: int = 4) -> list[CentreSpec]:
    """A few European centres of different sizes sharing ``patients``."""
    names = [
        ("NKI", "Netherlands Cancer Institute", "NL"),
        ("GR", "Gustave Roussy", "FR"),
        ("DKFZ", "German Cancer Research Center", "DE"),
        ("VHIO", "Vall d'Hebron Institute of Oncology", "ES"),
        ("KI", "Karolinska Institutet", "SE"),
        ("INT", "Istituto Nazionale dei Tumori", "IT"),
    ]
    weights = np.array([1.6, 1.2, 1.0, 0.8, 0.7, 0.6][:centres])
    sizes = np.floor(patients * weights / weights.sum()).astype(int)
    sizes[0] += patients - int(sizes.sum())
    return [
        CentreSpec(cid, name, country, int(n), "panel" if i % 2 else "WES")
        for i, ((cid, name, country), n) in enumerate(zip(names, sizes, strict=False))
    ]


def write_centre(spec: CentreSpec, out: Path, seed: int, pipeline: dict[str, Any]) -> CentreExport:
    """Write one centre's export under ``out`` (idempotent: same seed, same bytes).

    ``pipeline`` is the manifest's pipeline block (id, version, fingerprint, harmonised,
    tool_versions): the demo takes it from the real pipeline run's provenance, since the
    story is that every centre ran that same pipeline.
    """
    rng = np.random.default_rng([seed, _stable(spec.centre_id)])
    out.mkdir(parents=True, exist_ok=True)
    (out / "vcf").mkdir(exist_ok=True)
    weights = np.array([t.weight for t in TUMOUR_TYPES])
    types = rng.choice(len(TUMOUR_TYPES), size=spec.patients, p=weights / weights.sum())
    clinical: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    vcfs: list[Path] = []
    for i in range(spec.patients):
        pid = f"{spec.centre_id}-{i + 1:05d}"
        tt = TUMOUR_TYPES[int(types[i])]
        variants = _variants(rng, tt)
        resources = _patient_resources(rng, pid, tt, variants, spec.centre_id, seed)
        clinical += resources
        consents.append(_consent(rng, pid, tt, spec))
        tumour, normal = f"{pid}-T", f"{pid}-N"
        panel = PANEL_GENES if spec.assay == "panel" else None
        write_centre_patient(out / "results", seed, pid, tumour, normal, tt.oncotree,
                             resources, panel)  # fmt: skip
        samples += _samples(rng, spec, pid, tumour, normal)
        vcfs.append(_write_vcf(out / "vcf" / f"{pid}.vcf", tumour, normal, variants, rng))
    _write_ndjson(out / "clinical.ndjson", clinical)
    _write_ndjson(out / "consent.ndjson", consents)
    manifest = out / "manifest.draft.json"
    manifest.write_text(json.dumps(_manifest(spec, samples, pipeline), indent=2) + "\n")
    return CentreExport(
        spec, manifest, out / "clinical.ndjson", out / "consent.ndjson", tuple(vcfs)
    )


def write_network(
    centres: Sequence[CentreSpec], out: Path, seed: int, pipeline: dict[str, Any]
) -> Iterator[CentreExport]:
    """Write every centre's export under ``out/<centre id>``."""
    for spec in centres:
        yield write_centre(spec, out / spec.centre_id, seed, pipeline)


# -- drawing -----------------------------------------------------------------------------


def _stable(text: str) -> int:
    return int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "little")


@dataclass(frozen=True)
class _Variant:
    chrom: str
    pos: int
    ref: str
    alt: str
    gene: str
    transcript: str
    strand: str
    consequence: str
    aa: str
    vaf: float


def _variants(rng: np.random.Generator, tt: TumourType) -> list[_Variant]:
    out: list[_Variant] = []
    seen_genes: set[str] = set()
    for h in HOTSPOTS:
        if h.gene in seen_genes:
            continue
        if rng.random() < h.frequency.get(tt.oncotree, h.default):
            seen_genes.add(h.gene)
            out.append(
                _Variant(
                    h.chrom,
                    h.pos,
                    h.ref,
                    h.alt,
                    h.gene,
                    h.transcript,
                    h.strand,
                    "missense",
                    h.aa,
                    float(rng.uniform(0.15, 0.6)),
                )
            )
    for _ in range(int(rng.poisson(4))):
        gene, tx, strand, chrom, start = PASSENGER_GENES[int(rng.integers(len(PASSENGER_GENES)))]
        codon = int(rng.integers(1, 120))  # a bounded vocabulary: changes repeat
        pos = start + codon * 3
        ref, alt = rng.choice(list("ACGT"), size=2, replace=False)
        synonymous = rng.random() < 0.3
        a1 = AMINO[(codon * 7) % 20]
        a2 = a1 if synonymous else AMINO[(codon * 7 + 1 + int(rng.integers(19))) % 20]
        out.append(
            _Variant(
                chrom,
                pos,
                str(ref),
                str(alt),
                gene,
                tx,
                strand,
                "synonymous" if synonymous else "missense",
                f"{codon}{a1}" if synonymous else f"{codon}{a1}>{codon}{a2}",
                float(rng.uniform(0.05, 0.5)),
            )
        )
    order = {str(c): i for i, c in enumerate([*range(1, 23), "X", "Y"])}
    out.sort(key=lambda v: (order[v.chrom], v.pos, v.alt))
    dedup: list[_Variant] = []
    for v in out:
        if dedup and (dedup[-1].chrom, dedup[-1].pos) == (v.chrom, v.pos):
            continue
        dedup.append(v)
    return dedup


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"system": system, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c], **({"text": display} if display else {})}


def _genes(variants: Sequence[_Variant]) -> set[str]:
    """``GENE V600E``-style names of the hotspot changes (csq ``600V>600E``)."""
    out = set()
    for v in variants:
        if ">" in v.aa:
            ref, alt = v.aa.split(">")
            out.add(f"{v.gene} {ref[-1]}{ref[:-1]}{alt[-1]}")
    return out


def _marker_values(markers: Sequence[dict[str, Any]]) -> dict[str, bool]:
    pos = {"10828004", "LA26203-2"}
    out: dict[str, bool] = {}
    for m in markers:
        code = m["code"]["coding"][0]["code"]
        value = ((m.get("valueCodeableConcept") or {}).get("coding") or [{}])[0].get("code")
        name = {"48676-1": "HER2", "16112-5": "ER", "81695-9": "MSI-H"}.get(code)
        if name:
            out[name] = value in pos
    return out


def _patient_resources(
    rng: np.random.Generator,
    pid: str,
    tt: TumourType,
    variants: list[_Variant],
    centre: str,
    seed: int = 0,
) -> list[dict[str, Any]]:
    subject = {"reference": f"Patient/{pid}"}
    dx_year = int(rng.integers(2015, 2025))
    dx_date = dt.date(dx_year, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    age = int(np.clip(rng.normal(63, 12), 18, 95))
    birth_year = dx_year - age
    sex = (
        "female"
        if tt.oncotree in ("IDC", "OVT", "UCEC")
        else ("male" if tt.oncotree == "PRAD" else str(rng.choice(["female", "male"])))
    )
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"profile": [MCODE + "mcode-cancer-patient"]},
        "gender": sex,
        "birthDate": str(birth_year),
    }
    cond_id = f"{pid}-dx"
    stage = str(rng.choice(STAGES, p=[0.25, 0.3, 0.27, 0.18]))
    staged = int(rng.integers(0, 21))  # days from diagnosis to the staging observation
    out: list[dict[str, Any]] = [
        patient,
        {
            "resourceType": "Condition",
            "id": cond_id,
            "meta": {"profile": [MCODE + "mcode-primary-cancer-condition"]},
            "clinicalStatus": _coding(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
            ),
            "category": [_coding(SNOMED, "64572001", "Disease")],
            "code": {
                "coding": [
                    {"system": SNOMED, "code": tt.snomed, "display": tt.display},
                    {"system": ICD10, "code": tt.icd10, "display": tt.display},
                ]
            },
            "subject": subject,
            "onsetDateTime": dx_date.isoformat(),
        },
        {
            "resourceType": "Observation",
            "id": f"{pid}-stage",
            "meta": {"profile": [MCODE + "mcode-tnm-stage-group"]},
            "status": "final",
            "code": _coding(LOINC, "21908-9", "Stage group.clinical Cancer"),
            "subject": subject,
            "effectiveDateTime": (dx_date + dt.timedelta(days=staged)).isoformat(),
            "valueCodeableConcept": _coding(SNOMED, STAGE_SNOMED[stage], f"Stage {stage}"),
            "focus": [{"reference": f"Condition/{cond_id}"}],
        },
    ]
    markers = _markers(rng, pid, tt, subject, dx_date, len(variants))
    out += markers
    group = subgroup(tt.oncotree, _genes(variants), _marker_values(markers))
    pathway = pathway_for(
        tt.oncotree, group, tt.drugs, centre_preference(rng, centre, f"{tt.oncotree}|{group}")
    )
    journey = draw_journey(rng, dx_date, stage, pathway)
    if tt.oncotree == "MEL" and group == "BRAF V600E":
        # its own model (oncolake.demo.journeys.draw_braf_melanoma), from its own stream:
        # the draws above still consume the centre's stream, so every other patient's
        # rows are those of the release before it
        own = np.random.default_rng([seed, zlib.crc32(centre.encode()), zlib.crc32(pid.encode())])
        stage, journey = draw_braf_melanoma(own, dx_date, centre)
        staging = next(r for r in out if r["id"] == f"{pid}-stage")
        staging["valueCodeableConcept"] = _coding(SNOMED, STAGE_SNOMED[stage], f"Stage {stage}")
    if journey.death is not None:
        patient["deceasedDateTime"] = journey.death.isoformat()
    codes = {**RXNORM_CODES, **rxnorm_codes()}
    administrations = zlib.crc32(centre.encode()) % 3 == 0  # how the centre exports
    out += journey_resources(journey, pid, cond_id, codes, administrations, MCODE, RXNORM)
    statuses = [(d, "271299001") for d in journey.progressions]
    statuses += [(d, "268910001") for d in journey.responses]
    if journey.death is None:  # the last contact: follow-up of a living patient
        statuses.append((journey.last_contact, "359746009"))
    for n, (when, code) in enumerate(sorted(statuses), start=1):
        out.append(
            {
                "resourceType": "Observation",
                "id": f"{pid}-status{n}",
                "meta": {"profile": [MCODE + "mcode-cancer-disease-status"]},
                "status": "final",
                "code": _coding(LOINC, "97509-4", "Cancer disease status"),
                "subject": subject,
                "effectiveDateTime": when.isoformat(),
                "valueCodeableConcept": _coding(SNOMED, code, DISEASE_STATUS_DISPLAY[code]),
                "focus": [{"reference": f"Condition/{cond_id}"}],
            }
        )
    return out


def _markers(
    rng: np.random.Generator,
    pid: str,
    tt: TumourType,
    subject: dict[str, str],
    diagnosis: dt.date,
    n_variants: int,
) -> list[dict[str, Any]]:
    def marker(code: str, display: str, value: dict[str, Any], suffix: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": f"{pid}-{suffix}",
            "meta": {"profile": [MCODE + "mcode-tumor-marker-test"]},
            "status": "final",
            "category": [
                _coding("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")
            ],
            "code": _coding(LOINC, code, display),
            "subject": subject,
            "effectiveDateTime": (diagnosis + dt.timedelta(days=7)).isoformat(),
            **value,
        }

    pos = _coding(SNOMED, "10828004", "Positive")
    neg = _coding(SNOMED, "260385009", "Negative")
    out: list[dict[str, Any]] = []
    if tt.oncotree in ("IDC", "STAD"):
        her2 = rng.random() < (0.18 if tt.oncotree == "IDC" else 0.12)
        out.append(
            marker(
                "48676-1",
                "HER2 [Interpretation] in Tissue",
                {"valueCodeableConcept": pos if her2 else neg},
                "her2",
            )
        )
    if tt.oncotree == "IDC":
        er = rng.random() < 0.75
        out.append(
            marker(
                "16112-5",
                "Estrogen receptor [Interpretation] in Tissue",
                {"valueCodeableConcept": pos if er else neg},
                "er",
            )
        )
    if tt.oncotree in ("COAD", "READ", "STAD") or rng.random() < 0.05:
        msi_high = rng.random() < (0.15 if tt.oncotree in ("COAD", "STAD") else 0.03)
        out.append(
            marker(
                "81695-9",
                "Microsatellite instability [Interpretation] in Cancer specimen",
                {
                    "valueCodeableConcept": _coding(
                        LOINC,
                        "LA26203-2" if msi_high else "LA26204-0",
                        "MSI-H" if msi_high else "MSS",
                    )
                },
                "msi",
            )
        )
    if rng.random() < 0.5:
        tmb = round(float(rng.lognormal(1.4, 0.9)) + n_variants * 0.1, 1)
        out.append(
            marker(
                "94076-7",
                "Mutations/Megabase [# Ratio] in Tumor",
                {
                    "valueQuantity": {
                        "value": tmb,
                        "unit": "/[Mb]",
                        "system": "http://unitsofmeasure.org",
                        "code": "/[Mb]",
                    }
                },
                "tmb",
            )
        )
    return out


def _consent(
    rng: np.random.Generator, pid: str, tt: TumourType, spec: CentreSpec
) -> dict[str, Any]:
    perms, weights = zip(*CONSENT_PERMISSIONS, strict=True)
    permission = str(rng.choice(perms, p=np.array(weights) / sum(weights)))
    codes = [{"coding": [{"system": DUO_SYSTEM, "code": permission}]}]
    if permission == "DUO:0000007":  # disease-specific: the patient's own tumour type
        codes.append({"coding": [{"system": ONCOTREE_SYSTEM, "code": tt.oncotree}]})
    for modifier, p in CONSENT_MODIFIERS:
        if rng.random() < p:
            codes.append({"coding": [{"system": DUO_SYSTEM, "code": modifier}]})
    return {
        "resourceType": "Consent",
        "id": f"{pid}-consent",
        "status": "active",
        "scope": _coding("http://terminology.hl7.org/CodeSystem/consentscope", "research"),
        "category": [_coding(LOINC, "57016-8")],
        "patient": {"reference": f"Patient/{pid}"},
        "dateTime": f"{int(rng.integers(2015, 2025))}-03-01",
        "policy": [{"uri": f"urn:oncolake:consent-form:{spec.centre_id}-research-1"}],
        "provision": {
            "type": "permit",
            "class": [
                {"system": SCOPE_SYSTEM, "code": "genomic"},
                {"system": SCOPE_SYSTEM, "code": "clinical"},
            ],
            "code": codes,
        },
    }


def _samples(
    rng: np.random.Generator, spec: CentreSpec, pid: str, tumour: str, normal: str
) -> list[dict[str, Any]]:
    assay: dict[str, Any] = (
        {
            "type": "panel",
            "name": f"{spec.centre_id}-solid-panel",
            "version": "1.0",
            "covered_genes": list(PANEL_GENES),
        }
        if spec.assay == "panel"
        else {"type": "WES", "name": "Twist Exome", "version": "2.0"}
    )
    year = int(rng.integers(2016, 2025))
    common = {
        "patient_id": pid,
        "assay": assay,
        "platform": "Illumina NovaSeq 6000",
        "collection_year": year,
    }
    return [
        {
            "specimen_id": tumour,
            "role": "tumour",
            "sample_type": str(rng.choice(["FFPE", "fresh_frozen"], p=[0.8, 0.2])),
            "matched_normal": normal,
            **common,
        },
        {"specimen_id": normal, "role": "normal", "sample_type": "blood", **common},
    ]


def _manifest(
    spec: CentreSpec, samples: list[dict[str, Any]], pipeline: dict[str, Any]
) -> dict[str, Any]:
    return {
        "format_version": 1,
        "dataset_id": f"{spec.centre_id}-synthetic-2025",
        "title": f"{spec.name}: synthetic tumour/normal cohort (demo data, not real patients)",
        "centre": {"id": spec.centre_id, "name": spec.name, "country": spec.country},
        "data_controller": {
            "name": spec.name,
            "contact_name": "Data Protection Office",
            "contact_email": f"dpo@{spec.centre_id.lower()}.example",
        },
        "legal_basis": "consent",
        "data_types": ["variants", "clinical", "consent"],
        "analysis": "somatic",
        "samples": samples,
        "reference": {"build": "GRCh37", "contig_naming": "ensembl"},
        "pipeline": pipeline,
        "consent_form_version": f"{spec.centre_id}-research-1",
        "duo_codes": ["DUO:0000006"],
        "files": [],
    }


VCF_HEADER = """##fileformat=VCFv4.2
##reference=GRCh37
{contigs}##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="Somatic variant">
{bcsq_header}
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##oncolake_synthetic=This file is synthetic demo data, not a real patient
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{tumour}\t{normal}
"""
BCSQ_HEADER = (
    '##INFO=<ID=BCSQ,Number=.,Type=String,Description="Haplotype-aware consequence '
    "annotation from BCFtools/csq. Format: "
    'Consequence|gene|transcript|biotype|strand|amino_acid_change|dna_change">'
)
GRCH37_LENGTHS = {
    "1": 249250621, "2": 243199373, "3": 198022430, "4": 191154276, "5": 180915260,
    "7": 159138663, "8": 146364022, "9": 141213431, "10": 135534747, "11": 135006516,
    "12": 133851895, "13": 115169878, "14": 107349540, "17": 81195210, "18": 78077248,
    "19": 59128983,
}  # fmt: skip


def _write_vcf(
    path: Path, tumour: str, normal: str, variants: list[_Variant], rng: np.random.Generator
) -> Path:
    contigs = "".join(
        f"##contig=<ID={c},length={n},assembly=GRCh37>\n" for c, n in GRCH37_LENGTHS.items()
    )
    lines = [
        VCF_HEADER.format(contigs=contigs, bcsq_header=BCSQ_HEADER, tumour=tumour, normal=normal)
    ]
    for v in variants:
        depth = int(rng.integers(80, 400))
        alt_reads = max(3, round(depth * v.vaf))
        n_depth = int(rng.integers(40, 120))
        bcsq = "|".join(
            (v.consequence, v.gene, v.transcript, "protein_coding", v.strand, v.aa,
             f"{v.pos}{v.ref}>{v.alt}")
        )  # fmt: skip
        lines.append(
            f"{v.chrom}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t{int(rng.integers(40, 250))}\tPASS\t"
            f"SOMATIC;BCSQ={bcsq}\tGT:DP:AD\t0/1:{depth}:{depth - alt_reads},{alt_reads}\t"
            f"0/0:{n_depth}:{n_depth},0\n"
        )
    path.write_text("".join(lines))
    gz = Path(str(path) + ".gz")
    pysam.tabix_compress(str(path), str(gz), force=True)
    pysam.tabix_index(str(gz), preset="vcf", force=True)
    path.unlink()
    return gz


def _write_ndjson(path: Path, resources: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in resources))
