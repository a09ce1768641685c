"""The demo's BRAF V600E melanoma journeys (issue 24's demo question): mostly advanced,
mostly treated, first lines by the cited shares with their trials' survival order, drawn
from a stream of their own so that no other patient of the network changes."""

from __future__ import annotations

import collections
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from catalog_api.analytics.survival import kaplan_meier
from oncolake.demo import network
from oncolake.demo.journeys import (
    BRAF_MELANOMA,
    BRAF_MELANOMA_TARGETED_SHARE,
    MONTH,
    Journey,
    draw_braf_melanoma,
)
from oncolake.demo.network import CentreSpec, write_centre

PIPELINE = {"id": "oncolake/dna_seq", "version": "0.1.0", "fingerprint": "sha256:" + "ab" * 32}
CLASS = {p.name: c for c, p, _ in BRAF_MELANOMA}


def _draw(n: int) -> list[tuple[str, Journey]]:
    # diagnoses from 2000 on: long follow-up, so that even the 72-month median is reached
    return [
        draw_braf_melanoma(
            np.random.default_rng([5, i]), dt.date(2000, 1, 1) + dt.timedelta(i % 3000), f"C{i % 7}"
        )
        for i in range(n)
    ]


def _followed_to(j: Journey) -> dt.date:
    """Death, else the last known alive day as the hub computes it: the latest dated fact."""
    if j.death is not None:
        return j.death
    days = [j.last_contact, *j.progressions, *j.responses]
    days += [d for r in j.records for d in (r.start, r.end) if d is not None]
    return max(days)


def test_advanced_braf_melanoma_mostly_gets_a_first_line_by_the_cited_shares() -> None:
    drawn = _draw(3000)
    stages = collections.Counter(s for s, _ in drawn)
    assert stages["IV"] / len(drawn) == pytest.approx(0.5, abs=0.04)
    advanced = [j for s, j in drawn if s == "IV" or j.progressions or j.records]
    treated = [j for j in advanced if j.records]
    assert 0.65 < len(treated) / len(advanced) < 0.8  # 76.4 % (stage IV), 71 % (relapse)
    first = collections.Counter(j.pathway for j in treated)
    assert set(first) == set(CLASS)
    targeted = sum(n for name, n in first.items() if CLASS[name] == "BRAF + MEK")
    assert targeted / len(treated) == pytest.approx(BRAF_MELANOMA_TARGETED_SHARE, abs=0.05)
    assert first.most_common(1)[0][0] in ("dabrafenib + trametinib", "nivolumab + ipilimumab")
    # the first drugs of a line are its regimen: one BRAF and one MEK inhibitor together
    dt_first = [j for j in treated if j.pathway == "dabrafenib + trametinib"]
    assert all({r.drug for r in j.records if r.start == j.records[0].start}
               == {"dabrafenib", "trametinib"} for j in dt_first)  # fmt: skip


def test_overall_survival_follows_the_trials() -> None:
    """Median OS from the first line's start near its trial's (the larger groups), and
    nivolumab + ipilimumab (CheckMate 067, 72.1 months) longest."""
    medians: dict[str, float] = {}
    by: dict[str, list[Journey]] = collections.defaultdict(list)
    for _, j in _draw(3000):
        if j.records:
            by[j.pathway].append(j)
    for name, js in by.items():
        start = np.array([j.records[0].start.toordinal() for j in js], dtype=float)
        end = np.array([_followed_to(j).toordinal() for j in js], dtype=float)
        died = np.array([j.death is not None for j in js])
        medians[name] = kaplan_meier(end - start, died).median().time / MONTH
    cited = {p.name: p.os_months for _, p, _ in BRAF_MELANOMA}
    for name, m in medians.items():
        if len(by[name]) >= 200:  # the smaller groups' medians are too noisy to compare
            assert m == pytest.approx(cited[name], rel=0.25), (name, m, len(by[name]))
    assert max(medians, key=lambda k: medians[k]) == "nivolumab + ipilimumab"
    assert medians["dabrafenib + trametinib"] < medians["encorafenib + binimetinib"]


def test_no_other_patient_changes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only BRAF V600E melanoma patients depend on their model: replaced by another, every
    other patient's resources are the same bytes."""

    def rows(out: Path) -> dict[str, list[str]]:
        export = write_centre(CentreSpec("NKI", "NKI", "NL", 150, "panel"), out, 11, PIPELINE)
        by: dict[str, list[str]] = collections.defaultdict(list)
        for line in export.clinical.read_text().splitlines():
            r = json.loads(line)
            pid = r["id"] if r["resourceType"] == "Patient" else r["subject"]["reference"][8:]
            by[pid].append(line)
        return by

    a = rows(tmp_path / "a")
    calls = []

    def staged_i(rng: np.random.Generator, dx: dt.date, centre: str) -> tuple[str, Journey]:
        calls.append(dx)
        return "I", draw_braf_melanoma(rng, dx, centre)[1]

    monkeypatch.setattr(network, "draw_braf_melanoma", staged_i)
    b = rows(tmp_path / "b")
    changed = {p for p in a if a[p] != b[p]}
    assert a.keys() == b.keys()
    assert changed and len(changed) <= len(calls)  # those not already staged I
    for p in changed:
        assert all("Malignant melanoma" in "".join(x) for x in (a[p], b[p]))
        assert [x for x in a[p] if "-stage" not in x] == [x for x in b[p] if "-stage" not in x]
