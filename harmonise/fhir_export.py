"""The pipeline's somatic results as an HL7 Genomics Reporting (STU3, 3.0.0) FHIR R4 Bundle for
the centre's EHR: ``oncolake results fhir DIR``.

Input: a pipeline ``results/`` folder (CONTRACT23: ``annotated/sv/{patient}.sv.annotated.vcf.gz``,
``cnv/{patient}.genes.tsv``, ``biomarkers/{patient}.tmb_msi.json``), read and checked by
the same readers as ingest (:mod:`harmonise.structural`, :mod:`harmonise.copy_number`,
:mod:`harmonise.tmb_msi`). Output: per patient one ``Bundle`` (type ``collection``) holding a
``DiagnosticReport`` of the IG's ``genomic-report`` profile (LOINC 51969-4 "Genetic analysis
report", category v2-0074 ``GE``) whose ``result`` lists:

* **fusions and other structural variants** (``variant`` profile, LOINC 69548-6 "Genetic
  variant assessment", value LA9633-4 "Present", method LA26398-0 "Sequencing"): one per
  PASS record of the SV VCF that touches a gene (intergenic passenger SVs are not findings
  a clinician acts on, and are left out). Components: ``gene-studied`` (48018-6) for each
  gene, the fusion's 5' then 3' partner first; ``coding-change-type`` (48019-4) a Sequence
  Ontology term (SO:0001565 gene_fusion for a fusion, else SO:0000159 deletion,
  SO:1000035 duplication, SO:1000036 inversion, SO:0000667 insertion, SO:0000199
  translocation for an inter-chromosomal breakend, SO:0001784
  complex_structural_alteration for another breakend); ``variation-code`` (81252-9) the
  fusion's HGNC name (``ETV6::NTRK3``); ``genomic-source-class`` (48002-0) LA6684-0
  "Somatic"; the reference assembly (62374-4: LA14029-5 GRCh37, LA26806-2 GRCh38, as the
  mCODE examples); for DEL/DUP/INV/INS ``exact-start-end`` (81254-5, POS to END) with the
  coordinate system (92822-6) LA30102-0 "1-based character counting"; and a ``note``
  naming both breakpoints, the caller and the read support;
* **copy number** (``variant`` profile): one per gene whose call is not neutral:
  ``gene-studied``, ``coding-change-type`` SO:0001742 copy_number_gain (amplification,
  gain) or SO:0001743 copy_number_loss (loss, deep deletion), ``copy-number`` (82155-3,
  the absolute copy number), ``variation-code`` the call ("ERBB2 amplification"), the
  gene's extent as ``exact-start-end`` with LA30100-4 "0-based interval counting" (the
  table's half-open coordinates), source class and assembly;
* **TMB** and **MSI** (``molecular-biomarker`` profile, with the ``biomarker-category``
  component ``molgen`` as the IG's TMB and MSI examples): TMB LOINC 94076-7, a
  ``valueQuantity`` in UCUM ``1/1000000{Base}`` (as mCODE's TMB example), interpretation
  H/L (v3-ObservationInterpretation) at the 10 mutations/Mb threshold; MSI LOINC 81695-9
  with LA26203-2 "MSI-H" or LA26204-0 "MSS"; each with a ``note`` of how it was measured
  (mutations / callable Mb and the rule; loci unstable / evaluated and the threshold). An
  unmeasured TMB or MSI (null in the record) gives no Observation.

Every resource is validated with ``fhir.resources`` (R4B models, as ingest validates FHIR:
:func:`harmonise.fhir.validate_resource`); profile constraints are not checked by it.
Identifiers are UUIDs derived from the content (``uuid5``): the same results give the same
bytes. The subject is ``Patient/{patient}``, the results folder's (the centre's own) patient
id: the Bundle stays at the centre, like the EHR it is for.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmonise.copy_number import read_genes
from harmonise.errors import ResultFileError
from harmonise.fhir import validate_resource
from harmonise.structural import SvRecord, read_structural
from harmonise.tmb_msi import TMB_HIGH, TmbMsi, read_tmb_msi

IG = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition"
TBD = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"
LOINC = "http://loinc.org"
SO = "http://www.sequenceontology.org"
HGNC = "http://www.genenames.org"
UCUM = "http://unitsofmeasure.org"
V3_INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
#: CONTRACT23's result files under ``results/``: kind → (folder, file ending).
RESULT_FILES: dict[str, tuple[str, str]] = {
    "sv": ("annotated/sv", ".sv.annotated.vcf.gz"),
    "genes": ("cnv", ".genes.tsv"),
    "tmb_msi": ("biomarkers", ".tmb_msi.json"),
}
ASSEMBLY = {"GRCh37": ("LA14029-5", "GRCh37"), "GRCh38": ("LA26806-2", "GRCh38")}
SV_SO = {
    "DEL": ("SO:0000159", "deletion"),
    "DUP": ("SO:1000035", "duplication"),
    "INV": ("SO:1000036", "inversion"),
    "INS": ("SO:0000667", "insertion"),
}
FUSION_SO = ("SO:0001565", "gene_fusion")
TRANSLOCATION_SO = ("SO:0000199", "translocation")
COMPLEX_SO = ("SO:0001784", "complex_structural_alteration")
CN_SO = {
    "amplification": ("SO:0001742", "copy_number_gain"),
    "gain": ("SO:0001742", "copy_number_gain"),
    "loss": ("SO:0001743", "copy_number_loss"),
    "deep_deletion": ("SO:0001743", "copy_number_loss"),
}
_NS = uuid.UUID("6f1b3c64-23a0-4c1e-9d6e-0ac0e1a6f023")


@dataclass(frozen=True)
class PatientResults:
    """One patient's result files found under a ``results/`` folder (None: absent)."""

    patient: str
    sv: Path | None
    genes: Path | None
    tmb_msi: Path | None


