"""Consent records: the harmonised consent form as a FHIR R4 ``Consent`` with DUO codes.

The layout (documented with an example in ``docs/consent.md``):

* ``Consent.status``: FHIR status; only ``active`` consents permit any use;
* ``Consent.patient.reference``: ``Patient/<pseudonymous patient_id>``;
* ``Consent.dateTime``: when the consent was given (only the year goes to the lake);
* ``Consent.policy[0].uri``: ``urn:oncolake:consent-form:<form version>``;
* ``Consent.provision`` (``type`` ``permit``):

  - ``code``: one CodeableConcept per DUO term (system :data:`~consent.duo.DUO_SYSTEM`,
    CURIE or shorthand): permissions (GRU, HMB, DS, POA, NRES) and modifiers (NPU, NCU,
    PUB, COL, IRB, GS, MOR, TS, US, PS, IS, RS, GSO, NMDS, NPOA, RTN, CC …); and, for DS,
    the disease codes (system :data:`~consent.oncotree.ONCOTREE_SYSTEM`, or MONDO CURIEs
    with system ``http://purl.obolibrary.org/obo/mondo.owl``);
  - ``class``: the data the consent covers, codes ``genomic`` and/or ``clinical`` (system
    :data:`SCOPE_SYSTEM`);
  - ``period.end``: the end of a time-limited consent (required with TS, DUO:0000025).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from fhir.resources.R4B.consent import Consent
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consent import duo, oncotree
from consent.errors import ConsentError, ConsentRecordError

SCOPE_SYSTEM = "https://oncolake.org/fhir/CodeSystem/data-scope"
MONDO_SYSTEM = "http://purl.obolibrary.org/obo/mondo.owl"
FORM_URI_PREFIX = "urn:oncolake:consent-form:"
MONDO_RE = re.compile(r"MONDO:[0-9]{7}")

Status = Literal["draft", "proposed", "active", "rejected", "inactive", "entered-in-error"]
Scope = Literal["genomic", "clinical"]

DS = "DUO:0000007"
TS = "DUO:0000025"


class ConsentRecord(BaseModel):
    """A patient's consent, harmonised: DUO permission and modifier CURIEs, disease codes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    patient_id: str = Field(min_length=1, description="Pseudonymous patient id.")
    consent_id: str = Field(min_length=1, description="Id of the Consent resource.")
    status: Status = Field(description="FHIR Consent.status; only 'active' permits use.")
    date: dt.date | None = Field(default=None, description="When the consent was given.")
    form_version: str = Field(min_length=1, description="Version of the consent form signed.")
    scope: tuple[Scope, ...] = Field(min_length=1, description="Data the consent covers.")
    permissions: tuple[str, ...] = Field(min_length=1, description="DUO permission CURIEs.")
    modifiers: tuple[str, ...] = Field(default=(), description="DUO modifier CURIEs.")
    disease_codes: tuple[str, ...] = Field(
        default=(), description="OncoTree codes (or MONDO CURIEs) restricting DS consent."
    )
    valid_until: dt.date | None = Field(
        default=None, description="Last day of use of a time-limited (TS) consent."
    )

    def shorthands(self) -> list[str]:
        """The DUO shorthands of the permissions and modifiers (``['DS', 'NPU']``)."""
        return [duo.shorthand(c) for c in (*self.permissions, *self.modifiers)]

    def to_row(self) -> dict[str, Any]:
        """The ``consents`` lake table's columns (without the row keys)."""
        return {
            "patient_id": self.patient_id,
            "consent_id": self.consent_id,
            "status": self.status,
            "form_version": self.form_version,
            "year": self.date.year if self.date else None,
            "scope": list(self.scope),
            "permissions": list(self.permissions),
            "modifiers": list(self.modifiers),
            "disease_codes": list(self.disease_codes),
            "consent_json": json.dumps(self.to_fhir(), sort_keys=True),
        }

    def to_fhir(self) -> dict[str, Any]:
        """The harmonised FHIR R4 Consent resource (JSON object) of this record."""
        codes: list[dict[str, Any]] = [
            {"coding": [{"system": duo.DUO_SYSTEM, "code": c, "display": duo.term(c).label}]}
            for c in (*self.permissions, *self.modifiers)
        ]
        for d in self.disease_codes:
            system = MONDO_SYSTEM if d.startswith("MONDO:") else oncotree.ONCOTREE_SYSTEM
            codes.append({"coding": [{"system": system, "code": d}]})
        provision: dict[str, Any] = {
            "type": "permit",
            "class": [{"system": SCOPE_SYSTEM, "code": s} for s in self.scope],
            "code": codes,
        }
        if self.valid_until:
            provision["period"] = {"end": self.valid_until.isoformat()}
        out: dict[str, Any] = {
            "resourceType": "Consent",
            "id": self.consent_id,
            "status": self.status,
            "scope": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "research",
                    }
                ]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
            "patient": {"reference": f"Patient/{self.patient_id}"},
            "policy": [{"uri": f"{FORM_URI_PREFIX}{self.form_version}"}],
            "provision": provision,
        }
        if self.date:
            out["dateTime"] = self.date.isoformat()
        return out


