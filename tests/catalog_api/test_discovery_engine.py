"""The engine in-process: record-level patients for governance, protein-change parsing, and
the index following replacements (no HTTP: these are the engine's own contracts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_api.discovery.definition import parse_definition, parse_protein_change
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.errors import DefinitionError
from consent.purpose import ResearchPurpose
from tests.catalog_api.discoveryhelpers import make_discovery_lake


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
