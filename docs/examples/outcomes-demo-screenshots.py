"""Take the outcomes demo's screenshots (docs/screenshots/outcomes-demo-*.png) and save
the API's answers (docs/examples/outcomes-braf-v600e-melanoma-*-answer.json) from a
served fresh demo lake:

    ONCOLAKE_HOME=/tmp/demo-home oncolake demo --no-serve
    ONCOLAKE_HOME=/tmp/demo-home oncolake serve --port 8724 &
    python docs/examples/outcomes-demo-screenshots.py --home /tmp/demo-home \
        --server http://127.0.0.1:8724

The question: "BRAF V600E melanoma: first-line regimens and overall survival by
first-line regimen", for health research, in the builder and on a saved cohort.
"""

from __future__ import annotations

import argparse
import base64
import json
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parents[1]
CRITERIA = {
    "type": "and",
    "criteria": [
        {"type": "variant", "gene": "BRAF", "protein_change": "V600E"},
        {"type": "tumour_type", "codes": ["MEL"], "descendants": True},
    ],
}


def _post(server: str, token: str, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        server + path,
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def _save_png_download(page: Any, selector: str, out: Path) -> None:
    href = page.get_attribute(selector, "href")
    assert href and href.startswith("data:image/png;base64,"), href
    out.write_bytes(base64.b64decode(href.split(",", 1)[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True, help="the demo's ONCOLAKE_HOME")
    ap.add_argument("--server", default="http://127.0.0.1:8724")
    args = ap.parse_args()
    users = json.loads((args.home / "demo-users.json").read_text())
    token = users["researcher"]["token"]
    examples, shots = DOCS / "examples", DOCS / "screenshots"

    for kind, path in (("patterns", "treatment-patterns"), ("survival", "survival")):
        request = json.loads(
            (examples / f"outcomes-braf-v600e-melanoma-{kind}-request.json").read_text()
        )
        answer = _post(args.server, token, f"/api/v1/cohorts/{path}", request)
        (examples / f"outcomes-braf-v600e-melanoma-{kind}-answer.json").write_text(
            json.dumps(answer, indent=1) + "\n"
        )

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu"],
        )
        ctx = browser.new_context(base_url=args.server, viewport={"width": 1366, "height": 900})
        ctx.set_default_timeout(60_000)
        page = ctx.new_page()
        page.goto("/web/sign-in")
        page.fill("#token", token)
        page.click("form[action='/web/sign-in'] button[type=submit]")
        page.wait_for_url("**/web/")

        # 01: the builder's count; 02-05: the view from the builder
        page.goto("/web/cohorts/new")
        page.locator("details.json summary").click()
        page.fill("#criteria_json", json.dumps(CRITERIA))
        page.check("#purpose_health")
        page.click("#count")
        page.wait_for_selector("#total")
        page.screenshot(path=str(shots / "outcomes-demo-01-builder-braf-v600e-melanoma.png"),
                        full_page=True)  # fmt: skip
        page.click("#open-outcomes")
        page.wait_for_selector("#km-figure")
        page.screenshot(
            path=str(
                shots / "outcomes-demo-02-first-line-regimens-and-os-by-first-line-regimen.png"
            ),
            full_page=True,
        )
        page.locator("#km-figure").screenshot(
            path=str(shots / "outcomes-demo-03-km-os-by-first-line-regimen.png")
        )
        page.locator("#pathway-figure").screenshot(
            path=str(shots / "outcomes-demo-04-pathways.png")
        )
        _save_png_download(page, "p[aria-label='Download the survival chart'] a[data-kind=png]",
                           shots / "outcomes-demo-05-km-download.png")  # fmt: skip
        _save_png_download(page, "p[aria-label='Download the regimen table'] a[data-kind=png]",
                           shots / "outcomes-demo-09-regimens-download.png")  # fmt: skip

        # 06-08: a saved cohort, its page and its view
        page.goto("/web/cohorts/new")
        page.locator("details.json summary").click()
        page.fill("#criteria_json", json.dumps(CRITERIA))
        page.check("#purpose_health")
        page.click("#count")
        page.wait_for_selector("#total")
        page.fill("#cohort_name", "BRAF V600E melanoma")
        page.click("form[action='/web/cohorts'] button[type=submit]")
        page.wait_for_url("**/web/cohorts/*")
        page.screenshot(path=str(shots / "outcomes-demo-06-saved-cohort-page.png"), full_page=True)
        page.click("#open-outcomes")
        page.check("#purpose_health")
        page.select_option("#endpoint", "os_from_line")
        page.fill("#line", "1")
        page.select_option("#group_by", "line1_regimen")
        page.click("#show-outcomes")
        page.wait_for_selector("#km-figure")
        page.screenshot(path=str(shots / "outcomes-demo-07-saved-cohort-os-from-line-1.png"),
                        full_page=True)  # fmt: skip
        page.check("#purpose_health")
        page.select_option("#endpoint", "os_from_diagnosis")
        page.select_option("#group_by", "line1_regimen")
        page.click("#show-outcomes")
        page.wait_for_selector("#km-figure")
        page.screenshot(
            path=str(shots / "outcomes-demo-08-saved-cohort-os-by-first-line-regimen.png"),
            full_page=True,
        )
        browser.close()


if __name__ == "__main__":
    main()
