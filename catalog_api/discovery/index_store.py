"""The discovery index persisted per lake version, so that a restarted server answers at once.

One file per lake version under ``<home>/index/`` (``index-<version id>.olx``), written
after a full build and, at most every :data:`SAVE_INTERVAL` seconds, after incremental
updates; older files are deleted once a newer one is in place. A file holds:

* a header (JSON): the format, the *code fingerprint* (a digest of the source of every
  module in :data:`INDEX_MODULES`: an index built by other code is never loaded), the
  lake version (its snapshot ids), the table of sections and the extensions' metadata;
* the sections: every persisted field of :class:`~catalog_api.discovery.index.LakeIndex`,
  by its kind in :data:`FIELDS` — Roaring bitmaps in pyroaring's own portable format
  (``BitMap.serialize``), dictionaries of bitmaps as their keys (JSON) plus one blob of
  bitmaps with offsets, numpy arrays as raw little-endian bytes, patient ids as an Arrow
  IPC stream; the stable numbers of the app's database, loaded aside
  (:data:`PERSISTED_NUMBERS`) and used only once the database confirms them; and the
  sections of each :class:`Extension` (the analytics journeys), with its own fingerprint;
* an HMAC-SHA256 of everything before it, under a key of the app's (the file decides
  counts: one written by anyone without the key is refused, as a data file with altered
  tags is refused on read).

:meth:`IndexStore.load` verifies the MAC, the format, the code fingerprint and the
section sizes; the caller (:class:`~catalog_api.discovery.index.Indexer`) then checks the
file's version against the lake (the same version: used as is; only appends since, as the
lake's history says: used and brought up to date with the new submissions' rows only;
anything else: rebuilt). A file that fails any check is logged, deleted and rebuilt.

Withdrawal: the files name patients (pseudonyms); ``oncolake consent withdraw`` deletes
them (:func:`discard`) with the lake's other copies, and a running server's next refresh
sees a non-append change and replaces its file.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import logging
import os
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pyroaring import BitMap

from catalog_api.discovery import definition as definition_module
from catalog_api.discovery import index as index_module
from catalog_api.discovery import index_genomic, index_qc, index_variants
from catalog_api.discovery.index import LakeIndex
from harmonise.lake import LakeVersion

log = logging.getLogger(__name__)

MAGIC = b"OLKIDX\x00\x01"
FORMAT = 1
#: Folder of the index files under the home.
INDEX_DIR = "index"
SUFFIX = ".olx"
#: Seconds between saves of an incrementally updated index (a full build saves at once).
SAVE_INTERVAL = 60.0
_MAC_BYTES = 32

#: How each field of :class:`LakeIndex` is persisted. Every field is in exactly one kind
#: (a test checks it): a new field must say how it is kept.
FIELDS: dict[str, str] = {
    "live": "bitmap",
    "genome_wide": "bitmap",
    "sequenced": "bitmap",
    "submissions": "bitmaps",
    "features": "bitmaps",
    "atoms": "bitmaps",
    "panel_gene": "bitmaps",
    "profiles": "bitmaps",
    "centre_of": "slots",  # one value per slot (int32)
    "basket_of": "slots",
    "centres": "json",
    "baskets": "json",
    "biomarker_values": "values",
    "gene_depths": "values",
    "patient_ids": "ids",
    "patient_keys": "keys",  # keyed hashes (32 bytes a slot; b"" when not computed yet)
    "generation": "json",
    "built_at": "json",
    # not stored: the version (the header's), rebuilt from others, or per process
    "version": "header",
    "datasets": "lake",  # read again from the lake's datasets table for the version
    "centre_no": "derived",
    "basket_no": "derived",
    "gene_atoms": "derived",
    # the application database's numbers (not the lake's): loaded aside, as
    # PERSISTED_NUMBERS, used only once the database confirms them (DiscoveryEngine)
    "stable_numbers": "numbers",
    "_numbering": "process",
    "memo": "process",
    "_values": "process",
    "_labels": "process",
    "value_cuts": "derived",  # from biomarker_values, on first use (index_genomic.ValueCuts)
}


@dataclass(frozen=True)
class Extension:
    """Data of another module kept in the index file beside the index (the analytics
    journeys: arrays aligned with its slots): ``dump(idx)`` gives ``(meta, arrays)`` for
    ``idx`` or None; a loaded index gets them back as its attribute ``attr`` (not a field:
    the index does not know of them), only if the file's ``code`` is this one's (a
    fingerprint of the module that made them)."""

    name: str
    code: str
    attr: str
    dump: Callable[[LakeIndex], tuple[dict[str, Any], dict[str, np.ndarray]] | None]


#: The ``LakeIndex`` attribute a loaded file's stable numbers are put in (not yet trusted).
PERSISTED_NUMBERS = "persisted_numbers"


class IndexFileError(ValueError):
    """A persisted index file cannot be used (corrupt, altered, or made by other code)."""


#: The modules whose source builds the index (their digest is the code fingerprint): the
#: builders, the definition's vocabularies they read (MSI statuses …) and this module
#: (how the file is written and read).
INDEX_MODULES: tuple[Any, ...] = (
    index_module,
    index_genomic,
    index_qc,
    index_variants,
    definition_module,
    sys.modules[__name__],
)


def code_fingerprint() -> str:
    """Digest of the index-building code: files written by other code are not loaded."""
    src = b"".join(Path(m.__file__ or "").read_bytes() for m in INDEX_MODULES)
    return hashlib.sha256(src + f"format {FORMAT}".encode()).hexdigest()[:16]


def _key(tuple_like: Any) -> Any:
    """A JSON-decoded key back as the tuple it was (nested lists → tuples; tens of
    thousands of keys per file, so flat ones take the short way)."""
    if type(tuple_like) is not list:
        return tuple_like
    flat = tuple(tuple_like)
    if list in map(type, flat):
        return tuple(_key(x) for x in flat)
    return flat


class IndexStore:
    """Index files in ``directory``, MAC'd with ``key`` (see the module doc)."""

    def __init__(self, directory: Path, key: bytes, save_interval: float = SAVE_INTERVAL) -> None:
        if not key:
            raise ValueError("the index store needs a non-empty key")
        self.directory = Path(directory)
        self.save_interval = save_interval
        self._key = hashlib.sha256(b"oncolake discovery index\x00" + key).digest()
        self._lock = threading.Lock()
        #: seconds spent per step of the last :meth:`load` (read, mac, then per kind)
        self.last_load_times: dict[str, float] = {}
        self.extensions: dict[str, Extension] = {}

    def extend(self, ext: Extension) -> None:
        """Keep ``ext``'s data in every file saved from now on (see :class:`Extension`)."""
        self.extensions[ext.name] = ext

    # -- writing --------------------------------------------------------------------------

    def save(self, idx: LakeIndex) -> Path:
        """Write ``idx`` as its version's file (atomically: a temporary file renamed), then
        delete older files; returns the path."""
        if idx.version is None:
            raise ValueError("an index without a lake version cannot be saved")
        t0 = time.perf_counter()
        header, chunks = encode(idx, self.extensions)
        head = json.dumps(header, separators=(",", ":")).encode()
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        prefix = MAGIC + struct.pack("<Q", len(head)) + head
        mac.update(prefix)
        for c in chunks:
            mac.update(c)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"index-{idx.version.id}{SUFFIX}"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            f.write(prefix)
            for c in chunks:
                f.write(c)
            f.write(mac.digest())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with self._lock:
            for other in self.files():
                if other != path and other.stat().st_mtime <= path.stat().st_mtime:
                    with contextlib.suppress(FileNotFoundError):
                        other.unlink()
        log.info(
            "discovery index of %s saved to %s (%.1f MB, %.2f s)",
            idx.version.id,
            path,
            path.stat().st_size / 1e6,
            time.perf_counter() - t0,
        )
        return path

    # -- reading --------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """The index files, newest first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.glob(f"index-*{SUFFIX}") if p.is_file()]
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def latest(self) -> LakeIndex | None:
        """The newest file's index, verified (see :meth:`load`); a file that cannot be used
        is logged and deleted, and the next newest tried. None when there is none."""
        for path in self.files():
            try:
                return self.load(path)
            except IndexFileError as exc:
                log.warning("discovery index file %s cannot be used (%s): deleted", path, exc)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return None

    def load(self, path: Path) -> LakeIndex:
        """The index in ``path``; :class:`IndexFileError` if its MAC, format, code or any
        section does not check out (its lake version is checked by the caller)."""
        times = self.last_load_times = {}
        t = time.perf_counter()
        try:
            # one private copy (never a mapping of the file: what was verified is what is
            # decoded), read in place and sliced by views (the body is not copied again)
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                raw = bytearray(size)
                if f.readinto(raw) != size:
                    raise IndexFileError("cut short while read")
        except OSError as exc:
            raise IndexFileError(f"unreadable: {exc}") from exc
        times["read"] = time.perf_counter() - t
        if len(raw) < len(MAGIC) + 8 + _MAC_BYTES or not raw.startswith(MAGIC):
            raise IndexFileError("not an index file (bad magic or cut short)")
        t = time.perf_counter()
        view = memoryview(raw)
        body, mac = view[:-_MAC_BYTES], bytes(view[-_MAC_BYTES:])
        expected = hmac.new(self._key, body, hashlib.sha256).digest()
        times["mac"] = time.perf_counter() - t
        if not hmac.compare_digest(mac, expected):
            raise IndexFileError("its MAC does not match (altered, cut short, or another key)")
        (hlen,) = struct.unpack_from("<Q", raw, len(MAGIC))
        start = len(MAGIC) + 8
        try:
            header = json.loads(bytes(view[start : start + hlen]))
        except ValueError as exc:
            raise IndexFileError(f"unreadable header: {exc}") from exc
        if header.get("format") != FORMAT:
            raise IndexFileError(f"format {header.get('format')!r}, expected {FORMAT}")
        if header.get("code") != code_fingerprint():
            raise IndexFileError("written by another version of the index code")
        data = view[start + hlen : len(body)]
        try:
            return self._decode(header, data, times, self.extensions)
        except (KeyError, ValueError, TypeError, IndexError, pa.ArrowException) as exc:
            raise IndexFileError(f"a section cannot be read: {exc}") from exc

    @staticmethod
    def _decode(
        header: dict[str, Any],
        data: memoryview,
        times: dict[str, float],
        extensions: dict[str, Extension],
    ) -> LakeIndex:
        n = int(header["patients"])
        idx = LakeIndex(version=LakeVersion.from_json(header["version"]))
        exts = header.get("extensions", {})
        extra: dict[str, dict[str, np.ndarray]] = {}
        for sec in header["sections"]:
            name, kind = sec["name"], sec["kind"]
            if kind == "ext":
                ext_name, _, key = name.partition("/")
                ext = extensions.get(ext_name)
                if ext is not None and exts.get(ext_name, {}).get("code") == ext.code:
                    buf = data[sec["at"] : sec["at"] + sec["size"]]
                    if len(buf) != sec["size"]:
                        raise ValueError(f"section {name!r} is cut short")
                    arr = np.frombuffer(buf, dtype=np.dtype(sec["dtype"])).copy()
                    extra.setdefault(ext_name, {})[key] = arr
                continue
            if FIELDS.get(name) != kind:
                raise ValueError(f"section {name!r} of kind {kind!r} is not expected")
            t = time.perf_counter()
            buf = data[sec["at"] : sec["at"] + sec["size"]]
            if len(buf) != sec["size"]:
                raise ValueError(f"section {name!r} is cut short")
            value: Any
            if kind == "bitmap":
                value = BitMap.deserialize(buf)  # type: ignore[arg-type]  # (no copy)
            elif kind == "bitmaps":
                keys = [_key(k) for k in sec["keys"]]
                ends = np.frombuffer(buf[: 8 * len(keys)], dtype="<u8")
                blob = buf[8 * len(keys) :]
                value = {}
                begin = 0
                for k, end in zip(keys, ends.tolist(), strict=True):
                    value[k] = BitMap.deserialize(blob[begin:end])  # type: ignore[arg-type]
                    begin = end
                if begin != len(blob):
                    raise ValueError(f"section {name!r}: bitmaps do not fill it")
            elif kind == "slots":
                arr = np.frombuffer(buf, dtype="<i4").astype(np.int32)
                if len(arr) != n:
                    raise ValueError(f"section {name!r} has {len(arr)} slots, not {n}")
                value = arr
            elif kind == "json":
                value = json.loads(bytes(buf))
            elif kind == "values":
                value = {}
                at = 0
                for m, length in zip(sec["keys"], sec["lengths"], strict=True):
                    vals = np.frombuffer(buf[at : at + 8 * length], dtype="<f8").copy()
                    at += 8 * length
                    slots = np.frombuffer(buf[at : at + 4 * length], dtype="<u4").copy()
                    at += 4 * length
                    value[m] = (vals, slots)
            elif kind == "numbers":
                numbers = np.frombuffer(buf, dtype="<u4").astype(np.uint32)
                if len(numbers) != n:
                    raise ValueError(f"{len(numbers)} stable numbers, not {n}")
                object.__setattr__(idx, PERSISTED_NUMBERS, numbers)
                times[kind] = times.get(kind, 0.0) + time.perf_counter() - t
                continue
            elif kind == "keys":
                value = np.frombuffer(buf, dtype="S32").copy()
                if len(value) != n:
                    raise ValueError(f"{len(value)} patient keys, not {n}")
            elif kind == "ids":
                table = pa.ipc.open_stream(pa.py_buffer(buf)).read_all()
                value = table.column("patient_id").to_pylist()
                if len(value) != n:
                    raise ValueError(f"{len(value)} patient ids, not {n}")
            else:  # pragma: no cover - FIELDS has no other kinds
                raise ValueError(kind)
            setattr(idx, name, value)
            times[kind] = times.get(kind, 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        idx.centres, idx.baskets = list(idx.centres), list(idx.baskets)
        idx.centre_no = {c: i for i, c in enumerate(idx.centres)}
        idx.basket_no = {b: i for i, b in enumerate(idx.baskets)}
        for atom in idx.atoms:
            idx.gene_atoms.setdefault(atom[0], set()).add(atom)
        if len(idx.live) and idx.live.max() >= n:
            raise ValueError("a live slot has no patient")
        times["derived"] = time.perf_counter() - t
        for ext_name, arrays in extra.items():
            ext = extensions[ext_name]
            object.__setattr__(idx, ext.attr, (exts[ext_name]["meta"], arrays))
        return idx

    def clear(self) -> int:
        """Delete every index file (and leftover temporary file); how many were deleted."""
        return discard(self.directory)


def encode(
    idx: LakeIndex, extensions_of: dict[str, Extension] | None = None
) -> tuple[dict[str, Any], list[bytes]]:
    """The header and sections of ``idx``'s file (see the module doc), without the MAC."""
    assert idx.version is not None
    n = len(idx.patient_ids)
    extensions_of = extensions_of or {}

    sections: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    offset = 0

    def add(name: str, kind: str, data: bytes, **meta: Any) -> None:
        nonlocal offset
        sections.append({"name": name, "kind": kind, "at": offset, "size": len(data), **meta})
        chunks.append(data)
        offset += len(data)

    for name, kind in FIELDS.items():
        value = getattr(idx, name)
        if kind == "bitmap":
            add(name, kind, value.serialize())
        elif kind == "bitmaps":
            keys = list(value)
            blobs = [value[k].serialize() for k in keys]
            ends = np.cumsum([len(b) for b in blobs], dtype=np.uint64)
            add(name, kind, ends.tobytes() + b"".join(blobs), keys=keys)
        elif kind == "slots":
            add(name, kind, np.ascontiguousarray(value[:n], dtype="<i4").tobytes())
        elif kind == "json":
            add(name, kind, json.dumps(value).encode())
        elif kind == "values":
            markers = list(value)
            parts = []
            lengths = []
            for m in markers:
                vals, slots = value[m]
                parts.append(np.ascontiguousarray(vals, dtype="<f8").tobytes())
                parts.append(np.ascontiguousarray(slots, dtype="<u4").tobytes())
                lengths.append(len(vals))
            add(name, kind, b"".join(parts), keys=markers, lengths=lengths)
        elif kind == "numbers":
            numbered = np.zeros(n, dtype="<u4")
            numbered[: min(n, len(value))] = value[:n]
            add(name, kind, numbered.tobytes())
        elif kind == "keys":
            packed = np.zeros(n, dtype="S32")
            packed[: min(n, len(value))] = value[:n]
            add(name, kind, packed.tobytes())
        elif kind == "ids":
            sink = io.BytesIO()
            table = pa.table({"patient_id": pa.array(value, pa.string())})
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            add(name, kind, sink.getvalue())
    extensions: dict[str, Any] = {}
    for ext in list(extensions_of.values()):
        dumped = ext.dump(idx)
        if dumped is None:
            continue
        meta, arrays = dumped
        extensions[ext.name] = {"code": ext.code, "meta": meta}
        for key, arr in arrays.items():
            arr = np.ascontiguousarray(arr)
            dtype = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
            add(f"{ext.name}/{key}", "ext", arr.astype(dtype, copy=False).tobytes(),
                dtype=dtype.str)  # fmt: skip
    header = {
        "format": FORMAT,
        "code": code_fingerprint(),
        "version": json.loads(idx.version.to_json()),
        "patients": n,
        "sections": sections,
        "extensions": extensions,
        "saved_at": time.time(),
    }
    return header, chunks


def copy_index(idx: LakeIndex) -> LakeIndex:
    """A copy of ``idx`` sharing nothing with it (its persisted fields, through the file's
    own encoding), without the per-process fields and without the patients' keys (those of
    another app may be keyed by another secret): what another app's engine over the same
    lake starts from instead of building its own (call under the owner's lock)."""
    header, chunks = encode(idx)
    data = memoryview(b"".join(chunks))
    out = IndexStore._decode(header, data, {}, {})
    out.patient_keys = np.zeros(0, dtype="S32")
    out.__dict__.pop(PERSISTED_NUMBERS, None)  # (another app's database's numbers)
    out.datasets = dict(idx.datasets)
    out.built_at = idx.built_at
    return out


def discard(directory: Path) -> int:
    """Delete every index file under ``directory`` (a withdrawal: they name patients)."""
    n = 0
    if Path(directory).is_dir():
        for p in Path(directory).iterdir():
            if p.is_file() and (p.suffix == SUFFIX or p.name.endswith(".tmp")):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    n += 1
    return n
