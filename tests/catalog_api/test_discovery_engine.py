"""The engine in-process: record-level patients for governance, protein-change parsing, and
the index following replacements (no HTTP: these are the engine's own contracts)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from catalog_api.discovery.definition import (
    CohortDefinition,
    parse_definition,
    parse_protein_change,
)
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.errors import DefinitionError
from consent.purpose import ResearchPurpose
from tests.catalog_api.discoveryhelpers import (
    FP_NEW,
    PANEL,
    braf_melanoma,
    centre_a,
    make_discovery_lake,
    submission,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("V600E", (None, "V600E", False)),
        ("p.V600E", (None, "V600E", False)),
        ("BRAF p.V600E", ("BRAF", "V600E", False)),
        ("p.Val600Glu", (None, "V600E", False)),
        ("V600*", (None, "V600", True)),
        ("V600", (None, "V600", True)),
        ("E1250Ter", (None, "E1250*", False)),
        ("p.(Gly12Cys)", (None, "G12C", False)),
    ],
)
def test_protein_change_forms(text: str, expected: tuple[str | None, str, bool]) -> None:
    assert parse_protein_change(text) == expected


def test_protein_change_rejects_nonsense() -> None:
    with pytest.raises(DefinitionError, match="'hello' is not a protein change"):
        parse_protein_change("hello")


def test_patients_per_centre_for_governance(tmp_path: Path) -> None:
    engine = DiscoveryEngine(make_discovery_lake(str(tmp_path)))
    engine.refresh()
    definition = parse_definition({"criteria": {"type": "variant", "gene": "EGFR"}})
    version, by_centre = engine.patients(definition, ResearchPurpose(primary="health"))
    assert version.startswith("v-")
    assert by_centre == {}  # lung-only consents do not permit health research
    version, by_centre = engine.patients(
        definition, ResearchPurpose(primary="disease", disease_codes=("LUAD",))
    )
    assert by_centre == {"CB": [f"B-lung{i:02d}" for i in range(6)]}
    with pytest.raises(DefinitionError, match="unknown gene 'NOPE'"):
        engine.patients(
            parse_definition({"criteria": {"type": "variant", "gene": "NOPE"}}),
            ResearchPurpose(primary="general"),
        )


def _assay(kind: str) -> CohortDefinition:
    return parse_definition({"criteria": {"type": "assay", "assay_type": [kind]}})


def test_answers_at_a_pinned_version_after_new_data(tmp_path: Path) -> None:
    """Governance reads saved versions: new data must not change a pinned answer, the live
    index serves the current version, other versions get an index of their own (LRU)."""
    lake = make_discovery_lake(str(tmp_path))
    engine = DiscoveryEngine(lake, pinned_indexes=1)
    engine.refresh()
    v1 = lake.current_version()
    panel = _assay("panel")
    assert engine.centre_counts(panel, v1) == {"CB": 14}
    assert engine.pinned_builds == 0  # v1 is current: the live index answered
    lake.commit(submission("DC", "CC", braf_melanoma(7, "C-mel", panel=PANEL)))
    v2 = lake.current_version()
    # v2 is current but the live index is not there yet: brought up to date, not rebuilt
    assert engine.centre_counts(panel, v2) == {"CB": 14, "CC": 7}
    assert engine.indexer.index.version_id == v2.id
    assert engine.pinned_builds == 0
    # v1 is now a pinned version: built once, then served from the LRU
    assert engine.centre_counts(panel, v1) == {"CB": 14}
    assert engine.patients_by_centre(panel, None, v1)["CB"][0] == "B-lung00"
    assert engine.pinned_builds == 1
    assert engine.centre_counts(_assay("WES"), v1) == {"CA": 23}
    assert engine.pinned_builds == 1
    # purposes at a pinned version: lung-only consents permit lung research only
    lung = ResearchPurpose(primary="disease", disease_codes=("LUAD",))
    egfr = parse_definition({"criteria": {"type": "variant", "gene": "EGFR"}})
    assert engine.centre_counts(egfr, v1, lung) == {"CB": 6}
    assert engine.centre_counts(egfr, v1, ResearchPurpose(primary="health")) == {}


def test_pipeline_criterion_at_a_version(tmp_path: Path) -> None:
    lake = make_discovery_lake(str(tmp_path))
    engine = DiscoveryEngine(lake)
    version = lake.current_version()
    new = parse_definition({"criteria": {"type": "pipeline", "fingerprints": [FP_NEW]}})
    assert engine.centre_counts(new, version) == {"CA": 23}
    old = parse_definition({"criteria": {"type": "pipeline", "harmonised": False}})
    assert engine.centre_counts(old, version) == {"CB": 14}


def test_stage_group_matches_substages_not_later_stages(tmp_path: Path) -> None:
    """Stage II is IIA/IIB/IIC, never IIIB or IV (a prefix match counted those too)."""
    lake = make_discovery_lake(str(tmp_path))
    engine = DiscoveryEngine(lake)
    version = lake.current_version()
    stage = {"type": "stage_group", "values": ["II"]}
    assert engine.centre_counts(parse_definition({"criteria": stage}), version) == {"CA": 5}
    stage_i = {"type": "stage_group", "values": ["I"]}
    assert engine.centre_counts(parse_definition({"criteria": stage_i}), version) == {}


def test_centre_breakdown_follows_replacements_and_new_datasets(tmp_path: Path) -> None:
    """The by-centre cells (an intersection with each centre's bitmap) equal the lake's own
    rows grouped by the centre of their dataset, in DuckDB, after a dataset is replaced by a
    smaller revision and a centre gains a second dataset."""
    lake = make_discovery_lake(str(tmp_path))
    engine = DiscoveryEngine(lake)
    engine.refresh()
    lake.commit(submission("DA", "CA", centre_a()[:9], revision=1))  # 23 patients → 9
    lake.commit(submission("DC", "CB", braf_melanoma(7, "B2-mel")))
    engine.refresh()
    everyone = parse_definition({"criteria": {"type": "sex", "values": ["male", "female"]}})
    gru = ResearchPurpose(primary="general")
    _, by_centre = engine.patients(everyone, gru)
    permitted = [p for ps in by_centre.values() for p in ps]
    version = lake.current_version()
    visible = lake.visible_submissions(version)  # noqa: F841
    patients = lake.read("patients", version, columns=["patient_id", "submission_id"])  # noqa: F841
    expected = dict(
        duckdb.sql(
            "SELECT v.centre_id, count(DISTINCT p.patient_id) FROM patients p "
            "JOIN visible v USING (submission_id) "
            "WHERE p.patient_id IN (SELECT unnest($ids)) GROUP BY v.centre_id",
            params={"ids": permitted},
        ).fetchall()
    )
    assert expected["CA"] == 9  # the replaced revision's 14 patients are gone
    assert any(p.startswith("B2-mel") for p in permitted)  # the new dataset is counted
    result = engine.count(everyone, gru)
    got = dict(zip(result.by_centre.names.tolist(), result.by_centre.counts.tolist(), strict=True))
    assert {c: n for c, n in got.items() if n} == expected
