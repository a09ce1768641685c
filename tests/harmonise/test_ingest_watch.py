"""``oncolake ingest --watch`` on a local inbox and on an S3 inbox (s3fs against moto's
server): complete bundles are ingested, incomplete ones (no ``_READY`` marker) are left
alone, a refused bundle does not stop the others. Bounded: ``--watch … --once``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harmonise.bundle import READY, SubmitInputs, build_bundle, deliver, fetch, list_ready
from harmonise.errors import BundleError
from oncolake.cli import app
from oncolake.commands.lake import open_lake
from oncolake.settings import get_settings
from tests.conftest import S3Server
from tests.harmonise.conftest import JENNY, KEY, ingest_draft, ingest_shared


def _bundle(tmp: Path, vcf: Path, consent: Path, dataset: str) -> Path:
    ingest_shared("mcode")
    draft = ingest_draft()
    draft["dataset_id"] = dataset
    inputs = SubmitInputs(draft, vcfs=[vcf], clinical=[JENNY], consent=[consent])
    inputs.drop_identifiers = True
    bundle, _ = build_bundle(inputs, KEY, tmp / f"out-{dataset}")
    return bundle


def _flat(output: str) -> str:
    """The command's output without whitespace (rich wraps lines at the terminal width)."""
    return "".join(output.split())


def _broken(bundle: Path) -> None:
    """Change a file after checksumming: the hub must refuse the bundle."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    vcf = next(f["path"] for f in manifest["files"] if f["path"].startswith("variants/"))
    (bundle / vcf).write_bytes((bundle / vcf).read_bytes() + b"\0")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("ONCOLAKE_HOME", str(h))
    result = CliRunner().invoke(app, ["lake", "init"])
    assert result.exit_code == 0, result.output
    return h


def _variants_by_dataset() -> dict[str, int]:
    rows = open_lake(get_settings()).read("variants", columns=["dataset_id"]).to_pylist()
    out: dict[str, int] = {}
    for r in rows:
        out[r["dataset_id"]] = out.get(r["dataset_id"], 0) + 1
    return out


def test_watch_local_inbox_once(
    tmp_path: Path, home: Path, ingest_tn_vcf: Path, ingest_consent_file: Path
) -> None:
    inbox = tmp_path / "inbox"
    good = _bundle(tmp_path, ingest_tn_vcf, ingest_consent_file, "TST-good")
    bad = _bundle(tmp_path, ingest_tn_vcf, ingest_consent_file, "TST-bad")
    _broken(bad)
    deliver(bad, str(inbox))  # sorts before the good one's name or after: both are tried
    deliver(good, str(inbox))
    half = inbox / "half-uploaded"  # an upload in progress: no marker yet
    half.mkdir()
    (half / "manifest.json").write_text("{}")
    assert len(list_ready(str(inbox))) == 2

    result = CliRunner().invoke(app, ["ingest", "--watch", str(inbox), "--once"])
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert out.count("ingesting") == 2
    assert f"refused{inbox / bad.name}" in out and "butthemanifestsays" in out
    assert "half-uploaded" not in out
    counts = _variants_by_dataset()
    assert set(counts) == {"TST-good"} and counts["TST-good"] >= 6

    # the next poll ingests the same bundle again as a no-op (one commit per bundle digest)
    again = CliRunner().invoke(app, ["ingest", str(inbox / good.name)])
    assert again.exit_code == 0, again.output
    assert "unchanged" in _flat(again.output)
    assert _variants_by_dataset() == counts


def test_watch_needs_exactly_one_of_bundle_or_inbox(home: Path) -> None:
    result = CliRunner().invoke(app, ["ingest"])
    assert result.exit_code != 0 and "BUNDLEor--watch" in _flat(result.output)
    missing = CliRunner().invoke(app, ["ingest", "--watch", str(home / "nope"), "--once"])
    assert missing.exit_code != 0 and "nosuchinboxfolder" in _flat(missing.output)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the settings (hence the commands' s3fs) pointed at moto."""
    monkeypatch.setenv("ONCOLAKE_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("ONCOLAKE_S3_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("ONCOLAKE_S3_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    return f"s3://{s3_server.new_bucket()}/inbox"


def test_s3_inbox_deliver_list_fetch_and_watch(
    tmp_path: Path, home: Path, s3_env: str, ingest_tn_vcf: Path, ingest_consent_file: Path
) -> None:
    inbox = s3_env
    bundle = _bundle(tmp_path, ingest_tn_vcf, ingest_consent_file, "TST-s3")
    storage = get_settings().s3_storage_options()
    assert list_ready(inbox, storage) == []
    location = deliver(bundle, inbox, storage)
    assert location == f"{inbox}/{bundle.name}"
    # an upload without its marker is not offered to the hub, nor fetched
    from harmonise.bundle import _s3

    fs = _s3(inbox, storage)
    fs.pipe(f"{inbox}/partial/manifest.json", b"{}")
    assert list_ready(inbox, storage) == [location]
    with pytest.raises(BundleError, match=f"incomplete .*no {READY}"):
        fetch(f"{inbox}/partial", tmp_path / "dl", storage)
    got = fetch(location, tmp_path / "dl", storage)
    fetched = {p.relative_to(got) for p in got.rglob("*") if p.is_file()}
    assert fetched == {p.relative_to(bundle) for p in bundle.rglob("*") if p.is_file()} | {
        Path(READY)
    }

    result = CliRunner().invoke(app, ["ingest", "--watch", inbox, "--once", "--verify"])
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert f"ingesting{location}" in out and "verify:" in out
    assert _variants_by_dataset().get("TST-s3", 0) >= 6
