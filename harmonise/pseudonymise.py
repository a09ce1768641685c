"""Pseudonymisation at the centre: keyed-hash ids, dates to years, no direct identifiers.

* Ids: ``<centre>-<32 hex>``, the HMAC-SHA256 (centre's secret key) of ``<type>:<local id>``
  (``Patient:MRN-0042``), so the same patient gets the same pseudonym in every submission of
  the centre, and nobody without the key can reverse or recompute it. Resource ids and
  references are rewritten alike; manifests and VCF sample names use the same function.
* Dates: every date/dateTime becomes its year; instants (``issued``, ``meta.lastUpdated``)
  are removed. What needs exact dates is computed first and kept as whole numbers: age at
  diagnosis, days from diagnosis (extensions :data:`AGE_AT_DIAGNOSIS_URL`,
  :data:`DAYS_FROM_DIAGNOSIS_URL`).
* Direct identifiers (names, addresses, telecom, photos, contacts, identifiers/record
  numbers, narrative text, free-text notes) are refused, naming each place found; with
  ``drop=True`` the data steward has them removed instead (and the report lists where).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harmonise.errors import DirectIdentifierError

AGE_AT_DIAGNOSIS_URL = "https://oncolake.org/fhir/StructureDefinition/age-at-diagnosis"
DAYS_FROM_DIAGNOSIS_URL = "https://oncolake.org/fhir/StructureDefinition/days-from-diagnosis"

#: Elements that identify a person directly, by resource type ("*" = every resource).
DIRECT_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "*": ("identifier", "text", "note"),
    "Patient": ("name", "address", "telecom", "photo", "contact", "link", "communication"),
    "Practitioner": ("name", "address", "telecom", "photo"),
    "RelatedPerson": ("name", "address", "telecom", "photo"),
    "Person": ("name", "address", "telecom", "photo"),
    "Organization": ("address", "telecom", "contact"),
    "Specimen": ("accessionIdentifier",),
}
#: Instant elements (must be full timestamps in FHIR): removed rather than reduced.
INSTANTS = ("issued", "lastUpdated", "timestamp", "recorded")
#: Resource types that carry only people and places: dropped from a clinical export.
PEOPLE = ("Practitioner", "PractitionerRole", "RelatedPerson", "Person", "Organization")

DATE_RE = re.compile(r"^(\d{4})(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?$")
FULL_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def pseudonym(key: bytes, centre_id: str, kind: str, local_id: str) -> str:
    """``<centre>-<hex>``: HMAC-SHA256 of ``kind:local_id`` under the centre's key."""
    if not key:
        raise DirectIdentifierError("the pseudonym key is empty; set ONCOLAKE_PSEUDONYM_KEY")
    digest = hmac.new(key, f"{kind}:{local_id}".encode(), hashlib.sha256).hexdigest()
    return f"{centre_id}-{digest[:32]}"


@dataclass
class PseudonymReport:
    """What pseudonymisation did (no values, only places and counts)."""

    dropped: list[str] = field(default_factory=list)
    dates_reduced: int = 0
    resources: int = 0
    resources_dropped: int = 0