def find_patient_results(results: Path) -> list[PatientResults]:
    """Every patient with at least one CONTRACT23 result file under ``results``."""
    if not results.is_dir():
        raise ResultFileError(f"{results}: no such results folder (the pipeline's results/)")
    found: dict[str, dict[str, Path]] = {}
    for kind, (folder, ending) in RESULT_FILES.items():
        for path in sorted((results / folder).glob(f"*{ending}")):
            found.setdefault(path.name.removesuffix(ending), {})[kind] = path
    if not found:
        where = ", ".join(f"{f}/*{e}" for f, e in RESULT_FILES.values())
        raise ResultFileError(f"{results}: no pipeline results ({where}); run the pipeline first")
    return [
        PatientResults(p, f.get("sv"), f.get("genes"), f.get("tmb_msi"))
        for p, f in sorted(found.items())
    ]


def _cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _component(code: str, value: Mapping[str, Any], system: str = LOINC) -> dict[str, Any]:
    return {"code": _cc(system, code), **value}


def _gene(symbol: str) -> dict[str, Any]:
    """``gene-studied``: the HGNC symbol (the pipeline writes symbols, not HGNC ids)."""
    return _component(
        "48018-6",
        {"valueCodeableConcept": {"coding": [{"system": HGNC, "display": symbol}],
                                  "text": symbol}},
    )  # fmt: skip


def _common(build: str) -> list[dict[str, Any]]:
    code, display = ASSEMBLY.get(build, ("", build))
    out = [_component("48002-0", {"valueCodeableConcept": _cc(LOINC, "LA6684-0", "Somatic")})]
    if code:
        out.append(_component("62374-4", {"valueCodeableConcept": _cc(LOINC, code, display)}))
    return out


def _span(low: int, high: int, system: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        _component("81254-5", {"valueRange": {"low": {"value": low}, "high": {"value": high}}}),
        _component("92822-6", {"valueCodeableConcept": _cc(LOINC, *system)}),
    ]


def _variant(patient: str, key: str, components: list[dict[str, Any]], note: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(_NS, f"{patient}|{key}")),
        "meta": {"profile": [f"{IG}/variant"]},
        "status": "final",
        "category": [
            _cc("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory"),
            _cc("http://terminology.hl7.org/CodeSystem/v2-0074", "GE"),
        ],
        "code": _cc(LOINC, "69548-6", "Genetic variant assessment"),
        "subject": {"reference": f"Patient/{patient}"},
        "valueCodeableConcept": _cc(LOINC, "LA9633-4", "Present"),
        "method": _cc(LOINC, "LA26398-0", "Sequencing"),
        "component": components,
        "note": [{"text": note}],
    }


