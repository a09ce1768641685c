"""Verified reading of one data file: its signed tags and its content digest are checked
before any row is returned (see :mod:`harmonise.lake.writer` for what a file carries)."""

from __future__ import annotations

import hashlib
import struct
import threading
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.table import Table

from consent.errors import TagsError
from consent.tags import verified_body
from harmonise.errors import TamperedFileError


class VerifiedFiles:
    """Reads data files after verifying them; remembers the files verified (data files
    never change once written, so each is verified once per process and lake)."""

    def __init__(self, tag_key: bytes) -> None:
        self._tag_key = tag_key
        self._tags: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def check(self, path: str, raw: bytes) -> dict[str, Any]:
        """Verify the bytes ``raw`` of the file ``path``; return its tags per dataset."""
        cached = self._tags.get(path)
        if cached is not None:
            return cached
        try:
            if len(raw) < 12 or raw[-4:] != b"PAR1":
                raise TagsError(f"{path}: not a Parquet file (no PAR1 footer)")
            (footer_len,) = struct.unpack("<I", raw[-8:-4])
            data_end = len(raw) - 8 - footer_len
            kv = pq.read_metadata(pa.BufferReader(raw)).metadata
            body = verified_body(kv, self._tag_key, where=path)
            expected = body.get("file_sha256")
            if expected is None:
                raise TagsError(
                    f"{path}: the signed tags carry no file digest, so its rows are not "
                    "covered by the signature; the lake refuses it"
                )
            if hashlib.sha256(raw[:data_end]).hexdigest() != expected:
                raise TagsError(
                    f"{path}: the rows do not match the signed digest: the file was altered "
                    "after it was signed. It is refused."
                )
        except TagsError as exc:
            raise TamperedFileError(str(exc)) from exc
        tags: dict[str, Any] = body["datasets"]
        with self._lock:
            self._tags[path] = tags
        return tags

    def verify(self, tbl: Table, path: str) -> dict[str, Any]:
        """Verify one data file of ``tbl``; return its tags."""
        if path in self._tags:
            return self._tags[path]
        return self.check(path, _read_bytes(tbl, path))

    def read(self, tbl: Table, path: str) -> pa.Table:
        """One whole data file, verified."""
        raw = _read_bytes(tbl, path)
        self.check(path, raw)
        return pq.read_table(pa.BufferReader(raw))

    def read_part(
        self, tbl: Table, path: str, target: pa.Schema, arrow_filter: pc.Expression
    ) -> pa.Table:
        """One verified data file, projected to ``target``'s columns and filtered; the
        bytes are verified and parsed from the same buffer."""
        raw = _read_bytes(tbl, path)
        self.check(path, raw)
        pf = pq.ParquetFile(pa.BufferReader(raw))
        present = [c for c in target.names if c in pf.schema_arrow.names]
        data = pf.read(columns=present).replace_schema_metadata(None)
        for col in target.names:  # columns added to the schema after the file was written
            if col not in data.column_names:
                data = data.append_column(
                    target.field(col), pa.nulls(data.num_rows, target.field(col).type)
                )
        data = data.select(target.names).cast(target)
        return data.filter(arrow_filter)


def _read_bytes(tbl: Table, path: str) -> bytes:
    with tbl.io.new_input(path).open() as fh:
        return fh.read()
