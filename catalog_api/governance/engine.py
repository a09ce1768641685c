"""Which patients of which centre a saved cohort holds, at a lake version, for a purpose.

Governance needs record-level answers (never shown to the researcher): the patients per
contributing centre whose consent permits the request's purpose, to split a request into
centre parts and to write an export. :class:`CohortEngine` is that interface.

:class:`LakeCohortEngine` evaluates a ``CohortDefinition`` (catalog_api.discovery) directly
on the lake tables at a given version: it is exact and simple, and it reads pinned
versions (an export at an old version cannot use an in-memory index of the current
lake). Consent is matched with ``consent.matching.permits`` per patient.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from catalog_api.discovery.definition import (
    AgeAtDiagnosis,
    And,
    Biomarker,
    Centre,
    CohortDefinition,
    Dataset,
    Not,
    Or,
    Sex,
    StageGroup,
    Treatment,
    TumourType,
    Variant,
    VitalStatus,
    parse_definition,
    parse_protein_change,
)
from catalog_api.governance.errors import Invalid
from consent import oncotree
from consent.errors import ConsentError
from consent.matching import permits
from consent.purpose import ResearchPurpose, parse_purpose
from consent.records import ConsentRecord, parse_consent
from harmonise.lake import Lake, LakeVersion

#: A patient as the lake knows them: (centre id, patient id).
PatientKey = tuple[str, str]


class CohortEngine(Protocol):
    """Record-level cohort resolution for governance (never exposed to researchers)."""

    def patients_by_centre(
        self, definition: CohortDefinition, purpose: ResearchPurpose | None, version: LakeVersion
    ) -> dict[str, list[str]]:
        """Sorted patient ids per centre matching ``definition`` whose consent permits
        ``purpose`` (all matching patients when ``purpose`` is None)."""
        ...


def validate_definition(data: Any) -> CohortDefinition:
    """The definition as the discovery model validates it (:class:`Invalid` otherwise)."""
    try:
        return parse_definition(data)
    except ValueError as exc:
        raise Invalid(f"the cohort definition is not valid: {exc}") from None


def validate_purpose(data: Any) -> ResearchPurpose:
    """The research purpose (consent.purpose), or :class:`Invalid` naming the problem."""
    try:
        return parse_purpose(data)
    except (ConsentError, ValueError) as exc:
        raise Invalid(f"the research purpose is not valid: {exc}") from None


def _keys(table: pa.Table) -> set[PatientKey]:
    if table.num_rows == 0:
        return set()
    centres = table.column("centre_id").to_pylist()
    pids = table.column("patient_id").to_pylist()
    return set(zip(centres, pids, strict=True))


def _isin(table: pa.Table, column: str, values: Iterable[Any]) -> pa.Table:
    vals = list(values)
    if not vals:
        return table.slice(0, 0)
    arr = pa.array(vals, type=table.schema.field(column).type)
    return table.filter(pc.fill_null(pc.is_in(table.column(column), value_set=arr), False))


def _stage_matches(value: str | None, wanted: list[str]) -> bool:
    if not value:
        return False
    v = value.upper().removeprefix("STAGE ").strip()
    return any(
        v == w.upper() or (v.startswith(w.upper()) and v[len(w) :].isalpha()) for w in wanted
    )


class LakeCohortEngine:
    """Evaluate cohort definitions on the lake tables at a version (exact, uncached)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    # -- leaves ------------------------------------------------------------------------

    def _read(self, name: str, version: LakeVersion, cols: list[str]) -> pa.Table:
        return self.lake.read(name, version, columns=["centre_id", "patient_id", *cols])

    def _leaf(self, leaf: Any, version: LakeVersion) -> set[PatientKey]:
        handlers: dict[type, Callable[[Any, LakeVersion], set[PatientKey]]] = {
            TumourType: self._tumour_type,
            Variant: self._variant,
            Biomarker: self._biomarker,
            StageGroup: self._stage,
            Treatment: self._treatment,
            AgeAtDiagnosis: self._age,
            Sex: self._sex,
            Centre: self._centre,
            Dataset: self._dataset,
            VitalStatus: self._vital,
        }
        handler = handlers.get(type(leaf))
        if handler is None:
            raise Invalid(
                f"the criterion type {leaf.type!r} cannot be used in an access request yet; "
                "remove it from the saved cohort"
            )
        return handler(leaf, version)

    def _tumour_type(self, leaf: TumourType, version: LakeVersion) -> set[PatientKey]:
        t = self._read("conditions", version, ["oncotree_code"])
        codes = {c.upper() for c in leaf.codes}
        if leaf.descendants:
            for c in list(codes):
                if oncotree.is_code(c):
                    codes |= oncotree.descendants(c)
        return _keys(_isin(t, "oncotree_code", sorted(codes)))

    def _variant(self, leaf: Variant, version: LakeVersion) -> set[PatientKey]:
        cols = ["gene", "protein_change", "consequence", "variant_class", "origin"]
        t = self._read("variants", version, cols)
        gene = leaf.gene
        change: str | None = None
        prefix = False
        if leaf.protein_change:
            g, change, prefix = parse_protein_change(leaf.protein_change)
            gene = gene or g
        if gene:
            t = _isin(t, "gene", [gene.upper()])
        if change is not None:
            col = t.column("protein_change")
            mask = pc.starts_with(col, change) if prefix else pc.equal(col, change)
            t = t.filter(pc.fill_null(mask, False))
        if leaf.consequence:
            t = _isin(t, "consequence", leaf.consequence)
        if leaf.variant_class:
            t = _isin(t, "variant_class", leaf.variant_class)
        if leaf.origin:
            t = _isin(t, "origin", [leaf.origin])
        return _keys(t)

    def _biomarker(self, leaf: Biomarker, version: LakeVersion) -> set[PatientKey]:
        t = self._read("biomarkers", version, ["marker", "interpretation", "value_numeric"])
        t = _isin(t, "marker", [leaf.marker])
        if leaf.interpretation:
            t = _isin(t, "interpretation", [i.lower() for i in leaf.interpretation])
        if leaf.min is not None:
            t = t.filter(pc.fill_null(pc.greater_equal(t.column("value_numeric"), leaf.min), False))
        if leaf.max is not None:
            t = t.filter(pc.fill_null(pc.less_equal(t.column("value_numeric"), leaf.max), False))
        return _keys(t)

    def _stage(self, leaf: StageGroup, version: LakeVersion) -> set[PatientKey]:
        t = self._read("conditions", version, ["stage_group_display", "stage_group"])
        out: set[PatientKey] = set()
        for r in t.to_pylist():
            if _stage_matches(r["stage_group_display"] or r["stage_group"], leaf.values):
                out.add((r["centre_id"], r["patient_id"]))
        return out

    def _treatment(self, leaf: Treatment, version: LakeVersion) -> set[PatientKey]:
        t = self._read("treatments", version, ["drug", "line_of_therapy"])
        if leaf.drug:
            t = _isin(t, "drug", [leaf.drug.lower()])
        if leaf.line_of_therapy is not None:
            t = _isin(t, "line_of_therapy", [leaf.line_of_therapy])
        return _keys(t)

    def _age(self, leaf: AgeAtDiagnosis, version: LakeVersion) -> set[PatientKey]:
        t = self._read("conditions", version, ["age_at_diagnosis"])
        col = t.column("age_at_diagnosis")
        mask = pc.is_valid(col)
        if leaf.min is not None:
            mask = pc.and_(mask, pc.greater_equal(col, leaf.min))
        if leaf.max is not None:
            mask = pc.and_(mask, pc.less_equal(col, leaf.max))
        return _keys(t.filter(pc.fill_null(mask, False)))

    def _sex(self, leaf: Sex, version: LakeVersion) -> set[PatientKey]:
        return _keys(_isin(self._read("patients", version, ["sex"]), "sex", leaf.values))

    def _centre(self, leaf: Centre, version: LakeVersion) -> set[PatientKey]:
        return _keys(_isin(self._read("patients", version, []), "centre_id", leaf.values))

    def _dataset(self, leaf: Dataset, version: LakeVersion) -> set[PatientKey]:
        t = self._read("patients", version, ["dataset_id"])
        return _keys(_isin(t, "dataset_id", leaf.values))

    def _vital(self, leaf: VitalStatus, version: LakeVersion) -> set[PatientKey]:
        t = self._read("patients", version, ["deceased"])
        dead = pc.fill_null(t.column("deceased"), False)
        return _keys(t.filter(dead if leaf.value == "deceased" else pc.invert(dead)))

    # -- trees -------------------------------------------------------------------------

    def _eval(self, node: Any, version: LakeVersion, universe: set[PatientKey]) -> set[PatientKey]:
        if node is None:
            return set(universe)
        if isinstance(node, And):
            out = set(universe)
            for c in node.criteria:
                out &= self._eval(c, version, universe)
            return out
        if isinstance(node, Or):
            acc: set[PatientKey] = set()
            for c in node.criteria:
                acc |= self._eval(c, version, universe)
            return acc
        if isinstance(node, Not):
            return universe - self._eval(node.criterion, version, universe)
        return self._leaf(node, version) & universe

    def matching(self, definition: CohortDefinition, version: LakeVersion) -> set[PatientKey]:
        """Every patient matching ``definition`` at ``version`` (consent not applied)."""
        universe = _keys(self._read("patients", version, []))
        return self._eval(definition.criteria, version, universe)

    def consents(
        self, version: LakeVersion, keys: set[PatientKey]
    ) -> dict[PatientKey, list[ConsentRecord]]:
        """The consent records of ``keys`` at ``version``."""
        cols = [
            "status",
            "form_version",
            "scope",
            "permissions",
            "modifiers",
            "disease_codes",
            "consent_id",
            "consent_json",
        ]
        t = self._read("consents", version, cols)
        out: dict[PatientKey, list[ConsentRecord]] = {}
        for r in t.to_pylist():
            key = (r["centre_id"], r["patient_id"])
            if key in keys:
                out.setdefault(key, []).append(consent_from_row(r))
        return out

    def patients_by_centre(
        self, definition: CohortDefinition, purpose: ResearchPurpose | None, version: LakeVersion
    ) -> dict[str, list[str]]:
        """Sorted patient ids per centre, consent applied when ``purpose`` is given."""
        keys = self.matching(definition, version)
        if purpose is not None:
            records = self.consents(version, keys)
            keys = {k for k in keys if any(permits(c, purpose) for c in records.get(k, []))}
        out: dict[str, list[str]] = {}
        for centre, pid in sorted(keys):
            out.setdefault(centre, []).append(pid)
        return out


def consent_from_row(row: Mapping[str, Any]) -> ConsentRecord:
    """A ``consents`` lake row as a :class:`ConsentRecord` (the FHIR JSON when present)."""
    if row.get("consent_json"):
        return parse_consent(
            json.loads(row["consent_json"]), where=f"consent of {row['patient_id']}"
        )
    return ConsentRecord(
        patient_id=row["patient_id"],
        consent_id=row.get("consent_id") or f"{row['patient_id']}-consent",
        status=row.get("status") or "active",
        form_version=row.get("form_version") or "unknown",
        scope=tuple(row.get("scope") or ("genomic", "clinical")),
        permissions=tuple(row.get("permissions") or ()),
        modifiers=tuple(row.get("modifiers") or ()),
        disease_codes=tuple(row.get("disease_codes") or ()),
    )


def disclosed(n: int, *, threshold: int, rounding: int) -> str:
    """A count as it may be shown: ``<threshold`` below it, else rounded to ``rounding``."""
    if n < threshold:
        return f"<{threshold}"
    step = max(rounding, 1)
    return str(int(round(n / step) * step))
