"""Pseudonymisation at the centre: keyed-hash ids, dates to years, no direct identifiers.

* Ids: ``<centre>-<32 hex>``, the HMAC-SHA256 (centre's secret key) of ``<type>:<local id>``
  (``Patient:MRN-0042``), so the same patient gets the same pseudonym in every submission of
  the centre, and nobody without the key can reverse or recompute it. Resource ids and
  references are rewritten alike; manifests and VCF sample names use the same function.
* Dates: every date/dateTime becomes its year; instants (``issued``, ``meta.lastUpdated``)
  are removed. What needs exact dates is computed first and kept as whole numbers: age at
  diagnosis (:data:`AGE_AT_DIAGNOSIS_URL`) and clinical time: each full date's offset in
  days from the patient's anchor (:data:`RELATIVE_DAYS_URL`, one string
  ``path=days;…`` per resource), the anchor's kind and year (:data:`ANCHOR_URL`) and the
  last-known-alive day (:data:`LAST_KNOWN_ALIVE_URL`) on the Patient. The anchor is the
  earliest full onset (else recorded) date of the patient's mCODE PrimaryCancerConditions;
  without one, the earliest full date of any of the patient's resources (kind
  ``first_record``).
* Direct identifiers (names, addresses, telecom, photos, contacts, identifiers/record
  numbers, narrative text, free-text notes) are refused, naming each place found; with
  ``drop=True`` the data steward has them removed instead (and the report lists where).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harmonise.errors import DirectIdentifierError

AGE_AT_DIAGNOSIS_URL = "https://oncolake.org/fhir/StructureDefinition/age-at-diagnosis"
DAYS_FROM_DIAGNOSIS_URL = "https://oncolake.org/fhir/StructureDefinition/days-from-diagnosis"
RELATIVE_DAYS_URL = "https://oncolake.org/fhir/StructureDefinition/relative-days"
ANCHOR_URL = "https://oncolake.org/fhir/StructureDefinition/anchor"
LAST_KNOWN_ALIVE_URL = "https://oncolake.org/fhir/StructureDefinition/last-known-alive"
PRIMARY_CANCER = "mcode-primary-cancer-condition"
#: Where a primary cancer condition's date is read, in order (the anchor candidates).
ONSET_PATHS = ("onsetDateTime", "onsetPeriod.start", "recordedDate")
#: Dated elements that are no evidence that the patient was alive on that day: birth,
#: death, record-keeping instants (a report may be issued after death), and planned
#: (future) ends of orders.
NOT_ALIVE_EVIDENCE = re.compile(
    r"^(birthDate|deceasedDateTime|meta\..*|issued|.*\.?recorded|.*lastUpdated"
    r"|.*dosageInstruction.*\.end|dispenseRequest.*\.end)$"
)

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
#: Resources whose dates are not clinical events of the patient (a consent's date is when
#: it was signed, kept as its year): no day offsets, no part in the anchor.
NOT_CLINICAL_TIME = (*PEOPLE, "Consent")

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
    days_computed: int = 0
    anchors: dict[str, int] = field(default_factory=dict)  # anchor kind -> patients
    resources: int = 0
    resources_dropped: int = 0


@dataclass
class Pseudonymiser:
    """Pseudonymise FHIR resources of one centre consistently."""

    key: bytes
    centre_id: str
    drop: bool = False
    #: Offsets are rounded to the nearest multiple of this many days (1: exact days); a
    #: centre that wants coarser clinical time sets e.g. 7 (weeks) or 30 (months).
    day_rounding: int = 1
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
        if self.day_rounding < 1:
            raise DirectIdentifierError(
                f"day rounding must be a whole number of days >= 1 (got {self.day_rounding})"
            )
        times = _ClinicalTime.of(items, urls)
        for kind in times.kinds.values():
            self.report.anchors[kind] = self.report.anchors.get(kind, 0) + 1
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
            _derive(clean, births, urls)
            self._add_days(clean, times, urls, times.dates.get(id(r)))
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

    def _round(self, days: int) -> int:
        n = self.day_rounding
        return days if n == 1 else ((days + n // 2) // n) * n

    def _add_days(
        self,
        r: dict[str, Any],
        times: _ClinicalTime,
        urls: Mapping[str, str],
        found: list[tuple[str, dt.date]] | None = None,
    ) -> None:
        """Add every full date's offset from the patient's anchor (before years remain);
        ``found``: the dates :class:`_ClinicalTime` read from the exported resource."""
        pid = _patient_of(r, urls)
        if r.get("resourceType") in NOT_CLINICAL_TIME:
            return
        anchor = times.anchors.get(pid) if pid is not None else None
        if anchor is None or pid is None:
            return
        # one string, ``path=days;path=days``, rather than a sub-extension per date: FHIR
        # validation at the hub costs per Extension (13 % more per bundle, measured)
        # elements removed since (direct identifiers) are no dated facts of ``r``
        found = _dates(r) if found is None else [(p, d) for p, d in found if _top_key(p) in r]
        subs = [f"{path}={self._round((d - anchor).days)}" for path, d in found]
        if subs:
            r.setdefault("extension", []).append(
                {"url": RELATIVE_DAYS_URL, "valueString": ";".join(subs)}
            )
            self.report.days_computed += len(subs)
        if r.get("resourceType") == "Patient":
            r.setdefault("extension", []).append(
                {
                    "url": ANCHOR_URL,
                    "extension": [
                        {"url": "kind", "valueCode": times.kinds[pid]},
                        {"url": "year", "valueInteger": anchor.year},
                    ],
                }
            )
            alive = times.alive.get(pid)
            if alive is not None:
                day = self._round((alive - anchor).days)
                r["extension"].append({"url": LAST_KNOWN_ALIVE_URL, "valueInteger": day})

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


def _patient_of(r: Mapping[str, Any], urls: Mapping[str, str]) -> str | None:
    """The (local) id of the patient a resource is about: itself, subject or patient."""
    if r.get("resourceType") == "Patient":
        pid = r.get("id")
        return pid if isinstance(pid, str) else None
    for key in ("subject", "patient"):
        ref = r.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            target = urls.get(ref["reference"], ref["reference"])
            if target.split("/_history/")[0].rstrip("/").split("/")[-2:-1] == ["Patient"]:
                return _ref_id(ref, urls)
    return None


def _dates(value: Any, path: str = "") -> list[tuple[str, dt.date]]:
    """Every full calendar date in a resource, with its element path (``a.b[0].c``);
    meta, consent provisions and our own extensions are not clinical dates."""
    out: list[tuple[str, dt.date]] = []
    _collect_dates(value, [path] if path else [], out)
    return out


def _top_key(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def _collect_dates(value: Any, parts: list[str], out: list[tuple[str, dt.date]]) -> None:
    # the path is joined only where a date is found (profiled, issue 22: building every
    # element's path string was most of the submit-side cost of the day offsets)
    if isinstance(value, dict):
        top = not parts
        for k, v in value.items():
            if top and k in ("meta", "provision"):
                continue
            if k == "extension" and isinstance(v, list):
                v = [e for e in v if not str((e or {}).get("url", "")).startswith(_OURS)]
            parts.append(k if top else f".{k}")
            if isinstance(v, str):
                _date_at(v, parts, out)
            elif isinstance(v, dict | list):
                _collect_dates(v, parts, out)
            parts.pop()
    elif isinstance(value, list):
        for i, v in enumerate(value):
            parts.append(f"[{i}]")
            if isinstance(v, str):
                _date_at(v, parts, out)
            elif isinstance(v, dict | list):
                _collect_dates(v, parts, out)
            parts.pop()
    elif isinstance(value, str):
        _date_at(value, parts, out)


def _date_at(value: str, parts: list[str], out: list[tuple[str, dt.date]]) -> None:
    if value[:1].isdigit() and DATE_RE.match(value):
        d = _date(value)
        if d is not None:
            out.append(("".join(parts), d))


_OURS = "https://oncolake.org/fhir/"


@functools.lru_cache(maxsize=4096)
def _alive_evidence(path: str) -> bool:
    """Whether a date at ``path`` shows the patient alive (paths repeat: cached)."""
    return not NOT_ALIVE_EVIDENCE.match(path)


def _is_primary(r: Mapping[str, Any]) -> bool:
    profiles = (r.get("meta") or {}).get("profile") or []
    return r.get("resourceType") == "Condition" and any(
        str(p).rstrip("/").endswith(PRIMARY_CANCER) for p in profiles
    )


@dataclass
class _ClinicalTime:
    """Per patient (local id): anchor date, its kind, last date the patient was alive."""

    anchors: dict[str, dt.date] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    alive: dict[str, dt.date] = field(default_factory=dict)
    #: the dates found in each resource (by ``id`` of the exported dict), read once
    dates: dict[int, list[tuple[str, dt.date]]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, items: Iterable[tuple[str, Mapping[str, Any]]], urls: Mapping[str, str]
    ) -> _ClinicalTime:
        """The anchor rule and last-known-alive rule applied to a centre's export."""
        out_dates: dict[int, list[tuple[str, dt.date]]] = {}
        primary: dict[str, dt.date] = {}
        first: dict[str, dt.date] = {}
        last: dict[str, dt.date] = {}
        death: dict[str, dt.date] = {}
        for _, r in items:
            pid = _patient_of(r, urls)
            if pid is None or r.get("resourceType") in NOT_CLINICAL_TIME:
                continue
            dates = out_dates[id(r)] = _dates(r)
            if _is_primary(r):
                onset = next((d for p in ONSET_PATHS for q, d in dates if q == p), None)
                if onset is not None and (pid not in primary or onset < primary[pid]):
                    primary[pid] = onset
            if r.get("resourceType") == "Patient":
                dead = _date(r.get("deceasedDateTime"))
                if dead is not None:
                    death[pid] = dead
            for path, d in dates:
                if path == "birthDate":
                    continue
                if pid not in first or d < first[pid]:
                    first[pid] = d
                if (pid not in last or d > last[pid]) and _alive_evidence(path):
                    last[pid] = d
        out = cls(dates=out_dates)
        for pid in first.keys() | primary.keys():
            if pid in primary:
                out.anchors[pid], out.kinds[pid] = primary[pid], "primary_diagnosis"
            else:
                out.anchors[pid], out.kinds[pid] = first[pid], "first_record"
            alive = last.get(pid)
            if alive is not None and pid in death and alive > death[pid]:
                alive = death[pid]
            if alive is not None:
                out.alive[pid] = alive
        return out


