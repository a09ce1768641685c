"""Synthetic treatment journeys: standard-of-care sequences per tumour type and biomarker.

Each pathway is a sequence of lines; each line a list of phases (drugs given together
for a number of days, the last phase until progression), with the median time to
progression of its trial; the pathway has the median overall survival of its first-line
trial. Times are drawn from exponential distributions with those medians; a patient
progresses, starts the next line 10-35 days later, and so on until death or the data
cut-off (censoring). Where no trial median is cited the value is marked "assumed".

Sources (medians in months):

* EGFR-mutant NSCLC: osimertinib PFS 18.9, OS 38.6 (FLAURA: Soria et al., NEJM 2018;
  Ramalingam et al., NEJM 2020); gefitinib PFS 10.2, OS 31.8 (FLAURA comparator); then
  osimertinib PFS 10.1 (AURA3: Mok et al., NEJM 2017); platinum-pemetrexed after a TKI
  PFS 5.4 (IMPRESS: Soria et al., Lancet Oncol 2015); docetaxel PFS 3.0 (REVEL: Garon et
  al., Lancet 2014).
* NSCLC without a driver: carboplatin or cisplatin + pemetrexed + pembrolizumab x4, then
  pemetrexed + pembrolizumab, PFS 8.8, OS 22.0 (KEYNOTE-189: Gandhi et al., NEJM 2018);
  KRAS G12C then sotorasib PFS 5.6 (CodeBreaK 200: de Langen et al., Lancet 2023).
  Squamous: carboplatin + paclitaxel or nab-paclitaxel + pembrolizumab x4 then
  pembrolizumab, PFS 6.4, OS 15.9 (KEYNOTE-407: Paz-Ares et al., NEJM 2018).
* BRAF V600E melanoma (its own model, :func:`draw_braf_melanoma`): first line BRAF + MEK
  inhibitors in 47 % and anti-PD-1 based immunotherapy in 53 % of the treated (43 % vs
  48 % of BRAF-mutant advanced melanoma in a US real-world database 2013-2018, Melanoma
  Res 2022;32:113, PMID 35254330; the Dutch Melanoma Treatment Registry's 330 vs 254
  first-line BRAF/MEK vs anti-PD-1 patients 2014-2017, van Breeschoten et al., Br J Cancer
  2021). BRAF + MEK: dabrafenib + trametinib PFS 11.1, OS 25.9 (COMBI-d and COMBI-v
  pooled 5-year analysis: Robert et al., NEJM 2019; COMBI-d alone PFS 11.0, OS 25.1: Long
  et al., Lancet 2015), encorafenib + binimetinib PFS 14.9, OS 33.6 (COLUMBUS: Dummer et
  al., Lancet Oncol 2018), vemurafenib + cobimetinib PFS 12.3, OS 22.3 (coBRIM: Ascierto
  et al., Lancet Oncol 2016), each then nivolumab + ipilimumab (PFS 3.0, assumed); their
  shares among BRAF + MEK 65 / 25 / 10 % (assumed: dabrafenib + trametinib was approved
  first and is the most used). Anti-PD-1: nivolumab + ipilimumab x4 then nivolumab, PFS
  11.5, OS 72.1 (CheckMate 067, all patients: Wolchok et al., JCO 2022), or pembrolizumab
  PFS 8.4, OS 32.7 (KEYNOTE-006: Robert et al., Lancet Oncol 2019), 60 / 40 % (assumed),
  each then dabrafenib + trametinib (PFS 8.0, assumed; the sequence DREAMseq favoured:
  Atkins et al., JCO 2023). Tumour sequencing (what puts a patient in this network) is
  done for advanced melanoma — BRAF testing is recommended at the advanced diagnosis
  (PMID 35254330) — so these patients' stage at diagnosis is mostly IV (I 5, II 10, III
  35, IV 50 %, assumed) and a stage III melanoma relapses in 60 % (5-year relapse-free
  survival 36 % without adjuvant therapy, COMBI-AD placebo arm: Dummer et al., NEJM 2020),
  a stage I-II one in 40 % (assumed, sequenced patients being selected for relapse). Of
  the advanced patients 76.4 % (stage IV) and 71 % (relapse) receive a first line (PMID
  35254330); the others die with a median of 6 months (assumed; dacarbazine's was 9.7 in
  BRIM-3, McArthur et al., Lancet Oncol 2014). BRAF wild type:
  nivolumab + ipilimumab x4 then nivolumab, PFS 11.5, OS 72.1 (CheckMate 067: Larkin et
  al., NEJM 2015; Wolchok et al., JCO 2022) or pembrolizumab PFS 8.4, OS 32.7 (KEYNOTE-006:
  Robert et al., Lancet Oncol 2019).
* HER2+ breast: docetaxel x6 + trastuzumab + pertuzumab, PFS 18.5, OS 57.1 (CLEOPATRA:
  Baselga et al., NEJM 2012; Swain et al., Lancet Oncol 2020); then trastuzumab deruxtecan
  PFS 28.8 or trastuzumab emtansine PFS 6.8 (DESTINY-Breast03: Hurvitz et al., Lancet
  2023). HR+ breast: letrozole + palbociclib PFS 24.8, OS 53.9 (PALOMA-2: Finn et al.,
  NEJM 2016; Slamon et al., JCO 2024); then fulvestrant + alpelisib if PIK3CA-mutant, PFS
  11.0 (SOLAR-1: André et al., NEJM 2019), else fulvestrant (PFS 6.0, assumed).
* Colorectal: FOLFOX or CAPOX + bevacizumab PFS 9.4, OS 21.3 (NO16966: Saltz et al., JCO
  2008), then FOLFIRI + bevacizumab PFS 5.7 (ML18147: Bennouna et al., Lancet Oncol 2013);
  BRAF V600E then encorafenib + cetuximab PFS 4.2 (BEACON: Kopetz et al., NEJM 2019);
  MSI-H: pembrolizumab PFS 16.5 (KEYNOTE-177: André et al., NEJM 2020; OS 48, assumed).
* Pancreas: FOLFIRINOX PFS 6.4, OS 11.1 (PRODIGE 4: Conroy et al., NEJM 2011) or
  gemcitabine + nab-paclitaxel PFS 5.5, OS 8.5 (MPACT: Von Hoff et al., NEJM 2013).
* Prostate: enzalutamide rPFS 20.0, OS 35.3 (PREVAIL: Beer et al., NEJM 2014), then
  docetaxel + prednisone (PFS 6.0, assumed; TAX 327). Glioblastoma: temozolomide PFS 6.9,
  OS 14.6 (Stupp et al., NEJM 2005). Hepatocellular: atezolizumab + bevacizumab PFS 6.8,
  OS 19.2 (IMbrave150: Finn et al., NEJM 2020), then sorafenib (PFS 3.0, assumed).
* Other tumour types: their first listed drugs (PFS 8 and 4, OS 20: assumed).

Centres differ in practice: where a pathway has alternatives (gefitinib or osimertinib
first, carboplatin or cisplatin, FOLFOX or CAPOX, FOLFIRINOX or gemcitabine +
nab-paclitaxel, T-DXd or T-DM1, nivolumab + ipilimumab or pembrolizumab), each centre has
its own seeded preference, so medicines-use comparisons between centres show something.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MONTH = 30.4375  # days

#: The data cut-off: later events are not in the export (alive patients are censored).
CUTOFF = dt.date(2025, 12, 31)


@dataclass(frozen=True)
class Phase:
    """Drugs given together for ``days`` (None: until the line ends)."""

    drugs: tuple[str, ...]
    days: int | None = None


@dataclass(frozen=True)
class LinePlan:
    """One line: its phases and its median time to progression (months)."""

    phases: tuple[Phase, ...]
    pfs_months: float


@dataclass(frozen=True)
class Pathway:
    """A standard-of-care sequence and the median overall survival of its first line."""

    name: str
    lines: tuple[LinePlan, ...]
    os_months: float


def _l(pfs: float, *phases: tuple[tuple[str, ...], int | None]) -> LinePlan:
    return LinePlan(tuple(Phase(d, n) for d, n in phases), pfs)


DOCETAXEL = _l(3.0, (("docetaxel",), 84))
KN189 = {
    platinum: _l(
        8.8,
        ((platinum, "pemetrexed", "pembrolizumab"), 84),
        (("pemetrexed", "pembrolizumab"), None),
    )
    for platinum in ("carboplatin", "cisplatin")
}
FOLFOX_BEV = _l(
    9.4,
    (("oxaliplatin", "fluorouracil", "leucovorin", "bevacizumab"), 168),
    (("fluorouracil", "leucovorin", "bevacizumab"), None),
)
CAPOX_BEV = _l(
    9.4,
    (("oxaliplatin", "capecitabine", "bevacizumab"), 168),
    (("capecitabine", "bevacizumab"), None),
)
FOLFIRI_BEV = _l(5.7, (("irinotecan", "fluorouracil", "leucovorin", "bevacizumab"), None))

#: (tumour type, subgroup) → alternatives (a centre picks one by its preference).
PATHWAYS: dict[tuple[str, str], tuple[Pathway, ...]] = {
    ("LUAD", "EGFR"): (
        Pathway("osimertinib first", (
            _l(18.9, (("osimertinib",), None)),
            _l(5.4, (("carboplatin", "pemetrexed"), 84), (("pemetrexed",), None)),
            DOCETAXEL,
        ), 38.6),
        Pathway("gefitinib then osimertinib", (
            _l(10.2, (("gefitinib",), None)), _l(10.1, (("osimertinib",), None)), DOCETAXEL,
        ), 31.8),
    ),
    ("LUAD", "KRAS G12C"): (
        Pathway("KEYNOTE-189 then sotorasib", (
            KN189["carboplatin"], _l(5.6, (("sotorasib",), None)), DOCETAXEL
        ), 22.0),
    ),
    ("LUAD", "other"): (
        Pathway("KEYNOTE-189 carboplatin", (KN189["carboplatin"], DOCETAXEL), 22.0),
        Pathway("KEYNOTE-189 cisplatin", (KN189["cisplatin"], DOCETAXEL), 22.0),
    ),
    ("LUSC", "other"): tuple(
        Pathway(f"KEYNOTE-407 {taxane}", (
            _l(6.4, (("carboplatin", taxane, "pembrolizumab"), 84), (("pembrolizumab",), None)),
            DOCETAXEL,
        ), 15.9)
        for taxane in ("paclitaxel", "nab-paclitaxel")
    ),
    # the release before issue 24's demo: still drawn (and discarded) for BRAF V600E
    # melanoma so that the network's random stream, and so every other patient, is the same
    ("MEL", "BRAF V600E"): (
        Pathway("dabrafenib + trametinib", (
            _l(11.0, (("dabrafenib", "trametinib"), None)),
            _l(3.0, (("nivolumab", "ipilimumab"), 84), (("nivolumab",), None)),
        ), 25.1),
        Pathway("encorafenib + binimetinib", (
            _l(14.9, (("encorafenib", "binimetinib"), None)),
            _l(3.0, (("nivolumab", "ipilimumab"), 84), (("nivolumab",), None)),
        ), 33.6),
    ),
    ("MEL", "other"): (
        Pathway("nivolumab + ipilimumab", (
            _l(11.5, (("nivolumab", "ipilimumab"), 84), (("nivolumab",), None)),
        ), 72.1),
        Pathway("pembrolizumab", (_l(8.4, (("pembrolizumab",), None)),), 32.7),
    ),
    ("IDC", "HER2"): tuple(
        Pathway(f"CLEOPATRA then {adc}", (
            _l(18.5, (("docetaxel", "trastuzumab", "pertuzumab"), 126),
               (("trastuzumab", "pertuzumab"), None)),
            _l(pfs, ((adc,), None)),
        ), 57.1)
        for adc, pfs in (("trastuzumab deruxtecan", 28.8), ("trastuzumab emtansine", 6.8))
    ),
    ("IDC", "HR PIK3CA"): (
        Pathway("PALOMA-2 then SOLAR-1", (
            _l(24.8, (("letrozole", "palbociclib"), None)),
            _l(11.0, (("fulvestrant", "alpelisib"), None)),
        ), 53.9),
    ),
    ("IDC", "HR"): (
        Pathway("PALOMA-2 then fulvestrant", (
            _l(24.8, (("letrozole", "palbociclib"), None)), _l(6.0, (("fulvestrant",), None)),
        ), 53.9),
    ),
    ("COAD", "MSI-H"): (
        Pathway("KEYNOTE-177", (_l(16.5, (("pembrolizumab",), None)), FOLFOX_BEV), 48.0),
    ),
    ("COAD", "BRAF V600E"): (
        Pathway("FOLFOX + bevacizumab then BEACON", (
            FOLFOX_BEV, _l(4.2, (("encorafenib", "cetuximab"), None))
        ), 21.3),
    ),
    ("COAD", "other"): (
        Pathway("FOLFOX + bevacizumab then FOLFIRI", (FOLFOX_BEV, FOLFIRI_BEV), 21.3),
        Pathway("CAPOX + bevacizumab then FOLFIRI", (CAPOX_BEV, FOLFIRI_BEV), 21.3),
    ),
    ("PAAD", "other"): (
        Pathway("FOLFIRINOX", (
            _l(6.4, (("oxaliplatin", "irinotecan", "fluorouracil", "leucovorin"), None)),
            _l(3.0, (("gemcitabine", "nab-paclitaxel"), None)),
        ), 11.1),
        Pathway("gemcitabine + nab-paclitaxel", (
            _l(5.5, (("gemcitabine", "nab-paclitaxel"), None)),
            _l(3.0, (("oxaliplatin", "fluorouracil", "leucovorin"), None)),
        ), 8.5),
    ),
    ("PRAD", "other"): (
        Pathway("enzalutamide then docetaxel", (
            _l(20.0, (("enzalutamide",), None)), _l(6.0, (("docetaxel", "prednisone"), 126)),
        ), 35.3),
    ),
    ("GB", "other"): (Pathway("Stupp", (_l(6.9, (("temozolomide",), 180)),), 14.6),),
    ("HCC", "other"): (
        Pathway("IMbrave150 then sorafenib", (
            _l(6.8, (("atezolizumab", "bevacizumab"), None)), _l(3.0, (("sorafenib",), None)),
        ), 19.2),
    ),
}  # fmt: skip
PATHWAYS[("READ", "other")] = PATHWAYS[("COAD", "other")]
PATHWAYS[("READ", "MSI-H")] = PATHWAYS[("COAD", "MSI-H")]


def subgroup(oncotree: str, genes: set[str], markers: Mapping[str, bool]) -> str:
    """The biomarker subgroup that selects a pathway (variants as ``GENE change``)."""
    if oncotree == "LUAD":
        if genes & {"EGFR L858R", "EGFR T790M"}:
            return "EGFR"
        if "KRAS G12C" in genes:
            return "KRAS G12C"
    if oncotree in ("MEL", "COAD") and "BRAF V600E" in genes:
        return "BRAF V600E"
    if oncotree in ("COAD", "READ") and markers.get("MSI-H"):
        return "MSI-H"
    if oncotree == "IDC":
        if markers.get("HER2"):
            return "HER2"
        if markers.get("ER", True):
            return "HR PIK3CA" if any(g.startswith("PIK3CA") for g in genes) else "HR"
    return "other"


def centre_preference(rng: np.random.Generator, centre: str, what: str) -> float:
    """A centre's practice for a choice ``what``: mostly its own preferred option (seeded
    by the centre and the choice), a fifth of the time any option."""
    own = (zlib.crc32(f"{centre}|{what}".encode()) % 1000) / 1000
    return own if rng.random() < 0.8 else float(rng.random())


def pathway_for(
    oncotree: str, group: str, fallback_drugs: Sequence[str], preference: float
) -> Pathway:
    """The pathway of a tumour type and subgroup; ``preference`` in [0, 1) picks among the
    alternatives (a centre's practice)."""
    options = PATHWAYS.get((oncotree, group)) or PATHWAYS.get((oncotree, "other"))
    if options:
        return options[min(int(preference * len(options)), len(options) - 1)]
    drugs = list(fallback_drugs) or ["carboplatin"]
    lines = [_l(8.0, ((drugs[0],), None))]
    if len(drugs) > 1:
        lines.append(_l(4.0, ((drugs[1],), None)))
    return Pathway(f"{oncotree} generic", tuple(lines), 20.0)


@dataclass(frozen=True)
class Record:
    """One medication record of the journey: drug, first and last day, still active."""

    drug: str
    start: dt.date
    end: dt.date | None
    active: bool


@dataclass(frozen=True)
class Journey:
    """A patient's drawn journey (calendar dates: the centre's view)."""

    pathway: str
    records: tuple[Record, ...]
    progressions: tuple[dt.date, ...]
    responses: tuple[dt.date, ...]
    death: dt.date | None
    last_contact: dt.date


#: days from the recorded relapse of a stage I-III patient to the first line (assumed)
RELAPSE_RECORDED_DAYS = 14


def draw_journey(
    rng: np.random.Generator,
    diagnosis: dt.date,
    stage: str,
    pathway: Pathway,
    cutoff: dt.date = CUTOFF,
    *,
    relapse: Mapping[str, float] | None = None,
    treated: Mapping[str, float] | None = None,
    untreated_os_months: float = 6.0,
) -> Journey:
    """Draw one patient's journey: metastatic at diagnosis (stage IV) or after a relapse
    (``relapse[stage]``; default a third of stage III, a tenth of stage I-II); others are
    followed without systemic therapy. With ``treated`` (``"IV"`` and ``"relapse"``: the
    share of advanced patients given a first line), the other advanced patients get no
    line and die with a median of ``untreated_os_months``; without it every advanced
    patient is treated (and the random draws are those of the release before it).
    Follow-up ends at death or at the cut-off (a tenth lost to follow-up earlier)."""
    days = (cutoff - diagnosis).days
    lost = days if rng.random() > 0.1 else int(rng.uniform(0, days))
    rates = relapse if relapse is not None else {"III": 0.33}
    if stage == "IV":
        start: float | None = float(rng.uniform(14, 42))
    elif rng.random() < rates.get(stage, 0.10 if relapse is None else 0.0):
        start = float(rng.exponential(18 * MONTH / np.log(2))) + 90
    else:
        start = None
    advanced = start
    if (
        start is not None
        and treated is not None
        and rng.random() >= treated["IV" if stage == "IV" else "relapse"]
    ):
        start = None  # advanced, no line of therapy
    if start is not None:
        death = start + float(rng.exponential(pathway.os_months * MONTH / np.log(2)))
    elif advanced is not None:  # advanced without a line (only with ``treated``)
        death = advanced + float(rng.exponential(untreated_os_months * MONTH / np.log(2)))
    else:  # non-metastatic: long survival (median 15 years, assumed)
        death = float(rng.exponential(180 * MONTH / np.log(2)))
    horizon = min(lost, death)
    records: list[Record] = []
    progressions: list[dt.date] = []
    if advanced is not None and stage != "IV" and advanced < horizon:
        # the relapse of a stage I-III patient is recorded (a progression two weeks before
        # the first line): the metastatic index of the journey rules
        progressions.append(diagnosis + dt.timedelta(days=int(advanced) - RELAPSE_RECORDED_DAYS))
    responses: list[dt.date] = []
    day = start
    for plan in pathway.lines if start is not None else ():
        assert day is not None
        if day >= horizon:
            break
        prog = day + float(rng.exponential(plan.pfs_months * MONTH / np.log(2)))
        line_end = min(prog, horizon)
        t = day
        for phase in plan.phases:
            if t >= line_end:
                break
            stop = line_end if phase.days is None else min(t + phase.days, line_end)
            ongoing = stop >= horizon and horizon == lost and death > lost
            for drug in phase.drugs:
                records.append(
                    Record(
                        drug,
                        diagnosis + dt.timedelta(days=int(t)),
                        None if ongoing else diagnosis + dt.timedelta(days=int(stop)),
                        ongoing,
                    )
                )
            t = stop + 1
        if day + 60 < line_end and rng.random() < 0.5:
            responses.append(diagnosis + dt.timedelta(days=int(day + 60)))
        if prog >= horizon:
            break
        progressions.append(diagnosis + dt.timedelta(days=int(prog)))
        day = prog + float(rng.uniform(10, 35))
    died = death <= lost
    last = min(horizon, days)
    return Journey(
        pathway.name if start is not None else "no systemic therapy",
        tuple(records),
        tuple(progressions),
        tuple(responses),
        diagnosis + dt.timedelta(days=int(death)) if died else None,
        diagnosis + dt.timedelta(days=int(max(0.0, last - (0 if died else rng.uniform(0, 60))))),
    )


def journey_resources(
    journey: Journey,
    pid: str,
    cond_id: str,
    codes: Mapping[str, str],
    administrations: bool,
    profile_base: str,
    rxnorm_system: str,
) -> list[dict[str, Any]]:
    """mCODE medication resources of a journey: one MedicationRequest with dosage
    timing bounds per drug and phase, or (a centre that exports administrations) one
    MedicationAdministration with an effective period."""
    subject = {"reference": f"Patient/{pid}"}
    out: list[dict[str, Any]] = []
    for n, rec in enumerate(journey.records, start=1):
        code = codes.get(rec.drug)
        concept: dict[str, Any] = (
            {"coding": [{"system": rxnorm_system, "code": code, "display": rec.drug}],
             "text": rec.drug}
            if code else {"text": rec.drug}
        )  # fmt: skip
        period: dict[str, str] = {"start": rec.start.isoformat()}
        if rec.end is not None:
            period["end"] = rec.end.isoformat()
        if administrations:
            out.append(
                {
                    "resourceType": "MedicationAdministration",
                    "id": f"{pid}-ma{n}",
                    "meta": {
                        "profile": [profile_base + "mcode-cancer-related-medication-administration"]
                    },
                    "status": "in-progress" if rec.active else "completed",
                    "medicationCodeableConcept": concept,
                    "subject": subject,
                    "effectivePeriod": period,
                    "reasonReference": [{"reference": f"Condition/{cond_id}"}],
                }
            )
        else:
            out.append(
                {
                    "resourceType": "MedicationRequest",
                    "id": f"{pid}-rx{n}",
                    "meta": {"profile": [profile_base + "mcode-cancer-related-medication-request"]},
                    "status": "active" if rec.active else "completed",
                    "intent": "order",
                    "medicationCodeableConcept": concept,
                    "subject": subject,
                    "authoredOn": rec.start.isoformat(),
                    "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": period}}}],
                    "reasonReference": [{"reference": f"Condition/{cond_id}"}],
                }
            )
    return out