@dataclass
class Pseudonymiser:
    """Pseudonymise FHIR resources of one centre consistently."""

    key: bytes
    centre_id: str
    drop: bool = False
    report: PseudonymReport = field(default_factory=PseudonymReport)

    def id(self, kind: str, local_id: str) -> str:
        """The pseudonym of a resource id."""
        return pseudonym(self.key, self.centre_id, kind, local_id)

    def reference(self, ref: str, urls: Mapping[str, str]) -> str:
        """``Type/id`` (or a bundle ``urn:uuid:`` fullUrl) → ``Type/<pseudonym>``."""
        if ref in urls:
            ref = urls[ref]
        ref = ref.split("/_history/")[0]
        parts = ref.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2][:1].isupper():
            return f"{parts[-2]}/{self.id(parts[-2], parts[-1])}"
        if ref.startswith("#"):
            return ref
        return self.id("Reference", ref)

    def resources(
        self, resources: Iterable[tuple[str, dict[str, Any]]], urls: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Pseudonymise ``(where, resource)`` pairs; raise if direct identifiers are found
        (unless ``drop``). ``urls`` maps bundle fullUrls to ``Type/id``."""
        items = list(resources)
        births = {
            r.get("id"): r.get("birthDate") for _, r in items if r.get("resourceType") == "Patient"
        }
        diagnoses: dict[str, str] = {}
        for _, r in items:
            if r.get("resourceType") == "Condition":
                onset = r.get("onsetDateTime") or r.get("recordedDate")
                subject = _ref_id(r.get("subject"), urls)
                if onset and subject and subject not in diagnoses:
                    diagnoses[subject] = onset
        found: list[str] = []
        out: list[dict[str, Any]] = []
        for where, r in items:
            rtype = r.get("resourceType", "")
            if rtype in PEOPLE:
                self.report.resources_dropped += 1
                continue
            hits = [
                f"{where}: {rtype}.{name}"
                for name in (*DIRECT_IDENTIFIERS["*"], *DIRECT_IDENTIFIERS.get(rtype, ()))
                if name in r
            ]
            found += hits
            if hits and not self.drop:
                continue
            clean = {k: v for k, v in r.items() if k not in _direct(rtype)}
            self.report.dropped += hits
            _derive(clean, births, diagnoses, urls)
            clean = self._walk(clean, urls, rtype)
            out.append(clean)
            self.report.resources += 1
        if found and not self.drop:
            shown = "; ".join(found[:8]) + (f"; … {len(found) - 8} more" if len(found) > 8 else "")
            raise DirectIdentifierError(
                f"direct identifiers in the clinical export ({len(found)} place(s)): {shown}. "
                "Remove them at the source, or pass --drop-identifiers to have them removed "
                "from the bundle"
            )
        return out

    def _walk(self, value: Any, urls: Mapping[str, str], path: str) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if k in INSTANTS:
                    continue
                if k == "reference" and isinstance(v, str):
                    out[k] = self.reference(v, urls)
                elif k == "id" and "." not in path and isinstance(v, str):
                    out[k] = self.id(path, v)
                elif k in ("display",) and "subject" in path:
                    continue
                else:
                    out[k] = self._walk(v, urls, f"{path}.{k}")
            if path.endswith(".meta"):
                out.pop("versionId", None)
                out.pop("source", None)
            return out
        if isinstance(value, list):
            return [self._walk(v, urls, path) for v in value]
        if path.startswith("Consent.provision"):
            return value  # a consent's validity period is not a personal date
        if isinstance(value, str) and DATE_RE.match(value) and len(value) > 4:
            self.report.dates_reduced += 1
            return value[:4]
        return value


def _direct(rtype: str) -> set[str]:
    return {*DIRECT_IDENTIFIERS["*"], *DIRECT_IDENTIFIERS.get(rtype, ())}


def _ref_id(ref: Any, urls: Mapping[str, str]) -> str | None:
    if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
        return None
    r = urls.get(ref["reference"], ref["reference"])
    return r.split("/_history/")[0].rstrip("/").split("/")[-1]


def _date(text: str | None) -> dt.date | None:
    if not text or not FULL_DATE_RE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _derive(
    r: dict[str, Any],
    births: Mapping[str | None, str | None],
    diagnoses: Mapping[str, str],
    urls: Mapping[str, str],
) -> None:
    """Add age at diagnosis / days from diagnosis before dates are reduced to years."""
    subject = _ref_id(r.get("subject"), urls)
    if r.get("resourceType") == "Condition":
        born = _date(births.get(subject))
        onset = _date(r.get("onsetDateTime") or r.get("recordedDate"))
        if born and onset:
            age = onset.year - born.year - ((onset.month, onset.day) < (born.month, born.day))
            r.setdefault("extension", []).append(
                {"url": AGE_AT_DIAGNOSIS_URL, "valueAge": {"value": age, "unit": "a"}}
            )
    elif r.get("resourceType") == "Observation" and subject is not None and subject in diagnoses:
        start = _date(diagnoses[subject])
        when = _date(r.get("effectiveDateTime"))
        if start and when:
            r.setdefault("extension", []).append(
                {"url": DAYS_FROM_DIAGNOSIS_URL, "valueInteger": (when - start).days}
            )


def check_no_direct_identifiers(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    """Hub-side safety net: refuse names, identifiers, narrative, notes or exact dates."""
    found: list[str] = []
    for where, r in resources:
        rtype = str(r.get("resourceType", ""))
        found += [f"{where}: {rtype}.{n}" for n in sorted(_direct(rtype)) if n in r]
        birth = r.get("birthDate")
        if isinstance(birth, str) and len(birth) > 4:
            found.append(f"{where}: {rtype}.birthDate (exact date)")
    if found:
        raise DirectIdentifierError(
            f"direct identifiers in the clinical files ({len(found)} place(s)): "
            f"{'; '.join(found[:8])}; the centre must pseudonymise with `oncolake submit`"
        )
