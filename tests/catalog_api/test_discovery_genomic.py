"""Cohort criteria on the pipeline's results (issue 23): fusion, structural variant by gene,
copy number, TMB, MSI.

A lake of the discovery centres CA and CB plus centre CG, whose patients carry the new
tables' rows (structural variants, gene copy-number calls, pipeline and FHIR TMB/MSI). The
basket query "NTRK fusion OR MSI-H OR TMB ≥ 10" is counted through the engine and the HTTP
API and compared with a DuckDB SQL recomputation over the lake's Parquet files.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pytest

from catalog_api.core.config import ApiConfig
from catalog_api.discovery.definition import parse_definition
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.errors import DefinitionError
from catalog_api.discovery.index_genomic import ValueCuts
from catalog_api.discovery.index_store import IndexStore
from catalog_api.discovery.terms import filtering_terms
from catalog_api.web.describe import describe_definition
from consent.purpose import ResearchPurpose
from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.discoveryhelpers import HMB, P, make_discovery_lake, submission

# patient → (fusion, fusion_genes, FILTER, SV type, gene_a, gene_b) rows
SvRow = tuple[str | None, list[str] | None, str | None, str, list[str] | None, list[str] | None]
SV: dict[str, list[SvRow]] = {
    "G01": [("ETV6::NTRK3", ["ETV6", "NTRK3"], "PASS", "BND", ["ETV6"], ["NTRK3"])],
    # not PASS: not counted
    "G02": [("LMNA::NTRK1", ["LMNA", "NTRK1"], "LowQual", "BND", ["LMNA"], ["NTRK1"])],
    # HMB consent only
    "G03": [("TPM3::NTRK1", ["TPM3", "NTRK1"], None, "INV", ["TPM3"], ["NTRK1"])],
    # consent withdrawn
    "G12": [("ETV6::NTRK3", ["ETV6", "NTRK3"], "PASS", "BND", ["ETV6"], ["NTRK3"])],
    "G13": [
        ("BCR::ABL1", ["BCR", "ABL1"], "PASS", "BND", ["BCR"], ["ABL1"]),
        (None, None, "PASS", "DEL", ["NTRK2"], None),
    ],
    "G15": [(None, None, "PASS", "DEL", ["NTRK2"], ["NTRK2"])],  # an NTRK2 deletion, no fusion
    # reciprocal, no filter applied
    "G16": [("NTRK3::ETV6", ["NTRK3", "ETV6"], ".", "BND", ["NTRK3"], ["ETV6"])],
    "G14": [
        (None, None, "PASS", "DUP", ["ERBB2"], ["ERBB2"]),
        (None, None, "PASS", "INV", None, ["NTRK2", "AC012.3"]),  # two genes at breakpoint 2
        (None, None, "LowQual", "DEL", ["PTEN"], ["PTEN"]),  # not PASS: not counted
    ],
    "G11": [(None, None, None, "INS", ["CDKN2A"], None)],
}
# patient → (gene, call)
CN = {
    "G11": [("ERBB2", "amplification"), ("CDKN2A", "deep_deletion"), ("TP53", "loss")],
    "G13": [("ERBB2", "gain"), ("CDKN2A", "neutral")],
}
# patient → (marker, interpretation, value_numeric, value_code, value_display, source)
BM: dict[str, list[tuple[str, str | None, float | None, str | None, str | None, str | None]]] = {
    "G04": [("MSI", "high", 31.0, "LA26203-2", "MSI-H", "pipeline")],
    "G05": [("MSI", None, None, "LA26203-2", "MSI-high", None)],  # FHIR: coded answer only
    "G06": [("MSI", "high", None, None, None, "fhir")],  # FHIR: interpretation only
    "G07": [
        ("MSI", "negative", 2.0, "LA26204-0", "MSS", "pipeline"),
        ("TMB", "low", 4.0, None, None, "pipeline"),
    ],
    "G08": [("TMB", "high", 12.5, None, None, "pipeline")],
    "G09": [("TMB", None, 10.0, None, None, "fhir")],  # the threshold itself
    "G10": [("TMB", None, 9.99, None, None, "fhir")],
}
CONSENT = {"G03": {"permissions": [HMB]}, "G12": {"status": "inactive"}}
ALL = ["small_variants", "structural_variants", "copy_number", "tmb", "msi"]
# patient → specimens.analyses (absent: every analysis); the FHIR-only patients list none
ANALYSES: dict[str, list[str] | None] = {
    **{p: None for p in ("G05", "G06", "G09", "G10")},
    "G08": ["small_variants", "tmb"],  # no SV calling, copy number or MSI
    "G04": ["small_variants", "msi"],
}
BASKET: dict[str, Any] = {
    "type": "or",
    "criteria": [
        *({"type": "fusion", "gene": g} for g in ("NTRK1", "NTRK2", "NTRK3")),
        {"type": "msi", "status": ["MSI-H"]},
        {"type": "tmb", "min": 10},
    ],
}


def _centre_g() -> Any:
    pats = [P(f"G{i:02d}", oncotree="COAD", **CONSENT.get(f"G{i:02d}", {})) for i in range(1, 17)]  # type: ignore[arg-type]
    sub = genomic_submission(submission("DG", "CG", pats), SV, CN, BM)
    specimens = sub.tables["specimens"]
    listed = [ANALYSES.get(p, ALL) for p in specimens.column("patient_id").to_pylist()]
    specimens = specimens.append_column("analyses", pa.array(listed, pa.list_(pa.string())))
    return dataclasses.replace(sub, tables={**sub.tables, "specimens": specimens})


def genomic_submission(
    sub: Any,
    svs: dict[str, list[SvRow]],
    cns: dict[str, list[tuple[str, str]]],
    bms: dict[str, list[tuple[str, str | None, float | None, str | None, str | None, str | None]]],
) -> Any:
    """``sub`` with the structural-variant, copy-number and biomarker rows given."""
    sv = [(p, *r) for p, rows in svs.items() for r in rows]
    cn = [(p, *r) for p, rows in cns.items() for r in rows]
    bm = [(p, *r) for p, rows in bms.items() for r in rows]
    strs = pa.list_(pa.string())
    sv_t = pa.table(
        {
            "patient_id": [r[0] for r in sv],
            "specimen_id": [f"{r[0]}-T" for r in sv],
            "genome_build": ["GRCh37"] * len(sv),
            "sv_type": [r[4] for r in sv],
            "chrom": ["12"] * len(sv),
            "pos": pa.array(range(1000, 1000 + len(sv)), pa.int64()),
            "chrom2": ["15"] * len(sv),
            "pos2": pa.array(range(9000, 9000 + len(sv)), pa.int64()),
            "gene_a": pa.array([r[5] for r in sv], strs),
            "gene_b": pa.array([r[6] for r in sv], strs),
            "fusion": [r[1] for r in sv],
            "fusion_genes": pa.array([r[2] for r in sv], strs),
            "filter": [r[3] for r in sv],
        }
    )
    cn_t = pa.table(
        {
            "patient_id": [r[0] for r in cn],
            "specimen_id": [f"{r[0]}-T" for r in cn],
            "genome_build": ["GRCh37"] * len(cn),
            "gene": [r[1] for r in cn],
            "chrom": ["17"] * len(cn),
            "start": pa.array(range(len(cn)), pa.int64()),
            "end": pa.array(range(10, 10 + len(cn)), pa.int64()),
            "call": [r[2] for r in cn],
        }
    )
    cols = ("marker", "interpretation", "value_numeric", "value_code", "value_display", "source")
    bm_t = pa.table(
        {"patient_id": [r[0] for r in bm]}
        | {
            c: pa.array([r[i + 1] for r in bm], pa.float64() if i == 2 else pa.string())
            for i, c in enumerate(cols)
        }
    )
    tables = {**sub.tables, "structural_variants": sv_t, "copy_number_genes": cn_t}
    return dataclasses.replace(sub, tables={**tables, "biomarkers": bm_t})


@pytest.fixture(scope="module")
def genomic_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = make_discovery_lake(str(tmp_path_factory.mktemp("genomic-lake")))
    lake.commit(_centre_g())
    return lake


@pytest.fixture
def lake(genomic_lake: Lake) -> Lake:
    return genomic_lake


@pytest.fixture
def api_config(api_config: ApiConfig) -> ApiConfig:
    """No suppression, no rounding: exact counts."""
    return dataclasses.replace(api_config, disclosure_threshold=0, disclosure_rounding=1)


def _sql_basket(lake: Lake) -> set[str]:
    """The basket's consenting (active, GRU) patients, recomputed in SQL from the Parquet
    files of the lake (a fresh lake of appends only: every file holds live rows)."""
    con = duckdb.connect()
    for name in ("structural_variants", "biomarkers", "consents"):
        files = [f for f in lake.data_files() if f"/{name}/" in f]
        con.execute(
            f"create view {name} as select * from read_parquet({files!r}, union_by_name=true)"
        )
    rows = con.execute(
        """
        select patient_id from consents
        where status = 'active' and list_contains(permissions, 'DUO:0000042')
        intersect (
          select patient_id from structural_variants
          where coalesce(filter, 'PASS') in ('PASS', '.')
            and list_has_any(fusion_genes, ['NTRK1', 'NTRK2', 'NTRK3'])
          union
          select patient_id from biomarkers where upper(marker) = 'MSI' and (
            value_code = 'LA26203-2' or upper(trim(value_display)) in ('MSI-H', 'MSI-HIGH')
            or lower(interpretation) = 'high')
          union
          select patient_id from biomarkers where upper(marker) = 'TMB' and value_numeric >= 10)
        """
    ).fetchall()
    return {r[0] for r in rows}


def _sql_structural(lake: Lake, gene: str, kinds: list[str] | None) -> set[str]:
    """The consenting patients with a structural variant (PASS or no filter) with a
    breakpoint in ``gene`` (of ``kinds``), recomputed in SQL from the lake's Parquet files."""
    con = duckdb.connect()
    for name in ("structural_variants", "consents"):
        files = [f for f in lake.data_files() if f"/{name}/" in f]
        con.execute(
            f"create view {name} as select * from read_parquet({files!r}, union_by_name=true)"
        )
    rows = con.execute(
        """
        select patient_id from consents
        where status = 'active' and list_contains(permissions, 'DUO:0000042')
        intersect
        select patient_id from structural_variants
        where coalesce(filter, 'PASS') in ('PASS', '.')
          and (list_contains(gene_a, $gene) or list_contains(gene_b, $gene))
          and ($any or list_contains($kinds, sv_type))
        """,
        {"gene": gene, "kinds": kinds or [], "any": kinds is None},
    ).fetchall()
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def engine(genomic_lake: Lake) -> DiscoveryEngine:
    e = DiscoveryEngine(genomic_lake)
    e.refresh()
    return e


