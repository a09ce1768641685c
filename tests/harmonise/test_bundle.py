"""Hostile bundles (issue 19 item 2): nothing outside a bundle is ever read.

Each hostile bundle points, through a symbolic link, at a byte-identical copy of the file
it replaces, so that a reader that follows links would pass every checksum and ingest it:
the refusal must come from the bundle's file access, not from a checksum mismatch.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harmonise.bundle import (
    MANIFEST,
    SubmitInputs,
    build_bundle,
    check_confined,
    deliver,
    fetch,
    verify_checksums,
)
from harmonise.errors import BundleError
from harmonise.ingest import ingest
from harmonise.lake import Lake
from metadata.manifest import load_manifest
from tests.harmonise.conftest import (
    JENNY,
    KEY,
    ingest_consent_resource,
    ingest_draft,
    ingest_shared,
)


def _bundle(tmp: Path, vcf: Path) -> Path:
    ingest_shared("mcode")
    cfile = tmp / "consent.ndjson"
    cfile.write_text(json.dumps(ingest_consent_resource()) + "\n")
    inputs = SubmitInputs(
        ingest_draft(), vcfs=[vcf], clinical=[JENNY], consent=[cfile], drop_identifiers=True
    )
    bundle, _ = build_bundle(inputs, KEY, tmp / "out")
    return bundle


def _vcf_of(bundle: Path) -> Path:
    (vcf,) = sorted((bundle / "variants").iterdir())
    return vcf


def _move_out_and_link(path: Path, outside: Path) -> Path:
    """Move ``path`` to ``outside`` (same bytes) and leave a symbolic link in its place."""
    outside.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(outside))
    path.symlink_to(outside)
    return outside


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path Python opens (``open``, ``io.open``, ``os.open``), resolved."""
    seen: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike):
            seen.append(os.path.realpath(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        if kwargs.get("dir_fd") is None:
            seen.append(os.path.realpath(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    yield seen


def _refused_unread(lake: Lake, bundle: Path, outside: Path, opened: list[str], match: str) -> None:
    before = lake.current_version()
    opened.clear()
    with pytest.raises(BundleError, match=match) as info:
        ingest(lake, bundle)
    assert "\n" not in str(info.value)
    assert lake.current_version() == before
    out = os.path.realpath(outside)
    assert not [p for p in opened if p == out or p.startswith(out + os.sep)]


def test_vcf_symlinked_out_of_the_bundle_is_refused_unread(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake, opened: list[str]
) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    vcf = _vcf_of(bundle)
    outside = _move_out_and_link(vcf, tmp_path / "elsewhere" / vcf.name)
    _refused_unread(
        ingest_lake, bundle, outside, opened, rf"{vcf.name}: a symbolic link \(to {outside}\)"
    )


def test_variants_folder_symlinked_out_is_refused_unread(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake, opened: list[str]
) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    outside = _move_out_and_link(bundle / "variants", tmp_path / "elsewhere" / "variants")
    _refused_unread(ingest_lake, bundle, outside, opened, r"/variants: a symbolic link")


def test_manifest_symlinked_out_is_refused_unread(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake, opened: list[str]
) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    outside = _move_out_and_link(bundle / MANIFEST, tmp_path / "elsewhere" / MANIFEST)
    _refused_unread(ingest_lake, bundle, outside, opened, r"manifest\.json: a symbolic link")


def test_index_beside_a_vcf_symlinked_out_is_refused(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake, opened: list[str]
) -> None:
    """An unlisted file is a link too: htslib would open a ``.tbi`` beside the VCF."""
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    outside = tmp_path / "elsewhere" / "secret.tbi"
    outside.parent.mkdir()
    outside.write_bytes(b"not for the hub")
    Path(str(_vcf_of(bundle)) + ".tbi").symlink_to(outside)
    _refused_unread(ingest_lake, bundle, outside, opened, r"\.tbi: a symbolic link")


def test_bundle_folder_that_is_a_link_is_refused(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake, opened: list[str]
) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    link = inbox / bundle.name
    link.symlink_to(bundle)
    with pytest.raises(BundleError, match=r"the bundle folder is a symbolic link"):
        fetch(str(link), tmp_path)
    _refused_unread(ingest_lake, link, bundle, opened, r"the bundle folder is a symbolic link")


def test_fifo_in_a_bundle_is_refused_without_hanging(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake
) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    (bundle / MANIFEST).unlink()
    os.mkfifo(bundle / MANIFEST)  # reading it would block forever
    with pytest.raises(BundleError, match=r"manifest\.json: not a regular file"):
        ingest(ingest_lake, bundle)


def test_checksum_check_does_not_follow_links(tmp_path: Path, ingest_tn_vcf: Path) -> None:
    """Called on its own (a folder swapped for a link after the tree was checked), the
    checksum check still refuses: each component is opened with ``O_NOFOLLOW``."""
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    manifest = load_manifest(bundle / MANIFEST)
    verify_checksums(bundle, manifest.files)  # intact: passes
    _move_out_and_link(bundle / "variants", tmp_path / "elsewhere" / "variants")
    with pytest.raises(BundleError, match=r"variants/.*without following a symbolic link"):
        verify_checksums(bundle, manifest.files)
    (bundle / "variants").unlink()
    shutil.move(str(tmp_path / "elsewhere" / "variants"), str(bundle / "variants"))
    vcf = _vcf_of(bundle)
    _move_out_and_link(vcf, tmp_path / "elsewhere2" / vcf.name)
    with pytest.raises(BundleError, match=rf"{vcf.name}: cannot be opened without following"):
        verify_checksums(bundle, manifest.files)


def test_manifest_path_escaping_with_dotdot_is_refused(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake
) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    outside = tmp_path / "secret.ndjson"
    outside.write_text("{}\n")
    doc = json.loads((bundle / MANIFEST).read_text())
    doc["files"][0]["path"] = "clinical/../../../secret.ndjson"
    (bundle / MANIFEST).write_text(json.dumps(doc))
    before = ingest_lake.current_version()
    with pytest.raises(ValueError, match=r"files\[0\]\.path: must be a relative path inside"):
        ingest(ingest_lake, bundle)
    assert ingest_lake.current_version() == before

    # and the checksum check refuses such a path on its own, whoever built the list
    class Listed:
        path, size, sha256 = "clinical/../../../secret.ndjson", 3, "0" * 64

    with pytest.raises(BundleError, match=r"not a relative path inside the bundle"):
        verify_checksums(bundle, [Listed()])


def test_deliver_refuses_a_bundle_with_links(tmp_path: Path, ingest_tn_vcf: Path) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    vcf = _vcf_of(bundle)
    _move_out_and_link(vcf, tmp_path / "elsewhere" / vcf.name)
    with pytest.raises(BundleError, match="a symbolic link"):
        deliver(bundle, str(tmp_path / "inbox"))
    assert not (tmp_path / "inbox").exists() or not list((tmp_path / "inbox").iterdir())


def test_intact_bundle_passes_the_confinement_check(tmp_path: Path, ingest_tn_vcf: Path) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    check_confined(bundle)
    verify_checksums(bundle, load_manifest(bundle / MANIFEST).files)


def test_s3_bundle_with_a_dotdot_key_is_refused_before_download(
    tmp_path: Path, ingest_tn_vcf: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = s3_server.new_bucket()
    storage = {
        "key": s3_server.access_key,
        "secret": s3_server.secret_key,
        "client_kwargs": {"endpoint_url": s3_server.endpoint, "region_name": "us-east-1"},
    }
    bundle = _bundle(tmp_path, ingest_tn_vcf)
    location = deliver(bundle, f"s3://{bucket}/inbox", storage)
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name="us-east-1",
    )
    key = f"inbox/{bundle.name}/variants/../../../escaped.txt"
    client.put_object(Bucket=bucket, Key=key, Body=b"written outside")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(BundleError, match=r"'variants/\.\./\.\./\.\./escaped\.txt' is not a rel"):
        fetch(location, work, storage)
    assert not list(work.rglob("*"))  # nothing was downloaded
    assert not (tmp_path / "escaped.txt").exists()
