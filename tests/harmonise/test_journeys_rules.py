"""Lines of therapy: one hand-written journey per rule, with the lines the rule implies.

Every rule is one row of Meng et al., "An Automated Line-of-Therapy Algorithm for Adults
With Metastatic Non-Small Cell Lung Cancer: Validation Study Using Blinded Manual Chart
Review", JMIR Med Inform 2021;9(10):e29017 (PMC8548977), Table 5 ("Line-of-therapy
algorithm parameters for metastatic non-small cell lung cancer"), so the journeys are
derived with the rules for NSCLC (``default_rules().for_tumour("NSCLC")``): L1 first drug on
or after the index date; line regimen window <= 28 days after the first drug; new drug line
advancement at its first instance; allowed substitutions cisplatin <-> carboplatin and
paclitaxel <-> albumin-bound paclitaxel; gap in therapy > 120 days (pre-refinement;
> 180 post-refinement) with allowed gaps for erlotinib, afatinib, brigatinib, crizotinib,
ceritinib, alectinib, gefitinib, osimertinib; continuation maintenance bevacizumab,
pemetrexed, atezolizumab, gemcitabine; switch maintenance pemetrexed, docetaxel;
"combination dropped drugs to advance LOT" an optional flag. The days below are the
journeys' own; what each test expects follows from the row it names.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

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
)


def cycles(
    drug: str, first: int, n: int, every: int = 21, status: str = "completed"
) -> list[Exposure]:
    """``n`` single-day administrations of ``drug`` every ``every`` days from ``first``."""
    return [Exposure(drug, first + i * every, None, status) for i in range(n)]


def lines(
    exps: list[Exposure], facts: PatientFacts | None = None, tumour: str = "NSCLC", **rules: object
) -> list[Line]:
    r = dataclasses.replace(default_rules().for_tumour(tumour), **rules)
    return derive_lines(exps, facts or PatientFacts(last_known_alive_day=2000), r)


def summary(ls: list[Line]) -> list[tuple[int, tuple[str, ...], int, int, str]]:
    return [(ln.line, ln.drugs, ln.start_day, ln.end_day, ln.end_reason) for ln in ls]


def test_rules_file_is_table5_with_its_parameters() -> None:
    base = default_rules()
    assert base.index == "metastatic"  # footnote b: the index date is the metastatic diagnosis
    assert not base.switch_maintenance_drugs and not base.continuation_maintenance_drugs
    r = base.for_tumour("LUAD")  # lung adenocarcinoma: a kind of NSCLC
    assert r is base.for_tumour("NSCLC") and r.version == base.version
    assert r.regimen_window_days == 28 and r.gap_days == 120
    assert r.partners("cisplatin") == {"carboplatin"}
    assert r.partners("nab-paclitaxel") == {"paclitaxel"}
    assert r.switch_maintenance_drugs == {"pemetrexed", "docetaxel"}
    assert r.continuation_maintenance_drugs == {
        "bevacizumab", "pemetrexed", "atezolizumab", "gemcitabine"
    }  # fmt: skip
    assert "osimertinib" in r.gap_exempt_drugs and "pembrolizumab" not in r.gap_exempt_drugs
    assert json.loads(base.to_json())["version"] == r.version
    assert json.loads(base.to_json())["by_tumour"]["NSCLC"]["switch_maintenance_drugs"] == [
        "docetaxel", "pemetrexed"
    ]  # fmt: skip


def test_first_line_starts_on_or_after_the_anchor() -> None:
    """Table 5, 'L1 first drug: on or after index date': a drug before day 0 is no line."""
    got = lines([Exposure("tamoxifen", -40), *cycles("docetaxel", 10, 4)])
    assert summary(got) == [(1, ("docetaxel",), 10, 73, "last_contact")]


def test_regimen_window_is_28_days_inclusive() -> None:
    """'Line regimen window <= 28 days after first drug': day 28 joins, day 29 does not."""
    exps = [
        *cycles("carboplatin", 0, 4),
        *cycles("pemetrexed", 7, 4),
        Exposure("pembrolizumab", 28),
    ]
    assert lines(exps)[0].drugs == ("carboplatin", "pembrolizumab", "pemetrexed")
    late = [*cycles("carboplatin", 0, 4), Exposure("pembrolizumab", 29)]
    got = lines(late)
    assert [ln.drugs for ln in got] == [("carboplatin",), ("carboplatin", "pembrolizumab")]
    assert got[0].end_reason == "next_line" and got[0].next_line_start_day == 29
    assert got[0].end_day == 21  # its last dose before the next line


def test_new_drug_after_the_window_advances_the_line() -> None:
    """'New drug line advancement: first instance' (no progression needed)."""
    exps = [*cycles("osimertinib", 0, 10, every=30), *cycles("carboplatin", 290, 4)]
    got = lines(exps)
    # osimertinib's last record (day 270) ended before carboplatin: nothing carries over
    assert [(ln.drugs, ln.start_day) for ln in got] == [
        (("osimertinib",), 0), (("carboplatin",), 290)
    ]  # fmt: skip


def test_drug_still_running_joins_the_new_line() -> None:
    """A drug whose exposure spans the new drug's start is part of the new regimen."""
    exps = [Exposure("osimertinib", 0, 500), Exposure("bevacizumab", 200, 400)]
    got = lines(exps)
    assert [(ln.drugs, ln.start_day, ln.end_day) for ln in got] == [
        (("osimertinib",), 0, 199),
        (("bevacizumab", "osimertinib"), 200, 500),
    ]


