"""The purge report after `oncolake consent withdraw` reads every copy on the production
stores (issue 20, gap 3): the S3 warehouse and an S3 inbox (moto's server on loopback),
the catalog and application databases on PostgreSQL (saved cohorts, requests, exports,
audit details: every row of every table). It lists what it read per store and proves
absence; a copy planted where the withdrawal does not reach is found."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from typer.testing import CliRunner

from catalog_api.main import create_app
from harmonise.lake import Lake
from harmonise.withdrawal import scan_database, scan_object_store
from oncolake.api_config import api_config
from oncolake.cli import app as app_cli
from oncolake.settings import get_settings
from tests.catalog_api.conftest import (  # noqa: F401 (server, http, api_user: fixtures)
    C2_PATIENTS,
    HEALTH,
    ApiUserFactory,
    api_user,
    c1_submission,
    http,
    server,
)
from tests.conftest import TAG_KEY, S3Server
from tests.harmonise.lakefixtures import make_submission

GONE = "C1-p01"  # consents to health research, carries BRAF V600E
BRAF = {
    "format_version": 1,
    "criteria": {"type": "variant", "gene": "BRAF", "protein_change": "V600E"},
}


@pytest.fixture
def stores(
    s3_server: S3Server, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """Production settings: an S3 warehouse and inbox, PostgreSQL catalog and app database."""
    bucket = s3_server.new_bucket()
    app_db = postgres_url.rsplit("/", 1)[0] + "/" + postgres_url.rsplit("/", 1)[1] + "_app"
    with sa.create_engine(
        postgres_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    ).connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{app_db.rsplit("/", 1)[1]}"'))
    env = {
        "ONCOLAKE_WAREHOUSE": f"s3://{bucket}/warehouse",
        "ONCOLAKE_CATALOG_URL": postgres_url,
        "ONCOLAKE_DATABASE_URL": app_db,
        "ONCOLAKE_S3_ENDPOINT": s3_server.endpoint,
        "ONCOLAKE_S3_ACCESS_KEY_ID": s3_server.access_key,
        "ONCOLAKE_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
        "ONCOLAKE_TAG_SIGNING_KEY": TAG_KEY.decode(),
        "ONCOLAKE_SECRET_KEY": "purge-test-secret-key-0123456789abcdef",
        "ONCOLAKE_PSEUDONYM_KEY": "purge-test-pseudonym-key-0123456789",
        "ONCOLAKE_AUDIT_KEY": "purge-test-audit-key-0123456789abcdef",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name=s3_server.region,
    )
    yield {"bucket": bucket, "s3": s3, "app_db": app_db}
    with sa.create_engine(
        postgres_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    ).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{app_db.rsplit("/", 1)[1]}" WITH (FORCE)'))


@pytest.fixture
def lake(stores: dict[str, Any]) -> Lake:
    """The two-centre network on the S3 warehouse and the PostgreSQL catalog."""
    settings = get_settings()
    lk = Lake(settings.lake_config(), settings.secret("tag_signing_key"))
    lk.init()
    lk.commit(c1_submission())
    lk.commit(make_submission("D2", "C2", C2_PATIENTS))
    return lk


@pytest.fixture
def app(lake: Lake) -> FastAPI:
    """The catalogue on the settings' stores."""
    return create_app(api_config(get_settings()), lake)


def _approved_export(client: httpx.Client, make_user: ApiUserFactory) -> dict[str, Any]:
    alice = make_user("researcher", username="alice").headers
    boards = {c: make_user("reviewer", centres=[c]).headers for c in ("C1", "C2")}
    r = client.post("/api/v1/cohorts", json={"name": "BRAF", "definition": BRAF}, headers=alice)
    assert r.status_code == 201, r.text
    body = {
        "cohort_id": r.json()["id"], "purpose": HEALTH, "title": "BRAF basket",
        "description": "d", "institution": "i", "duration_days": 30,
        "fields": ["patients.sex", "variants.gene", "variants.protein_change"],
    }  # fmt: skip
    req = client.post("/api/v1/access-requests", json=body, headers=alice).json()
    assert client.post(f"/api/v1/access-requests/{req['id']}/submit", headers=alice).is_success
    for centre, headers in boards.items():
        r = client.post(
            f"/api/v1/access-requests/{req['id']}/decisions",
            json={"centre_id": centre, "decision": "approve"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/access-requests/{req['id']}/exports", headers=alice)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _withdraw(inbox: str, report: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        app_cli,
        [
            "consent", "withdraw", "--patient", GONE, "--reason", "asked",
            "--inbox", inbox, "--report", str(report),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(report.read_text())
    return doc


def test_purge_report_reads_s3_and_postgresql_and_finds_the_patient_nowhere(
    http: httpx.Client,  # noqa: F811 (the catalogue's fixture)
    app: FastAPI,
    api_user: ApiUserFactory,  # noqa: F811 (the catalogue's fixture)
    stores: dict[str, Any],
    tmp_path: Path,
) -> None:
    export = _approved_export(http, api_user)
    assert export["patients"] >= 1
    s3, bucket = stores["s3"], stores["bucket"]
    inbox = f"s3://{bucket}/inbox"
    for name, who in (("D1-0123456789ab", GONE), ("D2-0123456789ab", "C2-p00")):
        s3.put_object(Bucket=bucket, Key=f"inbox/{name}/manifest.json", Body=who.encode())
        s3.put_object(Bucket=bucket, Key=f"inbox/{name}/_READY", Body=b"")

    report = _withdraw(inbox, tmp_path / "purge.json")

    assert report["total_occurrences"] == 0 and report["found_nowhere"], report["stores"]
    by_store = {s["store"]: s for s in report["stores"]}
    warehouse = by_store["warehouse"]
    assert warehouse["location"] == f"s3://{bucket}/warehouse"
    assert warehouse["files_read"] > 20 and warehouse["bytes_read"] > 0
    app_rows = by_store["application database (rows)"]
    for table in ("cohorts", "access_requests", "exports", "audit_entries"):
        assert table in app_rows["note"], app_rows["note"]
    assert app_rows["files_read"] > 10  # rows
    assert by_store["catalog database (rows)"]["files_read"] > 0
    assert by_store["inbox"]["location"] == inbox and by_store["inbox"]["files_read"] == 2
    assert report["inbox_bundles_deleted"] == [f"s3://{bucket}/inbox/D1-0123456789ab"]
    assert report["exports"] == {str(export["id"]): "remade"}
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="inbox/")["Contents"]]
    assert sorted(keys) == ["inbox/D2-0123456789ab/_READY", "inbox/D2-0123456789ab/manifest.json"]

    # copies the withdrawal does not reach are found, by the report's own scanners: an
    # object beside the lake's, a saved cohort named after the patient
    s3.put_object(Bucket=bucket, Key="warehouse/stray/notes.txt", Body=f"see {GONE}".encode())
    with sa.create_engine(stores["app_db"]).begin() as conn:
        conn.execute(sa.text("UPDATE cohorts SET name = :n"), {"n": f"cohort of {GONE}"})
    settings = get_settings()
    found = scan_object_store(
        "warehouse", settings.warehouse_uri, [GONE], settings.s3_storage_options()
    )
    assert found.hits == {f"s3://{bucket}/warehouse/stray/notes.txt": 1}
    assert found.files == warehouse["files_read"] + 1
    rows = scan_database("application database", stores["app_db"], [GONE])
    assert rows.hits == {"cohorts.name": 1}
