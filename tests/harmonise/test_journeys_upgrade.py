"""A lake made by the release before the journey columns upgrades in place on `Lake.init`:
its rows and pins stay, the new tables and columns appear, new submissions write them.

The old lake is made by the old release's own code (``git archive`` of the commit before
issue 22's model changes), run in a separate interpreter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harmonise.lake import Lake, LakeConfig
from harmonise.model import TABLES
from tests.harmonise.old_release import REPO, old_release_lake

#: The last commit whose harmonise/model.py has no journey columns or tables.
OLD_RELEASE = "813661e"


@pytest.fixture
def old_lake(tmp_path: Path) -> Path:
    """A lake written by the old release's own code, in a separate interpreter."""
    return old_release_lake(tmp_path, OLD_RELEASE, patients=40, variants=5)


def test_old_lake_upgrades_in_place_keeping_rows_and_pins(old_lake: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import numpy as np
    from synthetic_network import build_vocabulary, centre_submission

    lake = Lake(
        LakeConfig(f"sqlite:///{old_lake / 'catalog.db'}", f"file://{old_lake / 'wh'}"),
        b"tag-key",
    )
    old_patients = lake.table("patients").scan().to_arrow().num_rows
    assert not lake.is_initialised()  # the journey tables are missing
    lake.init()
    pinned = lake.pins()["before-upgrade"]
    before = lake.table_counts(pinned)
    assert before["patients"] == old_patients == 40 and before["variants"] > 0
    for name in ("regimens", "lines_of_therapy"):
        assert lake.read(name).num_rows == 0
    pats = lake.read("patients")
    assert {"anchor", "death_day", "last_known_alive_day"} <= set(pats.column_names)
    assert pats.num_rows == before["patients"]
    assert pats.column("last_known_alive_day").null_count == pats.num_rows
    for name, tdef in TABLES.items():
        # in the Iceberg schema itself, so that other engines (DuckDB, Spark) see them
        iceberg = {f.name for f in lake.table(name).schema().fields}
        assert set(tdef.column_names) <= iceberg, (name, set(tdef.column_names) - iceberg)
    # a new submission writes the new columns and tables beside the old rows
    lake.commit(centre_submission(1, 40, build_vocabulary(np.random.default_rng(1)), 1, 5))
    assert lake.read("lines_of_therapy").num_rows > 0
    assert lake.table_counts(pinned) == before
    rows = lake.read("datasets").to_pylist()
    assert sorted(r["journey_rules"] is not None for r in rows) == [False, True]
    for name, tdef in TABLES.items():
        assert set(tdef.column_names) <= set(lake.read(name).column_names), name
