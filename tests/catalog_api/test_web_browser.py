"""End to end in headless Chromium against the app under uvicorn (the two-centre lake).

A researcher builds a BRAF V600E cohort for health research, sees the basket chart,
saves it and requests access; C1's reviewer approves, C2's rejects; the researcher
downloads an export holding only C1's patients. Reviewers cannot open another centre's
part, researchers cannot open the review queue, a form without its CSRF token is refused,
and a suppressed cell is text without a bar. Screenshots of every page go to
``test-artefacts/screenshots/``.

Counts expected on the network lake (tests/catalog_api/conftest.py): every patient has
BRAF V600E; for health research C1's two disease-specific consents drop out, leaving
C1: 6 (LUAD 4, COAD 2) and C2: 6 (LUAD 4, COAD 2) → total 12 shown as 10, LUAD 8 → 10,
COAD 4 → merged into "other", shown as ``<5``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from catalog_api.web.chart import basket_svg
from catalog_api.web.render import STATIC_DIR, tumour_label
from consent import oncotree
from harmonise.lake import Lake
from tests.catalog_api.conftest import C1_DS_ONLY, C1_PATIENTS, ApiUserFactory
from tests.catalog_api.web_fixtures import (
    VIEWPORT,
    assert_chart_fits,
    assert_labelled,
    assert_text_fits,
    new_page,
    shot,
    sign_in,
)

pytestmark = pytest.mark.browser


def _open(page: Any, url: str, name: str) -> Any:
    response = page.goto(url)
    assert_labelled(page)
    shot(page, name)
    assert_text_fits(page)
    return response


def test_web_researcher_to_export_through_two_boards(
    chromium: Any, server: str, api_user: ApiUserFactory, tmp_path: Path, lake: Lake
) -> None:
    researcher = api_user("researcher", username="rita")
    board_a = api_user("reviewer", ["C1"], username="board-c1")
    board_b = api_user("reviewer", ["C2"], username="board-c2")
    admin = api_user("admin", username="ada")

    # -- the researcher builds, counts, saves and requests (signing in by keyboard) --------
    page = new_page(chromium, server)
    page.goto("/web/cohorts/new")
    assert "/web/sign-in" in page.url
    shot(page, "01-sign-in")
    sign_in(page, researcher.token, keyboard=True)
    shot(page, "02-home-researcher")
    page.goto("/web/cohorts/new")
    page.fill("#gene", "BRAF")
    page.fill("#protein_change", "V600E")
    page.check("#purpose_health")
    page.click("#count")
    assert page.inner_text("#total") == "10"
    assert_labelled(page)
    chart = page.locator("svg.chart")
    assert chart.get_attribute("role") == "img"
    luad = chart.locator("g.bar-row[data-category='LUAD']")
    assert luad.locator("rect").count() == 1 and "10" in (luad.text_content() or "")
    other = chart.locator("g.bar-row[data-category='other']")
    assert other.get_attribute("data-suppressed") == "true"
    assert other.locator("rect").count() == 0  # no bar whose length could be guessed
    assert (other.locator("text.chart-suppressed").text_content() or "").startswith("<5")
    assert chart.locator("rect").count() == 1  # only the numeric cell has a bar
    assert page.locator("#denominator").inner_text() == "10"
    assert_chart_fits(page)
    assert_text_fits(page)
    assert "whose consent allows your purpose" in page.inner_text("#counts-explained")
    # the lake-version card holds the whole id, inside its box
    assert page.inner_text("#lake-version") == lake.current_version().id
    assert page.evaluate(
        "() => { const e = document.getElementById('lake-version').parentElement;"
        " return e.scrollWidth <= e.clientWidth; }"
    )
    assert "C1" in page.inner_text("table.compact") and "C2" in page.inner_text("table.compact")
    shot(page, "03-builder-basket-chart")
    page.fill("#cohort_name", "BRAF V600E basket")
    page.click("form[action='/web/cohorts'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/web/cohorts/\d+\?done=.*"))
    assert "Cohort 'BRAF V600E basket' saved" in page.inner_text(".flash")
    # the saved cohort's count (any consent: 15) beside the builder's 10 is explained
    assert page.inner_text("table.compact tr.total td.num") == "15"
    assert "whatever their consent" in page.inner_text(".counts-explained")
    # the "Request access" button and the "Open in the cohort builder" link stand apart
    gap = page.evaluate(
        "() => document.getElementById('open-in-builder').getBoundingClientRect().left"
        " - document.getElementById('request-access').getBoundingClientRect().right"
    )
    assert gap >= 12, gap
    shot(page, "04-cohort-saved")
    page.click("#request-access")
    assert_labelled(page)
    page.fill("#title", "BRAF V600E across tumour types")
    page.fill("#description", "Basket analysis of BRAF V600E response across tumour types.")
    page.fill("#institution", "Example Cancer Institute")
    page.check("#purpose_health")
    assert "Health, medical or biomedical research" in page.inner_text("fieldset.purpose")
    shot(page, "05-request-form")
    assert_text_fits(page)
    page.click("#submit-request")
    page.wait_for_url(re.compile(r".*/web/requests/\d+\?done=.*"))
    request_url = page.url.split("?")[0]
    request_id = int(request_url.rsplit("/", 1)[1])
    assert page.inner_text("#request-state") == "submitted"
    assert "whatever their consent" in page.inner_text("#parts-explained")
    assert "under review" in page.inner_text("#part-C1")
    shot(page, "06-request-submitted")

    # -- the researcher cannot open the review queue; a form without CSRF is refused -------
    response = page.goto("/web/reviews")
    assert response.status == 403 and "needs the reviewer role" in page.inner_text("main")
    shot(page, "07-researcher-review-queue-403")
    refused = page.request.post(
        "/web/cohorts/count", form={"gene": "BRAF", "purpose_primary": "health"}
    )
    assert refused.status == 403 and "security token (CSRF)" in refused.text()
    forged = page.request.post("/web/cohorts/count", form={"gene": "BRAF", "csrf_token": "0" * 64})
    assert forged.status == 403

    # -- C1's board approves --------------------------------------------------------------
    page_a = new_page(chromium, server)
    sign_in(page_a, board_a.token)
    _open(page_a, "/web/reviews", "08-review-queue-c1")
    page_a.click(f"a[href='/web/requests/{request_id}/centres/C1']")
    assert_labelled(page_a)
    assert page_a.inner_text("#permitted") == "5"  # C1's 6 consenting patients, rounded
    assert "BRAF V600E" in page_a.inner_text("main")
    assert "Basket analysis" in page_a.inner_text("main")
    shot(page_a, "09-review-part-c1")
    page_a.check("#decision_approve")
    page_a.fill("#comment", "Approved for C1.")
    page_a.click("#decide")
    page_a.wait_for_url(re.compile(r".*\?done=.*"))
    assert page_a.inner_text("#part-state") == "approved"
    assert "Approved for C1." in page_a.inner_text("main")
    shot(page_a, "10-review-part-c1-approved")

    # -- C2's board cannot open C1's part, and rejects its own -----------------------------
    page_b = new_page(chromium, server)
    sign_in(page_b, board_b.token)
    response = _open(page_b, f"/web/requests/{request_id}/centres/C1", "11-c2-board-opens-c1-404")
    assert response.status == 404
    assert "Approved for C1." not in page_b.inner_text("body")
    page_b.goto(f"/web/requests/{request_id}/centres/C2")
    page_b.check("#decision_reject")
    page_b.fill("#comment", "C2 does not share with this project.")
    page_b.click("#decide")
    page_b.wait_for_url(re.compile(r".*\?done=.*"))
    assert page_b.inner_text("#part-state") == "rejected"
    # C2's board sees only C2's part and decisions on the request page
    page_b.goto(f"/web/requests/{request_id}")
    assert page_b.locator("#part-C1").count() == 0
    assert "Approved for C1." not in page_b.inner_text("body")

    # -- the researcher exports and downloads: only C1's consenting patients ---------------
    page.goto(request_url)
    assert page.inner_text("#request-state") == "partially approved"
    page.click("#make-export")
    page.wait_for_url(re.compile(r".*\?done=Export.*"))
    shot(page, "12-request-export-ready")
    with page.expect_download() as info:
        page.click("button[data-file='patients.parquet']")
    target = tmp_path / "patients.parquet"
    info.value.save_as(target)
    table = pq.read_table(target)
    assert set(table.column("centre_id").to_pylist()) == {"C1"}
    expected = set(C1_PATIENTS) - set(C1_DS_ONLY)
    assert set(table.column("patient_id").to_pylist()) == expected
    with page.expect_download() as info:
        page.click("button[data-file='variants.parquet']")
    variants = tmp_path / "variants.parquet"
    info.value.save_as(variants)
    assert set(pq.read_table(variants).column("centre_id").to_pylist()) == {"C1"}
    _open(page, "/web/requests", "13-request-list")
    assert "C1: approved" in page.inner_text("table") and "C2: rejected" in page.inner_text("table")

    # -- audit: the admin's log (chain intact) and the reviewer's trail ---------------------
    page_admin = new_page(chromium, server)
    sign_in(page_admin, admin.token)
    _open(page_admin, "/web/audit?action=access_request", "14-audit-admin")
    assert "Hash chain intact" in page_admin.inner_text("#chain")
    assert "access_request.decision" in page_admin.inner_text("table")
    _open(page_a, f"/web/requests/{request_id}/audit", "15-audit-trail-reviewer")
    body = page_a.inner_text("table")
    assert "export.downloaded" in body and "access_request.submitted" in body
    assert "review.consent_check" in body  # the counts shown on the review page are audited
    _open(page, "/web/datasets", "16-dataset-catalogue")
    assert "D1" in page.inner_text("main") and "D2" in page.inner_text("main")
    for p in (page, page_a, page_b, page_admin):
        p.context.close()


@pytest.mark.parametrize("width", [VIEWPORT["width"], 390])
def test_web_basket_chart_labels_are_not_clipped(chromium: Any, width: int) -> None:
    """The longest OncoTree labels, laid out by Chromium with the page's stylesheet: every
    label inside the chart and left of its bar, at a laptop width and a phone width."""
    longest = sorted(oncotree.nodes(), key=lambda c: -len(tumour_label(c)))[:6]
    cells: dict[str, int | str] = {c: 100 - 10 * i for i, c in enumerate(longest)}
    cells["HPA"] = 5
    cells["other"] = "<5"
    svg = basket_svg(
        cells, label=lambda c: "Other tumour types" if c == "other" else tumour_label(c), total=500
    )
    css = (STATIC_DIR / "web.css").read_text()
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_content(
        f"<!doctype html><html><head><style>{css}</style></head><body><main>"
        f'<figure class="chart-box">{svg}</figure></main></body></html>'
    )
    assert_chart_fits(page)
    # no label is cut: every label's words are in the chart
    text = page.locator("svg.chart").text_content() or ""
    for code in longest:
        assert tumour_label(code).replace(" ", "") in text.replace(" ", "")
    shot(page, f"basket-chart-long-labels-{width}")
    context.close()


def test_web_builder_or_group_and_not_count_what_the_api_counts(
    chromium: Any, server: str, api_user: ApiUserFactory
) -> None:
    """Group 1: BRAF, not at C1 (C2's six); OR group 2: LUAD at C1 (four with a consent for
    health research, one more without): ten patients, the same definition and count as the
    API's."""
    researcher = api_user("researcher")
    page = new_page(chromium, server)
    sign_in(page, researcher.token)
    page.goto("/web/cohorts/new")
    page.fill("#gene", "BRAF")
    page.locator("details.more").first.locator("summary").click()
    page.check("#centre_C1")
    page.check("#not_centre")
    page.click("#add-group")  # the form comes back with a second group, values kept
    assert page.input_value("#gene") == "BRAF" and page.is_checked("#not_centre")
    page.check("#g2_tumour_codes_LUAD")
    page.locator("#group-2 details.more summary").click()
    page.check("#g2_centre_C1")
    page.check("#purpose_health")
    assert_labelled(page)
    shot(page, "17-builder-or-groups")
    page.click("#count")
    assert page.inner_text("#total") == "10"
    expected = {
        "format_version": 1,
        "criteria": {
            "type": "or",
            "criteria": [
                {
                    "type": "and",
                    "criteria": [
                        {"type": "variant", "gene": "BRAF"},
                        {"type": "not", "criterion": {"type": "centre", "values": ["C1"]}},
                    ],
                },
                {
                    "type": "and",
                    "criteria": [
                        {"type": "tumour_type", "codes": ["LUAD"], "descendants": True},
                        {"type": "centre", "values": ["C1"]},
                    ],
                },
            ],
        },
    }
    shown = json.loads(page.locator("#definition-json").text_content() or "")
    assert shown == expected
    lines = page.inner_text("#criteria-lines")
    assert "Any of:" in lines and "Not:" in lines
    api = page.request.post(
        "/api/v1/cohorts/count",
        headers={"Authorization": f"Bearer {researcher.token}"},
        data={"definition": expected, "purpose": {"primary": "health"}},
    )
    assert api.status == 200, api.text()
    assert api.json()["count"] == 10
    assert page.inner_text("#excluded") == api.json()["excluded_by_consent"]
    assert_chart_fits(page)
    shot(page, "18-builder-or-not-counted")
    page.context.close()


