"""mCODE (FHIR R4, STU4) and Genomics Reporting resources → harmonised lake rows.

:func:`read_resources` reads FHIR JSON (a resource or a Bundle) and Bulk-Data ndjson,
validates every resource with ``fhir.resources.R4B`` (R4 JSON parses with it; profile
conformance is not checked) and returns ``(where, resource)`` pairs, ``where`` naming the
file and the line or bundle entry. :func:`map_resources` turns them into rows of
``patients``, ``conditions`` (with the harmonised OncoTree tumour type), ``specimens``,
``biomarkers``, ``treatments``, ``outcomes`` and report ``variants``, each event with its
day from the patient's anchor (computed at the centre, ``harmonise.pseudonymise``), every
medication with its harmonised drug (``harmonise.drugs``), and the patients' derived
``regimens`` and ``lines_of_therapy`` (``harmonise.journeys``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harmonise.drugs import drug_for
from harmonise.errors import FhirError, UnknownPatientError
from harmonise.journeys import Rules, default_rules, journey_rows, patient_facts
from harmonise.mapping import oncotree_for, tissue_of
from harmonise.pseudonymise import (
    AGE_AT_DIAGNOSIS_URL,
    ANCHOR_URL,
    DAYS_FROM_DIAGNOSIS_URL,
    LAST_KNOWN_ALIVE_URL,
    RELATIVE_DAYS_URL,
)

LOINC = "http://loinc.org"
HISTOLOGY_URL = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
)

#: Tumour marker LOINC codes → harmonised marker names.
MARKERS: dict[str, str] = {
    "48676-1": "HER2", "85319-2": "HER2", "85318-4": "HER2", "18474-7": "HER2",
    "16112-5": "ER", "85337-4": "ER", "40556-3": "ER",
    "16113-3": "PR", "85339-0": "PR", "40557-1": "PR",
    "85147-7": "PD-L1", "83052-1": "PD-L1", "83054-7": "PD-L1",
    "81695-9": "MSI", "94076-7": "TMB", "85330-9": "Ki-67", "29593-1": "Ki-67",
    "39004-7": "EGFR", "2857-1": "PSA", "83050-5": "CEA", "10334-1": "CA-125",
}  # fmt: skip
POSITIVE = {"10828004", "LA6576-8", "260373001", "LA9633-4"}
NEGATIVE = {"260385009", "LA6577-6", "LA9634-2", "260415000"}
HIGH = {"H", "HH", "LA14074-1", "75540009"}
LOW = {"L", "LL", "62482003"}
REF_BUILDS = {"LA14029-5": "GRCh37", "LA26806-2": "GRCh38"}
#: mCODE CancerDiseaseStatus values (SNOMED CT, ValueSet condition-status-trend-vs) →
#: harmonised status.
DISEASE_STATUS: dict[str, str] = {
    "271299001": "progression",  # Patient's condition worsened
    "359746009": "stable",  # Patient's condition stable
    "268910001": "improved",  # Patient's condition improved
    "281900007": "remission",  # No abnormality detected (no evidence of disease)
    "709137006": "undetermined",  # Patient condition undetermined
}
_BOUNDS = re.compile(r"^dosageInstruction\[\d+\]\.timing\.repeat\.boundsPeriod\.(start|end)$")


@dataclass
class ClinicalRows:
    """Rows per lake table made from the clinical resources, plus what could not be mapped."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unmapped_codes: dict[str, int] = field(default_factory=dict)
    unmapped_drugs: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    resources: int = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        """Append a row to ``table``."""
        self.tables.setdefault(table, []).append(row)


# -- reading --------------------------------------------------------------------------------