def _nivo_ipi(pfs: float) -> LinePlan:
    return _l(pfs, (("nivolumab", "ipilimumab"), 84), (("nivolumab",), None))


_DT_AFTER_IO = _l(8.0, (("dabrafenib", "trametinib"), None))
#: BRAF V600E melanoma: (class, pathway, share of the class); sources in the module text.
BRAF_MELANOMA: tuple[tuple[str, Pathway, float], ...] = (
    ("BRAF + MEK", Pathway("dabrafenib + trametinib", (
        _l(11.1, (("dabrafenib", "trametinib"), None)), _nivo_ipi(3.0)), 25.9), 0.65),
    ("BRAF + MEK", Pathway("encorafenib + binimetinib", (
        _l(14.9, (("encorafenib", "binimetinib"), None)), _nivo_ipi(3.0)), 33.6), 0.25),
    ("BRAF + MEK", Pathway("vemurafenib + cobimetinib", (
        _l(12.3, (("vemurafenib", "cobimetinib"), None)), _nivo_ipi(3.0)), 22.3), 0.10),
    ("anti-PD-1", Pathway("nivolumab + ipilimumab", (_nivo_ipi(11.5), _DT_AFTER_IO), 72.1), 0.60),
    ("anti-PD-1", Pathway("pembrolizumab", (
        _l(8.4, (("pembrolizumab",), None)), _DT_AFTER_IO), 32.7), 0.40),
)  # fmt: skip
#: share of treated BRAF V600E melanoma given BRAF + MEK first (the rest anti-PD-1 based)
BRAF_MELANOMA_TARGETED_SHARE = 0.47
#: stage at diagnosis of a sequenced BRAF V600E melanoma (assumed, see the module text)
BRAF_MELANOMA_STAGES = {"I": 0.05, "II": 0.10, "III": 0.35, "IV": 0.50}
#: share relapsing by stage at diagnosis (III: COMBI-AD placebo arm; I-II assumed)
BRAF_MELANOMA_RELAPSE = {"I": 0.40, "II": 0.40, "III": 0.60}
#: share of advanced patients given a first line (PMID 35254330)
BRAF_MELANOMA_TREATED = {"IV": 0.764, "relapse": 0.71}


