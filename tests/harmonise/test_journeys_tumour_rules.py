"""Lines of therapy where the published rules differ by tumour type or by setting.

One hand-written journey per rule, the expected lines stated from the rule's text:

* Index date (all tumour types): Meng et al., JMIR Med Inform 2021;9(10):e29017
  (PMC8548977), Table 5, "L1 first drug: on or after index date", footnote b "Index date
  defined as date of recorded metastatic non-small cell lung cancer diagnosis"; Saini &
  Twelves, Br J Cancer 2021;125:155 (PMC8292475): therapy "administered with curative
  intent and/or in the early setting" is counted apart (CLoT) from therapy "given with
  palliative intent and/or in the advanced setting" (PLoT). So (neo)adjuvant therapy,
  adjuvant endocrine therapy of HR+ breast cancer included, is no line of advanced disease.
* Intent (rules 2026-12.3): Saini & Twelves (as above) count therapy "with curative intent
  and/or in the early setting" apart from therapy "with palliative intent and/or in the
  advanced setting", the treating clinician deciding where the two disagree (their Fig. 1
  legend); the mCODE treatment-intent extension records that decision (SNOMED CT
  373808002 curative, 363676003 palliative). So a curative-intent record is no line after
  a metastatic index too, and a palliative-intent record is advanced-setting therapy when
  no metastatic disease is recorded (or before it is).
* Maintenance (NSCLC only): Table 5's "additional modules" list continuation and switch
  maintenance drugs for metastatic NSCLC; the algorithm's release keeps them in the
  NSCLC reference folder (Merck/Line-of-Therapy-Algorithm
  ``R/reference/NSCLC/cases_maintenance.csv``), its HNSCC maintenance table is empty.
* Substitutions: HNSCC adds capecitabine <-> fluorouracil (``R/reference/HNSCC/
  cases_substitutions.csv``); melanoma has none (``reference/MELANOMA/
  cases_substitutions.csv``, header only).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from harmonise.errors import FhirError
from harmonise.journeys import (
    Exposure,
    Line,
    PatientFacts,
    Rules,
    default_rules,
    derive_lines,
    journey_rows,
    load_rules,
    patient_facts,
    stage_group,
)


def cycles(drug: str, first: int, n: int, every: int = 21) -> list[Exposure]:
    return [Exposure(drug, first + i * every, None, "completed") for i in range(n)]


def derive(exps: list[Exposure], tumour: str, index_day: int | None = 0) -> list[Line]:
    facts = PatientFacts(last_known_alive_day=3000, index_day=index_day, oncotree_code=tumour)
    return derive_lines(exps, facts)


def drugs(ls: list[Line]) -> list[tuple[int, tuple[str, ...], int]]:
    return [(ln.line, ln.drugs, ln.start_day) for ln in ls]


def facts_of(stage: str | None, **kw: Any) -> PatientFacts:
    cond = {"patient_id": "p", "kind": "primary", "oncotree_code": "IDC", "diagnosis_day": 0,
            "stage_group": None, "stage_group_display": stage,
            "stage_day": kw.get("stage_day", 5)}  # fmt: skip
    conditions = [cond, *kw.get("secondary", [])]
    outcomes = [
        {"patient_id": "p", "kind": "disease_status", "code": "271299001", "days_from_diagnosis": d}
        for d in kw.get("progressions", [])
    ]
    patients = [{"patient_id": "p", "death_day": None, "last_known_alive_day": 3000}]
    return patient_facts(patients, conditions, outcomes)["p"]


# -- the index: early-setting therapy is no line ---------------------------------------------

#: HR+ early breast cancer: adjuvant AC (4 cycles every 21 days from day 30), then
#: letrozole from day 120 to day 1900; a relapse is recorded on day 1500 and fulvestrant +
#: palbociclib start on day 1520.
ADJUVANT = [*cycles("doxorubicin", 30, 4), *cycles("cyclophosphamide", 30, 4)]
ENDOCRINE = [Exposure("letrozole", 120, 1400, "completed")]
METASTATIC = [*cycles("fulvestrant", 1520, 6, 28), *cycles("palbociclib", 1520, 6, 28)]


def test_adjuvant_chemotherapy_and_endocrine_therapy_are_no_lines() -> None:
    """Staged II, no metastasis or progression recorded: no index, so no line at all
    (before, AC was line 1 and letrozole line 2)."""
    f = facts_of("Stage II")
    assert f.index_day is None and f.oncotree_code == "IDC"
    assert derive_lines([*ADJUVANT, *ENDOCRINE], f) == []


def test_first_line_starts_at_the_recurrence() -> None:
    """The progression recorded on day 1500 after stage II disease is the index: the
    first drugs on or after it (fulvestrant + palbociclib, day 1520) are line 1."""
    f = facts_of("Stage IIB", progressions=[1500])
    assert f.index_day == 1500
    got = derive_lines([*ADJUVANT, *ENDOCRINE, *METASTATIC], f)
    assert drugs(got) == [(1, ("fulvestrant", "palbociclib"), 1520)]
    assert got[0].start_day == 1520 and got[0].end_reason == "last_contact"


def test_stage_iv_at_diagnosis_is_indexed_at_its_staging() -> None:
    """Stage IV on the primary diagnosis, the stage observation on day 5: the stage at
    diagnosis (AJCC's staging timeframe, 4 months), so the index is the diagnosis day and
    a first line started on day 3, before the observation was recorded, counts (as the
    demo's RCC patients on sunitinib from day 17, staged on day 18, showed: no line
    before 2026-12.3). Staged on day 400 instead, it is a restaging: indexed there."""
    f = facts_of("Stage IV", progressions=[900])
    assert f.index_day == 0  # the diagnosis, not the stage observation nor the progression
    got = derive_lines([*cycles("letrozole", 3, 1), *cycles("palbociclib", 3, 1)], f)
    assert drugs(got) == [(1, ("letrozole", "palbociclib"), 3)]
    late = facts_of("Stage IV", stage_day=400)
    assert late.index_day == 400


def test_secondary_cancer_condition_is_a_metastatic_index() -> None:
    f = facts_of("Stage I", secondary=[{"patient_id": "p", "kind": "secondary",
                                        "diagnosis_day": 700}])  # fmt: skip
    assert f.index_day == 700


def test_unstaged_patient_is_counted_from_the_anchor() -> None:
    f = facts_of(None, progressions=[400])
    assert f.index_day == 0
    assert drugs(derive_lines(ADJUVANT, f)) == [(1, ("cyclophosphamide", "doxorubicin"), 30)]


def test_endocrine_therapy_still_running_at_the_index_joins_line_1() -> None:
    """Letrozole to day 1900 is still given when palbociclib is added at the relapse on
    day 1520: line 1 is letrozole + palbociclib (drugs still running join a new line, as
    in rule 8 of harmonise.journeys)."""
    exps = [*ADJUVANT, Exposure("letrozole", 120, 1900), *cycles("palbociclib", 1520, 6, 28)]
    got = derive(exps, "IDC", index_day=1500)
    assert drugs(got) == [(1, ("letrozole", "palbociclib"), 1520)]


# -- the recorded intent ----------------------------------------------------------------------

CURATIVE = "Curative - procedure intent (qualifier value)"  # as the mCODE examples write it
PALLIATIVE = "363676003"  # a centre sending the code without a display


def with_intent(exps: list[Exposure], intent: str | None) -> list[Exposure]:
    return [dataclasses.replace(e, intent=intent) for e in exps]


#: Colorectal cancer with liver metastases at diagnosis (stage IV, indexed at diagnosis):
#: perioperative FOLFOX around the liver resection with curative intent (day 20, 12
#: cycles every 14 days), a recurrence on day 400, then FOLFIRI + bevacizumab from day 420.
FOLFOX = [*cycles("fluorouracil", 20, 12, 14), *cycles("leucovorin", 20, 12, 14),
          *cycles("oxaliplatin", 20, 12, 14)]  # fmt: skip
FOLFIRI_BEV = [*cycles("fluorouracil", 420, 6, 14), *cycles("leucovorin", 420, 6, 14),
               *cycles("irinotecan", 420, 6, 14), *cycles("bevacizumab", 420, 6, 14)]  # fmt: skip


def test_curative_intent_is_no_line_after_the_metastatic_index() -> None:
    f = facts_of("Stage IVA", progressions=[400])
    f.oncotree_code = "COADREAD"
    assert f.index_day == 0
    got = derive_lines([*with_intent(FOLFOX, CURATIVE), *FOLFIRI_BEV], f)
    assert drugs(got) == [(1, ("bevacizumab", "fluorouracil", "irinotecan", "leucovorin"), 420)]
    # the same records without an intent: the setting alone decides, FOLFOX is line 1
    assert [ln.start_day for ln in derive_lines([*FOLFOX, *FOLFIRI_BEV], f)] == [20, 420]


def test_palliative_intent_is_advanced_disease_when_none_is_recorded() -> None:
    """Stage II breast cancer, no metastasis or progression recorded (no index): palliative
    capecitabine from day 800 is line 1; without the intent it would be no line."""
    f = facts_of("Stage II")
    assert f.index_day is None
    exps = [*ADJUVANT, *with_intent(cycles("capecitabine", 800, 4), PALLIATIVE)]
    assert drugs(derive_lines(exps, f)) == [(1, ("capecitabine",), 800)]
    assert derive_lines([*ADJUVANT, *cycles("capecitabine", 800, 4)], f) == []


def test_palliative_intent_before_the_recorded_index_starts_line_1() -> None:
    """A metastasis recorded on day 900 (a secondary condition), palliative paclitaxel
    from day 850: line 1 starts on day 850, not at the first drug after day 900."""
    f = facts_of("Stage I", secondary=[{"patient_id": "p", "kind": "secondary",
                                        "diagnosis_day": 900}])  # fmt: skip
    exps = [*with_intent(cycles("paclitaxel", 850, 6, 7), "Palliative"),
            *cycles("capecitabine", 1000, 4)]  # fmt: skip
    assert drugs(derive_lines(exps, f)) == [(1, ("paclitaxel",), 850), (2, ("capecitabine",), 1000)]


@pytest.mark.parametrize(
    ("recorded", "setting"),
    [(CURATIVE, "curative"), ("373808002", "curative"), ("Palliative - procedure intent",
      "palliative"), (PALLIATIVE, "palliative"), ("Incurable", None), ("Non-curative", None),
     (None, None)],
)  # fmt: skip
def test_intent_is_read_from_its_display_or_code(recorded: str | None, setting: str) -> None:
    assert default_rules().intent_of(recorded) == setting


def test_intent_reaches_the_rows_and_is_not_read_when_counting_from_the_anchor() -> None:
    rows = [
        {"patient_id": "p", "kind": "medication", "drug": d, "drug_mapped": True,
         "start_day": day, "end_day": None, "status": "completed", "intent": intent}
        for d, day, intent in [("oxaliplatin", 20, CURATIVE), ("irinotecan", 420, None)]
    ]  # fmt: skip
    lot, _ = journey_rows(rows, {"p": PatientFacts(index_day=5, oncotree_code="COADREAD")})
    assert [(r["line"], r["drugs"]) for r in lot] == [(1, ["irinotecan"])]
    assert [r.get("line_of_therapy") for r in rows] == [None, 1]
    anchor = dataclasses.replace(default_rules(), index="anchor")
    lot, _ = journey_rows([dict(r) for r in rows], {"p": PatientFacts(index_day=5)}, anchor)
    assert [(r["line"], r["drugs"]) for r in lot] == [(1, ["oxaliplatin"]), (2, ["irinotecan"])]


@pytest.mark.parametrize(
    ("code", "display", "group"),
    [
        ("1222837003", None, "IV"), ("1222806003", "American Joint Committee on Cancer stage "
                                     "IIIC (qualifier value)", "III"),
        ("IIIA", None, "III"), (None, "Stage IVB", "IV"), (None, "Stage 0is", "0"),
        ("1222723001", "Stage I", "I"), (None, None, None), ("T2", "unknown", None),
    ],
)  # fmt: skip
def test_stage_groups(code: str | None, display: str | None, group: str | None) -> None:
    assert stage_group(code, display) == group


def test_every_snomed_stage_concept_gives_its_group_without_a_display() -> None:
    """The one stage table (harmonise.model.STAGE_SNOMED, the catalogue's too): a code
    alone gives the group, e.g. IIIC2 -> III, in situ -> 0 (before, only the stage IV
    codes were known without a display)."""
    from harmonise.model import STAGE_SNOMED

    assert len(STAGE_SNOMED) == 32
    for code, group in STAGE_SNOMED.items():
        want = "0" if group in ("IS",) or group.startswith("0") else group.rstrip("ABCD0123")
        assert stage_group(code, None) == want, (code, group)


# -- maintenance and substitutions by tumour type -------------------------------------------


def test_switch_maintenance_is_nsclc_only() -> None:
    """Carboplatin + pemetrexed, then docetaxel from day 90: switch maintenance of line 1
    in NSCLC (Table 5, additional modules); in metastatic breast cancer, with no
    maintenance list, docetaxel is line 2."""
    exps = [*cycles("carboplatin", 0, 4), *cycles("pemetrexed", 0, 4), *cycles("docetaxel", 90, 4)]
    assert drugs(derive(exps, "LUAD")) == [(1, ("carboplatin", "pemetrexed"), 0)]
    assert drugs(derive(exps, "IDC")) == [
        (1, ("carboplatin", "pemetrexed"), 0), (2, ("docetaxel",), 90)
    ]  # fmt: skip


def test_capecitabine_for_fluorouracil_keeps_the_line_in_hnscc() -> None:
    """Cisplatin + fluorouracil, then capecitabine replacing fluorouracil from day 63:
    one line in HNSCC (its substitution table), two in colorectal cancer (none listed)."""
    exps = [
        *cycles("cisplatin", 0, 6),
        *cycles("fluorouracil", 0, 3),
        *cycles("capecitabine", 63, 3),
    ]
    assert drugs(derive(exps, "HNSC")) == [(1, ("cisplatin", "fluorouracil"), 0)]
    assert drugs(derive(exps, "COADREAD")) == [
        (1, ("cisplatin", "fluorouracil"), 0), (2, ("capecitabine", "cisplatin"), 63)
    ]  # fmt: skip


def test_no_substitutions_in_melanoma() -> None:
    """Carboplatin + paclitaxel, then cisplatin for carboplatin on day 63: one line by
    the basic modules (NSCLC), two in melanoma (its substitution table is empty)."""
    exps = [*cycles("carboplatin", 0, 3), *cycles("paclitaxel", 0, 6), *cycles("cisplatin", 63, 3)]
    assert drugs(derive(exps, "LUAD")) == [(1, ("carboplatin", "paclitaxel"), 0)]
    assert drugs(derive(exps, "SKCM")) == [
        (1, ("carboplatin", "paclitaxel"), 0), (2, ("cisplatin", "paclitaxel"), 63)
    ]  # fmt: skip


def test_breast_gets_the_basic_modules() -> None:
    """No published line-of-therapy rule set for metastatic breast cancer was found
    (docs/ingest.md); the basic modules apply, as these four journeys (IDC) pin:
    letrozole + palbociclib started together is one line; palbociclib added on day 60 to
    running letrozole is a new line that letrozole joins; letrozole replaced by
    fulvestrant without a progression is a new line (no endocrine substitution is listed);
    docetaxel dropped from docetaxel + trastuzumab + pertuzumab keeps the line."""
    endo = [Exposure("letrozole", 0, 400)]
    assert drugs(derive([*endo, *cycles("palbociclib", 10, 12, 28)], "IDC")) == [
        (1, ("letrozole", "palbociclib"), 0)
    ]  # fmt: skip
    assert drugs(derive([*endo, *cycles("palbociclib", 60, 12, 28)], "IDC")) == [
        (1, ("letrozole",), 0), (2, ("letrozole", "palbociclib"), 60)
    ]  # fmt: skip
    switch = [Exposure("letrozole", 0, 300), Exposure("fulvestrant", 301, 600)]
    assert drugs(derive(switch, "IDC")) == [(1, ("letrozole",), 0), (2, ("fulvestrant",), 301)]
    her2 = [*cycles("docetaxel", 0, 6), *cycles("trastuzumab", 0, 20), *cycles("pertuzumab", 0, 20)]
    assert drugs(derive(her2, "IDC")) == [(1, ("docetaxel", "pertuzumab", "trastuzumab"), 0)]


# -- the rules file ------------------------------------------------------------------------


def test_rules_round_trip_through_their_json() -> None:
    r = default_rules()
    again = Rules.from_mapping(json.loads(r.to_json()))
    assert again == r and again.to_json() == r.to_json()
    assert {code for code, _ in r.by_tumour} == {"NSCLC", "HNSC", "MEL"}


def test_bad_tumour_rules_name_the_code(tmp_path: Path) -> None:
    doc = json.loads(default_rules().to_json())
    doc["by_tumour"] = {"NOTACODE": {"gap_days": 60}}
    p = tmp_path / "rules.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(FhirError, match=r"by_tumour\.NOTACODE: not an OncoTree code"):
        load_rules(p)
    doc["by_tumour"] = {"MEL": {"gap_days": -1}}
    p.write_text(json.dumps(doc))
    with pytest.raises(FhirError, match=r"by_tumour\.MEL: gap_days must be a whole number"):
        load_rules(p)
    doc["index"] = "relapse"
    p.write_text(json.dumps(doc))
    with pytest.raises(FhirError, match="index must be one of anchor, metastatic"):
        load_rules(p)
