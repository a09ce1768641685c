"""The web pages over HTTP (no browser): session cookie, CSRF on every form, bad input
answered with a 4xx page (never a 500), role gates as in the API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import httpx
import pytest
from fastapi import FastAPI
from starlette.datastructures import FormData

from catalog_api.discovery.definition import Leaf
from catalog_api.discovery.terms import consequence_label, stage_label
from catalog_api.governance.engine import validate_definition
from catalog_api.governance.errors import Invalid
from catalog_api.web import forms
from catalog_api.web.chart import basket_svg
from catalog_api.web.describe import describe_definition
from catalog_api.web.routes import router
from harmonise.model import DATA_TABLES, TABLES
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.web_fixtures import WebClient

WEB_DOC = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text()
BRAF_FORM = {"gene": "BRAF", "protein_change": "V600E", "purpose_primary": "health"}


def test_web_sign_in_sets_a_secure_httponly_lax_session_and_sign_out_revokes_it(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    user = api_user("researcher")
    web = WebClient(http)
    r = web.get("/web/cohorts/new")
    assert r.status_code == 303 and r.headers["location"].startswith("/web/sign-in?next=")
    csrf = web.csrf("/web/sign-in")
    bad = web.post("/web/sign-in", {"csrf_token": csrf, "token": "olk_nope"})
    assert bad.status_code == 401 and "unknown API token" in bad.text
    r = web.post("/web/sign-in", {"csrf_token": csrf, "token": user.token})
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("oncolake_session="))
    lowered = cookie.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=lax" in lowered
    assert user.token not in cookie  # the cookie holds a session token, not the API token
    assert web.get("/web/cohorts/new").status_code == 200
    stolen = dict(web.cookies)
    out = web.post("/web/sign-out", {"csrf_token": web.csrf()})
    assert out.status_code == 303
    # the old cookie no longer works: the session token was revoked on the server
    replay = http.get(
        "/web/cohorts/new", headers={"Cookie": f"oncolake_session={stolen['oncolake_session']}"}
    )
    assert replay.status_code == 303
    # the user's API token still works
    assert http.get("/api/v1/cohorts", headers=user.headers).status_code == 200


def test_web_every_post_refuses_a_missing_or_wrong_csrf_token(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    web = WebClient(http).sign_in(api_user(["researcher", "reviewer", "admin"], ["C1"]).token)
    posts = [
        r.path.replace("{request_id}", "1").replace("{export_id}", "1").replace("{centre_id}", "C1")
        for r in router.routes
        if "POST" in getattr(r, "methods", set())
    ]
    assert len(posts) >= 7
    for path in posts:
        for data in ({}, {"csrf_token": "forged"}):
            r = web.post(path, data)
            assert r.status_code == 403, (path, r.status_code, r.text[:200])
            assert "security token (CSRF)" in r.text


def test_web_bad_input_is_a_4xx_page_never_a_500(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    web = WebClient(http).sign_in(api_user("researcher").token)
    csrf = web.csrf()
    cases = [
        ("/web/cohorts/count", {**BRAF_FORM, "age_min": "abc"}, 422, "not a number"),
        ("/web/cohorts/count", {**BRAF_FORM, "age_min": "90", "age_max": "10"}, 422, "greater"),
        ("/web/cohorts/count", {**BRAF_FORM, "gene": "NOSUCHGENE"}, 400, "NOSUCHGENE"),
        ("/web/cohorts/count", {**BRAF_FORM, "protein_change": "??"}, 400, "protein"),
        ("/web/cohorts/count", {**BRAF_FORM, "purpose_primary": "disease"}, 422, "disease"),
        ("/web/cohorts/count", {**BRAF_FORM, "biomarker_min": "nan"}, 422, "finite"),
        ("/web/cohorts", {"name": "x", "definition_json": "{not json"}, 422, "JSON"),
        ("/web/cohorts", {"name": "", "definition_json": "{}"}, 422, "name"),
        ("/web/requests", {"cohort_id": "abc", "title": "t"}, 422, "cohort_id"),
        (
            "/web/requests",
            {
                "cohort_id": "999",
                "title": "ttt",
                "description": "d",
                "institution": "i",
                "duration_days": "5",
                "fields": "patients.sex",
            },
            404,
            "no cohort 999",
        ),
        ("/web/exports/1/download", {"file": "../etc/passwd"}, 422, "file"),
    ]
    for path, data, status, words in cases:
        r = web.post(path, {"csrf_token": csrf, **data})
        assert r.status_code == status, (path, data, r.status_code, r.text[:300])
        assert words in r.text, (path, words, r.text[:500])
    for path, status in [
        ("/web/requests/abc", 404),
        ("/web/requests/99999999999", 404),
        ("/web/requests/5", 404),
        ("/web/cohorts/5", 404),
        ("/web/requests/1/centres/%2e%2e", 404),
        ("/web/audit?after_seq=-1", 403),
        ("/web/sign-in?next=" + "x" * 600, 400),
    ]:
        assert web.get(path).status_code == status, path


def test_web_role_gates_match_the_api(http: httpx.Client, api_user: ApiUserFactory) -> None:
    reviewer = WebClient(http).sign_in(api_user("reviewer", ["C1"]).token)
    r = reviewer.get("/web/cohorts/new")
    assert r.status_code == 403 and "needs the researcher role" in r.text
    assert reviewer.get("/web/audit").status_code == 403
    assert reviewer.get("/web/reviews").status_code == 200
    researcher = WebClient(http).sign_in(api_user("researcher").token)
    assert researcher.get("/web/reviews").status_code == 403
    assert researcher.get("/web/datasets").status_code == 200


def test_web_pages_are_not_in_the_openapi_schema(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert not [p for p in paths if p.startswith("/web") or p == "/"]


def test_web_pages_send_security_headers(http: httpx.Client) -> None:
    r = http.get("/web/sign-in")
    assert "script-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert re.search(r'name="csrf_token" value="[0-9a-f]{64}"', r.text)


def test_web_basket_chart_draws_no_bar_for_suppressed_cells() -> None:
    svg = str(basket_svg({"SKCM": 20, "COAD": 5, "other": "<5"}, label=lambda c: c, total=25))
    rows = re.findall(r'<g class="bar-row".*?</g>', svg)
    assert len(rows) == 3
    suppressed = [r for r in rows if 'data-suppressed="true"' in r]
    assert len(suppressed) == 1
    assert "<rect" not in suppressed[0] and "&lt;5 (fewer than 5)" in suppressed[0]
    widths = [int(w) for w in re.findall(r'<rect [^>]*width="(\d+)"', svg)]
    assert widths == [260, 65]  # scaled to the largest shown (rounded) count


def test_web_basket_chart_tells_zero_and_small_apart_nowhere() -> None:
    # the engine's answers for no patient and for two: both totals suppressed
    zero = str(basket_svg({}, label=str, total="<5"))
    two = str(basket_svg({"other": "<5"}, label=str, total="<5"))
    assert zero == two and "Fewer than 5 patients match" in zero and "<rect" not in zero
    # a breakdown without "other" still shows an "other" row as <5: absent says nothing
    without = str(basket_svg({"LUAD": 10}, label=str, total=10))
    with_small = str(basket_svg({"LUAD": 10, "other": "<5"}, label=str, total=10))
    assert without == with_small


def test_web_basket_chart_wraps_long_labels_and_widens_its_label_column() -> None:
    long = "PAAD — Pancreatic Adenocarcinoma of the exocrine pancreas, ductal type"
    svg = str(
        basket_svg({"PAAD": 10, "LUAD": 10}, label=lambda c: long if c == "PAAD" else c, total=20)
    )
    assert "…" not in svg  # never cut
    paad = re.search(r'data-category="PAAD".*?</g>', svg)
    assert paad and paad.group(0).count("<tspan") >= 2  # wrapped, not cut
    assert "".join(re.findall(r"<tspan[^>]*>([^<]*)</tspan>", paad.group(0))).replace(
        " ", ""
    ) == long.replace(" ", "")
    narrow = str(basket_svg({"LUAD": 10}, label=str, total=10))
    bar_x = [int(x) for x in re.findall(r'<rect x="(\d+)"', svg)]
    narrow_x = [int(x) for x in re.findall(r'<rect x="(\d+)"', narrow)]
    assert min(bar_x) > max(narrow_x)  # the label column grows with its labels


def test_web_builder_renders_zero_and_one_to_four_patients_alike(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    web = WebClient(http).sign_in(api_user("researcher").token)
    csrf = web.csrf()
    base = {"csrf_token": csrf, "purpose_primary": "health", "tumour_descendants": "on"}
    # MEL: no patient; COAD at C1: two health-consenting patients (see the fixture)
    zero = web.post("/web/cohorts/count", {**base, "tumour_other": "MEL"})
    two = web.post("/web/cohorts/count", {**base, "tumour_other": "COAD", "centre": "C1"})
    assert zero.status_code == two.status_code == 200

    def shown(html: str) -> str:
        figures = re.search(r'<dl class="figures">.*?</dl>', html, re.S)
        chart = re.search(r"<svg.*?</svg>", html, re.S)
        table = re.search(r"<caption[^>]*>Patients per centre.*?</table>", html, re.S)
        assert figures and chart and table
        return figures.group(0) + chart.group(0) + table.group(0)

    assert shown(zero.text) == shown(two.text)
    assert "No patient" not in zero.text


def _dataset_counts(html: str) -> dict[str, str]:
    """Dataset id → its "Specimens" and "Rows per table" text on /web/datasets."""
    out = {}
    for block in re.findall(r'<article class="dataset">.*?</article>', html, re.S):
        ds = re.search(r'<span class="meta">(\w+)</span></h3>', block)
        cells = re.findall(r"<dt>(?:Specimens|Rows per table)</dt><dd>(.*?)</dd>", block)
        assert ds and len(cells) == 2, block[:300]
        out[ds.group(1)] = " | ".join(cells)
    return out


def test_web_datasets_page_shows_no_exact_small_count_to_a_researcher(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    researcher = WebClient(http).sign_in(api_user("researcher").token)
    shown = _dataset_counts(researcher.get("/web/datasets").text)
    assert set(shown) == {"D1", "D2"}
    for ds, text in shown.items():
        numbers = [int(n) for n in re.findall(r"(?<![&\w])(\d+)\b", text.replace("&lt;5", ""))]
        assert numbers and all(n >= 5 and n % 5 == 0 for n in numbers), (ds, text)
        assert "&lt;5" in text  # D1's 8 patients have no specimen rows: shown as <5, not 0
    assert "patients 10" in shown["D1"] and "patients 5" in shown["D2"]  # 8 and 6, rounded
    # C1's reviewer sees C1's exact counts, and C2's disclosed
    reviewer = WebClient(http).sign_in(api_user("reviewer", ["C1"]).token)
    shown = _dataset_counts(reviewer.get("/web/datasets").text)
    assert "patients 8" in shown["D1"] and "specimens 0" in shown["D1"]
    assert "patients 5" in shown["D2"] and "&lt;5" in shown["D2"]


def _form(items: list[tuple[str, str]]) -> FormData:
    return FormData(items)


def test_web_builder_form_expresses_every_leaf_type_with_not_and_or_groups() -> None:
    form = _form(
        [
            ("groups", "2"),
            ("tumour_codes", "LUAD"),
            ("tumour_descendants", "on"),
            ("gene", "braf"),
            ("protein_change", "V600E"),
            ("consequence", "missense_variant"),
            ("variant_class", "SNV"),
            ("origin", "somatic"),
            ("biomarker", "TMB"),
            ("biomarker_min", "10"),
            ("fusion_gene", "ntrk1"),
            ("sv_gene", "ntrk2"),
            ("sv_type", "DEL"),
            ("sv_type", "INV"),
            ("cn_gene", "ERBB2"),
            ("cn_call", "amplification"),
            ("tmb_min", "10"),
            ("msi", "MSI-H"),
            ("not_msi", "on"),
            ("stage", "IV"),
            ("not_stage_group", "on"),
            ("drug", "Vemurafenib"),
            ("line_of_therapy", "1"),
            ("age_min", "18"),
            ("sex", "female"),
            ("vital_status", "alive"),
            ("centre", "C1"),
            ("dataset", "D1"),
            ("assay_type", "WES"),
            ("pipeline", ""),
            ("harmonised", "yes"),
            ("coverage_gene", "braf"),
            ("coverage_min_depth", "100"),
            ("g2_gene", "KRAS"),
            ("g2_not_variant", "on"),
        ]
    )
    data = forms.definition_from_form(form)
    validate_definition(data)  # the API's own validation accepts it
    first, second = data["criteria"]["criteria"]
    assert data["criteria"]["type"] == "or"
    kinds = [c["type"] if c["type"] != "not" else c["criterion"]["type"] for c in first["criteria"]]
    assert kinds == list(forms.LEAF_KINDS)
    assert {"type": "not", "criterion": {"type": "stage_group", "values": ["IV"]}} in first[
        "criteria"
    ]
    assert {
        "type": "variant",
        "gene": "BRAF",
        "protein_change": "V600E",
        "consequence": ["missense_variant"],
        "variant_class": ["SNV"],
        "origin": "somatic",
    } in first["criteria"]
    assert {"type": "pipeline", "harmonised": True} in first["criteria"]
    assert {"type": "coverage", "gene": "BRAF", "min_depth": 100.0} in first["criteria"]
    assert {"type": "fusion", "gene": "NTRK1"} in first["criteria"]
    sv = {"type": "structural_variant", "gene": "NTRK2", "sv_types": ["DEL", "INV"]}
    assert sv in first["criteria"]
    assert {"type": "copy_number", "gene": "ERBB2", "calls": ["amplification"]} in first["criteria"]
    assert {"type": "not", "criterion": {"type": "msi", "status": ["MSI-H"]}} in first["criteria"]
    assert second == {"type": "not", "criterion": {"type": "variant", "gene": "KRAS"}}
    # every leaf type of the definition model has a place in the builder
    leaf_types = {m.model_fields["type"].default for m in get_args(Leaf)}
    assert leaf_types == set(forms.LEAF_KINDS)


def test_web_builder_json_field_takes_any_definition_and_refuses_both() -> None:
    nested = {
        "type": "and",
        "criteria": [
            {
                "type": "or",
                "criteria": [
                    {"type": "variant", "gene": "BRAF"},
                    {"type": "sex", "values": ["male"]},
                ],
            },
            {
                "type": "not",
                "criterion": {"type": "not", "criterion": {"type": "centre", "values": ["C1"]}},
            },
        ],
    }
    data = forms.definition_from_form(_form([("criteria_json", json.dumps(nested))]))
    assert data == {"format_version": 1, "criteria": nested}
    whole = {"format_version": 1, "criteria": nested}
    assert forms.definition_from_form(_form([("criteria_json", json.dumps(whole))])) == whole
    with pytest.raises(Invalid, match="clear either the JSON or the form"):
        forms.definition_from_form(_form([("criteria_json", json.dumps(nested)), ("gene", "BRAF")]))
    with pytest.raises(Invalid, match="not valid JSON"):
        forms.definition_from_form(_form([("criteria_json", "{nope")]))
    with pytest.raises(Invalid, match="groups"):
        forms.definition_from_form(_form([("groups", "99")]))
    with pytest.raises(Invalid, match="Coverage: choose both"):
        forms.definition_from_form(_form([("coverage_gene", "BRAF")]))


def test_web_builder_removes_a_group_and_renumbers_the_rest(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    web = WebClient(http).sign_in(api_user("researcher").token)
    csrf = web.csrf()
    r = web.post(
        "/web/cohorts/count",
        {
            "csrf_token": csrf,
            "groups": "3",
            "gene": "BRAF",
            "g2_gene": "KRAS",
            "g3_gene": "TP53",
            "action": "remove_group_1",
        },
    )
    assert r.status_code == 200
    assert 'name="groups" value="2"' in r.text
    assert 'id="gene" name="gene" list="genes" value="BRAF"' in r.text
    assert 'id="g2_gene" name="g2_gene" list="genes" value="TP53"' in r.text
    assert 'list="genes" value="KRAS"' not in r.text and 'id="g3_gene"' not in r.text
    r = web.post("/web/cohorts/count", {"csrf_token": csrf, "action": "add_group", "gene": "BRAF"})
    assert 'name="groups" value="2"' in r.text and 'id="g2_tumour_descendants"' in r.text
    assert (
        web.post("/web/cohorts/count", {"csrf_token": csrf, "action": "explode"}).status_code == 422
    )


def test_web_request_form_groups_fields_by_table_with_the_documented_default_set(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    user = api_user("researcher")
    saved = http.post(
        "/api/v1/cohorts",
        headers=user.headers,
        json={
            "name": "braf",
            "definition": {"format_version": 1, "criteria": {"type": "variant", "gene": "BRAF"}},
        },
    )
    assert saved.status_code in (200, 201), saved.text
    html = WebClient(http).sign_in(user.token).get("/web/requests/new").text
    tables = re.findall(r'<details class="table-fields" id="fields-(\w+)"', html)
    assert tables == list(DATA_TABLES)  # one group per lake table, in the model's order
    checked = re.findall(r'name="fields" value="([\w.]+)" checked', html)
    assert sorted(checked) == sorted(forms.DEFAULT_FIELDS)
    for name in forms.DEFAULT_FIELDS:  # real columns, documented in docs/web.md
        table, column = name.split(".")
        assert column in TABLES[table].column_names, name
        assert f"`{name}`" in WEB_DOC, f"docs/web.md does not name the default field {name}"
    offered = re.findall(r'name="fields" value="([\w.]+)"', html)
    assert not [f for f in offered if f.endswith((".patient_id", ".submission_id"))]
    # each field is labelled with its column and described by the model's documentation
    assert 'aria-describedby="field_variants_vaf_doc"' in html and "variant allele fraction" in html


def test_web_audit_details_are_labelled_key_values_not_cut_json(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    researcher = api_user("researcher")
    definition = {"format_version": 1, "criteria": {"type": "variant", "gene": "BRAF"}}
    r = http.post(
        "/api/v1/cohorts", headers=researcher.headers, json={"name": "b", "definition": definition}
    )
    assert r.status_code in (200, 201), r.text
    admin = WebClient(http).sign_in(api_user("admin").token)
    html = admin.get("/web/audit?action=cohort.saved").text
    cell = re.search(r'<td class="details"[^>]*>(.*?)</td>', html, re.S)
    assert cell, html[-2000:]
    text = cell.group(1)
    # every key in words, nested counts as their own list, digests whole in a title
    for words in ("Lake version", "Definition (SHA-256)", "Counts", "Total", "Centres"):
        assert f"<dt>{words}</dt>" in text, (words, text)
    digest = re.search(r'<code title="([0-9a-f]{64})">([0-9a-f]{12})…</code>', text)
    assert digest and digest.group(1).startswith(digest.group(2))
    assert text.count('<dl class="kv">') >= 3  # details → counts → centres
    assert "<summary>{" not in html  # no raw JSON as the visible summary


def test_web_definition_in_words_labels_every_coded_value() -> None:
    definition = {
        "criteria": {
            "type": "and",
            "criteria": [
                {"type": "tumour_type", "codes": ["LUAD"]},
                {"type": "stage_group", "values": ["IV", "1222801008"]},
                {"type": "variant", "gene": "BRAF", "consequence": ["missense_variant"]},
                {"type": "variant", "variant_class": ["SNV"]},
            ],
        }
    }
    text = " | ".join(line.text for line in describe_definition(definition))
    assert "LUAD (Lung Adenocarcinoma)" in text
    assert "Stage IV or Stage III (SNOMED CT 1222801008)" in text
    assert "Variant: BRAF, missense variant (changes one amino acid)" in text
    assert "SNV: single-nucleotide variant" in text
    assert forms.duo_label("DUO:0000006") == "HMB: health or medical or biomedical research"
    # the API's filtering terms carry the same labels
    assert stage_label("IIIA") == "Stage IIIA"
    assert consequence_label("stop_gained").startswith("stop gained (")


def test_web_request_trail_shows_a_researcher_no_exact_count(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    researcher = api_user("researcher")
    definition = {"format_version": 1, "criteria": {"type": "variant", "gene": "BRAF"}}
    cohort = http.post(
        "/api/v1/cohorts", headers=researcher.headers, json={"name": "b", "definition": definition}
    ).json()
    req = http.post(
        "/api/v1/access-requests",
        headers=researcher.headers,
        json={
            "cohort_id": cohort["id"],
            "purpose": {"primary": "health"},
            "title": "BRAF basket",
            "description": "d",
            "institution": "i",
            "duration_days": 30,
            "fields": ["patients.sex"],
        },
    ).json()
    r = http.post(f"/api/v1/access-requests/{req['id']}/submit", headers=researcher.headers)
    assert r.status_code == 200, r.text

    def parts(html: str) -> str:
        found = re.search(r"<dt>Parts</dt>\s*<dd>(.*?)</dl>\s*</dd>", html, re.S)
        assert found, html[-3000:]
        return re.sub(r"\s+", "", found.group(1))

    # six consenting patients at each centre: the researcher reads 5 (rounded), not 6
    mine = WebClient(http).sign_in(researcher.token).get(f"/web/requests/{req['id']}/audit")
    assert parts(mine.text) == '<dlclass="kv"><dt>C1</dt><dd>5</dd><dt>C2</dt><dd>5</dd>'
    # C1's reviewer reads C1's exact count only
    board = WebClient(http).sign_in(api_user("reviewer", ["C1"]).token)
    assert "<dt>C1</dt><dd>6</dd>" in parts(board.get(f"/web/requests/{req['id']}/audit").text)


def test_web_saved_cohorts_of_zero_and_two_patients_look_alike(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    researcher = api_user("researcher")
    web = WebClient(http).sign_in(researcher.token)

    def saved(criteria: dict[str, object]) -> str:
        r = http.post(
            "/api/v1/cohorts",
            headers=researcher.headers,
            json={"name": "c", "definition": {"format_version": 1, "criteria": criteria}},
        )
        assert r.status_code in (200, 201), r.text
        html = web.get(f"/web/cohorts/{r.json()['id']}").text
        table = re.search(r"<table class=\"compact\">.*?</table>", html, re.S)
        assert table
        return table.group(0)

    zero = saved({"type": "tumour_type", "codes": ["MEL"]})
    # COAD at C2: two patients (C2-p00, C2-p03)
    two = saved(
        {
            "type": "and",
            "criteria": [
                {"type": "tumour_type", "codes": ["COAD"]},
                {"type": "centre", "values": ["C2"]},
            ],
        }
    )
    assert zero == two and "Fewer than 5 patients matched" in zero