def _derive(
    r: dict[str, Any],
    births: Mapping[str | None, str | None],
    urls: Mapping[str, str],
) -> None:
    """Add age at diagnosis before dates are reduced to years."""
    subject = _ref_id(r.get("subject"), urls)
    if r.get("resourceType") == "Condition":
        born = _date(births.get(subject))
        onset = _date(r.get("onsetDateTime") or r.get("recordedDate"))
        if born and onset:
            age = onset.year - born.year - ((onset.month, onset.day) < (born.month, born.day))
            r.setdefault("extension", []).append(
                {"url": AGE_AT_DIAGNOSIS_URL, "valueAge": {"value": age, "unit": "a"}}
            )


def check_no_direct_identifiers(resources: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    """Hub-side safety net: refuse names, identifiers, narrative, notes or exact dates
    (any date or dateTime more precise than a year, outside consent provisions)."""
    found: list[str] = []
    for where, r in resources:
        rtype = str(r.get("resourceType", ""))
        found += [f"{where}: {rtype}.{n}" for n in sorted(_direct(rtype)) if n in r]
        found += [f"{where}: {rtype}.{path} (exact date)" for path in _exact_dates(r)]
    if found:
        raise DirectIdentifierError(
            f"direct identifiers in the clinical files ({len(found)} place(s)): "
            f"{'; '.join(found[:8])}; the centre must pseudonymise with `oncolake submit`"
        )


def _exact_dates(value: Any, path: str = "") -> list[str]:
    """Element paths holding a date more precise than a year (consent provisions, whose
    validity period is not a personal date, excepted)."""
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if not path and k == "provision":
                continue
            out += _exact_dates(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _exact_dates(v, f"{path}[{i}]")
    elif isinstance(value, str) and len(value) > 4 and DATE_RE.match(value):
        out.append(path)
    return out
