"""Data-use matching: the DUO README and DUOS (consent-ontology Algorithms.md) examples."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent import duo, oncotree
from consent.matching import permits
from consent.purpose import ResearchPurpose, parse_purpose
from consent.records import ConsentRecord
from tests.consent.conftest import make_consent


def purpose(primary: str, *diseases: str, **kw: Any) -> ResearchPurpose:
    return parse_purpose({"primary": primary, "disease_codes": list(diseases), **kw})


# -- DUO README: "Research Purpose : Data Use Limitation Matching" and the hierarchy text ----


def test_readme_cancer_query_does_not_retrieve_lung_cancer_consent() -> None:
    # "A query for datasets consented for cancer research WILL NOT retrieve datasets
    # consented for lung cancer" (OncoTree's root TISSUE stands for cancer).
    d = permits(make_consent("DS", diseases=("LUNG",)), purpose("disease", "TISSUE"))
    assert not d
    assert (
        d.reason == "the consent's permission DS (LUNG) does not cover disease research on TISSUE"
    )


def test_readme_lung_cancer_query_retrieves_cancer_consent() -> None:
    assert permits(make_consent("DS", diseases=("TISSUE",)), purpose("disease", "LUNG"))


@pytest.mark.parametrize(
    ("consented", "expected"),
    [("MEL", True), ("SKIN", True), ("TISSUE", True), ("MUP", False), ("LUNG", False)],
)
def test_readme_melanoma_query_matches_parent_nodes(consented: str, expected: bool) -> None:
    # "returns every dataset that is labeled with PARENT NODES, going up in the hierarchy"
    d = permits(make_consent("DS", diseases=(consented,)), purpose("disease", "MEL"))
    assert bool(d) is expected


# -- DUOS matching algorithm v4 (consent-ontology docs/Algorithms.md) --------------------

DUOS_V4 = [
    # (research purpose, dataset primary term, approve?)
    (("disease", "LUAD"), ("GRU",), True),
    (("disease", "LUAD"), ("HMB",), True),
    (("disease", "LUAD"), ("DS", "LUAD"), True),
    (("disease", "LUAD"), ("DS", "NSCLC"), True),  # a parent disease of DS-X
    (("disease", "LUAD"), ("DS", "BRCA"), False),
    (("disease", "LUAD"), ("POA",), False),
    (("health",), ("GRU",), True),
    (("health",), ("HMB",), True),
    (("health",), ("DS", "LUAD"), False),
    (("health",), ("POA",), False),
    (("ancestry",), ("GRU",), True),
    (("ancestry",), ("POA",), True),
    (("ancestry",), ("DS", "LUAD"), False),
    (("ancestry",), ("HMB",), False),
]


@pytest.mark.parametrize(("want", "dataset", "approve"), DUOS_V4)
def test_duos_v4_primary_terms(
    want: tuple[str, ...], dataset: tuple[str, ...], approve: bool
) -> None:
    consent = make_consent(dataset[0], diseases=dataset[1:])
    assert bool(permits(consent, purpose(*want))) is approve


@pytest.mark.parametrize("dataset", [("GRU",), ("HMB",), ("DS", "LUAD"), ("POA",)])
def test_duos_v4_methods_development_matches_every_primary_term(dataset: tuple[str, ...]) -> None:
    want = {
        "GRU": ("general",),
        "HMB": ("health",),
        "DS": ("disease", "LUAD"),
        "POA": ("ancestry",),
    }
    p = purpose(*want[dataset[0]], methods_development=True)
    assert permits(make_consent(dataset[0], diseases=dataset[1:]), p)


@pytest.mark.parametrize(
    ("for_profit", "dataset_npu", "approve"),
    [(True, True, False), (True, False, True), (False, True, True), (False, False, True)],
)
def test_duos_v4_non_profit_use(for_profit: bool, dataset_npu: bool, approve: bool) -> None:
    # "Deny if the research purpose is NPU=false and the dataset's DUO term is NPU=true"
    consent = make_consent("GRU", *(["NPU"] if dataset_npu else []))
    assert bool(permits(consent, purpose("health", for_profit=for_profit))) is approve


def test_duos_v3_commercial_purpose_needs_npu_and_ncu_false() -> None:
    commercial = purpose("health", commercial=True, for_profit=True)
    assert permits(make_consent("GRU"), commercial)
    for mod in ("NPU", "NCU", "NPUNCU"):
        d = permits(make_consent("GRU", mod), commercial)
        assert not d and d.failed == (mod,)
    # a commercial use by a not-for-profit is not refused by NPU, but is by NCU
    assert permits(make_consent("GRU", "NPU"), purpose("health", commercial=True))
    assert not permits(make_consent("GRU", "NCU"), purpose("health", commercial=True))


def test_duos_v2_nmds_permits_methods_only_with_a_disease_match() -> None:
    methods = purpose("health", methods_development=True)
    d = permits(make_consent("HMB", "NMDS"), methods)
    assert not d and d.reason == (
        "denied by NMDS (no methods development outside disease research)"
    )
    assert permits(
        make_consent("DS", "NMDS", diseases=("LUNG",)),
        purpose("disease", "LUAD", methods_development=True),
    )
    assert permits(make_consent("HMB", "NMDS"), purpose("health"))


# -- cases DUOS abstains on: the conservative decisions (docs/consent.md) ----------------


@pytest.mark.parametrize(
    ("modifier", "attest"),
    [
        ("IRB", "ethics_approval"),
        ("COL", "collaboration"),
        ("PUB", "will_publish"),
        ("MOR", "accepts_moratorium"),
        ("RTN", "will_return_results"),
        ("GSO", "genetic_studies_only"),
    ],
)
def test_conditions_need_the_researchers_attestation(modifier: str, attest: str) -> None:
    consent = make_consent("GRU", modifier)
    d = permits(consent, purpose("health"))
    assert not d and d.failed == (modifier,) and f"set {attest} in the purpose" in d.reason
    assert permits(consent, purpose("health", **{attest: True}))


@pytest.mark.parametrize("modifier", ["GS", "US", "PS", "IS", "RS"])
def test_unencoded_restrictions_go_to_a_board(modifier: str) -> None:
    d = permits(make_consent("GRU", modifier), purpose("health"))
    assert not d and d.needs_review and d.failed == (modifier,)
    assert "a governance board must decide" in d.reason


def test_npoa_forbids_ancestry_research_under_gru() -> None:
    assert not permits(make_consent("GRU", "NPOA"), purpose("ancestry"))
    assert permits(make_consent("GRU", "NPOA"), purpose("health"))


def test_time_limit() -> None:
    consent = make_consent("GRU", "TS", valid_until=dt.date(2030, 6, 30))
    assert permits(consent, purpose("health", date="2030-06-30"))
    d = permits(consent, purpose("health", date="2030-07-01"))
    assert not d and d.reason == "denied by TS (the consent's time limit ended on 2030-06-30)"


def test_inactive_consent_permits_nothing() -> None:
    d = permits(make_consent("NRES", status="inactive"), purpose("general"))
    assert not d and d.reason == "the consent is inactive, not active"


def test_hmb_does_not_permit_non_health_research() -> None:
    assert not permits(make_consent("HMB"), purpose("general"))
    assert permits(make_consent("GRU"), purpose("general"))


def test_several_diseases_must_all_be_covered() -> None:
    consent = make_consent("DS", diseases=("LUNG",))
    assert permits(consent, purpose("disease", "LUAD", "LUSC"))
    assert not permits(consent, purpose("disease", "LUAD", "MEL"))


def test_mondo_codes_match_exactly() -> None:
    consent = make_consent("DS", diseases=("MONDO:0004992",))
    assert permits(consent, purpose("disease", "MONDO:0004992"))
    assert not permits(consent, purpose("disease", "MONDO:0005061"))


def test_permitted_reason_names_the_terms() -> None:
    d = permits(
        make_consent("HMB", "DS", "IRB", diseases=("LUNG",)),
        purpose("disease", "LUAD", ethics_approval=True),
    )
    assert d.reason == "permitted by HMB, DS; conditions met: IRB"


def test_purpose_duo_codes() -> None:
    p = purpose("DUO:0000007", "LUAD", methods_development=True)
    assert p.primary == "disease"
    assert p.duo_codes() == ["DUO:0000007", "DUO:0000031"]


# -- monotonicity (hypothesis): a more restrictive consent never permits more ------------

DISEASES = ["TISSUE", "LUNG", "NSCLC", "LUAD", "LUSC", "SKIN", "MEL", "BREAST", "BRCA"]
MODIFIERS = [
    "NPU", "NCU", "NPUNCU", "NMDS", "GSO", "NPOA", "IRB", "COL", "PUB", "MOR", "RTN",
    "TS", "GS", "US", "CC",
]  # fmt: skip
NARROWER = {"NRES": ["GRU"], "GRU": ["HMB", "POA", "DS"], "HMB": ["DS"]}


@st.composite
def consents(draw: st.DrawFn) -> ConsentRecord:
    perms = draw(st.lists(st.sampled_from(["NRES", "GRU", "HMB", "DS", "POA"]), min_size=1,
                          max_size=3, unique=True))  # fmt: skip
    diseases = tuple(draw(st.lists(st.sampled_from(DISEASES), min_size=1, max_size=2,
                                   unique=True))) if "DS" in perms else ()  # fmt: skip
    mods = draw(st.lists(st.sampled_from(MODIFIERS), max_size=3, unique=True))
    return make_consent(*perms, *mods, diseases=diseases, valid_until=dt.date(2030, 1, 1))


@st.composite
def purposes(draw: st.DrawFn) -> ResearchPurpose:
    primary = draw(st.sampled_from(["general", "health", "disease", "ancestry"]))
    diseases = draw(st.lists(st.sampled_from(DISEASES), min_size=1, max_size=2, unique=True))
    flags = {
        f: draw(st.booleans())
        for f in (
            "commercial", "for_profit", "methods_development", "genetic_studies_only",
            "ethics_approval", "collaboration", "will_publish", "accepts_moratorium",
            "will_return_results",
        )
    }  # fmt: skip
    return ResearchPurpose(
        primary=primary,
        disease_codes=tuple(diseases) if primary == "disease" else (),
        date=draw(st.sampled_from([dt.date(2029, 12, 31), dt.date(2030, 1, 2)])),
        **flags,
    )


def restrict(consent: ConsentRecord, draw: st.DrawFn) -> ConsentRecord:
    """One step that makes a consent more restrictive."""
    perms = [duo.shorthand(p) for p in consent.permissions]
    mods = [duo.shorthand(m) for m in consent.modifiers]
    diseases = list(consent.disease_codes)
    step = draw(st.sampled_from(["modifier", "narrow", "drop", "deeper_disease"]))
    if step == "modifier":
        extra = [m for m in MODIFIERS if m not in mods]
        if extra:
            mods.append(draw(st.sampled_from(extra)))
    elif step == "narrow":
        p = draw(st.sampled_from(perms))
        if p in NARROWER:
            new = draw(st.sampled_from(NARROWER[p]))
            perms = [x for x in perms if x != p]
            if new not in perms:
                perms.append(new)
            if new == "DS":
                diseases.append(draw(st.sampled_from(DISEASES)))
    elif step == "drop" and len(perms) > 1:
        perms.remove(draw(st.sampled_from(perms)))
    elif step == "deeper_disease" and diseases:
        d = draw(st.sampled_from(diseases))
        below = sorted(oncotree.descendants(d) & set(DISEASES))
        if below:
            diseases = [x for x in diseases if x != d] + [draw(st.sampled_from(below))]
    if "DS" not in perms:
        diseases = []
    return make_consent(*perms, *mods, diseases=tuple(dict.fromkeys(diseases)),
                        valid_until=consent.valid_until)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.data(), consents(), purposes())
def test_matching_is_monotone(
    data: st.DataObject, consent: ConsentRecord, p: ResearchPurpose
) -> None:
    narrower = consent
    for _ in range(data.draw(st.integers(1, 4))):
        narrower = restrict(narrower, data.draw)
    if permits(narrower, p):
        assert permits(consent, p), (narrower, consent, p)


@settings(max_examples=200, deadline=None)
@given(consents(), purposes())
def test_adding_a_modifier_never_turns_denied_into_permitted(
    consent: ConsentRecord, p: ResearchPurpose
) -> None:
    for m in MODIFIERS:
        if duo.curie(m) in consent.modifiers:
            continue
        wider = permits(consent, p)
        narrower = permits(
            consent.model_copy(update={"modifiers": (*consent.modifiers, duo.curie(m))}), p
        )
        assert not narrower or wider


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(DISEASES),
    st.data(),
    st.lists(st.sampled_from(DISEASES), min_size=1, max_size=2, unique=True),
)
def test_a_narrower_disease_consent_never_permits_more(
    wide: str, data: st.DataObject, studied: list[str]
) -> None:
    below = sorted(oncotree.descendants(wide) & set(DISEASES))
    if not below:
        return
    narrow = data.draw(st.sampled_from(below))
    p = purpose("disease", *studied)
    if permits(make_consent("DS", diseases=(narrow,)), p):
        assert permits(make_consent("DS", diseases=(wide,)), p)
