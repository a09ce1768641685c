"""Withdrawal: the registry, and `oncolake consent withdraw` on a real lake in tmp_path."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from catalog_api.main import create_app
from consent.errors import TagsError, WithdrawalError
from consent.withdrawal import (
    Withdrawal,
    list_withdrawals,
    record_withdrawal,
    registry_path,
    withdrawn_patients,
)
from harmonise.lake import Lake, Submission
from oncolake.api_config import api_config
from oncolake.cli import app as app_cli
from oncolake.settings import get_settings
from tests.catalog_api.conftest import (  # noqa: F401 (server, http, api_user: fixtures)
    HEALTH,
    ApiUserFactory,
    api_user,
    http,
    make_network_lake,
    server,
)
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import make_submission
from tests.harmonise.test_withdrawal_reach import parquet_cells_naming

DATA = Path(__file__).parent / "data"


def _submission(patients: list[str]) -> Submission:
    sid = hashlib.sha256(repr(patients).encode()).hexdigest()
    n = len(patients)
    return Submission(
        submission_id=sid,
        dataset_id="NKI-2025-panel-01",
        centre_id="NKI",
        dataset={"title": "withdrawal test", "duo_codes": ["DUO:0000042"]},
        tables={
            "patients": pa.table({"patient_id": patients, "birth_year": [1960] * n}),
            "consents": pa.table(
                {
                    "patient_id": patients,
                    "consent_id": [f"{p}-c" for p in patients],
                    "status": ["active"] * n,
                    "permissions": [["DUO:0000042"]] * n,
                }
            ),
            "variants": pa.table(
                {
                    "patient_id": patients,
                    "genome_build": ["GRCh38"] * n,
                    "chrom": ["chr7"] * n,
                    "pos": [140753336] * n,
                    "ref": ["A"] * n,
                    "alt": ["T"] * n,
                    "gene": ["BRAF"] * n,
                }
            ),
        },
        tags={"metadata_digest": sid, "duo_codes": ["DUO:0000042"], "consent_version": "3.1"},
    )


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    monkeypatch.setenv("ONCOLAKE_HOME", str(tmp_path / "home"))
    for var in ("ONCOLAKE_WAREHOUSE", "ONCOLAKE_CATALOG_URL", "ONCOLAKE_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    s = get_settings()
    lake = Lake(s.lake_config(), s.secret("tag_signing_key"))
    lake.init()
    lake.commit(_submission(["NKI-gone", "NKI-stays"]))
    return lake


def _patients_in_files(lake: Lake) -> set[str]:
    seen: set[str] = set()
    for path in lake.data_files():
        table = lake.open_file(path)
        if "patient_id" in table.column_names:
            seen |= set(table.column("patient_id").to_pylist())
    return seen


def test_withdraw_removes_the_patient_from_every_file(lake: Lake) -> None:
    assert "NKI-gone" in _patients_in_files(lake)
    result = CliRunner().invoke(
        app_cli, ["consent", "withdraw", "--patient", "NKI-gone", "--reason", "patient request"]
    )
    assert result.exit_code == 0, result.output
    assert "  patients: 1 row(s) removed\n" in result.stdout
    assert "  consents: 1 row(s) removed\n" in result.stdout
    assert "  variants: 1 row(s) removed\n" in result.stdout
    assert "3 row(s) removed; 0 pin(s) amended; 0 export(s) affected;" in result.stdout
    assert _patients_in_files(lake) == {"NKI-stays"}
    assert lake.read("patients").column("patient_id").to_pylist() == ["NKI-stays"]
    home = get_settings().home_path
    [w] = list_withdrawals(home)
    assert (w.patient_id, w.status, w.reason) == ("NKI-gone", "applied", "patient request")
    assert w.rows_removed["patients"] == 1 and w.lake_version
    assert withdrawn_patients(home) == {"NKI-gone"}


def test_genomic_withdrawal_keeps_clinical_rows(lake: Lake) -> None:
    result = CliRunner().invoke(
        app_cli,
        ["consent", "withdraw", "--patient", "NKI-gone", "--reason", "r", "--scope", "genomic"],
    )
    assert result.exit_code == 0, result.output
    assert lake.read("variants").column("patient_id").to_pylist() == ["NKI-stays"]
    assert sorted(lake.read("patients").column("patient_id").to_pylist()) == [
        "NKI-gone",
        "NKI-stays",
    ]


def test_withdraw_bad_scope_is_one_line(lake: Lake) -> None:
    result = CliRunner().invoke(
        app_cli, ["consent", "withdraw", "--patient", "P", "--reason", "r", "--scope", "some"]
    )
    assert result.exit_code == 1
    assert "--scope 'some' is not a withdrawal scope; use 'all' or 'genomic'" in result.stderr
    assert "Traceback" not in result.output


def test_lake_refuses_a_data_file_edited_after_signing(lake: Lake) -> None:
    [path] = [p for p in lake.data_files() if "/patients/" in p]
    table = pq.read_table(path)
    kv = dict(pq.read_metadata(path).metadata or {})  # the file's key-value metadata
    kv[b"oncolake.tags"] = kv[b"oncolake.tags"].replace(b"DUO:0000042", b"DUO:0000004")
    pq.write_table(table.replace_schema_metadata(kv), path)
    with pytest.raises(ValueError, match="the tags do not match their signature") as info:
        lake.read("patients")
    assert type(info.value).__name__ == "TamperedFileError"  # harmonise's wrapper of TagsError
    assert isinstance(info.value.__cause__, TagsError)


def test_registry_keeps_the_latest_state(tmp_path: Path) -> None:
    w = record_withdrawal(
        tmp_path, Withdrawal(patient_id="P1", date=dt.date(2025, 1, 2), reason="moved away")
    )
    record_withdrawal(tmp_path, w.model_copy(update={"status": "applied"}))
    record_withdrawal(
        tmp_path,
        Withdrawal(patient_id="P2", date=dt.date(2025, 2, 3), reason="r", scope="genomic"),
    )
    got = list_withdrawals(tmp_path)
    assert [(x.patient_id, x.status) for x in got] == [("P1", "applied"), ("P2", "recorded")]
    assert withdrawn_patients(tmp_path, "genomic") == {"P2"}


def test_corrupt_registry_names_the_line(tmp_path: Path) -> None:
    record_withdrawal(tmp_path, Withdrawal(patient_id="P1", date=dt.date(2025, 1, 2), reason="r"))
    with registry_path(tmp_path).open("a") as fh:
        fh.write('{"patient_id": "P2"}\n')
    with pytest.raises(WithdrawalError, match=r"withdrawals.jsonl, line 2: not a withdrawal"):
        list_withdrawals(tmp_path)


def test_cli_check_exit_codes() -> None:
    consent = str(DATA / "consent_ds_lung_npu.json")
    runner = CliRunner()
    ok = runner.invoke(
        app_cli,
        [
            "consent",
            "check",
            "--consent",
            consent,
            "--purpose",
            str(DATA / "purpose_luad_academic.json"),
        ],
    )
    assert (ok.exit_code, ok.stdout) == (0, "permitted: permitted by DS; conditions met: NPU\n")
    no = runner.invoke(
        app_cli,
        [
            "consent",
            "check",
            "--consent",
            consent,
            "--purpose",
            str(DATA / "purpose_luad_pharma.json"),
        ],
    )
    assert (no.exit_code, no.stdout) == (
        1,
        "denied: denied by NPU (use by not-for-profit organisations only)\n",
    )
    bad = runner.invoke(app_cli, ["consent", "check", "--consent", consent, "--purpose", consent])
    assert bad.exit_code == 2
    assert "resourceType: unknown field" in bad.stderr and "Traceback" not in bad.output


# -- a withdrawal reaches every pinned version, the inbox and every export (issue 20.4) ------

GONE = "C1-p01"  # consents to health research, carries BRAF V600E
BRAF = {
    "format_version": 1,
    "criteria": {"type": "variant", "gene": "BRAF", "protein_change": "V600E"},
}


@pytest.fixture
def net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """The two-centre lake, on the paths the settings (and so the command line) use."""
    root = tmp_path / "net"
    monkeypatch.setenv("ONCOLAKE_WAREHOUSE", str(root / "wh"))
    monkeypatch.setenv("ONCOLAKE_CATALOG_URL", f"sqlite:///{root / 'catalog.db'}")
    monkeypatch.setenv("ONCOLAKE_TAG_SIGNING_KEY", TAG_KEY.decode())
    return make_network_lake(root)


@pytest.fixture
def app(net: Lake) -> FastAPI:
    """The catalogue over ``net`` with the settings' configuration (home, database)."""
    return create_app(api_config(get_settings()), net)