def braf_melanoma_pathway(rng: np.random.Generator, centre: str) -> Pathway:
    """A treated BRAF V600E melanoma patient's first-line pathway: the class (BRAF + MEK
    or anti-PD-1 based) by the network's shares, the agent half the time the centre's own
    preferred one (seeded by the centre), else by the shares within the class."""
    cls = "BRAF + MEK" if rng.random() < BRAF_MELANOMA_TARGETED_SHARE else "anti-PD-1"
    options = [(p, w) for c, p, w in BRAF_MELANOMA if c == cls]
    own = (zlib.crc32(f"{centre}|MEL|BRAF V600E|{cls}".encode()) % 1000) / 1000
    u = own if rng.random() < 0.5 else float(rng.random())
    cum = np.cumsum([w for _, w in options])
    return options[min(int(np.searchsorted(cum, u * cum[-1], side="right")), len(options) - 1)][0]


def draw_braf_melanoma(
    rng: np.random.Generator, diagnosis: dt.date, centre: str, cutoff: dt.date = CUTOFF
) -> tuple[str, Journey]:
    """A BRAF V600E melanoma patient's stage at diagnosis and journey (the model and its
    sources in the module text)."""
    stages = list(BRAF_MELANOMA_STAGES)
    stage = str(rng.choice(stages, p=[BRAF_MELANOMA_STAGES[s] for s in stages]))
    pathway = braf_melanoma_pathway(rng, centre)
    journey = draw_journey(
        rng, diagnosis, stage, pathway, cutoff,
        relapse=BRAF_MELANOMA_RELAPSE, treated=BRAF_MELANOMA_TREATED,
    )  # fmt: skip
    return stage, journey
