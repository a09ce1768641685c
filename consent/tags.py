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
from typing import Any

from consent.errors import TagsError

TAGS_KEY = b"oncolake.tags"
SIGNATURE_KEY = b"oncolake.tags.signature"
TAGS_FORMAT_VERSION = 1


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` the same way every time (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(payload: bytes, key: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def sign_tags(datasets: Mapping[str, Mapping[str, Any]], key: bytes) -> dict[bytes, bytes]:
    """Key-value metadata to write into a Parquet file holding rows of ``datasets``.

    ``datasets`` maps each dataset id in the file to its tags (for example
    ``{"metadata_digest": …, "duo_codes": […], "consent_version": …}``).
    """
    if not key:
        raise TagsError("the tag signing key is empty; set ONCOLAKE_TAG_SIGNING_KEY")
    body = {"format_version": TAGS_FORMAT_VERSION, "datasets": dict(datasets)}
    payload = canonical_json(body)
    return {TAGS_KEY: payload, SIGNATURE_KEY: _mac(payload, key).encode()}


def verify_tags(
    kv: Mapping[bytes, bytes] | None, key: bytes, where: str
) -> dict[str, dict[str, Any]]:
    """Check the signed tags of a file and return its datasets' tags; raise :class:`TagsError`.

    ``where`` names the file in the error message.
    """
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
    body = json.loads(payload)
    if body.get("format_version") != TAGS_FORMAT_VERSION:
        raise TagsError(f"{where}: unknown tags format_version {body.get('format_version')!r}")
    datasets: dict[str, dict[str, Any]] = body["datasets"]
    return datasets
