"""Differencing across breakdowns (issue 20, gap 1) and the disclosure store's numbering in
the request's transaction (gap 5).

Two answers whose totals differ by five or more can still hold one centre's (or one
tumour type's) cell that differs by one to four patients: subtracting the two cells
isolates those patients. Each test makes the attack and sees it refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pyroaring import BitMap

from catalog_api.db import make_engine, upgrade
from catalog_api.discovery.disclosure import DisclosureControl, cell_name
from catalog_api.discovery.errors import DifferencingRefusedError
from catalog_api.discovery.history import MemoryStore, SqlStore
from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.discoveryhelpers import make_discovery_lake

GRU: dict[str, Any] = {"primary": "general"}
V600E = {"type": "variant", "gene": "BRAF", "protein_change": "V600E"}


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


def _answer(total: BitMap, cells: dict[str, BitMap]) -> dict[str, BitMap]:
    return {"count": total, **cells}


def test_breakdown_cells_differing_by_fewer_than_the_threshold_are_refused(store: Any) -> None:
    ctl = DisclosureControl(store=store)
    # cohort A: 30 patients at C1 (0-29), 40 at C2 (100-139)
    c1, c2 = BitMap(range(30)), BitMap(range(100, 140))
    ctl.check("eve", "qa", _answer(c1 | c2, {"centre:C1": c1, "centre:C2": c2}), "v1")
    # cohort B overlaps A: C1 loses 2 patients, C2 loses 10 (totals differ by 12, fine as
    # totals); C1's cell differs by 2: B's C1 cell minus A's would name those two
    b1, b2 = BitMap(range(2, 30)), BitMap(range(110, 140))
    with pytest.raises(DifferencingRefusedError, match="count of centre C1"):
        ctl.check("eve", "qb", _answer(b1 | b2, {"centre:C1": b1, "centre:C2": b2}), "v1")
    # the same attack through the tumour-type breakdown
    ctl.check("eve", "qc", _answer(c1 | c2, {"tumour:SKCM": c1, "tumour:COAD": c2}), "v1")
    with pytest.raises(DifferencingRefusedError, match="count of tumour type SKCM"):
        ctl.check("eve", "qd", _answer(b1 | b2, {"tumour:SKCM": b1, "tumour:COAD": b2}), "v1")
    # a cell against an earlier total: "C1 AND x" counted 30, then C1's cell of y is 27
    ctl.check("eve", "qe", c1, "v2")
    with pytest.raises(DifferencingRefusedError, match="count of centre C7"):
        ctl.check("eve", "qf", _answer(c2, {"centre:C7": BitMap(range(3, 30))}), "v2")
    # and a total against an earlier cell
    with pytest.raises(DifferencingRefusedError, match=r"your query q[ac]"):
        ctl.check("eve", "qg", BitMap(range(100, 137)), "v3")
    # cells that differ by five or more pass, and another user's history is their own
    far1 = BitMap(range(5, 30))
    ctl.check("eve", "qh", _answer(far1 | c2, {"centre:C1": far1, "centre:C2": c2}), "v1")
    ctl.check("bob", "qb", _answer(b1 | b2, {"centre:C1": b1, "centre:C2": b2}), "v1")


def test_a_repeated_answer_checks_its_cells_once(store: Any) -> None:
    ctl = DisclosureControl(store=store, budget=1000)
    c1, c2 = BitMap(range(30)), BitMap(range(100, 140))
    answer = _answer(c1 | c2, {"centre:C1": c1, "centre:C2": c2})
    for _ in range(3):
        ctl.check("ann", "qa", answer, "v1")
    # still checked against: the cells were remembered with the first answer
    b1 = BitMap(range(1, 30))
    with pytest.raises(DifferencingRefusedError, match="count of centre C1"):
        ctl.check("ann", "qb", _answer(b1 | c2 | BitMap(range(200, 210)), {"centre:C1": b1}), "v1")


def test_cell_names_fit_the_store() -> None:
    assert cell_name("centre:", "C1") == "centre:C1"
    long = cell_name("centre:", "a-centre-with-a-very-long-identifier-indeed")
    assert len("any:" + long) <= 32 and long.startswith("centre:#")


# -- over HTTP: the count answer's breakdowns ----------------------------------------------


@pytest.fixture(scope="module")
def discovery_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The discovery test lake (read-only here)."""
    return make_discovery_lake(str(tmp_path_factory.mktemp("breakdowns-lake")))