def _patients(engine: DiscoveryEngine, criteria: Any) -> set[str]:
    _, by_centre = engine.patients(
        parse_definition({"criteria": criteria}), ResearchPurpose(primary="general")
    )
    return {p for ps in by_centre.values() for p in ps}


def test_basket_count_equals_sql_over_the_parquet_rows(engine: DiscoveryEngine) -> None:
    expected = _sql_basket(engine.indexer.lake)
    # G01 fusion, G16 reciprocal fusion, G04-G06 MSI-H (pipeline, coded, interpreted),
    # G08-G09 TMB ≥ 10, and the six A-crc patients of centre CA (FHIR MSI high, TMB 25)
    assert expected == {"G01", "G16", "G04", "G05", "G06", "G08", "G09"} | {
        f"A-crc{i:02d}" for i in range(6)
    }
    assert _patients(engine, BASKET) == expected
    result = engine.count(
        parse_definition({"criteria": BASKET}), ResearchPurpose(primary="general")
    )
    assert len(result.permitted) == len(expected)
    assert result.excluded == 2  # G03 (HMB only), G12 (withdrawn)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"type": "fusion", "gene": "NTRK1"}, set()),  # LowQual, HMB-only
        ({"type": "fusion", "gene": "ntrk3"}, {"G01", "G16"}),
        ({"type": "fusion", "gene": "ETV6::NTRK3"}, {"G01"}),  # 5' then 3'
        ({"type": "fusion", "gene": "NTRK3", "partner": "ETV6"}, {"G01", "G16"}),
        ({"type": "fusion", "gene": "ABL1"}, {"G13"}),
        ({"type": "fusion", "gene": "NTRK2"}, set()),  # a breakpoint in it, no fusion
        ({"type": "copy_number", "gene": "ERBB2", "calls": ["amplification"]}, {"G11"}),
        (
            {"type": "copy_number", "gene": "ERBB2", "calls": ["amplification", "gain"]},
            {"G11", "G13"},
        ),
        ({"type": "copy_number", "gene": "CDKN2A", "calls": ["deep_deletion"]}, {"G11"}),
        ({"type": "copy_number", "gene": "TP53", "calls": ["deep_deletion"]}, set()),
        ({"type": "tmb", "min": 10, "max": 12}, {"G09"}),
        ({"type": "tmb", "max": 5}, {"G07"}),  # A-brc TMB 4: HMB consent only
        ({"type": "msi", "status": ["MSS"]}, {"G07"}),
        (
            {"type": "msi", "status": ["MSI-H"]},
            {"G04", "G05", "G06"} | {f"A-crc{i:02d}" for i in range(6)},
        ),
    ],
)
def test_each_new_criterion(engine: DiscoveryEngine, criteria: Any, expected: set[str]) -> None:
    assert _patients(engine, criteria) == expected