@pytest.mark.parametrize("width", [VIEWPORT["width"], 390])
def test_web_main_pages_fit_the_window(
    chromium: Any, server: str, api_user: ApiUserFactory, width: int
) -> None:
    """Each main page at a laptop and a phone width: no text overflows its box, the page is
    no wider than the window; screenshots ``narrow-*`` / ``wide-*``."""
    researcher = api_user("researcher")
    admin = api_user("admin")
    tag = "wide" if width > 1000 else "narrow"
    context = chromium.new_context(base_url=server, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, researcher.token)
    page.goto("/web/cohorts/new")
    page.fill("#gene", "BRAF")
    page.check("#purpose_health")
    page.click("#count")
    shot(page, f"{tag}-builder")
    assert_text_fits(page)
    assert_chart_fits(page)
    page.fill("#cohort_name", "BRAF")
    page.click("form[action='/web/cohorts'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/web/cohorts/\d+\?done=.*"))
    shot(page, f"{tag}-cohort")
    assert_text_fits(page)
    for url, name in [
        ("/web/", "home"),
        ("/web/cohorts", "cohorts"),
        ("/web/datasets", "datasets"),
        ("/web/requests/new", "request-form"),
        ("/web/requests", "requests"),
    ]:
        _open(page, url, f"{tag}-{name}")
    admin_page = context.browser.new_context(
        base_url=server, viewport={"width": width, "height": 900}
    ).new_page()
    sign_in(admin_page, admin.token)
    _open(admin_page, "/web/audit", f"{tag}-audit")
    admin_page.context.close()
    context.close()
