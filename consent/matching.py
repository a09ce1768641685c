"""Data-use matching: does a patient's consent permit a researcher's purpose?

Semantics (DUO, and the DUOS matching rules in DataBiosphere/consent-ontology
``docs/Algorithms.md`` v4), with the conservative choice wherever they leave a case open
(each such case is marked *Decision:* below and listed in ``docs/consent.md``):

Permissions (a consent with several permits what any of them permits):

* NRES, GRU permit every purpose (GRU ⊇ HMB ⊇ DS). GRU permits ancestry research (DUOS v4
  "Study population origins or ancestry: any dataset tagged with GRU or POA").
* HMB permits health and disease research, not general (non-health) research and not
  ancestry research (DUO's HMB definition excludes population origins or ancestry).
* DS(X) permits only disease research on X or on a descendant of X (DUO README: a lung
  cancer query retrieves datasets consented for cancer, not the reverse). *Decision:* a
  purpose naming several diseases needs every one of them covered. MONDO codes match
  exactly only (no MONDO hierarchy is pinned).
* POA permits only ancestry research.

Modifiers restrict (each that fails is named in the reason):

* NPUNCU denies commercial use and for-profit users; NPU denies for-profit users; NCU
  denies commercial use (DUOS v3/v4).
* NMDS denies method development, unless the purpose is disease research that the
  permission matches (DUOS v2 "NMDS true AND DS-X match"). *Decision:* under GRU/HMB +
  NMDS, disease-focused method development is "within the bounds" too (keeps matching
  monotone: GRU ⊇ DS).
* NPOA denies ancestry research.
* GSO, IRB, COL, PUB, MOR, RTN permit only a purpose that commits to them (genetic
  studies only, ethics approval, collaboration, publication, moratorium, return of
  results). *Decision:* DUOS abstains on these; we ask the researcher to attest instead.
* TS denies use after the consent's ``valid_until``.
* GS, US, PS, IS, RS name a place, user, project, institution or research restriction
  that DUO does not encode. *Decision:* denied with ``needs_review`` (a board decides).
* CC (clinical care use) widens use to clinical care; it restricts no research purpose.

Any consent that is not ``active`` permits nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from consent import duo, oncotree
from consent.purpose import ResearchPurpose
from consent.records import ConsentRecord

NRES, GRU, HMB, DS, POA = (duo.curie(s) for s in ("NRES", "GRU", "HMB", "DS", "POA"))

#: Modifiers whose condition DUO does not encode: a board must decide.
REVIEW_MODIFIERS = frozenset(duo.curie(s) for s in ("GS", "US", "PS", "IS", "RS"))

#: Modifiers satisfied by the researcher's attestation: purpose field and what it means.
ATTESTED_MODIFIERS: dict[str, tuple[str, str]] = {
    duo.curie("GSO"): ("genetic_studies_only", "the use is limited to genetic studies"),
    duo.curie("IRB"): ("ethics_approval", "ethics approval is required"),
    duo.curie("COL"): ("collaboration", "collaboration with the data providers is required"),
    duo.curie("PUB"): ("will_publish", "publication of the results is required"),
    duo.curie("MOR"): ("accepts_moratorium", "a publication moratorium must be accepted"),
    duo.curie("RTN"): ("will_return_results", "derived data must be returned to the resource"),
}


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`permits`: permitted or not, why, and whether a board must decide."""

    permitted: bool
    reason: str
    needs_review: bool = False
    failed: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return self.permitted


def _disease_covered(purpose_code: str, consent_codes: tuple[str, ...]) -> bool:
    for c in consent_codes:
        if purpose_code == c:
            return True
        if (
            oncotree.is_code(purpose_code)
            and oncotree.is_code(c)
            and oncotree.is_within(purpose_code, c)
        ):
            return True
    return False


def _permission_allows(perm: str, consent: ConsentRecord, purpose: ResearchPurpose) -> bool:
    if perm in (NRES, GRU):
        return True
    if perm == HMB:
        return purpose.primary in ("health", "disease")
    if perm == DS:
        return purpose.primary == "disease" and all(
            _disease_covered(d, consent.disease_codes) for d in purpose.disease_codes
        )
    if perm == POA:
        return purpose.primary == "ancestry"
    return False


def permits(
    consent: ConsentRecord, purpose: ResearchPurpose, today: dt.date | None = None
) -> Decision:
    """Whether ``consent`` permits ``purpose``; the reason names the DUO terms that decided."""
    if consent.status != "active":
        return Decision(False, f"the consent is {consent.status}, not active", failed=("status",))
    day = purpose.date or today or dt.date.today()
    names = ", ".join(duo.shorthand(p) for p in consent.permissions)
    allowing = [p for p in consent.permissions if _permission_allows(p, consent, purpose)]
    if not allowing:
        what = purpose.primary + (
            f" research on {', '.join(purpose.disease_codes)}"
            if purpose.disease_codes
            else " research"
        )
        diseases = f" ({', '.join(consent.disease_codes)})" if consent.disease_codes else ""
        return Decision(
            False,
            f"the consent's permission {names}{diseases} does not cover {what}",
            failed=tuple(duo.shorthand(p) for p in consent.permissions),
        )
    failures: list[tuple[str, str]] = []
    review = False
    mods = set(consent.modifiers)
    if duo.curie("NPUNCU") in mods and (purpose.commercial or purpose.for_profit):
        failures.append(("NPUNCU", "not-for-profit, non-commercial use only"))
    if duo.curie("NPU") in mods and purpose.for_profit:
        failures.append(("NPU", "use by not-for-profit organisations only"))
    if duo.curie("NCU") in mods and purpose.commercial:
        failures.append(("NCU", "non-commercial use only"))
    if duo.curie("NMDS") in mods and purpose.methods_development:
        within = purpose.primary == "disease"
        if not within:
            failures.append(("NMDS", "no methods development outside disease research"))
    if duo.curie("NPOA") in mods and purpose.primary == "ancestry":
        failures.append(("NPOA", "population origins or ancestry research is prohibited"))
    for code, (attr, meaning) in ATTESTED_MODIFIERS.items():
        if code in mods and not getattr(purpose, attr):
            failures.append((duo.shorthand(code), f"{meaning} (set {attr} in the purpose)"))
    if duo.curie("TS") in mods and consent.valid_until is not None and day > consent.valid_until:
        failures.append(("TS", f"the consent's time limit ended on {consent.valid_until}"))
    for code in sorted(REVIEW_MODIFIERS & mods):
        review = True
        failures.append(
            (duo.shorthand(code), f"{duo.term(code).label}: a governance board must decide")
        )
    if failures:
        return Decision(
            False,
            "denied by " + "; ".join(f"{s} ({why})" for s, why in failures),
            needs_review=review,
            failed=tuple(s for s, _ in failures),
        )
    by = ", ".join(duo.shorthand(p) for p in allowing)
    return Decision(True, f"permitted by {by}" + _modifier_note(consent))


def _modifier_note(consent: ConsentRecord) -> str:
    if not consent.modifiers:
        return ""
    return "; conditions met: " + ", ".join(duo.shorthand(m) for m in consent.modifiers)