def validate_resource(resource: Any, where: str) -> dict[str, Any]:
    """``resource`` if it is a valid FHIR R4 resource of its type; :class:`FhirError`
    naming ``where`` and the first bad field otherwise."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    from metadata.errors import one_line

    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirError(f"{where}: not a FHIR resource (a JSON object with resourceType)")
    rtype = resource["resourceType"]
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError):
        raise FhirError(f"{where}: unknown FHIR resourceType {rtype!r}") from None
    try:
        model.model_validate(_without_own_extensions(resource))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
        # one line: pydantic's message can quote a pattern holding line breaks
        msg = one_line(str(err["msg"]))
        raise FhirError(
            f"{where}: invalid {rtype}: field {loc or '(resource)'}: {msg} "
            f"({len(exc.errors())} problem(s)); fix the export"
        ) from None
    return resource


_INT32 = range(-(2**31), 2**31)


def _fhir_token(v: Any) -> bool:
    """A FHIR ``code``/``string`` value as the centre writes it: non-empty, no stray spaces."""
    return isinstance(v, str) and bool(v) and v.strip() == v and "  " not in v


def _fhir_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v in _INT32


def _anchor_part(x: Any) -> bool:
    if not isinstance(x, dict):
        return False
    if x.keys() == {"url", "valueCode"}:
        return x["url"] == "kind" and _fhir_token(x["valueCode"])
    if x.keys() == {"url", "valueInteger"}:
        return x["url"] == "year" and _fhir_int(x["valueInteger"])
    return False


def _own_extension(e: Any) -> bool:
    """True when ``e`` is one of the extensions ``oncolake submit`` writes, in exactly the
    shape it writes it (which is valid FHIR by construction); anything else is left to the
    FHIR model."""
    if not isinstance(e, dict):
        return False
    url = e.get("url")
    if url == RELATIVE_DAYS_URL:
        return e.keys() == {"url", "valueString"} and _fhir_token(e["valueString"])
    if url in (LAST_KNOWN_ALIVE_URL, DAYS_FROM_DIAGNOSIS_URL):
        return e.keys() == {"url", "valueInteger"} and _fhir_int(e["valueInteger"])
    if url == AGE_AT_DIAGNOSIS_URL:
        age = e.get("valueAge")
        return (
            e.keys() == {"url", "valueAge"}
            and isinstance(age, dict)
            and age.keys() == {"value", "unit"}
            and _fhir_int(age["value"])
            and _fhir_token(age["unit"])
        )
    if url == ANCHOR_URL:
        subs = e.get("extension")
        return (
            e.keys() == {"url", "extension"}
            and isinstance(subs, list)
            and len(subs) == 2
            and all(_anchor_part(x) for x in subs)
        )
    return False


def _without_own_extensions(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` less the top-level extensions that :func:`_own_extension` has checked.

    Profiled (issue 22): the FHIR model costs per Extension, and every pseudonymised
    resource carries one or more of ours (the Patient three, one nested), which made the
    hub's validation about 40 % slower than before the day offsets."""
    exts = resource.get("extension")
    if not isinstance(exts, list) or not any(_own_extension(e) for e in exts):
        return resource
    rest = [e for e in exts if not _own_extension(e)]
    out = {k: v for k, v in resource.items() if k != "extension"}
    if rest:
        out["extension"] = rest
    return out


