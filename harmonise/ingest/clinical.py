"""Ingest stages for the clinical side: the FHIR resources, the pseudonym check, the
mapped rows, every patient's consent, and the specimens linked to the manifest's samples."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harmonise.errors import ConsentMissingError, ConsentWithdrawnError, SampleLinkError
from harmonise.fhir import ClinicalRows, map_resources, read_resources, validate_resource
from harmonise.ingest.types import ClinicalResources, Consents
from harmonise.pseudonymise import check_no_direct_identifiers

if TYPE_CHECKING:
    from consent.records import ConsentRecord
    from metadata.manifest import ManifestV1


def read_clinical(bundle: Path, manifest: ManifestV1) -> ClinicalResources:
    """The resources of the bundle's ``clinical/`` and ``consent/`` files."""
    paths = [f.path for f in manifest.files]
    clinical = [r for p in paths if p.startswith("clinical/") for r in read_resources(bundle / p)]
    # a Consent is validated once, by consent.records.parse_consent (see check_consents),
    # with the consent module's messages; anything else in consent/ as any FHIR resource
    consents = [
        r for p in paths if p.startswith("consent/")
        for r in read_resources(bundle / p, validate=False)
    ]  # fmt: skip
    for where, res in consents:
        if res.get("resourceType") != "Consent":
            validate_resource(res, where)
    return ClinicalResources(clinical, consents)


def check_pseudonyms(resources: ClinicalResources) -> None:
    """Refuse resources that carry direct identifiers (names, record numbers, dates)."""
    check_no_direct_identifiers(resources.clinical + resources.consents)


def map_clinical(resources: ClinicalResources, manifest: ManifestV1) -> ClinicalRows:
    """The clinical resources as lake rows (about the manifest's patients and the
    clinical Patients), with a warning per diagnosis code that has no OncoTree mapping."""
    rows = map_resources(resources.clinical, {s.patient_id for s in manifest.samples})
    for code, n in sorted(rows.unmapped_codes.items()):
        rows.warnings.append(f"diagnosis code {code} ({n}x) has no OncoTree mapping")
    return rows


def submission_patients(manifest: ManifestV1, rows: ClinicalRows) -> frozenset[str]:
    """Every patient of the submission: the manifest's samples' and the clinical Patients."""
    sample_patients = {s.patient_id for s in manifest.samples}
    return frozenset(sample_patients | {r["patient_id"] for r in rows.tables.get("patients", [])})


def _consent_record(where: str, res: Mapping[str, Any]) -> ConsentRecord:
    from consent.errors import ConsentError
    from consent.records import parse_consent

    if isinstance(res.get("dateTime"), str) and len(res["dateTime"]) == 4:
        # consent/ wants a full date; the centre sent the year only (pseudonymised)
        res = {**res, "dateTime": f"{res['dateTime']}-01-01"}
    try:
        return parse_consent(res, where=where)
    except ConsentError as exc:
        raise ConsentMissingError(str(exc)) from None


def check_consents(
    bundle: Path,
    resources: ClinicalResources,
    patients: frozenset[str],
    withdrawn: Iterable[str],
) -> Consents:
    """Every patient needs an active consent that is not in the withdrawal registry."""
    records: dict[str, ConsentRecord] = {}
    for where, res in resources.consents:
        if res.get("resourceType") == "Consent":
            rec = _consent_record(where, res)
            records[rec.patient_id] = rec
    withdrawn_set = set(withdrawn)
    for pid in sorted(patients):
        found = records.get(pid)
        if found is None:
            raise ConsentMissingError(
                f"{bundle}: patient {pid} has no Consent resource in consent/; add the "
                "patient's consent (FHIR Consent with DUO codes) or leave the patient out"
            )
        if found.status != "active":
            raise ConsentWithdrawnError(
                f"{bundle}: patient {pid}: consent {found.consent_id} has status {found.status!r} "
                "(only 'active' permits use); leave the patient out of the submission"
            )
        if pid in withdrawn_set:
            raise ConsentWithdrawnError(
                f"{bundle}: patient {pid} has withdrawn consent (withdrawal registry); leave "
                "the patient out of the submission"
            )
    unknown = sorted(set(records) - patients)
    warnings = [f"consent for {len(unknown)} patient(s) not in this submission"] if unknown else []
    return Consents(records, warnings)


def link_specimens(manifest: ManifestV1, rows: ClinicalRows) -> list[dict[str, Any]]:
    """The ``specimens`` rows: the manifest's sequenced samples, then the clinical
    Specimens that are not among them; a specimen linked to two patients is refused."""
    specimens: dict[str, dict[str, Any]] = {}
    for s in manifest.samples:
        specimens[s.specimen_id] = {
            "patient_id": s.patient_id,
            "specimen_id": s.specimen_id,
            "role": s.role,
            "sample_type": s.sample_type,
            "collection_year": s.collection_year,
            "assay_type": s.assay.type,
            "assay_name": f"{s.assay.name}:{s.assay.version}",
            "covered_genes": list(s.assay.covered_genes) if s.assay.covered_genes else None,
            "vcf_sample": s.vcf_sample or s.specimen_id,
        }
    for row in rows.tables.get("specimens", []):
        have = specimens.get(row["specimen_id"])
        if have is None:
            specimens[row["specimen_id"]] = row
        elif have["patient_id"] != row["patient_id"]:
            raise SampleLinkError(
                f"specimen {row['specimen_id']}: the manifest links it to patient "
                f"{have['patient_id']} but the clinical Specimen to {row['patient_id']}"
            )
    return list(specimens.values())
