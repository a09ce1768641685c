"""Differencing across breakdown categories, and the differencing check's index (issue 20,
gap 1; migration 0005).

A by-centre cell of one answer and a by-tumour-type cell of another can count sets that
differ by one to four patients (``LUAD`` by centre shows NKI's LUAD patients; ``NKI and not
x`` by tumour type shows the same patients without x's): subtracting the two isolates x's
patients. Every shown number is compared with every remembered one, whatever its category.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pyroaring import BitMap

from catalog_api.db import make_engine, upgrade
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.discovery.errors import DifferencingRefusedError
from catalog_api.discovery.history import MARKS, MemoryStore, SqlStore, pack


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A disclosure store of each kind (the application database's, on both databases)."""
    if request.param == "memory":
        return MemoryStore()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    return SqlStore(engine, b"secret")


# LUAD at NKI: 0-29; LUAD elsewhere: 100-139; NKI's other patients (COAD): 200-259
LUAD_NKI = BitMap(range(30))
LUAD_ELSEWHERE = BitMap(range(100, 140))
COAD_NKI = BitMap(range(200, 260))


def test_a_centre_cell_differenced_against_a_tumour_type_cell_is_refused(store: Any) -> None:
    ctl = DisclosureControl(store=store, budget=1000)
    # "LUAD", by centre: NKI 30, other 40
    luad = {
        "count": LUAD_NKI | LUAD_ELSEWHERE,
        "centre:NKI": LUAD_NKI,
        "centre:AVL": LUAD_ELSEWHERE,
    }
    ctl.check("eve", "luad", luad, "v1")
    # "NKI and not x", by tumour type: x is two LUAD patients of NKI. Totals (70 against 86)
    # and same-category cells are far apart, but its LUAD cell is NKI's LUAD cell minus x
    no_x = LUAD_NKI - BitMap([3, 7])
    attack = {"count": no_x | COAD_NKI, "tumour:LUAD": no_x, "tumour:COAD": COAD_NKI}
    with pytest.raises(DifferencingRefusedError, match="count of tumour type LUAD") as e:
        ctl.check("eve", "nki-not-x", attack, "v1")
    assert "count of centre NKI" in str(e.value)
    # the other way round: a tumour-type cell first, a centre cell after
    ctl.check("ivy", "nki", {"count": LUAD_NKI | COAD_NKI, "tumour:LUAD": LUAD_NKI}, "v1")
    with pytest.raises(DifferencingRefusedError, match="count of centre NKI"):
        ctl.check("ivy", "luad-not-x", {"count": no_x | LUAD_ELSEWHERE, "centre:NKI": no_x}, "v1")


def test_a_number_shown_before_is_not_refused_by_what_its_first_showing_passed(
    store: Any,
) -> None:
    ctl = DisclosureControl(store=store, budget=1000)
    # "NKI": 32 patients, LUAD 30 of them (the two COAD hidden): the total and the LUAD
    # cell differ by two, within one answer, as the margins of every table do
    nki = LUAD_NKI | BitMap([200, 201])
    answer = {"count": nki, "centre:NKI": nki, "tumour:LUAD": LUAD_NKI}
    ctl.check("ann", "nki", answer, "v1")
    # the same query on the next lake version: every number was shown before, nothing new
    ctl.check("ann", "nki", answer, "v2")
    # another query whose total is that LUAD cell ("NKI and LUAD"): shown before
    ctl.check("ann", "nki-luad", {"count": LUAD_NKI, "centre:NKI": LUAD_NKI}, "v2")
    # a new set near them still is refused
    with pytest.raises(DifferencingRefusedError, match="your query nki"):
        ctl.check("ann", "s", {"count": nki - BitMap([0])}, "v2")


def test_thresholds_above_the_marks_are_still_checked(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    upgrade(engine)
    t = MARKS + 4
    ctl = DisclosureControl(threshold=t, store=SqlStore(engine, b"s"), budget=1000)
    ctl.check("eve", "a", {"count": BitMap(range(100))}, "v1")
    # differs by MARKS + 2 (more than the marks cover, fewer than the threshold)
    with pytest.raises(DifferencingRefusedError):
        ctl.check("eve", "b", {"count": BitMap(range(MARKS + 2, 100))}, "v1")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_answers_remembered_before_migration_0005_are_found(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine, "0004")
    # an answer remembered by the release before the marks (its row only)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO disclosure_answers (username, at, digest, definition, "
                "lake_version, name, size, patients) VALUES ('eve', :at, 'old', '', 'v1', "
                "'centre:NKI', 30, :p)"
            ),
            {"at": 1e12, "p": pack(LUAD_NKI)},
        )
    upgrade(engine)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM disclosure_marks")).scalar_one()
    assert n == MARKS
    ctl = DisclosureControl(store=SqlStore(engine, b"s"), clock=lambda: 1e12 + 1)
    with pytest.raises(DifferencingRefusedError, match="your query old"):
        ctl.check("eve", "new", {"count": LUAD_NKI - BitMap([5])}, "v1")
    # forgetting the user forgets their marks too
    ctl.reset("eve")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM disclosure_marks")).scalar_one() == 0
