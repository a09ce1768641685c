"""Treatment journeys: regimens and lines of therapy derived from a patient's medications.

The rules are the line-of-therapy algorithm of Meng et al. (JCO Clin Cancer Inform 2021,
PMC8548977, Table 5), every parameter read from one versioned file,
``harmonise/data/journey_rules.json`` (:class:`Rules`); the version goes into every
derived row and the whole file into the dataset row. Days are offsets from the patient's
anchor (see ``harmonise.pseudonymise``); a medication without a start day, or with a drug
that ``harmonise.drugs`` does not know, takes no part.

Rules, in the order they are applied to each medication exposure (sorted by start day):

0. **Intent** (``index`` ``metastatic`` only). A record with a curative intent
   (``curative_intents``) is early-setting therapy and takes no part, whatever its day
   (perioperative chemotherapy around the resection of oligometastatic disease); a record
   with a palliative intent (``palliative_intents``) is advanced-setting therapy, so the
   index is at the latest its start, also when no metastatic disease is recorded. Saini &
   Twelves (Br J Cancer 2021;125:155, PMC8292475) count therapy "with curative intent
   and/or in the early setting" apart from therapy "with palliative intent and/or in the
   advanced setting" and leave conflicts to the treating clinician: the recorded intent is
   that clinician's decision, so it wins over the setting inferred from stage and dates.
1. **First line.** The first exposure on or after day 0 (``first_line_on_or_after_anchor``)
   starts line 1.
2. **Regimen window.** Every drug started within ``regimen_window_days`` (28) of the
   line's first drug belongs to the line's regimen (the line's ``drugs``).
3. **Gap.** An exposure starting more than ``gap_days`` (120) after the latest end of the
   line's exposures starts a new line, even with the same drugs, unless the drug is one
   of ``gap_exempt_drugs`` (oral TKIs whose records show gaps between refills) already in
   the line.
4. **Same drug.** A drug already in the line continues it (treatment beyond progression
   included).
5. **Progression then change.** With ``progression_change_advances_line``, a drug not yet
   in the line after a recorded progression (disease status in ``progression_codes``) later
   than the line's start starts a new line, whatever rules 6-7 would allow.
6. **Substitution.** A drug of a ``substitutions`` pair whose partner is in the line
   (cisplatin/carboplatin, paclitaxel/nab-paclitaxel) continues it.
7. **Switch maintenance.** A drug of ``switch_maintenance_drugs`` continues the line.
8. **New drug.** Any other drug started after the window starts a new line; drugs of the
   old line still running on that day (their exposure ends on or after it) join the new
   line's regimen, and the old line ends the day before.
9. **Dropped drugs.** Dropping drugs of the regimen keeps the line
   (``dropped_drugs_advance_line`` false, as in the paper); when true, a period in which
   only a strict subset of the regimen runs that is not all
   ``continuation_maintenance_drugs`` starts a new line.

Regimens are the periods of a line in which one set of drugs runs (a drug from its first
to its last record in the line): a new period begins when a drug starts after the regimen
window, or when a drug ends while another runs on for more than the window and no drug
starts within the window after it. A line's ``end_reason`` is ``progression`` (a progression was
recorded after its start, before the next line), ``next_line``, or for the last line
``ongoing`` (an exposure still active with no end, or ending after the last-known-alive
day), ``death`` (death within ``death_within_days`` of the line's end), ``progression``, and
otherwise ``last_contact``.

Hand-written because the published algorithms come as R/SQL packages (OHDSI
TreatmentPatterns, ARTEMIS, Flatiron's internal rules) bound to the OMOP CDM; the rules
themselves are a few comparisons per exposure.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consent import oncotree
from harmonise.errors import FhirError
from harmonise.model import STAGE_SNOMED

RULES_PATH = Path(__file__).parent / "data" / "journey_rules.json"
REGIMENS_PATH = Path(__file__).parent / "data" / "regimens.tsv"


@dataclass(frozen=True)
class Rules:
    """The parameters of the line-of-therapy rules (one versioned file)."""

    version: str
    source: str = ""
    first_line_on_or_after_anchor: bool = True
    regimen_window_days: int = 28
    gap_days: int = 120
    gap_exempt_drugs: frozenset[str] = frozenset()
    substitutions: tuple[frozenset[str], ...] = ()
    continuation_maintenance_drugs: frozenset[str] = frozenset()
    switch_maintenance_drugs: frozenset[str] = frozenset()
    dropped_drugs_advance_line: bool = False
    progression_change_advances_line: bool = True
    progression_codes: frozenset[str] = frozenset({"271299001"})
    death_within_days: int = 120
    #: a stage IV group on the primary diagnosis recorded within this many days of the
    #: diagnosis is the stage at diagnosis (AJCC: the stage group is assigned from what is
    #: known up to 4 months after diagnosis, or the end of the first surgery), so the
    #: metastatic index is the diagnosis day; recorded later, it is a restaging: its day
    staging_timeframe_days: int = 122
    ongoing_statuses: frozenset[str] = frozenset({"active", "in-progress", "on-hold"})
    systemic_kinds: frozenset[str] = frozenset({"medication"})
    #: ``anchor``: lines count from day 0; ``metastatic``: from the patient's metastatic
    #: index day (:func:`patient_facts`), earlier therapy being early-setting therapy
    index: str = "anchor"
    #: recorded treatment intent (``treatments.intent``: the mCODE treatment-intent
    #: extension's display, else its code), read with ``index`` ``metastatic`` only: a
    #: record whose intent names one of ``curative_intents`` (a SNOMED CT code or a word)
    #: is early-setting therapy whatever its day; the first record naming one of
    #: ``palliative_intents`` is advanced-setting therapy, so the index is no later than
    #: its start. Empty lists: intent is not read.
    curative_intents: frozenset[str] = frozenset()
    palliative_intents: frozenset[str] = frozenset()
    #: per tumour type (an OncoTree code; a patient's nearest listed ancestor applies):
    #: the parameters that differ there, as rules of their own
    by_tumour: tuple[tuple[str, Rules], ...] = ()

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any], where: str = "journey rules") -> Rules:
        """Rules from a parsed rules file; an unknown or ill-typed key names itself."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(doc) - known)
        if unknown:
            raise FhirError(f"{where}: unknown rule parameter(s) {', '.join(unknown)}")
        if not isinstance(doc.get("version"), str):
            raise FhirError(f"{where}: 'version' (a string) is required")
        kw: dict[str, Any] = {}
        for k, v in doc.items():
            default = cls.__dataclass_fields__[k].default
            if k == "by_tumour":
                continue
            if k == "index":
                if v not in INDEX_KINDS:
                    raise FhirError(f"{where}: index must be one of {', '.join(INDEX_KINDS)}")
                kw[k] = v
            elif k == "substitutions":
                kw[k] = tuple(sorted((frozenset(p) for p in v), key=sorted))
            elif isinstance(default, frozenset):
                kw[k] = frozenset(v)
            elif isinstance(default, bool):
                if not isinstance(v, bool):
                    raise FhirError(f"{where}: {k} must be true or false")
                kw[k] = v
            elif isinstance(default, int):
                if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                    raise FhirError(f"{where}: {k} must be a whole number of days >= 0")
                kw[k] = v
            else:
                kw[k] = v
        base = cls(**kw)
        tumours = doc.get("by_tumour") or {}
        if not isinstance(tumours, dict):
            raise FhirError(f"{where}: by_tumour must map OncoTree codes to parameters")
        subs: list[tuple[str, Rules]] = []
        for code, over in sorted(tumours.items()):
            if not isinstance(over, dict) or {"version", "by_tumour"} & set(over):
                raise FhirError(f"{where}: by_tumour.{code}: parameters other than version")
            if not oncotree.is_code(code):
                raise FhirError(f"{where}: by_tumour.{code}: not an OncoTree code")
            merged = {**json.loads(base.to_json()), **over, "version": base.version}
            merged.pop("by_tumour", None)
            subs.append((code, cls.from_mapping(merged, f"{where}: by_tumour.{code}")))
        return dataclasses.replace(base, by_tumour=tuple(subs))

    def to_json(self) -> str:
        """The rules as canonical JSON (recorded in the dataset row); a tumour's rules
        as the parameters that differ from these."""
        out = self._plain()
        if self.by_tumour:
            out["by_tumour"] = {
                code: {k: v for k, v in r._plain().items() if out.get(k) != v}
                for code, r in self.by_tumour
            }
        return json.dumps(out, sort_keys=True, separators=(",", ":"))

    def _plain(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            if k == "by_tumour":
                continue
            if k == "substitutions":
                v = sorted(sorted(p) for p in v)
            elif isinstance(v, frozenset):
                v = sorted(v)
            out[k] = v
        return out

    def for_tumour(self, oncotree_code: str | None) -> Rules:
        """The rules for a patient's tumour type: those of the nearest listed code among
        ``oncotree_code`` and its ancestors, else these."""
        return _for_tumour(self, oncotree_code) if self.by_tumour and oncotree_code else self

    def intent_of(self, recorded: str | None) -> str | None:
        """``curative``, ``palliative`` or None: the setting a recorded intent names."""
        if not recorded:
            return None
        words = set(_WORD.findall(recorded.lower()))
        if words & {"non", "not", "no"}:  # "non-curative": a negation names no setting
            return None
        if words & self.curative_intents:
            return "curative"
        if words & self.palliative_intents:
            return "palliative"
        return None

    def partners(self, drug: str) -> frozenset[str]:
        """Drugs that may replace ``drug`` within a line."""
        return frozenset().union(*(p - {drug} for p in self.substitutions if drug in p))


INDEX_KINDS = ("anchor", "metastatic")
_WORD = re.compile(r"[a-z0-9]+")


@functools.lru_cache(maxsize=1024)
def _for_tumour(rules: Rules, code: str) -> Rules:
    listed = dict(rules.by_tumour)
    try:
        chain = [oncotree.node(code).code, *oncotree.ancestors(code)]
    except ValueError:
        return rules
    return next((listed[c] for c in chain if c in listed), rules)


@functools.cache
def default_rules() -> Rules:
    """The rules file shipped with harmonise."""
    return load_rules(RULES_PATH)


def load_rules(path: str | Path) -> Rules:
    """Read a rules file (JSON)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FhirError(f"{p}: cannot read the journey rules ({exc})") from None
    return Rules.from_mapping(doc, str(p))


@functools.cache
def regimen_library() -> dict[frozenset[str], str]:
    """Named regimens (``harmonise/data/regimens.tsv``): drug set → name."""
    out: dict[frozenset[str], str] = {}
    for line in REGIMENS_PATH.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("name\t"):
            continue
        name, drugs = line.split("\t")[:2]
        out[frozenset(drugs.split("+"))] = name
    return out


def regimen_name(drugs: Iterable[str]) -> str | None:
    """The library name of exactly this drug set, or None."""
    return regimen_library().get(frozenset(drugs))


@dataclass(frozen=True)
class Exposure:
    """One medication record: drug, start and end day (end None: a single day or open)."""

    drug: str
    start: int
    end: int | None = None
    status: str | None = None
    ref: int = -1  # index of the source row, to write its line back
    intent: str | None = None  # the recorded treatment intent (Rules.intent_of reads it)

    @property
    def last(self) -> int:
        """The last day the exposure is known to cover."""
        return self.start if self.end is None or self.end < self.start else self.end


@dataclass
class PatientFacts:
    """What the rules read besides the medications."""

    progression_days: Sequence[int] = ()
    death_day: int | None = None
    last_known_alive_day: int | None = None
    #: the day advanced (metastatic) disease is first recorded, for rules whose
    #: ``index`` is ``metastatic``; None: none recorded (all therapy is early-setting)
    index_day: int | None = 0
    oncotree_code: str | None = None  # the tumour type whose rules apply


_STAGE = re.compile(r"(?:^|\bstage\s*)(0|IV|III|II|I)(?:[A-D]\d?|IS)?(?:\b|$)", re.IGNORECASE)


def stage_group(code: str | None, display: str | None) -> str | None:
    """The TNM stage group (0, I, II, III or IV) of a stage code or display, or None; a
    SNOMED CT stage concept by ``harmonise.model.STAGE_SNOMED`` (in situ: 0)."""
    listed = STAGE_SNOMED.get(code or "")
    if listed is not None:
        m = _STAGE.match(listed)
        return "0" if m is None else m.group(1)  # IS (in situ): no roman group, stage 0
    for text in (code, display):
        m = _STAGE.search(text or "")
        if m and not (text or "").isdigit():
            return m.group(1).upper()
    return None


def patient_facts(
    patients: Iterable[Mapping[str, Any]],
    conditions: Iterable[Mapping[str, Any]],
    outcomes: Iterable[Mapping[str, Any]],
    rules: Rules | None = None,
) -> dict[str, PatientFacts]:
    """What the rules read of each patient, from lake rows (ingest and re-derivation).

    The metastatic index day (rules with ``index`` ``metastatic``): the earliest of the
    day of a stage IV primary diagnosis (its diagnosis day when staged within
    ``staging_timeframe_days`` of it or on an unknown day, else its stage day; 0 when
    neither day is known),
    a secondary (metastatic) cancer condition's diagnosis day, and, after a stage 0-III
    diagnosis, the first recorded progression (the recurrence). A patient staged 0-III
    with none of these has no index (no advanced disease recorded); a patient without a
    stage, none of the first two, is counted from the anchor (day 0)."""
    rules = rules or default_rules()
    out: dict[str, PatientFacts] = {}
    for p in patients:
        out[p["patient_id"]] = PatientFacts([], p.get("death_day"), p.get("last_known_alive_day"))
    for o in outcomes:
        if (
            o.get("kind") == "disease_status"
            and (o.get("code") in rules.progression_codes or o.get("status") == "progression")
            and o.get("days_from_diagnosis") is not None
        ):
            f = out.setdefault(o["patient_id"], PatientFacts([]))
            f.progression_days = [*f.progression_days, o["days_from_diagnosis"]]
    primary: dict[str, Mapping[str, Any]] = {}
    metastatic: dict[str, list[int]] = {}
    for c in conditions:
        pid = c["patient_id"]
        if c.get("kind") == "secondary":
            metastatic.setdefault(pid, []).append(c.get("diagnosis_day") or 0)
            continue
        day = c.get("diagnosis_day")
        have = primary.get(pid)
        if have is None or (day is not None and day < (have.get("diagnosis_day") or 0)):
            primary[pid] = c
    for pid, f in out.items():
        c = primary.get(pid) or {}
        f.oncotree_code = c.get("oncotree_code")
        stage = stage_group(c.get("stage_group"), c.get("stage_group_display"))
        seen = list(metastatic.get(pid, []))
        if stage == "IV":
            dx, staged = c.get("diagnosis_day"), c.get("stage_day")
            if dx is not None and (staged is None or staged - dx <= rules.staging_timeframe_days):
                seen.append(dx)  # the stage at diagnosis: metastatic from the diagnosis on
            else:
                seen.append(staged if staged is not None else 0)
        elif stage is not None and f.progression_days:
            seen.append(min(f.progression_days))
        f.index_day = min(seen) if seen else (None if stage is not None else 0)
    return out


@dataclass
class _Line:
    start: int
    window_end: int
    drugs: set[str]  # every drug of the line
    initial: set[str]  # the drugs of the regimen window: the line's name
    exposures: list[Exposure] = field(default_factory=list)

    @property
    def last(self) -> int:
        return max(e.last for e in self.exposures)


@dataclass(frozen=True)
class Line:
    """A derived line of therapy."""

    line: int
    drugs: tuple[str, ...]
    start_day: int
    end_day: int
    end_reason: str
    next_line_start_day: int | None
    regimens: tuple[tuple[tuple[str, ...], int, int], ...]  # (drugs, start, end)
    refs: tuple[int, ...]


def derive_lines(
    exposures: Iterable[Exposure], facts: PatientFacts, rules: Rules | None = None
) -> list[Line]:
    """One patient's lines of therapy by the rules (see the module doc)."""
    rules = (rules or default_rules()).for_tumour(facts.oncotree_code)
    index = facts.index_day if rules.index == "metastatic" else 0
    every = sorted(exposures, key=lambda e: (e.start, e.drug))
    if rules.index == "metastatic" and (rules.curative_intents or rules.palliative_intents):
        # intent: curative-intent therapy is no line; palliative intent is advanced disease
        every = [e for e in every if rules.intent_of(e.intent) != "curative"]
        palliative = [e.start for e in every if rules.intent_of(e.intent) == "palliative"]
        if palliative:
            index = min(palliative) if index is None else min(index, min(palliative))
    if index is None:
        return []  # no advanced disease recorded: early-setting therapy only, no lines
    exps = [e for e in every if not rules.first_line_on_or_after_anchor or e.start >= index]
    progressions = sorted(facts.progression_days)
    raw: list[_Line] = []
    cur: _Line | None = None
    for e in exps:
        if cur is None:
            # early-setting drugs still running when the first line starts join it (rule 8)
            early = (
                [x for x in every if x.start < index and x.last >= e.start]
                if index and rules.first_line_on_or_after_anchor
                else []
            )
            cur = _open(e, rules, early)
            raw.append(cur)
            continue
        gap = e.start - cur.last
        in_line = e.drug in cur.drugs
        if gap > rules.gap_days and not (in_line and e.drug in rules.gap_exempt_drugs):
            cur = _open(e, rules, [])  # rule 3: a gap ends the line, nothing carries over
            raw.append(cur)
            continue
        if e.start <= cur.window_end or in_line:  # rules 2 and 4
            if e.start <= cur.window_end:
                cur.initial.add(e.drug)
            cur.drugs.add(e.drug)
            cur.exposures.append(e)
            continue
        progressed = rules.progression_change_advances_line and any(
            cur.start < p <= e.start for p in progressions
        )
        allowed = not progressed and (
            bool(rules.partners(e.drug) & cur.drugs)  # rule 6
            or e.drug in rules.switch_maintenance_drugs  # rule 7
        )
        if allowed:
            cur.drugs.add(e.drug)
            cur.exposures.append(e)
            continue
        running = [x for x in cur.exposures if x.last >= e.start]  # rule 8
        cur = _open(e, rules, running)
        raw.append(cur)
    lines: list[tuple[int, list[Exposure], tuple[str, ...]]] = []
    for ln in raw:
        lines += _split_dropped(ln, rules)
    return _finish(lines, facts, rules)


def _open(e: Exposure, rules: Rules, running: list[Exposure]) -> _Line:
    ln = _Line(e.start, e.start + rules.regimen_window_days, {e.drug}, {e.drug}, [e])
    for x in running:
        ln.drugs.add(x.drug)
        ln.initial.add(x.drug)
        ln.exposures.append(Exposure(x.drug, e.start, x.end, x.status, -1, x.intent))
    return ln


def _eras(exps: Sequence[Exposure]) -> dict[str, tuple[int, int]]:
    eras: dict[str, tuple[int, int]] = {}
    for x in exps:
        lo, hi = eras.get(x.drug, (x.start, x.last))
        eras[x.drug] = (min(lo, x.start), max(hi, x.last))
    return eras


def _segments(
    start: int, exps: Sequence[Exposure], rules: Rules
) -> list[tuple[tuple[str, ...], int, int]]:
    """The regimens of a line: (sorted drugs, first day, last day)."""
    eras = _eras(exps)
    end = max(hi for _, hi in eras.values())
    window_end = start + rules.regimen_window_days
    cuts = {start}
    w = rules.regimen_window_days
    for lo, hi in eras.values():
        if lo > window_end:
            cuts.add(lo)
        # a drug's end begins a new period when others run on for more than the window,
        # unless a drug starts within the window after it (a switch: the start cuts)
        if any(h2 > hi + w for _, h2 in eras.values()) and not any(
            hi < l2 <= hi + w and l2 > window_end for l2, _ in eras.values()
        ):
            cuts.add(hi + 1)
    bounds = sorted(c for c in cuts if c <= end)
    out: list[tuple[tuple[str, ...], int, int]] = []
    for i, lo in enumerate(bounds):
        hi = bounds[i + 1] - 1 if i + 1 < len(bounds) else end
        if i == 0:
            drugs = {d for d, (a, b) in eras.items() if a <= max(hi, window_end) and b >= lo}
        else:
            drugs = {d for d, (a, b) in eras.items() if a <= hi and b >= lo}
        if not drugs:
            continue
        key = tuple(sorted(drugs))
        if out and out[-1][0] == key:
            out[-1] = (key, out[-1][1], hi)
        else:
            out.append((key, lo, hi))
    return out


def _split_dropped(ln: _Line, rules: Rules) -> list[tuple[int, list[Exposure], tuple[str, ...]]]:
    """Rule 9: with ``dropped_drugs_advance_line``, a reduced regimen that is not
    continuation maintenance starts a new line."""
    first = tuple(sorted(ln.initial))
    if not rules.dropped_drugs_advance_line:
        return [(ln.start, ln.exposures, first)]
    initial = set(ln.initial)
    out: list[tuple[int, list[Exposure], tuple[str, ...]]] = []
    start, drugs, rest = ln.start, first, list(ln.exposures)
    for seg, lo, _hi in _segments(ln.start, ln.exposures, rules)[1:]:
        s = set(seg)
        if s < initial and not s <= rules.continuation_maintenance_drugs:
            out.append((start, [x for x in rest if x.start < lo], drugs))
            rest = [x for x in rest if x.start >= lo] or [
                Exposure(d, lo, None, None, -1) for d in seg
            ]
            start, drugs = lo, seg
    out.append((start, rest, drugs))
    return out


def _finish(
    raw: list[tuple[int, list[Exposure], tuple[str, ...]]], facts: PatientFacts, rules: Rules
) -> list[Line]:
    out: list[Line] = []
    alive = facts.last_known_alive_day
    for i, (start, exps, drugs) in enumerate(raw):
        nxt = raw[i + 1][0] if i + 1 < len(raw) else None
        end = max(x.last for x in exps)
        if nxt is not None:
            end = min(end, nxt - 1)
        progressed = any(start < p and (nxt is None or p <= nxt) for p in facts.progression_days)
        if nxt is not None:
            reason = "progression" if progressed else "next_line"
        elif facts.death_day is None and any(
            (x.status or "") in rules.ongoing_statuses
            and (x.end is None or (alive is not None and x.end >= alive))
            for x in exps
        ):
            reason = "ongoing"
        elif facts.death_day is not None and facts.death_day - end <= rules.death_within_days:
            reason = "death"
        elif progressed:
            reason = "progression"
        else:
            reason = "last_contact"
        regimens = tuple(
            (d, lo, min(hi, end)) for d, lo, hi in _segments(start, exps, rules) if lo <= end
        )
        out.append(
            Line(i + 1, drugs, start, end, reason, nxt, regimens, _refs(exps)),
        )
    return out


def _refs(exps: Sequence[Exposure]) -> tuple[int, ...]:
    return tuple(x.ref for x in exps if x.ref >= 0)


def journey_rows(
    treatments: Sequence[dict[str, Any]],
    facts: Mapping[str, PatientFacts],
    rules: Rules | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``lines_of_therapy`` and ``regimens`` rows of every patient in ``treatments``
    (lake ``treatments`` rows with ``start_day``); sets each used row's
    ``line_of_therapy``."""
    rules = rules or default_rules()
    by_patient: dict[str, list[Exposure]] = {}
    for i, t in enumerate(treatments):
        if (
            t.get("kind") in rules.systemic_kinds
            and t.get("drug_mapped")
            and t.get("drug")
            and t.get("start_day") is not None
        ):
            by_patient.setdefault(t["patient_id"], []).append(
                Exposure(
                    t["drug"],
                    t["start_day"],
                    t.get("end_day"),
                    t.get("status"),
                    i,
                    t.get("intent"),
                )
            )
    lines_out: list[dict[str, Any]] = []
    regimens_out: list[dict[str, Any]] = []
    for pid in sorted(by_patient):
        for ln in derive_lines(by_patient[pid], facts.get(pid) or PatientFacts(), rules):
            for ref in ln.refs:
                treatments[ref]["line_of_therapy"] = ln.line
            lines_out.append(
                {
                    "patient_id": pid,
                    "line": ln.line,
                    "drugs": list(ln.drugs),
                    "regimen_name": regimen_name(ln.drugs),
                    "start_day": ln.start_day,
                    "end_day": ln.end_day,
                    "end_reason": ln.end_reason,
                    "next_line_start_day": ln.next_line_start_day,
                    "rules_version": rules.version,
                }
            )
            for n, (drugs, lo, hi) in enumerate(ln.regimens, start=1):
                regimens_out.append(
                    {
                        "patient_id": pid,
                        "regimen_id": f"{pid}/L{ln.line}R{n}",
                        "drugs": list(drugs),
                        "regimen_name": regimen_name(drugs),
                        "start_day": lo,
                        "end_day": hi,
                        "line": ln.line,
                        "rules_version": rules.version,
                    }
                )
    return lines_out, regimens_out