def test_gap_over_120_days_starts_a_new_line_with_the_same_drugs() -> None:
    """'Gap in therapy window > 120 days': 121 days after the last dose is a new line,
    120 days is not."""
    first = [*cycles("carboplatin", 0, 4), *cycles("paclitaxel", 0, 4)]  # last dose day 63
    again = lines([*first, Exposure("carboplatin", 63 + 121), Exposure("paclitaxel", 63 + 121)])
    assert summary(again) == [
        (1, ("carboplatin", "paclitaxel"), 0, 63, "next_line"),
        (2, ("carboplatin", "paclitaxel"), 184, 184, "last_contact"),
    ]
    same = lines([*first, Exposure("carboplatin", 63 + 120)])
    assert len(same) == 1 and same[0].end_day == 183


def test_gap_rule_parameter_is_read_from_the_rules() -> None:
    """Post-refinement Table 5 uses > 180 days: the same journey is then one line."""
    exps = [*cycles("docetaxel", 0, 4), Exposure("docetaxel", 63 + 150)]
    assert len(lines(exps)) == 2
    assert len(lines(exps, gap_days=180)) == 1


def test_allowed_gap_for_tkis() -> None:
    """'Exceptions (allowed gaps)': an osimertinib refill after 200 days stays in the
    line; pembrolizumab after the same gap does not."""
    tki = lines([Exposure("osimertinib", 0, 60), Exposure("osimertinib", 260, 400)])
    assert summary(tki) == [(1, ("osimertinib",), 0, 400, "last_contact")]
    io = lines([Exposure("pembrolizumab", 0, 60), Exposure("pembrolizumab", 260, 400)])
    assert [ln.start_day for ln in io] == [0, 260]


@pytest.mark.parametrize(
    ("old", "new"), [("cisplatin", "carboplatin"), ("paclitaxel", "nab-paclitaxel")]
)
def test_allowed_substitution_keeps_the_line(old: str, new: str) -> None:
    """'Exceptions (allowed substitutions)': cisplatin <-> carboplatin, paclitaxel <->
    albumin-bound paclitaxel; the line keeps its name, the regimens show the switch."""
    partner = "pemetrexed" if old == "cisplatin" else "carboplatin"
    exps = [*cycles(old, 0, 2), *cycles(partner, 0, 4), *cycles(new, 42, 2)]
    (ln,) = lines(exps)
    assert ln.drugs == tuple(sorted((old, partner)))
    assert [d for d, _, _ in ln.regimens] == [
        tuple(sorted((old, partner))), tuple(sorted((new, partner)))
    ]  # fmt: skip
    # a drug of another class after the window is not a substitution
    other = lines([*cycles(old, 0, 2), *cycles("gemcitabine", 42, 2)])
    assert len(other) == 2


def test_switch_maintenance_keeps_the_line() -> None:
    """'Switch maintenance: pemetrexed, docetaxel': pemetrexed after a platinum doublet
    is maintenance of line 1, not line 2."""
    exps = [
        *cycles("carboplatin", 0, 4),
        *cycles("gemcitabine", 0, 4),
        *cycles("pemetrexed", 84, 6),
    ]
    (ln,) = lines(exps)
    assert ln.drugs == ("carboplatin", "gemcitabine") and ln.end_day == 84 + 5 * 21
    assert ln.regimens[-1][0] == ("pemetrexed",)


def test_continuation_maintenance_dropped_drugs_keep_the_line() -> None:
    """KEYNOTE-189 practice: four cycles of carboplatin + pemetrexed + pembrolizumab, then
    pemetrexed + pembrolizumab; dropping carboplatin does not advance the line (Table 5:
    'combination dropped drugs to advance LOT' not used)."""
    exps = [
        *cycles("carboplatin", 0, 4), *cycles("pemetrexed", 0, 12), *cycles("pembrolizumab", 0, 12)
    ]  # fmt: skip
    (ln,) = lines(exps)
    assert [(d, lo, hi) for d, lo, hi in ln.regimens] == [
        (("carboplatin", "pembrolizumab", "pemetrexed"), 0, 63),
        (("pembrolizumab", "pemetrexed"), 64, 231),
    ]
    rows, regs = journey_rows(
        [
            {
                "patient_id": "p",
                "kind": "medication",
                "drug": e.drug,
                "drug_mapped": True,
                "start_day": e.start,
                "end_day": e.end,
                "status": e.status,
            }
            for e in exps
        ],
        {},
    )
    assert rows[0]["regimen_name"] == "carboplatin + pemetrexed + pembrolizumab"
    assert [r["regimen_name"] for r in regs] == [
        "carboplatin + pemetrexed + pembrolizumab", "pemetrexed + pembrolizumab maintenance"
    ]  # fmt: skip
    assert [r["regimen_id"] for r in regs] == ["p/L1R1", "p/L1R2"]


