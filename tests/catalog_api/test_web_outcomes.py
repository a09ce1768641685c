"""The "Treatments and outcomes" view in headless Chromium, on a lake holding journeys:
from the builder's result and from a saved cohort; the SVG, PNG and CSV downloads hold the
disclosed numbers only (the API's), no count of 1 to 4 anywhere on the page or in a
download, the suppression said in words; a role without the researcher's cannot open it.
Screenshots go to ``test-artefacts/screenshots/outcomes-*``."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from catalog_api.web.charts_outcomes import km_scene, pathway_scene
from harmonise.lake import Lake, LakeConfig
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.test_analytics_lake import journey_submission
from tests.catalog_api.web_fixtures import (
    VIEWPORT,
    WebClient,
    assert_chart_fits,
    assert_labelled,
    assert_text_fits,
    new_page,
    shot,
    sign_in,
)
from tests.conftest import TAG_KEY

C2 = {"type": "centre", "values": ["C2"]}
#: Count columns of the CSV downloads.
COUNT_COLUMNS = {"patients", "at_risk", "events", "censored"}


@pytest.fixture(scope="module")
def outcomes_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("outcomes-lake")
    lake = Lake(
        LakeConfig(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh")),
        TAG_KEY,
    )
    lake.init()
    lake.commit(journey_submission("J1", "C1", 150, seed=21))
    lake.commit(journey_submission("J2", "C2", 80, seed=22))
    return lake


@pytest.fixture
def lake(outcomes_lake: Lake) -> Lake:
    return outcomes_lake


def _disclosed(value: Any) -> bool:
    """A count as the disclosure rule shows it: ``<5``, 0, or a multiple of 5 from 5."""
    if isinstance(value, str) and value.startswith("<"):
        return value == "<5"
    n = int(value)
    return n == 0 or (n >= 5 and n % 5 == 0)


def _data(href: str) -> tuple[str, bytes]:
    head, _, body = href.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head[:40]
    return head[5:].split(";")[0], base64.b64decode(body)


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert "rounded to a multiple of 5" in text  # the rules travel with the numbers
    return list(csv.DictReader(lines))


def _check_downloads(page: Any, tmp_path: Path) -> dict[str, list[dict[str, str]]]:
    """Every download link of the page: SVG counts, PNG image, CSV counts disclosed; one
    SVG really downloaded. Returns the CSV rows by file name."""
    links = page.locator("a.download")
    kinds: dict[str, int] = {}
    tables = {}
    for i in range(links.count()):
        a = links.nth(i)
        kind, name = a.get_attribute("data-kind"), a.get_attribute("download")
        media, body = _data(a.get_attribute("href"))
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == "svg":
            assert media == "image/svg+xml"
            root = ET.fromstring(body)
            counts = [t.get("data-count") for t in root.iter() if t.get("data-count")]
            assert counts and all(_disclosed(c) for c in counts), (name, counts)
        elif kind == "png":
            img = Image.open(io.BytesIO(body))
            assert media == "image/png" and img.format == "PNG" and img.width > 600
        else:
            assert media == "text/csv"
            rows = _csv_rows(body)
            for row in rows:
                for col in COUNT_COLUMNS & set(row):
                    assert row[col] == "" or _disclosed(row[col]), (name, col, row)
            tables[name] = rows
    assert kinds == {"svg": 3, "png": 3, "csv": 4}, kinds
    first = links.first
    with page.expect_download() as info:
        first.click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.read_bytes() == _data(first.get_attribute("href"))[1]
    return tables


def _assert_no_small_count_shown(page: Any) -> None:
    shown = page.locator("main .count").all_text_contents()
    shown += [page.inner_text("#patients"), page.inner_text("#with-a-line")]
    assert all(_disclosed(v.split()[0]) for v in shown), shown
    dc = page.eval_on_selector_all("svg [data-count]", "els => els.map(e => e.dataset.count)")
    assert all(_disclosed(v) for v in dc), dc


def test_outcomes_view_from_the_builder_and_a_saved_cohort(
    chromium: Any, server: str, api_user: ApiUserFactory, tmp_path: Path
) -> None:
    researcher = api_user("researcher", username="rosa")
    page = new_page(chromium, server)
    sign_in(page, researcher.token)
    page.goto("/web/cohorts/new")
    page.locator("details.json summary").click()
    page.fill("#criteria_json", json.dumps(C2))
    page.check("#purpose_health")
    page.click("#count")
    assert page.inner_text("#total") == "80"

    # -- from the builder's result: first-line regimen groups by default -------------------
    page.click("#open-outcomes")
    assert page.input_value("#group_by") == "line1_regimen"
    assert page.is_checked("#purpose_health")
    assert_labelled(page)
    shot(page, "outcomes-01-from-builder")
    assert_chart_fits(page)
    assert_text_fits(page)
    words = page.inner_text("#suppressed")
    assert "fewer than 5 patients are merged into 'other'" in words
    assert "rounded to a multiple of 5" in words
    assert "fewer than 5 patients remain at risk" in words
    assert page.locator("#pathway-figure svg[role=img] .pathway-node").count() >= 3
    groups = page.locator("#survival-table tbody tr").count()
    assert groups >= 2
    assert page.locator("#km-figure svg .km-curve").count() == groups
    # shown, or why not (a first-line group with fewer than 5 events)
    assert re.search(
        r"log-rank (χ² [\d.]+, \d+ df, p = |not shown: every group needs at least 5)",
        page.inner_text("#tests"),
    )
    assert page.locator("main .count").count() > 5
    page.set_viewport_size({"width": 390, "height": 900})  # a phone: nothing spills over
    assert_text_fits(page)
    shot(page, "outcomes-01-from-builder-narrow")
    page.set_viewport_size(VIEWPORT)
    _assert_no_small_count_shown(page)
    tables = _check_downloads(page, tmp_path)

    # the CSV holds the API's disclosed numbers for the same question
    api = page.request.post(
        "/api/v1/cohorts/treatment-patterns",
        headers={"Authorization": f"Bearer {researcher.token}"},
        data={"definition": {"criteria": C2}, "purpose": {"primary": "health"}},
    )
    assert api.status == 200, api.text()
    want = {
        (str(e["line"]), r["regimen"]): str(r["patients"])
        for e in api.json()["lines"]
        for r in e["regimens"]
    }
    regimens = next(rows for name, rows in tables.items() if name.endswith("-regimens.csv"))
    got = {(r["line"], r["regimen"]): r["patients"] for r in regimens}
    assert got == want and want
    # and so does the page's table ("other" in words)
    cells = page.eval_on_selector_all(
        "#regimen-table tbody tr",
        "rows => rows.filter(r => r.cells.length === 5)"
        "  .map(r => [r.cells[0].innerText, r.cells[1].innerText, r.cells[2].innerText])",
    )
    shown = {
        (line, "other" if reg.startswith("Other regimens") else reg): n for line, reg, n in cells
    }
    assert shown == want

    # -- a saved cohort (saved through the API): its page links to the view ---------------
    saved = page.request.post(
        "/api/v1/cohorts",
        headers={"Authorization": f"Bearer {researcher.token}"},
        data={"name": "C2 journeys", "definition": {"criteria": C2}},
    )
    assert saved.status == 201, saved.text()
    cohort_id = saved.json()["id"]
    page.goto(f"/web/cohorts/{cohort_id}")
    page.click("#open-outcomes")
    assert page.url.endswith(f"/web/cohorts/{cohort_id}/outcomes")
    assert page.locator("#km-figure").count() == 0  # no answer before the form is sent
    page.check("#purpose_health")
    page.select_option("#endpoint", "ttnt_after_line")
    page.fill("#line", "1")
    page.select_option("#group_by", "sex")
    page.click("#show-outcomes")
    heading = page.inner_text("#survival-h")
    assert "Time to next treatment (or death) after the start of line 1" in heading
    assert page.locator("#km-figure svg .km-curve").count() == 2  # female, male (+ few unknown)
    hazard = r"hazard ratio \w.* vs \w.*: [\d.]+ \(95% CI [\d.]+–[\d.]+\)"
    assert re.search(r"log-rank χ² [\d.]+, 1 df, p = .*" + hazard, page.inner_text("#tests"))
    _assert_no_small_count_shown(page)
    assert_chart_fits(page)
    shot(page, "outcomes-02-saved-cohort-ttnt-by-sex")

    # -- a cohort of fewer than 5 (or none): words, no number, no curve --------------------
    page.goto("/web/cohorts/new")
    page.locator("details.json summary").click()
    page.fill("#criteria_json", json.dumps({"type": "age_at_diagnosis", "min": 90}))
    page.check("#purpose_health")
    page.click("#count")
    assert page.inner_text("#total") == "<5"
    page.click("#open-outcomes")
    assert page.inner_text("#patients") == "<5" and page.inner_text("#with-a-line") == "<5"
    assert "Too few patients" in page.inner_text("#pathway-figure")
    assert page.locator("svg .km-curve, svg .pathway-node, a.download[data-kind=png]").count() == 0
    _assert_no_small_count_shown(page)
    shot(page, "outcomes-03-fewer-than-5")

    # -- a reviewer (no researcher role) cannot open it --------------------------------------
    reviewer = new_page(chromium, server)
    sign_in(reviewer, api_user("reviewer", ["C2"]).token)
    response = reviewer.goto(f"/web/cohorts/{cohort_id}/outcomes")
    assert response.status == 403 and "researcher" in reviewer.inner_text("main")
    for p in (page, reviewer):
        p.context.close()


def test_charts_draw_only_disclosed_cells() -> None:
    """A pathway whose second-line cell is ``<5`` draws no node or band for it; the PNG is
    the SVG's scene at twice its size; no curve: a sentence instead of axes."""
    answer = {
        "patients_with_a_line": 20,
        "sankey": {
            "nodes": [
                {"line": 1, "regimen": "A", "patients": 20},
                {"line": 2, "regimen": "B", "patients": 10},
            ],
            "links": [{"from_line": 1, "from": "A", "to": "B", "patients": 10}],
        },
    }
    scene = pathway_scene(answer)
    svg = str(scene.svg())
    assert svg.count('class="pathway-node"') == 2 and svg.count('class="pathway-link"') == 1
    assert 'data-count="20"' in svg and 'data-count="10"' in svg
    png = Image.open(io.BytesIO(scene.png()))
    assert png.size == (2 * scene.width, 2 * scene.height)
    empty = km_scene({"curves": [{"group": "cohort", "points": []}]}, title="t", axis="a")
    assert "Too few patients" in str(empty.svg()) and "km-curve" not in str(empty.svg())


