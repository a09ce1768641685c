"""The admins' withdrawal pages: every recorded withdrawal, and its purge report run again
on demand (``catalog_api.governance.purge``: every store read for the patient's ids), the
same report ``oncolake consent withdraw --report FILE`` writes. Admins only; each run is
recorded in the audit log (without the pseudonym)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from catalog_api import audit
from catalog_api.api.deps import ConfigDep, LakeDep, SessionDep
from catalog_api.governance import purge
from catalog_api.governance.errors import NotFound
from catalog_api.web.render import WebRoute, finish, render
from catalog_api.web.session import AdminWeb, CheckedForm
from consent.withdrawal import Withdrawal, list_withdrawals

router = APIRouter(route_class=WebRoute, include_in_schema=False)

WithdrawalPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/web/admin/withdrawals")
def withdrawals_page(request: Request, user: AdminWeb, config: ConfigDep) -> Response:
    """Every recorded withdrawal, with the outcome of its last purge scan."""
    rows = [
        {"w": w, "report": purge.last_report(config.home, w.withdrawal_id)}
        for w in reversed(list_withdrawals(config.home))
    ]
    return render(request, "purge.html", {"withdrawals": rows, "one": None})


def _withdrawal(config: ConfigDep, withdrawal_id: str) -> Withdrawal:
    found = purge.find_withdrawal(config.home, withdrawal_id)
    if found is None:
        raise NotFound(f"no recorded withdrawal {withdrawal_id}")
    return found


@router.get("/web/admin/withdrawals/{withdrawal_id}")
def withdrawal_page(
    request: Request, withdrawal_id: WithdrawalPath, user: AdminWeb, config: ConfigDep
) -> Response:
    """One withdrawal and its last purge report (every store, what still names the
    patient)."""
    w = _withdrawal(config, withdrawal_id)
    report = purge.last_report(config.home, w.withdrawal_id)
    return render(request, "purge.html", {"withdrawals": None, "one": {"w": w, "report": report}})


@router.post("/web/admin/withdrawals/{withdrawal_id}/scan")
def scan_withdrawal(
    request: Request,
    withdrawal_id: WithdrawalPath,
    user: AdminWeb,
    form: CheckedForm,
    session: SessionDep,
    config: ConfigDep,
    lake: LakeDep,
) -> Response:
    """Read every store again for the withdrawn patient's ids and keep the report; the
    run is audited (``withdrawal.purge_scanned``: how many occurrences, in how many
    stores)."""
    w = _withdrawal(config, withdrawal_id)
    stores = purge.PurgeStores.of(lake.config, config.database_url, config.exports_dir, config.home)
    doc = purge.rescan(stores, w)
    audit.record(
        session,
        actor=user,
        action="withdrawal.purge_scanned",
        subject=f"withdrawal:{w.withdrawal_id}",
        details={
            "stores": len(doc["stores"]),
            "files_read": sum(s["files_read"] for s in doc["stores"]),
            "total_occurrences": doc["total_occurrences"],
        },
    )
    session.commit()
    word = "found nowhere" if doc["found_nowhere"] else f"{doc['total_occurrences']} occurrence(s)"
    url = f"/web/admin/withdrawals/{w.withdrawal_id}?done=" + quote(f"Purge scan: {word}")
    return finish(request, RedirectResponse(url, status_code=303))
