"""Withdrawal: the registry, and `oncolake consent withdraw` on a real lake in tmp_path."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from consent.errors import TagsError, WithdrawalError
from consent.withdrawal import (
    Withdrawal,
    list_withdrawals,
    record_withdrawal,
    registry_path,
    withdrawn_patients,
)
from harmonise.lake import Lake, Submission
from oncolake.cli import app
from oncolake.settings import get_settings

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
        app, ["consent", "withdraw", "--patient", "NKI-gone", "--reason", "patient request"]
    )
    assert result.exit_code == 0, result.output
    assert "  patients: 1 row(s) removed\n" in result.stdout
    assert "  consents: 1 row(s) removed\n" in result.stdout
    assert "  variants: 1 row(s) removed\n" in result.stdout
    assert "3 row(s) removed; purge:" in result.stdout
    assert _patients_in_files(lake) == {"NKI-stays"}
    assert lake.read("patients").column("patient_id").to_pylist() == ["NKI-stays"]
    home = get_settings().home_path
    [w] = list_withdrawals(home)
    assert (w.patient_id, w.status, w.reason) == ("NKI-gone", "applied", "patient request")
    assert w.rows_removed["patients"] == 1 and w.lake_version
    assert withdrawn_patients(home) == {"NKI-gone"}


def test_genomic_withdrawal_keeps_clinical_rows(lake: Lake) -> None:
    result = CliRunner().invoke(
        app,
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
        app, ["consent", "withdraw", "--patient", "P", "--reason", "r", "--scope", "some"]
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
        app,
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
        app,
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
    bad = runner.invoke(app, ["consent", "check", "--consent", consent, "--purpose", consent])
    assert bad.exit_code == 2
    assert "resourceType: unknown field" in bad.stderr and "Traceback" not in bad.output
