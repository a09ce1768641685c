"""Tags that stay with the data: signed mandatory metadata + consent tags in Parquet files.

Every data file of the lake and every export carries, in its Parquet key-value metadata,
the tags of each dataset whose rows it holds (metadata digest, DUO codes, consent form
version) and an HMAC-SHA256 signature over them made with a key held by the hub. A file
whose tags are missing or altered is refused on read (:func:`verify_tags`).

HMAC from the standard library is the signature: the hub both signs and verifies, so a
shared-key MAC is sufficient and needs no hand-rolled cryptography.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from consent.errors import TagsError
from metadata.manifest import ManifestV1, manifest_digest

TAGS_KEY = b"oncolake.tags"
SIGNATURE_KEY = b"oncolake.tags.signature"
TAGS_FORMAT_VERSION = 1


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` the same way every time (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(payload: bytes, key: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def sign_tags(
    datasets: Mapping[str, Mapping[str, Any]],
    key: bytes,
    *,
    content_sha256: str | None = None,
    file_sha256: str | None = None,
) -> dict[bytes, bytes]:
    """Key-value metadata to write into a Parquet file holding rows of ``datasets``.

    ``datasets`` maps each dataset id in the file to its tags (for example
    ``{"metadata_digest": …, "duo_codes": […], "consent_version": …}``). With
    ``content_sha256`` (:func:`table_digest` of the rows) the signature also covers the
    rows, so a file whose data is edited after signing is refused too. ``file_sha256`` is
    the lake's cheaper equivalent: the SHA-256 of the Parquet file's bytes before its
    footer (magic + row groups), checked by ``harmonise.lake`` on read.
    """
    if not key:
        raise TagsError("the tag signing key is empty; set ONCOLAKE_TAG_SIGNING_KEY")
    body: dict[str, Any] = {"format_version": TAGS_FORMAT_VERSION, "datasets": dict(datasets)}
    if content_sha256 is not None:
        body["content_sha256"] = content_sha256
    if file_sha256 is not None:
        body["file_sha256"] = file_sha256
    payload = canonical_json(body)
    return {TAGS_KEY: payload, SIGNATURE_KEY: _mac(payload, key).encode()}


def verify_tags(
    kv: Mapping[bytes, bytes] | None, key: bytes, where: str
) -> dict[str, dict[str, Any]]:
    """Check the signed tags of a file and return its datasets' tags; raise :class:`TagsError`.

    ``where`` names the file in the error message.
    """
    datasets: dict[str, dict[str, Any]] = verified_body(kv, key, where)["datasets"]
    return datasets


def verified_body(kv: Mapping[bytes, bytes] | None, key: bytes, where: str) -> dict[str, Any]:
    """The whole signed tags body (datasets, optional content digest) after verification."""
    kv = kv or {}
    payload = kv.get(TAGS_KEY)
    signature = kv.get(SIGNATURE_KEY)
    if payload is None or signature is None:
        raise TagsError(
            f"{where}: the mandatory tags are missing from the Parquet key-value metadata "
            f"({TAGS_KEY.decode()!r} and {SIGNATURE_KEY.decode()!r}); the file cannot be "
            "read without them. Re-export it from the lake."
        )
    if not hmac.compare_digest(_mac(payload, key).encode(), signature):
        raise TagsError(
            f"{where}: the tags do not match their signature: the file was altered after "
            "it was signed, or signed with another key. It is refused."
        )
    body: dict[str, Any] = json.loads(payload)
    if body.get("format_version") != TAGS_FORMAT_VERSION:
        raise TagsError(f"{where}: unknown tags format_version {body.get('format_version')!r}")
    return body


def dataset_tags(manifest: ManifestV1) -> dict[str, Any]:
    """A dataset's mandatory tags: metadata digest, DUO codes, consent form version, centre."""
    return {
        "metadata_digest": manifest_digest(manifest),
        "duo_codes": sorted(manifest.duo_codes),
        "consent_version": manifest.consent_form_version,
        "centre_id": manifest.centre.id,
        "embargo_until": manifest.embargo_until.isoformat() if manifest.embargo_until else None,
    }


def table_digest(table: pa.Table) -> str:
    """SHA-256 of a table's column names, types and values (independent of chunking)."""
    h = hashlib.sha256()
    for name in table.column_names:
        col = table.column(name)
        h.update(canonical_json([name, str(col.type)]))
        h.update(canonical_json(col.to_pylist()) if _jsonable(col.type) else _fallback(col))
    return h.hexdigest()


def _jsonable(typ: pa.DataType) -> bool:
    return not (pa.types.is_temporal(typ) or pa.types.is_binary(typ) or pa.types.is_decimal(typ))


def _fallback(col: pa.ChunkedArray) -> bytes:
    return json.dumps([None if v is None else str(v) for v in col.to_pylist()]).encode()


def write_signed_parquet(
    table: pa.Table, path: str | Path, datasets: Mapping[str, Mapping[str, Any]], key: bytes
) -> None:
    """Write ``table`` to Parquet with the signed tags of ``datasets`` and of its rows.

    Every ``dataset_id`` in the rows must have tags (an export or data file never holds
    untagged rows).
    """
    if "dataset_id" in table.column_names:
        missing = set(table.column("dataset_id").to_pylist()) - set(datasets)
        if missing:
            raise TagsError(
                f"{path}: rows of dataset(s) {', '.join(sorted(map(str, missing)))} have no "
                "tags; pass their tags (consent.tags.dataset_tags of their manifests)"
            )
    meta = dict(table.schema.metadata or {})
    meta.update(sign_tags(datasets, key, content_sha256=table_digest(table)))
    pq.write_table(table.replace_schema_metadata(meta), str(path))


def read_verified_parquet(
    path: str | Path, key: bytes
) -> tuple[pa.Table, dict[str, dict[str, Any]]]:
    """Read a Parquet file, refusing it if its tags are missing, altered or not its rows'."""
    where = str(path)
    table = pq.read_table(where)
    body = verified_body(table.schema.metadata, key, where)
    datasets: dict[str, dict[str, Any]] = body["datasets"]
    content = body.get("content_sha256")
    if content is None:
        raise TagsError(
            f"{where}: the signed tags do not cover the rows (no content digest); re-export "
            "it with consent.tags.write_signed_parquet"
        )
    if table_digest(table) != content:
        raise TagsError(
            f"{where}: the rows do not match the signed content digest: the data was edited "
            "after it was signed. It is refused."
        )
    if "dataset_id" in table.column_names:
        untagged = set(table.column("dataset_id").to_pylist()) - set(datasets)
        if untagged:
            raise TagsError(f"{where}: rows of untagged dataset(s) {sorted(untagged)}; refused")
    return table, datasets