def test_dropped_drugs_flag_advances_unless_continuation_maintenance() -> None:
    """Table 5's optional flag: with it, a reduced regimen that is not continuation
    maintenance (pembrolizumab alone) starts a new line; pemetrexed alone does not."""
    base = [*cycles("carboplatin", 0, 4), *cycles("pemetrexed", 0, 4)]
    keep = [*base, *cycles("pemetrexed", 84, 4)]
    assert len(lines(keep, dropped_drugs_advance_line=True)) == 1
    io = [*cycles("carboplatin", 0, 4), *cycles("pembrolizumab", 0, 10)]
    flagged = lines(io, dropped_drugs_advance_line=True)
    assert [(ln.drugs, ln.start_day) for ln in flagged] == [
        (("carboplatin", "pembrolizumab"), 0), (("pembrolizumab",), 64)
    ]  # fmt: skip
    assert len(lines(io)) == 1


def test_progression_then_change_advances_the_line() -> None:
    """A progression followed by a change is a new line even when the change would be an
    allowed substitution; the line ends for progression."""
    exps = [*cycles("cisplatin", 0, 4), *cycles("pemetrexed", 0, 8), *cycles("carboplatin", 110, 2)]
    facts = PatientFacts(progression_days=[100], last_known_alive_day=2000)
    got = lines(exps, facts)
    assert summary(got)[0] == (1, ("cisplatin", "pemetrexed"), 0, 105, "progression")
    assert got[1].drugs == ("carboplatin", "pemetrexed")
    assert len(lines(exps)) == 1  # without the progression: a substitution


def test_treatment_beyond_progression_keeps_the_line() -> None:
    """The same drug after a progression is not a change."""
    exps = cycles("osimertinib", 0, 14, every=30)
    got = lines(exps, PatientFacts(progression_days=[200], last_known_alive_day=500))
    assert summary(got) == [(1, ("osimertinib",), 0, 390, "progression")]


def test_end_reasons_of_the_last_line() -> None:
    exps = [Exposure("osimertinib", 0, None, "active")]
    assert lines(exps, PatientFacts(last_known_alive_day=300))[0].end_reason == "ongoing"
    done = cycles("docetaxel", 0, 4)
    assert lines(done, PatientFacts(death_day=63 + 90))[0].end_reason == "death"
    assert lines(done, PatientFacts(death_day=63 + 400))[0].end_reason == "last_contact"
    assert lines(done, PatientFacts(last_known_alive_day=900))[0].end_reason == "last_contact"


def test_rows_write_the_line_back_to_the_treatments() -> None:
    rows = [
        {"patient_id": "p", "kind": "medication", "drug": "osimertinib", "drug_mapped": True,
         "start_day": 0, "end_day": 300, "status": "completed"},
        {"patient_id": "p", "kind": "medication", "drug": "ondansetron", "drug_mapped": False,
         "start_day": 0, "end_day": None, "status": "completed"},
        {"patient_id": "p", "kind": "surgery", "drug": None, "start_day": 5},
        {"patient_id": "p", "kind": "medication", "drug": "carboplatin", "drug_mapped": True,
         "start_day": 320, "end_day": None, "status": "completed"},
    ]  # fmt: skip
    lot, _ = journey_rows(rows, {"p": PatientFacts(death_day=400)})
    assert [r.get("line_of_therapy") for r in rows] == [1, None, None, 2]
    assert [(r["line"], r["drugs"], r["end_reason"], r["next_line_start_day"]) for r in lot] == [
        (1, ["osimertinib"], "next_line", 320), (2, ["carboplatin"], "death", None)
    ]  # fmt: skip
    assert {r["rules_version"] for r in lot} == {default_rules().version}


def test_bad_rules_file_names_the_parameter(tmp_path: Path) -> None:
    p = tmp_path / "rules.json"
    p.write_text(json.dumps({"version": "x", "gap_dayz": 10}))
    with pytest.raises(FhirError, match=r"unknown rule parameter.*gap_dayz"):
        load_rules(p)
    p.write_text(json.dumps({"version": "x", "gap_days": -1}))
    with pytest.raises(FhirError, match="gap_days must be a whole number"):
        load_rules(p)
    p.write_text(json.dumps({"gap_days": 1}))
    with pytest.raises(FhirError, match="'version'"):
        load_rules(p)
    assert isinstance(Rules.from_mapping({"version": "y"}), Rules)