def sv_observation(patient: str, r: SvRecord, build: str) -> dict[str, Any]:
    """A structural variant or fusion as a Genomics Reporting ``variant`` Observation."""
    partners = r.fusion.split("::") if r.fusion else []
    genes = partners + [g for g in (*r.gene_a, *r.gene_b) if g not in partners]
    genes = list(dict.fromkeys(genes))
    if r.fusion:
        so = FUSION_SO
    elif r.sv_type == "BND":
        so = TRANSLOCATION_SO if r.chrom != r.chrom2 else COMPLEX_SO
    else:
        so = SV_SO[r.sv_type]
    comps = [_gene(g) for g in genes]
    comps.append(_component("48019-4", {"valueCodeableConcept": _cc(SO, *so)}))
    if r.fusion:
        comps.append(_component("81252-9", {"valueCodeableConcept": {"text": r.fusion}}))
    comps += _common(build)
    if r.sv_type != "BND":
        comps += _span(r.pos, r.pos2, ("LA30102-0", "1-based character counting"))
    support = ", ".join(f"{k} {v}" for k, v in (("PE", r.pe), ("SR", r.sr)) if v is not None)
    note = (
        f"{r.sv_type} {r.chrom}:{r.pos} to {r.chrom2}:{r.pos2} ({build})"
        + (f", fusion {r.fusion}" if r.fusion else "")
        + (f"; {r.caller}" if r.caller else "")
        + (f"; read support {support}" if support else "")
        + (f"; VCF ID {r.sv_id}" if r.sv_id else "")
    )
    key = f"sv|{r.chrom}|{r.pos}|{r.chrom2}|{r.pos2}|{r.sv_type}|{r.sv_id}"
    return _variant(patient, key, comps, note)


def cn_observation(patient: str, row: Mapping[str, Any], build: str) -> dict[str, Any]:
    """A gene-level copy-number call (not neutral) as a ``variant`` Observation."""
    call = str(row["call"])
    comps = [
        _gene(str(row["gene"])),
        _component("48019-4", {"valueCodeableConcept": _cc(SO, *CN_SO[call])}),
        _component(
            "82155-3",
            {"valueQuantity": {"value": row["copy_number"], "system": UCUM, "code": "1"}},
        ),
        _component(
            "81252-9",
            {"valueCodeableConcept": {"text": f"{row['gene']} {call.replace('_', ' ')}"}},
        ),
        *_common(build),
        *_span(int(row["start"]), int(row["end"]), ("LA30100-4", "0-based interval counting")),
    ]
    note = (
        f"{row['gene']} {call.replace('_', ' ')}: copy number {row['copy_number']}, log2 ratio "
        f"{row['log2']} ({row['chrom']}:{row['start']}-{row['end']}, 0-based half-open, {build})"
    )
    return _variant(patient, f"cn|{row['gene']}|{call}", comps, note)


def _biomarker(
    patient: str, key: str, code: tuple[str, str], value: Mapping[str, Any], note: str
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(_NS, f"{patient}|{key}")),
        "meta": {"profile": [f"{IG}/molecular-biomarker"]},
        "status": "final",
        "category": [
            _cc("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory"),
            _cc(TBD, "biomarker-category"),
            _cc("http://terminology.hl7.org/CodeSystem/v2-0074", "GE"),
        ],
        "code": _cc(LOINC, *code),
        "subject": {"reference": f"Patient/{patient}"},
        **value,
        "component": [
            _component(
                "biomarker-category",
                {"valueCodeableConcept": _cc(
                    "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/"
                    "molecular-biomarker-ontology-cs",
                    "molgen", "molecular sequence adjacent category")},
                TBD,
            )
        ],
        "note": [{"text": note}],
    }  # fmt: skip


