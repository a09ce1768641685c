"""The pinned DUO term table and the OncoTree lookup."""

from __future__ import annotations

import pytest

from consent import duo, oncotree
from consent.errors import UnknownDiseaseError, UnknownTermError


def test_lookup_by_curie_and_shorthand_agree() -> None:
    assert duo.term("GRU") == duo.term("DUO:0000042")
    assert duo.term("gru").label == "general research use"
    assert duo.curie("NPOA") == "DUO:0000044"  # the release's IRI typo DUO_00000044 is fixed


@pytest.mark.parametrize("bad", ["DUO:00000421", "DUO:000042", "DUO:0000042 x", "DUO_0000042"])
def test_curies_need_a_full_match(bad: str) -> None:
    with pytest.raises(UnknownTermError, match="is not a DUO CURIE"):
        duo.term(bad)


def test_unknown_and_obsolete_terms_are_refused() -> None:
    with pytest.raises(UnknownTermError) as info:
        duo.term("XYZ", "purpose.primary")
    assert str(info.value) == (
        "purpose.primary: 'XYZ' is not a term of DUO release 2021-02-23; use a CURIE such as "
        "'DUO:0000042' or a shorthand such as 'GRU', 'HMB', 'DS', 'NPU'"
    )
    with pytest.raises(UnknownTermError, match=r"\(obsolete research use only\) is obsolete"):
        duo.term("DUO:0000014")


def test_kinds_follow_the_hierarchy() -> None:
    assert {duo.term(s).kind for s in ("GRU", "HMB", "DS", "POA", "NRES")} == {"permission"}
    assert {duo.term(s).kind for s in ("NPU", "NCU", "NPUNCU", "IRB", "GSO", "NPOA")} == {
        "modifier"
    }
    assert duo.term("DUO:0000031").kind == "research_type"
    assert duo.is_a("DS", "GRU") and duo.is_a("NPU", "NPUNCU") and not duo.is_a("GRU", "DS")


def test_every_current_term_of_the_release_is_there() -> None:
    current = [t for t in duo.terms().values() if not t.deprecated]
    assert len(duo.terms()) == 39 and len(current) == 35


def test_oncotree_lookups() -> None:
    assert oncotree.label("LUAD") == "Lung Adenocarcinoma"
    assert oncotree.tissue("LUAD") == "Lung"
    assert oncotree.ancestors("LUAD") == ["NSCLC", "LUNG", "TISSUE"]
    assert "LUAD" in oncotree.descendants("LUNG")
    assert "LUAD" not in oncotree.descendants("LUAD")
    assert "MEL" not in oncotree.descendants("LUNG")
    assert len(oncotree.descendants("TISSUE")) == len(oncotree.nodes()) - 1


def test_unknown_oncotree_code() -> None:
    with pytest.raises(UnknownDiseaseError, match="'NOPE' is not an OncoTree code"):
        oncotree.node("NOPE")