@pytest.mark.parametrize(
    ("gene", "kinds", "expected"),
    [
        ("NTRK2", None, {"G13", "G14", "G15"}),  # G14: the second of two genes at breakpoint 2
        ("NTRK2", ["DEL"], {"G13", "G15"}),
        ("NTRK2", ["INV", "DUP"], {"G14"}),
        ("NTRK3", None, {"G01", "G16"}),  # gene_b of G01, gene_a of G16
        ("NTRK1", None, set()),  # LowQual; HMB consent only
        ("ERBB2", ["DUP"], {"G14"}),
        ("ERBB2", ["DEL"], set()),
        ("PTEN", None, set()),  # LowQual
        ("CDKN2A", ["INS"], {"G11"}),  # FILTER null: none applied
        ("ABL1", ["BND"], {"G13"}),
    ],
)
def test_structural_variant_by_gene_equals_sql(
    engine: DiscoveryEngine, gene: str, kinds: list[str] | None, expected: set[str]
) -> None:
    criterion: dict[str, Any] = {"type": "structural_variant", "gene": gene.lower()}
    if kinds is not None:
        criterion["sv_types"] = [k.lower() for k in kinds]  # any case
    sql = _sql_structural(engine.indexer.lake, gene, kinds)
    assert sql == expected
    assert _patients(engine, criterion) == sql