def _entries(doc: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if doc.get("resourceType") == "Bundle":
        for i, entry in enumerate(doc.get("entry") or []):
            res = entry.get("resource") if isinstance(entry, dict) else None
            if res is None:
                continue
            sub = f"{where}, entry {i}"
            if isinstance(res, dict) and res.get("resourceType") == "Bundle":
                yield from _entries(res, sub)
            else:
                res = dict(res)
                if isinstance(entry.get("fullUrl"), str):
                    res["_fullUrl"] = entry["fullUrl"]
                yield sub, res
    else:
        yield where, doc


def read_resources(path: str | Path, validate: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """All resources of a FHIR JSON or ndjson file, validated, with where each was found."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FhirError(f"{p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise FhirError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    docs: list[tuple[str, Any]] = []
    if p.suffix == ".ndjson" or p.name.endswith(".ndjson.gz"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                docs.append((f"{p}, line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise FhirError(f"{p}, line {n}, column {exc.colno}: not JSON: {exc.msg}") from None
            except RecursionError:
                raise FhirError(f"{p}, line {n}: JSON nested too deeply to read") from None
    else:
        try:
            docs.append((str(p), json.loads(text)))
        except json.JSONDecodeError as exc:
            raise FhirError(
                f"{p}, line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}"
            ) from None
        except RecursionError:
            raise FhirError(f"{p}: JSON nested too deeply to read") from None
    out: list[tuple[str, dict[str, Any]]] = []
    for where, doc in docs:
        if not isinstance(doc, dict):
            raise FhirError(f"{where}: not a FHIR resource (a JSON object with resourceType)")
        for sub, res in _entries(doc, where):
            url = res.pop("_fullUrl", None)
            if validate:
                validate_resource(res, sub)
            if url:
                res["_fullUrl"] = url
            out.append((sub, res))
    return out


def full_urls(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """Bundle ``fullUrl`` → ``Type/id`` for resolving ``urn:uuid:`` references."""
    out: dict[str, str] = {}
    for _, r in resources:
        url = r.get("_fullUrl")
        if isinstance(url, str) and r.get("id"):
            out[url] = f"{r['resourceType']}/{r['id']}"
    return out


# -- mapping --------------------------------------------------------------------------------


def _intent(ext: Mapping[str, Any] | None) -> str | None:
    """The treatment intent of an mCODE intent extension: its display, else its code."""
    c = _coding((ext or {}).get("valueCodeableConcept"))
    return c.get("display") or c.get("code")


def _coding(cc: Any) -> dict[str, Any]:
    if isinstance(cc, dict):
        codings = cc.get("coding") or []
        if codings:
            return dict(codings[0])
        if cc.get("text"):
            return {"display": cc["text"]}
    return {}


def _year(value: Any) -> int | None:
    if isinstance(value, str) and len(value) >= 4 and value[:4].isdigit():
        return int(value[:4])
    return None


def _ref(value: Any, kind: str | None = None) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        ref = value["reference"].split("/_history/")[0]
        parts = ref.split("/")
        if kind is None or (len(parts) >= 2 and parts[-2] == kind):
            return parts[-1]
    return None


def _profiles(r: Mapping[str, Any]) -> list[str]:
    return [p.rsplit("/", 1)[-1] for p in (r.get("meta") or {}).get("profile") or []]


def _ext(r: Mapping[str, Any], url: str) -> Any:
    for e in r.get("extension") or []:
        if e.get("url") == url:
            return e
    return None


def _days(r: Mapping[str, Any]) -> dict[str, int]:
    """Element path → days from the patient's anchor (the centre's extension, whose
    ``valueString`` is ``path=days;path=days``)."""
    ext = _ext(r, RELATIVE_DAYS_URL)
    out: dict[str, int] = {}
    text = (ext or {}).get("valueString")
    if isinstance(text, str):
        for item in text.split(";"):
            path, _, days = item.rpartition("=")
            if path and days.lstrip("-").isdigit():
                out[path] = int(days)
    return out


def _first(days: Mapping[str, int], *paths: str) -> int | None:
    for p in paths:
        if p in days:
            return days[p]
    return None


def _effective_day(r: Mapping[str, Any]) -> int | None:
    days = _days(r)
    return _first(days, "effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")


def _medication_times(
    r: Mapping[str, Any],
) -> tuple[int | None, int | None, int | None, int | None]:
    """(start day, end day, start year, end year) of a medication: the dosage timing
    bounds (MedicationRequest), else the effective period or time (Administration), else
    when the request was authored."""
    days = _days(r)
    bounds: dict[str, list[int]] = {"start": [], "end": []}
    for k, v in days.items():
        m = _BOUNDS.match(k)
        if m:
            bounds[m.group(1)].append(v)
    years: dict[str, list[int]] = {"start": [], "end": []}
    for d in r.get("dosageInstruction") or []:
        bp = ((d.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}
        for side in ("start", "end"):
            y = _year(bp.get(side))
            if y is not None:
                years[side].append(y)
    period = r.get("effectivePeriod") or {}
    start_day = (
        min(bounds["start"])
        if bounds["start"]
        else _first(days, "effectivePeriod.start", "effectiveDateTime", "authoredOn")
    )
    end_day = (
        max(bounds["end"])
        if bounds["end"]
        else _first(days, "effectivePeriod.end", "effectiveDateTime")
    )
    start_year = (
        min(years["start"])
        if years["start"]
        else _year(period.get("start"))
        or _year(r.get("effectiveDateTime"))
        or _year(r.get("authoredOn"))
    )
    end_year = (
        max(years["end"])
        if years["end"]
        else _year(period.get("end")) or _year(r.get("effectiveDateTime"))
    )
    return start_day, end_day, start_year, end_year


def _effective_year(r: Mapping[str, Any]) -> int | None:
    return (
        _year(r.get("effectiveDateTime"))
        or _year((r.get("effectivePeriod") or {}).get("start"))
        or _year(r.get("issued"))
    )


def map_resources(
    resources: list[tuple[str, dict[str, Any]]],
    patients: set[str] | None = None,
    rules: Rules | None = None,
) -> ClinicalRows:
    """Map resources to lake rows; ``patients`` are the known patient ids (else the Patient
    resources present). A resource about an unknown patient raises
    :class:`UnknownPatientError` naming both. ``rules``: the journey rules that derive
    ``regimens`` and ``lines_of_therapy`` (default: ``harmonise/data/journey_rules.json``)."""
    out = ClinicalRows(resources=len(resources))
    known = set(patients or ()) | {
        r["id"] for _, r in resources if r.get("resourceType") == "Patient" and r.get("id")
    }
    stages: dict[str, dict[str, Any]] = {}
    conditions: dict[str, dict[str, Any]] = {}
    first_condition: dict[str, str] = {}
    medications: list[dict[str, Any]] = []
    for where, r in resources:
        rtype = r.get("resourceType")
        subject = _ref(r.get("subject") or r.get("patient"), "Patient")
        if subject is not None and subject not in known:
            raise UnknownPatientError(
                f"{where}: {rtype}/{r.get('id')} references Patient/{subject}, which is not a "
                "patient of this submission; include the Patient resource or fix the reference"
            )
        profiles = _profiles(r)
        if rtype == "Patient":
            if not isinstance(r.get("id"), str) or not r["id"]:
                raise FhirError(f"{where}: a Patient without id; give it the patient's pseudonym")
            deceased = bool(r.get("deceasedBoolean")) or "deceasedDateTime" in r
            anchor = {
                e.get("url"): e.get("valueCode", e.get("valueInteger"))
                for e in (_ext(r, ANCHOR_URL) or {}).get("extension") or []
            }
            alive = (_ext(r, LAST_KNOWN_ALIVE_URL) or {}).get("valueInteger")
            death_day = _days(r).get("deceasedDateTime")
            out.add(
                "patients",
                {
                    "patient_id": r["id"],
                    "sex": r.get("gender"),
                    "birth_year": _year(r.get("birthDate")),
                    "deceased": deceased,
                    "death_year": _year(r.get("deceasedDateTime")),
                    "anchor": anchor.get("kind"),
                    "anchor_year": anchor.get("year"),
                    "death_day": death_day,
                    "last_known_alive_day": alive,
                },
            )
            if deceased:
                out.add(
                    "outcomes",
                    {
                        "patient_id": r["id"],
                        "kind": "death",
                        "code": "419099009",
                        "display": "Dead",
                        "year": _year(r.get("deceasedDateTime")),
                        "days_from_diagnosis": death_day,
                        "status": "death",
                    },
                )
        elif (
            rtype == "Condition"
            and subject
            and any(
                p in ("mcode-primary-cancer-condition", "mcode-secondary-cancer-condition")
                for p in profiles
            )
        ):
            c = _coding(r.get("code"))
            hist_ext = _ext(r, HISTOLOGY_URL)
            hist = _coding(hist_ext.get("valueCodeableConcept")) if hist_ext else {}
            onco = oncotree_for(c.get("system"), c.get("code"), hist.get("code"))
            secondary = "mcode-secondary-cancer-condition" in profiles
            if onco is None and not secondary:
                key = f"{c.get('system')}|{c.get('code')}"
                out.unmapped_codes[key] = out.unmapped_codes.get(key, 0) + 1
            age = _ext(r, AGE_AT_DIAGNOSIS_URL)
            row = {
                "patient_id": subject,
                "condition_id": r.get("id"),
                "kind": "secondary" if secondary else "primary",
                "code": c.get("code"),
                "code_system": c.get("system"),
                "display": c.get("display"),
                "histology_code": hist.get("code"),
                "body_site": _coding((r.get("bodySite") or [None])[0]).get("code"),
                "oncotree_code": onco,
                "oncotree_tissue": tissue_of(onco) if onco else None,
                "diagnosis_year": _year(
                    r.get("onsetDateTime")
                    or (r.get("onsetPeriod") or {}).get("start")
                    or r.get("recordedDate")
                ),
                "diagnosis_day": _first(
                    _days(r), "onsetDateTime", "onsetPeriod.start", "recordedDate"
                ),
                "age_at_diagnosis": (age or {}).get("valueAge", {}).get("value"),
            }
            for st in r.get("stage") or []:
                summary = _coding(st.get("summary"))
                if summary:
                    row["stage_group"] = summary.get("code")
                    row["stage_group_display"] = summary.get("display")
            conditions[r.get("id") or where] = row
            if not secondary:
                first_condition.setdefault(subject, r.get("id") or where)
        elif rtype == "Observation" and subject:
            _observation(r, subject, profiles, out, stages)
        elif rtype in ("MedicationRequest", "MedicationAdministration") and subject:
            cc = r.get("medicationCodeableConcept") or {}
            c = _coding(cc)
            drug = drug_for(cc.get("coding") or [], cc.get("text"))
            if drug is None:
                key = f"{c.get('system')}|{c.get('code')} ({c.get('display') or cc.get('text')})"
                out.unmapped_drugs[key] = out.unmapped_drugs.get(key, 0) + 1
            start_day, end_day, start_year, end_year = _medication_times(r)
            intent_ext = next(
                (e for e in r.get("extension") or [] if "intent" in e.get("url", "").lower()),
                None,
            )
            row = {
                "patient_id": subject,
                "kind": "medication",
                "code": c.get("code"),
                "code_system": c.get("system"),
                "display": c.get("display"),
                "drug": drug.name
                if drug
                else (c.get("display") or c.get("code") or "").split(" ")[0].lower() or None,
                "drug_class": drug.drug_class if drug else None,
                "drug_mapped": drug is not None,
                "start_year": start_year,
                "end_year": end_year,
                "start_day": start_day,
                "end_day": end_day,
                "intent": _intent(intent_ext),
                "status": r.get("status"),
            }
            medications.append(row)
        elif rtype == "Procedure" and subject:
            kind = None
            if any("radiotherapy" in p for p in profiles):
                kind = "radiotherapy"
            elif any("surgical" in p for p in profiles):
                kind = "surgery"
            if kind:
                c = _coding(r.get("code"))
                period = r.get("performedPeriod") or {}
                pdays = _days(r)
                intent_ext = next(
                    (e for e in r.get("extension") or [] if "intent" in e.get("url", "").lower()),
                    None,
                )
                out.add(
                    "treatments",
                    {
                        "patient_id": subject,
                        "kind": kind,
                        "code": c.get("code"),
                        "code_system": c.get("system"),
                        "display": c.get("display"),
                        "start_year": _year(period.get("start"))
                        or _year(r.get("performedDateTime")),
                        "end_year": _year(period.get("end")) or _year(r.get("performedDateTime")),
                        "intent": _intent(intent_ext),
                        "status": r.get("status"),
                        "start_day": _first(pdays, "performedPeriod.start", "performedDateTime"),
                        "end_day": _first(pdays, "performedPeriod.end", "performedDateTime"),
                    },
                )
        elif rtype == "Specimen" and subject:
            t = _coding(r.get("type"))
            coll = r.get("collection") or {}
            out.add(
                "specimens",
                {
                    "patient_id": subject,
                    "specimen_id": r.get("id"),
                    "sample_type": t.get("display") or t.get("code"),
                    "collection_year": _year(coll.get("collectedDateTime"))
                    or _year((coll.get("collectedPeriod") or {}).get("start")),
                    "collection_day": _first(
                        _days(r), "collection.collectedDateTime", "collection.collectedPeriod.start"
                    ),
                },
            )
    # stage observations → their condition (focus), else the patient's first primary
    for cond_id, stage in stages.items():
        target = conditions.get(stage.pop("_focus", "") or "") or conditions.get(
            first_condition.get(stage.pop("_patient", ""), "")
        )
        if target is not None:
            for k, v in stage.items():
                if v is not None and not k.startswith("_"):
                    target[k] = v
        else:
            out.warnings.append(f"stage observation {cond_id}: no cancer condition to attach to")
    for row in conditions.values():
        out.add("conditions", row)
    # lines of therapy and regimens, by the journey rules (harmonise.journeys)
    rules = rules or default_rules()
    facts = patient_facts(
        out.tables.get("patients", []),
        out.tables.get("conditions", []),
        out.tables.get("outcomes", []),
        rules,
    )
    for m in medications:
        m["line_of_therapy"] = None
    lines, regimens = journey_rows(medications, facts, rules)
    for m in medications:
        out.add("treatments", m)
    if lines:
        out.tables["lines_of_therapy"] = lines
        out.tables["regimens"] = regimens
    for key, n in sorted(out.unmapped_drugs.items()):
        out.warnings.append(
            f"medication {key} ({n}x) is not in harmonise/data/drugs.tsv: kept with "
            "drug_mapped false, left out of the lines of therapy"
        )
    return out


def _observation(
    r: dict[str, Any],
    subject: str,
    profiles: list[str],
    out: ClinicalRows,
    stages: dict[str, dict[str, Any]],
) -> None:
    code = _coding(r.get("code"))
    value = _coding(r.get("valueCodeableConcept"))
    key = r.get("id") or str(len(stages))
    focus = _ref((r.get("focus") or [None])[0], "Condition")
    if any(p in ("mcode-tnm-stage-group", "mcode-cancer-stage") for p in profiles):
        st = stages.setdefault(key, {"_focus": focus, "_patient": subject})
        st["stage_group"] = value.get("code")
        st["stage_group_display"] = value.get("display")
        st["stage_day"] = _effective_day(r)
        for m in r.get("hasMember") or []:
            stages.setdefault(str(_ref(m)), {"_focus": focus, "_patient": subject})
        return
    for prof, col in (
        ("mcode-tnm-primary-tumor-category", "t_category"),
        ("mcode-tnm-regional-nodes-category", "n_category"),
        ("mcode-tnm-distant-metastases-category", "m_category"),
    ):
        if prof in profiles:
            st = stages.setdefault(key, {"_focus": focus, "_patient": subject})
            st[col] = value.get("code")
            return
    if "mcode-cancer-disease-status" in profiles:
        legacy = (_ext(r, DAYS_FROM_DIAGNOSIS_URL) or {}).get("valueInteger")
        day = _effective_day(r)
        out.add(
            "outcomes",
            {
                "patient_id": subject,
                "kind": "disease_status",
                "code": value.get("code"),
                "display": value.get("display"),
                "year": _effective_year(r),
                "days_from_diagnosis": day if day is not None else legacy,
                "status": DISEASE_STATUS.get(str(value.get("code"))),
            },
        )
        return
    if any(p in ("mcode-genomic-variant", "variant") for p in profiles):
        _report_variant(r, subject, out)
        return
    marker = MARKERS.get(str(code.get("code")))
    if marker is None and "msi" in profiles:
        marker = "MSI"
    if marker is None and "tmb" in profiles:
        marker = "TMB"
    if marker is None and not any(
        p in ("mcode-tumor-marker-test", "molecular-biomarker") for p in profiles
    ):
        return
    quantity = r.get("valueQuantity") or {}
    interp = _coding((r.get("interpretation") or [None])[0]).get("code")
    vcode = value.get("code")
    interpretation = None
    for codes, label in (
        (POSITIVE, "positive"),
        (NEGATIVE, "negative"),
        (HIGH, "high"),
        (LOW, "low"),
    ):
        if vcode in codes or interp in codes:
            interpretation = label
            break
    out.add(
        "biomarkers",
        {
            "patient_id": subject,
            "marker": marker or code.get("display") or code.get("code"),
            "code": code.get("code"),
            "code_system": code.get("system"),
            "value_code": vcode,
            "value_display": value.get("display") or r.get("valueString"),
            "value_numeric": quantity.get("value"),
            "unit": quantity.get("code") or quantity.get("unit"),
            "interpretation": interpretation,
            "year": _effective_year(r),
            "day": _effective_day(r),
        },
    )


def _report_variant(r: dict[str, Any], subject: str, out: ClinicalRows) -> None:
    comp: dict[str, Any] = {}
    for c in r.get("component") or []:
        ccode = _coding(c.get("code")).get("code")
        comp.setdefault(str(ccode), c)

    def cval(code: str) -> dict[str, Any]:
        return _coding((comp.get(code) or {}).get("valueCodeableConcept"))

    gene = cval("48018-6").get("display")
    hgvs_c = cval("48004-6").get("code")
    hgvs_p = cval("48005-3").get("code")
    build = REF_BUILDS.get(str(cval("62374-4").get("code")))
    chrom = cval("48001-0").get("display")
    ref = (comp.get("69547-8") or {}).get("valueString")
    alt = (comp.get("69551-0") or {}).get("valueString")
    rng = (comp.get("81254-5") or {}).get("valueRange") or {}
    pos = (rng.get("low") or {}).get("value")
    origin = cval("48002-0").get("display")
    row = {
        "patient_id": subject,
        "genome_build": build,
        "chrom": chrom,
        "pos": int(pos) if isinstance(pos, int | float) else None,
        "ref": ref,
        "alt": alt,
        "origin": (origin or "").lower() or None,
        "source": "report",
        "gene": gene,
        "hgvs_c": hgvs_c.split(":")[-1] if hgvs_c else None,
        "hgvs_p": hgvs_p.split(":")[-1] if hgvs_p else None,
        "annotation_source": "report",
    }
    missing = [k for k in ("genome_build", "chrom", "pos", "ref", "alt") if row[k] is None]
    if missing:
        out.warnings.append(
            f"report variant {r.get('id')} ({gene or '?'} {row['hgvs_p'] or row['hgvs_c'] or ''})"
            f": not stored, the lake needs {', '.join(missing)}"
        )
        return
    row["variant_key"] = f"{build}:{chrom}:{row['pos']}:{ref}:{alt}"
    out.add("variants", row)