@pytest.fixture
def lake(discovery_lake: Lake) -> Lake:
    """The app serves the discovery lake."""
    return discovery_lake


def _count(http: httpx.Client, headers: dict[str, str], criteria: Any) -> httpx.Response:
    body = {"definition": {"criteria": criteria}, "purpose": GRU}
    return http.post("/api/v1/cohorts/count", json=body, headers=headers)


def test_differencing_two_by_centre_breakdowns_over_http_is_refused(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    first = _count(http, headers, V600E)
    assert first.status_code == 200
    # exact: CA 18, CB 8 (shown 20, 10). Without ages 40-42 (six patients, three a centre)
    # the totals differ by six, but each centre's cell by three: refused
    attack = {
        "type": "and",
        "criteria": [
            V600E,
            {"type": "not", "criterion": {"type": "age_at_diagnosis", "min": 40, "max": 42}},
        ],
    }
    r = _count(http, headers, attack)
    assert r.status_code == 409, r.text
    assert "count of centre" in r.json()["detail"]
    # a cohort with no number within four of the first's is answered (patients of 60 and
    # over: five, all of CA, all COAD)
    narrow = {"type": "age_at_diagnosis", "min": 60, "max": 100}
    r = _count(http, headers, narrow)
    assert r.status_code == 200, r.text


# -- gap 5: numbering patients inside the request's transaction ------------------------------


def test_numbering_in_a_transaction_that_already_wrote_does_not_wait_for_itself(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(make_engine(url))
    # a short busy timeout: waiting on the database's write lock fails within a second
    engine = sa.create_engine(url, connect_args={"timeout": 1})
    ctl = DisclosureControl(store=SqlStore(engine, b"secret"))
    patients = {"count": [f"P{i}" for i in range(20)]}
    with engine.connect() as conn, conn.begin():
        # the request writes first (a governance row), holding SQLite's write lock
        conn.execute(sa.text("INSERT INTO disclosure_queries (username, at) VALUES ('x', 1)"))
        t0 = time.monotonic()
        ctl.check_patients("ann", "q1", patients, "v1", conn=conn)
        assert time.monotonic() - t0 < 1.0
    # the numbers were committed with the request's transaction, and are stable
    again = SqlStore(engine, b"secret").numbers(patients["count"])
    assert sorted(again.tolist()) == list(range(1, 21))


def test_numbers_of_a_rolled_back_transaction_are_not_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = make_engine(url)
    upgrade(engine)
    store = SqlStore(engine, b"secret")
    with engine.connect() as conn:
        conn.begin()
        first = store.numbers(["A", "B"], conn)
        conn.rollback()
    other: Callable[[list[str]], Any] = SqlStore(engine, b"secret").numbers
    assert other(["C"]).tolist() == [first[0]]  # the number went to another patient
    assert store.numbers(["A"]).tolist() != [first[0]]  # and A was not kept under it


def test_a_total_is_not_compared_with_the_cells_shown_beside_the_same_total(store: Any) -> None:
    ctl = DisclosureControl(store=store, budget=1000)
    # the builder's answer: 12 patients, 10 of them LUAD (a cell), 2 in "other" (hidden)
    luad, rest = BitMap(range(10)), BitMap([50, 51])
    ctl.check("rita", "builder", _answer(luad | rest, {"tumour:LUAD": luad}), "v1")
    # the same patients counted again by another query (a request of the saved cohort):
    # its total against the builder's LUAD cell differs by 2, but the builder showed that
    # cell beside this very total, so nothing new is disclosed
    ctl.check("rita", "request", luad | rest, "v1")
    ctl.check("rita", "builder", _answer(luad | rest, {"tumour:LUAD": luad}), "v1")
    # a total of other patients is still compared with that cell: 3 LUAD patients fewer
    # and one more elsewhere differs from the cell by 4 (from the builder's total by 6)
    with pytest.raises(DifferencingRefusedError, match="count of tumour type LUAD"):
        ctl.check("rita", "other", BitMap(range(3, 10)) | BitMap([60]), "v1")