def biomarker_observations(patient: str, doc: TmbMsi) -> list[dict[str, Any]]:
    """TMB and MSI, each as a ``molecular-biomarker`` Observation when measured."""
    out: list[dict[str, Any]] = []
    t, m = doc.tmb, doc.msi
    if t.mutations_per_mb is not None:
        high = t.mutations_per_mb >= TMB_HIGH
        value = {
            "valueQuantity": {
                "value": t.mutations_per_mb,
                "unit": "mutations/megabase",
                "system": UCUM,
                "code": "1/1000000{Base}",
            },
            "interpretation": [_cc(V3_INTERP, "H" if high else "L", "High" if high else "Low")],
        }
        note = (
            f"{t.mutations} somatic mutations over {t.callable_mb} Mb callable territory; "
            f"counted: {', '.join(t.counted)}; rule: {t.rule}; high at ≥ {TMB_HIGH:g} mut/Mb"
        )
        out.append(_biomarker(patient, "tmb", ("94076-7", "Mutations/Megabase [# Ratio] in "
                                                "Tumor"), value, note))  # fmt: skip
    if m.status is not None:
        code = "LA26203-2" if m.status == "MSI-H" else "LA26204-0"
        value = {"valueCodeableConcept": _cc(LOINC, code, m.status)}
        note = (
            f"score {m.score_percent} %: {m.loci_unstable} of {m.loci_evaluated} microsatellite "
            f"loci unstable; MSI-H at ≥ {m.threshold_percent:g} %"
        )
        display = "Microsatellite instability [Interpretation] in Cancer specimen Qualitative"
        out.append(_biomarker(patient, "msi", ("81695-9", display), value, note))
    return out


def patient_bundle(found: PatientResults, build: str, naming: str | None = None) -> dict[str, Any]:
    """One patient's results as a validated ``collection`` Bundle (see the module doc);
    a bad result file raises the readers' one-line error naming it."""
    patient = found.patient
    obs: list[dict[str, Any]] = []
    if found.sv is not None:
        sv = read_structural(found.sv, build, naming)
        obs += [
            sv_observation(patient, r, build)
            for r in sv.records
            if r.filter == "PASS" and (r.gene_a or r.gene_b)
        ]
    if found.genes is not None:
        rows = read_genes(found.genes, build, naming)
        obs += [cn_observation(patient, r, build) for r in rows if r["call"] != "neutral"]
    if found.tmb_msi is not None:
        obs += biomarker_observations(patient, read_tmb_msi(found.tmb_msi))
    report = {
        "resourceType": "DiagnosticReport",
        "id": str(uuid.uuid5(_NS, f"{patient}|report|{'|'.join(o['id'] for o in obs)}")),
        "meta": {"profile": [f"{IG}/genomic-report"]},
        "status": "final",
        "category": [_cc("http://terminology.hl7.org/CodeSystem/v2-0074", "GE")],
        "code": _cc(LOINC, "51969-4", "Genetic analysis report"),
        "subject": {"reference": f"Patient/{patient}"},
        "result": [{"reference": f"urn:uuid:{o['id']}"} for o in obs],
        "conclusion": _conclusion(obs),
    }
    entries = [report, *obs]
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(_NS, f"{patient}|bundle|{report['id']}")),
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in entries],
    }
    for r in entries:
        validate_resource(r, f"{patient}: {r['resourceType']}/{r['id']}")
    return validate_resource(bundle, f"{patient}: Bundle")


def _conclusion(obs: Sequence[Mapping[str, Any]]) -> str:
    """A one-line summary: the fusions, copy-number calls and biomarkers found."""
    parts: list[str] = []
    for o in obs:
        comps = {c["code"]["coding"][0]["code"]: c for c in o.get("component", [])}
        if "81252-9" in comps:
            parts.append(comps["81252-9"]["valueCodeableConcept"]["text"])
        elif o["code"]["coding"][0]["code"] == "94076-7":
            parts.append(f"TMB {o['valueQuantity']['value']:g} mut/Mb")
        elif o["code"]["coding"][0]["code"] == "81695-9":
            parts.append(o["valueCodeableConcept"]["coding"][0]["display"])
    return "; ".join(parts) or "no structural variant, copy-number change or biomarker reported"


def export_results(
    results: Path, out: Path, build: str = "GRCh37", patients: Sequence[str] = ()
) -> list[Path]:
    """Write ``out/{patient}.genomics-report.json`` for every patient (or the ones named)
    with results under ``results``; every Bundle is built and validated before any file is
    written, so a bad result file leaves ``out`` as it was."""
    found = find_patient_results(results)
    if patients:
        missing = sorted(set(patients) - {f.patient for f in found})
        if missing:
            raise ResultFileError(
                f"{results}: no results for patient(s) {', '.join(missing)} (have: "
                f"{', '.join(f.patient for f in found)})"
            )
        found = [f for f in found if f.patient in set(patients)]
    bundles = [(f.patient, patient_bundle(f, build)) for f in found]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for patient, bundle in bundles:
        path = out / f"{patient}.genomics-report.json"
        path.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
