"""The warehouse as a file system (local or S3, through fsspec), for listing and removing
files that no Iceberg metadata names."""

from __future__ import annotations

import datetime as dt

import fsspec

from harmonise.lake.types import LakeConfig


def warehouse_fs(config: LakeConfig) -> fsspec.AbstractFileSystem:
    """The file system of ``config``'s warehouse."""
    if config.warehouse.startswith("s3://"):
        props = config.properties
        return fsspec.filesystem(
            "s3",
            key=props.get("s3.access-key-id"),
            secret=props.get("s3.secret-access-key"),
            endpoint_url=props.get("s3.endpoint"),
            client_kwargs={"region_name": props.get("s3.region", "us-east-1")},
        )
    return fsspec.filesystem("file")


def strip(path: str) -> str:
    """``path`` without its scheme, as fsspec lists it."""
    for prefix in ("file://", "s3://", "s3a://"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def modified(fs: fsspec.AbstractFileSystem, path: str) -> dt.datetime:
    """When ``path`` was last written (the epoch's start if the store cannot say)."""
    try:
        value = fs.modified(path)
    except (NotImplementedError, FileNotFoundError):
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value
