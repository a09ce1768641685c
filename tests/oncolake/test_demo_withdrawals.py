"""The demo's withdrawals take the live path (issue 20, gap 4): the exports that hold a
withdrawing patient are re-made without them (or disabled), as after
`oncolake consent withdraw`."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from harmonise.lake import Lake
from oncolake.demo.run import _demo_withdrawals
from oncolake.settings import get_settings
from tests.catalog_api.conftest import (  # noqa: F401 (server, http, api_user: fixtures)
    ApiUserFactory,
    api_user,
    http,
    server,
)
from tests.consent.test_withdrawal import (  # noqa: F401 (net, app: fixtures)
    _approved_request,
    _export,
    app,
    net,
)


def test_demo_withdrawals_remake_the_exports_holding_the_patients(
    http: httpx.Client,  # noqa: F811 (the catalogue's fixture)
    app: FastAPI,  # noqa: F811
    net: Lake,  # noqa: F811
    api_user: ApiUserFactory,  # noqa: F811
) -> None:
    alice = api_user("researcher", username="alice").headers
    boards = {c: api_user("reviewer", centres=[c]).headers for c in ("C1", "C2")}
    req_id = _approved_request(http, alice, boards, "BRAF")
    before = _export(http, alice, req_id)
    said: list[str] = []

    gone = _demo_withdrawals(net, get_settings(), said.append)

    assert gone == ["C2-p00", "C2-p01"]  # the first two patients not of C1
    assert any(f"export {before['id']} remade" in line for line in said), said
    after = http.get(f"/api/v1/exports/{before['id']}", headers=alice).json()
    assert after["downloads_enabled"]
    assert after["patients"] == before["patients"] - 2
    assert after["manifest_sha256"] != before["manifest_sha256"]
    # run again (the demo is re-runnable): nothing more is withdrawn or re-made
    again: list[str] = []
    assert _demo_withdrawals(net, get_settings(), again.append) == gone and again == []