def _loc(loc: tuple[int | str, ...]) -> str:
    out = "Consent"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_consent(data: Any, where: str = "consent") -> ConsentRecord:
    """Parse and validate a FHIR R4 Consent carrying DUO codes; every problem is reported.

    Raises :class:`ConsentRecordError` naming each bad element and how to fix it.
    """
    if not isinstance(data, Mapping) or data.get("resourceType") != "Consent":
        raise ConsentRecordError(
            f"{where}: not a FHIR Consent resource (resourceType must be 'Consent')"
        )
    try:
        res = Consent.model_validate(dict(data))
    except ValidationError as exc:
        found = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConsentRecordError(f"{where}: invalid FHIR R4 Consent: {found}") from None
    problems: list[str] = []
    status = res.status
    if status not in Status.__args__:  # type: ignore[attr-defined]
        problems.append(
            f"Consent.status: {status!r} is not a FHIR consent status; use one of "
            + ", ".join(Status.__args__)  # type: ignore[attr-defined]
        )
    patient_ref = res.patient.reference if res.patient else None
    patient_id = (patient_ref or "").removeprefix("Patient/")
    if not patient_ref or not patient_ref.startswith("Patient/") or not patient_id:
        problems.append("Consent.patient.reference: give 'Patient/<pseudonymous patient id>'")
    form_version = ""
    for pol in res.policy or []:
        if pol.uri and pol.uri.startswith(FORM_URI_PREFIX):
            form_version = pol.uri.removeprefix(FORM_URI_PREFIX)
    if not form_version:
        problems.append(
            f"Consent.policy: no form version; add {{'uri': '{FORM_URI_PREFIX}<version>'}}"
        )
    prov = res.provision
    permissions: list[str] = []
    modifiers: list[str] = []
    diseases: list[str] = []
    scope: list[str] = []
    valid_until: dt.date | None = None
    if prov is None or prov.type != "permit":
        problems.append("Consent.provision: give a provision of type 'permit' with DUO codes")
    else:
        for i, cc in enumerate(prov.code or []):
            for j, coding in enumerate(cc.coding or []):
                at = f"Consent.provision.code[{i}].coding[{j}]"
                code = (coding.code or "").strip()
                if coding.system == duo.DUO_SYSTEM:
                    try:
                        term = duo.term(code, at)
                    except ConsentError as exc:
                        problems.append(str(exc))
                        continue
                    if term.kind == "permission":
                        permissions.append(term.curie)
                    elif term.kind == "modifier":
                        modifiers.append(term.curie)
                    else:
                        problems.append(
                            f"{at}: {term.curie} ({term.label}) is neither a DUO data use "
                            "permission nor a modifier; it cannot be consented to"
                        )
                elif coding.system == oncotree.ONCOTREE_SYSTEM:
                    if oncotree.is_code(code):
                        diseases.append(code.upper())
                    else:
                        problems.append(f"{at}: " + _bad(code))
                elif coding.system == MONDO_SYSTEM:
                    if MONDO_RE.fullmatch(code):
                        diseases.append(code)
                    else:
                        problems.append(
                            f"{at}: {code!r} is not a MONDO CURIE ('MONDO:' + 7 digits)"
                        )
                else:
                    problems.append(
                        f"{at}: unknown system {coding.system!r}; use {duo.DUO_SYSTEM} for DUO "
                        f"codes or {oncotree.ONCOTREE_SYSTEM} for tumour types"
                    )
        for k, c in enumerate(prov.class_fhir or []):
            if c.system == SCOPE_SYSTEM and c.code in ("genomic", "clinical"):
                scope.append(c.code)
            else:
                problems.append(
                    f"Consent.provision.class[{k}]: {c.code!r} is not a data scope; use system "
                    f"{SCOPE_SYSTEM} with code 'genomic' or 'clinical'"
                )
        if prov.period is not None and prov.period.end is not None:
            end = prov.period.end
            valid_until = end.date() if isinstance(end, dt.datetime) else end
        if not scope:
            problems.append(
                "Consent.provision.class: say what the consent covers: 'genomic' and/or "
                f"'clinical' (system {SCOPE_SYSTEM})"
            )
    problems += consent_rules(permissions, modifiers, diseases, valid_until)
    if problems:
        raise ConsentRecordError(
            f"{where}: {len(problems)} problem(s) in the consent record:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    given = res.dateTime
    date: dt.date | None = given.date() if isinstance(given, dt.datetime) else given
    return ConsentRecord(
        patient_id=patient_id,
        consent_id=res.id or patient_id,
        status=status,
        date=date,
        form_version=form_version,
        scope=tuple(dict.fromkeys(scope)),
        permissions=tuple(dict.fromkeys(permissions)),
        modifiers=tuple(dict.fromkeys(modifiers)),
        disease_codes=tuple(dict.fromkeys(diseases)),
        valid_until=valid_until,
    )


def _bad(code: str) -> str:
    return (
        f"{code!r} is not an OncoTree code of release {oncotree.ONCOTREE_RELEASE}; look it "
        "up at https://oncotree.mskcc.org"
    )


def consent_rules(
    permissions: list[str], modifiers: list[str], diseases: list[str], valid_until: dt.date | None
) -> list[str]:
    """Cross-element rules of a consent record; each returned string is one problem."""
    out: list[str] = []
    if not permissions:
        out.append(
            "Consent.provision.code: no DUO data use permission; add one of GRU "
            "(DUO:0000042), HMB (DUO:0000006), DS (DUO:0000007), POA (DUO:0000011), NRES "
            "(DUO:0000004)"
        )
    if DS in permissions and not diseases:
        out.append(
            "Consent.provision.code: DS (disease-specific research) needs the disease: add "
            f"an OncoTree code (system {oncotree.ONCOTREE_SYSTEM})"
        )
    if diseases and DS not in permissions:
        out.append(
            "Consent.provision.code: disease codes are given but the permission is not DS "
            "(DUO:0000007); add DS or remove the disease codes"
        )
    if TS in modifiers and valid_until is None:
        out.append(
            "Consent.provision.period.end: TS (time limit on use) needs the end date of the "
            "permitted use"
        )
    return out


def load_consent(path: str | Path) -> ConsentRecord:
    """Read a FHIR Consent JSON file and parse it with :func:`parse_consent`."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConsentRecordError(
            f"{p}: no such file; give the path of a FHIR Consent JSON"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConsentRecordError(
            f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return parse_consent(data, where=str(p))