def test_outcomes_routes_refuse_what_they_must(http: Any, api_user: ApiUserFactory) -> None:
    """404 for a cohort that does not exist and for another researcher's (as its page
    answers: its existence is not told), 422 with the
    field's name for a bad endpoint (the words of the error page), and a form without its
    CSRF token refused."""
    owner = api_user("researcher")
    made = http.post(
        "/api/v1/cohorts",
        headers=owner.headers,
        json={"name": "theirs", "definition": {"criteria": C2}},
    )
    assert made.status_code == 201, made.text
    other = WebClient(http).sign_in(api_user("researcher").token)
    assert other.get("/web/cohorts/999999/outcomes").status_code == 404
    r = other.get(f"/web/cohorts/{made.json()['id']}/outcomes")
    assert r.status_code == 404 and "theirs" not in r.text
    form = {
        "csrf_token": other.csrf("/web/cohorts/new"),
        "definition_json": json.dumps({"criteria": C2}),
        "purpose_primary": "health",
        "endpoint": "os_forever",
    }
    r = other.post("/web/cohorts/outcomes", form)
    assert r.status_code == 422 and "Endpoint: &#39;os_forever&#39; is not one of" in r.text
    r = other.post("/web/cohorts/outcomes", {k: v for k, v in form.items() if k != "csrf_token"})
    assert r.status_code == 403