ROWS_OF = {
    "structural_variants": "select patient_id from structural_variants",
    "copy_number": "select patient_id from copy_number_genes",
    "tmb": "select patient_id from biomarkers where upper(marker) = 'TMB'",
    "msi": "select patient_id from biomarkers where upper(marker) = 'MSI'",
}


def _sql_analysed(lake: Lake, kinds: list[str]) -> set[str]:
    """The consenting patients analysed for any of ``kinds``: a specimen lists it in
    ``analyses`` or the patient has a result row of it (recomputed in SQL)."""
    con = duckdb.connect()
    for name in ("specimens", "structural_variants", "copy_number_genes", "biomarkers", "consents"):
        files = [f for f in lake.data_files() if f"/{name}/" in f]
        con.execute(
            f"create view {name} as select * from read_parquet({files!r}, union_by_name=true)"
        )
    parts = [
        f"select patient_id from specimens where list_contains(analyses, '{k}') union {ROWS_OF[k]}"
        for k in kinds
    ]
    rows = con.execute(
        f"""
        select patient_id from consents
        where status = 'active' and list_contains(permissions, 'DUO:0000042')
        intersect ({" union ".join(parts)})
        """
    ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize(
    ("criteria", "kinds", "genes"),
    [
        ({"type": "fusion", "gene": "NTRK3"}, ["structural_variants"], ["NTRK3"]),
        ({"type": "fusion", "gene": "ETV6::NTRK3"}, ["structural_variants"], ["ETV6", "NTRK3"]),
        ({"type": "structural_variant", "gene": "NTRK2"}, ["structural_variants"], ["NTRK2"]),
        (
            {"type": "copy_number", "gene": "ERBB2", "calls": ["amplification"]},
            ["copy_number"],
            ["ERBB2"],
        ),
        ({"type": "tmb", "min": 10}, ["tmb"], []),
        ({"type": "msi", "status": ["MSI-H"]}, ["msi"], []),
        (BASKET, ["structural_variants", "msi", "tmb"], ["NTRK1", "NTRK2", "NTRK3"]),
    ],
)
def test_denominator_is_the_patients_analysed_for_the_criterion(
    engine: DiscoveryEngine, criteria: Any, kinds: list[str], genes: list[str]
) -> None:
    """A patient whose analyses did not include SV calling / copy number / TMB / MSI (and
    who has no such result) is not in the criterion's denominator."""
    result = engine.count(
        parse_definition({"criteria": criteria}), ResearchPurpose(primary="general")
    )
    expected = _sql_analysed(engine.indexer.lake, kinds)
    assert result.covered is not None
    assert {engine.index.patient_ids[s] for s in result.covered} == expected
    assert result.denominator == len(expected)
    assert list(result.genes) == genes
    matched = {engine.index.patient_ids[s] for s in result.permitted}
    assert matched <= expected  # every patient counted was analysed
    if kinds == ["structural_variants"] or kinds == ["copy_number"]:
        assert "G08" not in expected and "G05" not in expected  # not analysed for it
    if kinds == ["tmb"]:
        assert {"G08", "G09", "G10"} <= expected  # G09, G10: FHIR TMB, no analyses listed
        assert "G04" not in expected  # analysed for MSI only


def test_basket_through_the_http_api(
    http: httpx.Client, api_user: ApiUserFactory, genomic_lake: Lake
) -> None:
    body = {"definition": {"format_version": 1, "criteria": BASKET}, "purpose": GRU_PURPOSE}
    r = http.post("/api/v1/cohorts/count", json=body, headers=api_user("researcher").headers)
    assert r.status_code == 200, r.text
    assert r.json()["count"] == len(_sql_basket(genomic_lake))
    assert r.json()["excluded_by_consent"] == 2
    bad = {"type": "copy_number", "gene": "ERBB2", "calls": ["amplified"]}
    body["definition"]["criteria"] = bad  # type: ignore[index]
    r = http.post("/api/v1/cohorts/count", json=body, headers=api_user("researcher").headers)
    assert r.status_code in (400, 422) and "amplification" in r.text


GRU_PURPOSE = {"primary": "general"}


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"type": "fusion", "gene": "ETV6::NTRK3", "partner": "ETV6"}, "names both partners"),
        ({"type": "fusion", "gene": "NTRK1::"}, "'' is not an HGNC gene symbol"),
        ({"type": "fusion", "gene": "NTRK 1"}, "'NTRK 1' is not an HGNC gene symbol"),
        ({"type": "fusion", "gene": "NTRK1", "partner": "a b"}, "partner 'a b' is not"),
        ({"type": "copy_number", "gene": "ERBB2", "calls": []}, "at least 1 item"),
        ({"type": "copy_number", "gene": "ERBB2", "calls": ["amp"]}, "'amplification'"),
        ({"type": "tmb"}, "needs min and/or max"),
        ({"type": "tmb", "min": 20, "max": 10}, "min (20.0) is greater than max (10.0)"),
        ({"type": "tmb", "min": -1}, "greater than or equal to 0"),
        ({"type": "msi", "status": ["high"]}, "'MSI-H'"),
        ({"type": "structural_variant", "gene": "NTRK 2"}, "'NTRK 2' is not an HGNC gene"),
        ({"type": "structural_variant", "gene": "NTRK2", "sv_types": ["TRA"]}, "'BND'"),
        ({"type": "structural_variant", "gene": "NTRK2", "sv_types": []}, "at least 1 item"),
        ({"type": "structural_variant", "sv_types": ["DEL"]}, "gene: Field required"),
    ],
)
def test_bad_criteria_get_one_line_errors(criteria: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as err:
        parse_definition({"criteria": criteria})
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("definition.criteria")


def test_filtering_terms_list_the_new_criteria(engine: DiscoveryEngine) -> None:
    with engine.current() as idx:
        terms = {t["type"]: t for t in filtering_terms(idx)["criteria"]}
    assert terms["fusion"]["genes"] == ["ABL1", "BCR", "ETV6", "NTRK1", "NTRK3", "TPM3"]
    assert "LMNA" not in terms["fusion"]["genes"]  # its only fusion is LowQual
    assert terms["copy_number"]["genes"] == ["CDKN2A", "ERBB2", "TP53"]
    sv = terms["structural_variant"]
    assert sv["sv_types"] == ["DEL", "DUP", "INV", "INS", "BND"]
    assert "NTRK2" in sv["genes"] and "AC012.3" in sv["genes"] and "PTEN" not in sv["genes"]
    assert terms["copy_number"]["calls"][0] == "amplification"
    assert terms["tmb"]["present"] is True
    assert terms["msi"]["present"] == ["MSI-H", "MSS"]


def test_new_features_survive_the_persisted_index(genomic_lake: Lake, tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index", b"genomic-test-key")
    first = DiscoveryEngine(genomic_lake, store=store)
    first.refresh()
    expected = _patients(first, BASKET)
    restarted = DiscoveryEngine(
        genomic_lake, store=IndexStore(tmp_path / "index", b"genomic-test-key")
    )
    restarted.refresh()
    assert restarted.indexer.loads == 1 and restarted.indexer.full_builds == 0
    assert _patients(restarted, BASKET) == expected
    cn = {"type": "copy_number", "gene": "ERBB2", "calls": ["amplification", "gain"]}
    assert _patients(restarted, cn) == {"G11", "G13"}
    sv = {"type": "structural_variant", "gene": "NTRK2", "sv_types": ["DEL"]}
    assert _patients(restarted, sv) == {"G13", "G15"}


@pytest.mark.parametrize("seed", range(4))
def test_value_cuts_answer_every_range_as_slicing_the_sorted_rows(seed: int) -> None:
    """TMB ranges from the kept bitmaps equal the rows sliced from the sorted values, for
    integer and other thresholds, ties, and patients with two values."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    vals = np.round(rng.gamma(1.5, 4.0, n), int(rng.integers(0, 3)))  # ties when rounded
    slots = rng.integers(0, n if seed % 2 else 2 * n, n).astype(np.uint32)  # odd: repeats
    order = np.argsort(vals, kind="stable")
    vals, slots = vals[order], slots[order]
    cuts = ValueCuts(vals, slots)
    assert cuts.single == (len(set(slots.tolist())) == n)
    points = [*rng.uniform(-1, vals[-1] + 1, 20), *range(0, 30), float(vals[n // 2])]
    for lo in [None, *points]:
        for hi in [None, *rng.choice(points, 5)]:
            got = cuts.between(lo, hi)
            keep = np.ones(n, bool)
            if lo is not None:
                keep &= vals >= lo
            if hi is not None:
                keep &= vals <= hi
            assert set(got) == set(slots[keep].tolist()), (lo, hi)


def test_the_basket_in_words() -> None:
    lines = [x.text for x in describe_definition({"criteria": BASKET})]
    assert lines == [
        "Any of:",
        "Fusion: NTRK1 with any partner",
        "Fusion: NTRK2 with any partner",
        "Fusion: NTRK3 with any partner",
        "MSI status: MSI-H",
        "TMB: ≥ 10 mutations/Mb",
    ]
    sv = {"type": "structural_variant", "gene": "ALK", "sv_types": ["INV", "BND"]}
    cn = {"type": "copy_number", "gene": "CDKN2A", "calls": ["deep_deletion"]}
    fusion = {"type": "fusion", "gene": "ETV6", "partner": "NTRK3"}
    words = [
        x.text
        for x in describe_definition({"criteria": {"type": "and", "criteria": [sv, cn, fusion]}})
    ]
    assert words[1:] == [
        "Structural variant (INV or BND) with a breakpoint in ALK",
        "Copy number: CDKN2A deep deletion",
        "Fusion: ETV6 with NTRK3 (either orientation)",
    ]