def _export(client, headers: dict[str, str], req_id: int) -> dict:  # type: ignore[no-untyped-def]
    r = client.post(f"/api/v1/access-requests/{req_id}/exports", headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _approved_request(client, alice, boards, name: str) -> int:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/cohorts", json={"name": name, "definition": BRAF}, headers=alice)
    assert r.status_code == 201, r.text
    body = {
        "cohort_id": r.json()["id"], "purpose": HEALTH, "title": "BRAF basket",
        "description": "Outcomes of BRAF V600E across tumour types.",
        "institution": "Example University", "duration_days": 30,
        "fields": ["patients.sex", "variants.gene", "variants.protein_change"],
    }  # fmt: skip
    r = client.post("/api/v1/access-requests", json=body, headers=alice)
    assert r.status_code == 201, r.text
    req = r.json()
    assert client.post(f"/api/v1/access-requests/{req['id']}/submit", headers=alice).is_success
    for centre, headers in boards.items():
        r = client.post(
            f"/api/v1/access-requests/{req['id']}/decisions",
            json={"centre_id": centre, "decision": "approve"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    return int(req["id"])


def _downloads(client, headers: dict[str, str], export: dict) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    r = client.post(f"/api/v1/exports/{export['id']}/links", headers=headers)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    out = {}
    for name in [*export["files"], "manifest.json"]:
        got = client.get(url.replace("manifest.json", name), headers=headers)
        assert got.status_code == 200, got.text
        out[name] = got.content
    return out


def _names_patient(files: dict[str, bytes]) -> list[str]:
    hits = []
    for name, raw in files.items():
        if name.endswith(".parquet"):
            table = pq.read_table(pa.BufferReader(raw))
            if any(GONE in str(v) for col in table.columns for v in col.to_pylist()):
                hits.append(name)
        elif GONE.encode() in raw:
            hits.append(name)
    return hits


def test_withdrawal_reaches_pinned_versions_inbox_and_exports(
    http: httpx.Client,  # noqa: F811 (the catalogue's fixture)
    app: FastAPI,
    net: Lake,
    api_user: ApiUserFactory,  # noqa: F811 (the catalogue's fixture)
    tmp_path: Path,
) -> None:
    alice = api_user("researcher", username="alice").headers
    boards = {c: api_user("reviewer", centres=[c]).headers for c in ("C1", "C2")}
    admin = api_user("admin").headers
    req_id = _approved_request(http, alice, boards, "BRAF")
    before = _export(http, alice, req_id)
    assert _names_patient(_downloads(http, alice, before)) == [
        "patients.parquet",
        "variants.parquet",
    ]
    revoked_id = _approved_request(http, alice, boards, "BRAF again")
    revoked = _export(http, alice, revoked_id)
    r = http.post(
        f"/api/v1/access-requests/{revoked_id}/revoke", json={"reason": "ended"}, headers=admin
    )
    assert r.status_code == 200, r.text
    net.commit(make_submission("D3", "C1", ["C1-new1"]))  # the lake moves past the pins
    inbox = tmp_path / "inbox"
    (inbox / "D1-0123456789ab").mkdir(parents=True)
    (inbox / "D1-0123456789ab" / "manifest.json").write_text(f'{{"patient_id": "{GONE}"}}')
    (inbox / "D2-0123456789ab").mkdir()
    (inbox / "D2-0123456789ab" / "manifest.json").write_text('{"patient_id": "C2-p00"}')

    result = CliRunner().invoke(
        app_cli,
        [
            "consent", "withdraw", "--patient", GONE, "--reason", "asked",
            "--inbox", str(inbox), "--report", str(tmp_path / "purge.json"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # the purge report a board files: every store read, nothing names the patient
    report = json.loads((tmp_path / "purge.json").read_text())
    assert report["total_occurrences"] == 0, report["stores"]
    read = {s["store"]: s["files_read"] for s in report["stores"]}
    assert read["warehouse"] > 20 and read["exports"] >= 3 and read["application database"]
    assert report["exports"] == {"1": "remade", "2": "disabled"}
    assert "purge report" in result.stdout and "0 occurrence(s)" in result.stdout
    assert "1 pin(s) amended; 2 export(s) affected; 1 inbox bundle(s) deleted" in result.stdout

    # no Parquet file under the warehouse names the patient, whatever version kept it
    assert parquet_cells_naming(Path(net.config.warehouse), GONE) == []
    # no inbox file does
    assert [p for p in inbox.rglob("*") if p.is_file() and GONE.encode() in p.read_bytes()] == []
    assert (inbox / "D2-0123456789ab").exists()
    # the export made before: re-made without the patient at the amended pin, downloadable
    again = http.get(f"/api/v1/exports/{before['id']}", headers=alice).json()
    assert again["downloads_enabled"] and again["patients"] == before["patients"] - 1
    assert again["manifest_sha256"] != before["manifest_sha256"]
    assert _names_patient(_downloads(http, alice, again)) == []
    # an export made after, of the same request pinned before the withdrawal, holds them not
    after = _export(http, alice, req_id)
    assert after["patients"] == before["patients"] - 1
    assert after["manifest_sha256"] == again["manifest_sha256"]  # byte-reproducible as amended
    assert _names_patient(_downloads(http, alice, after)) == []
    # the revoked request's export could not be re-made (its version expired): disabled,
    # its files deleted, a download refused with the reason, and the refusal audited
    exports_dir = Path(app.state.config.exports_dir)
    assert not (exports_dir / f"export-{revoked['id']}").exists()
    r = http.post(f"/api/v1/exports/{revoked['id']}/links", headers=alice)
    assert r.status_code == 410
    assert "a patient in it withdrew consent" in r.json()["detail"]
    assert parquet_cells_naming(exports_dir, GONE) == []
    actions = [e["action"] for e in http.get("/api/v1/audit?limit=5000", headers=admin).json()]
    for action in (
        "export.suspended_for_withdrawal",
        "export.amended_for_withdrawal",
        "export.disabled_for_withdrawal",
        "access_request.pin_amended",
        "cohort.version_amended",
        "export.download_refused",
    ):
        assert action in actions
