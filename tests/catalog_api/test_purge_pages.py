"""The admins' withdrawal pages (issue 20, "the same on the admin page"): a withdrawal's
purge report run from the web UI, every store read for the patient's ids; admins only,
each run audited, no pseudonym on the page, in the kept report or in the audit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx

from catalog_api.core.config import ApiConfig
from catalog_api.governance.purge import REPORTS_DIR
from consent.withdrawal import Withdrawal, record_withdrawal
from tests.catalog_api.conftest import C2_PATIENTS, ApiUserFactory
from tests.catalog_api.helpers import ok
from tests.catalog_api.web_fixtures import WebClient


def _withdrawal(home: Path, patient: str) -> Withdrawal:
    w = Withdrawal(patient_id=patient, date=dt.date(2026, 12, 4), reason="asked by the patient")
    return record_withdrawal(home, w)


def test_an_admin_runs_a_withdrawals_purge_report_on_the_admin_page(
    http: httpx.Client, api_user: ApiUserFactory, api_config: ApiConfig
) -> None:
    # recorded, not applied: the patient is still in the lake, which the scan must find
    kept = _withdrawal(api_config.home, C2_PATIENTS[0])
    gone = _withdrawal(api_config.home, "ZZ-never-in-the-lake")
    admin = api_user("admin", username="root-admin")
    web = WebClient(http).sign_in(admin.token)
    listing = web.get("/web/admin/withdrawals")
    assert listing.status_code == 200
    assert kept.withdrawal_id in listing.text and "not run" in listing.text
    page = f"/web/admin/withdrawals/{kept.withdrawal_id}"
    r = web.post(f"{page}/scan", {"csrf_token": web.csrf(page)})
    assert r.status_code == 303 and "occurrence" in r.headers["location"], r.headers
    shown = web.get(page)
    assert shown.status_code == 200
    assert "still found" in shown.text and "warehouse" in shown.text
    assert "application database (rows)" in shown.text and "home (every file)" in shown.text
    # the report kept under the home says where, and names nobody
    report_file = api_config.home / REPORTS_DIR / f"{kept.withdrawal_id}.json"
    report = json.loads(report_file.read_text())
    warehouse = next(s for s in report["stores"] if s["store"] == "warehouse")
    assert warehouse["files_read"] > 0 and warehouse["occurrences"] > 0
    assert report["found_nowhere"] is False
    assert C2_PATIENTS[0] not in report_file.read_text() and C2_PATIENTS[0] not in shown.text
    # a patient found nowhere: the outcome says so, after reading every store
    r = web.post(f"/web/admin/withdrawals/{gone.withdrawal_id}/scan", {"csrf_token": web.csrf()})
    assert "found%20nowhere" in r.headers["location"]
    assert "Found nowhere" in web.get(f"/web/admin/withdrawals/{gone.withdrawal_id}").text
    # both runs are in the audit log, without the pseudonym
    log = ok(http.get("/api/v1/audit?action=withdrawal.", headers=admin.headers))
    runs = [e for e in log if e["action"] == "withdrawal.purge_scanned"]
    assert [e["subject"] for e in runs] == [
        f"withdrawal:{kept.withdrawal_id}",
        f"withdrawal:{gone.withdrawal_id}",
    ]
    assert runs[0]["actor"] == "root-admin" and runs[0]["details"]["total_occurrences"] > 0
    assert runs[1]["details"]["total_occurrences"] == 0
    assert C2_PATIENTS[0] not in json.dumps(log)


def test_the_withdrawal_pages_are_for_admins_only(
    http: httpx.Client, api_user: ApiUserFactory, api_config: ApiConfig
) -> None:
    w = _withdrawal(api_config.home, C2_PATIENTS[1])
    for role in ("researcher", "reviewer", "steward"):
        web = WebClient(http).sign_in(api_user(role).token)
        for url in ("/web/admin/withdrawals", f"/web/admin/withdrawals/{w.withdrawal_id}"):
            assert web.get(url).status_code == 403, (role, url)
        r = web.post(f"/web/admin/withdrawals/{w.withdrawal_id}/scan", {"csrf_token": web.csrf()})
        assert r.status_code == 403, role
    assert not (api_config.home / REPORTS_DIR).exists()
    admin = WebClient(http).sign_in(api_user("admin").token)
    assert admin.get("/web/admin/withdrawals/no-such-withdrawal").status_code == 404
