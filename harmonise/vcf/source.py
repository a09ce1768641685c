"""Opening a VCF file: what it is (BCF, text, gzip/BGZF), where its header ends, whether it
is whole, and its bytes for the readers.

gzip and BGZF are inflated with ISA-L (python-isal), as the text engine does: inflating is
the one serial step of reading a text VCF, and a bundle's header reads inflate thousands
of files.
"""

from __future__ import annotations

import io
import zlib
from typing import Any, cast

import pyarrow as pa
from isal import igzip, isal_zlib

from harmonise.errors import VcfFormatError

#: What reading a text VCF through Arrow's CSV reader can raise (ISA-L's error class is
#: typed loosely by python-isal): the text engine then leaves the file to htslib.
_READ_ERRORS: tuple[type[Exception], ...] = (
    pa.ArrowException,
    OSError,
    EOFError,
    cast("type[Exception]", isal_zlib.error),
)

#: What inflating a damaged gzip/BGZF stream raises (zlib, or ISA-L, typed loosely).
_INFLATE_ERRORS: tuple[type[Exception], ...] = (
    zlib.error,
    cast("type[Exception]", isal_zlib.error),
)
_GUNZIP_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, *_INFLATE_ERRORS)

_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


#: The longest header (all its lines, inflated) a VCF may have: a longer one is refused
#: rather than held in memory. Records may be as long as the engines take.
MAX_HEADER_BYTES = 64 << 20

#: Bytes inflated ahead of the header scan: enough for the header lines plus the start of
#: the first record, without inflating much of the records.
_SNIFF_AHEAD = 1 << 16


def _sniff(path: str) -> tuple[bool, int, bytes]:
    """(is BCF, header lines, header text) of a VCF, plain or bgzipped: inflates only as far
    as the first byte of the first record. Every round of the loop consumes input, so a
    line of any length ends it; a header over :data:`MAX_HEADER_BYTES` is refused."""
    with open(path, "rb") as fh:
        pending = fh.read(1 << 16)
        gz = pending[:2] == b"\x1f\x8b"
        if not gz and pending[:2] == b"BC":
            return True, 0, b""
        dec = isal_zlib.decompressobj(31) if gz else None
        buf = bytearray()
        scanned = n = 0
        while True:
            if dec is None:
                buf += pending
                pending = b""
            else:
                try:
                    while pending:  # member by member (BGZF blocks), as far as needed
                        buf += dec.decompress(pending)
                        pending = dec.unused_data
                        if dec.eof:
                            dec = isal_zlib.decompressobj(31)
                        if len(buf) - scanned >= _SNIFF_AHEAD:
                            break
                except _INFLATE_ERRORS:
                    return False, n, bytes(buf[:scanned])
                if scanned == 0 and buf[:3] == b"BCF":
                    return True, 0, b""
            while scanned < len(buf):
                if buf[scanned] != ord("#"):  # the first record starts here
                    return False, n, bytes(buf[:scanned])
                nl = buf.find(b"\n", scanned)
                if nl < 0:
                    break
                n += 1
                scanned = nl + 1
            if len(buf) > MAX_HEADER_BYTES:
                raise VcfFormatError(
                    f"{path}, header line {n + 1}: the header is longer than "
                    f"{MAX_HEADER_BYTES >> 20} MiB (a line without its end?); a VCF header is "
                    "the ## lines and the #CHROM line"
                )
            if not pending:
                pending = fh.read(1 << 16)
                if not pending:
                    if buf[scanned:].startswith(b"#"):  # a last line without newline
                        return False, n + 1, bytes(buf)
                    return False, n, bytes(buf[:scanned])


def _check_bgzf_eof(path: str) -> None:
    """Refuse a bgzipped file without the BGZF end-of-file block (cut short)."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - len(_BGZF_EOF)))
        if fh.read() != _BGZF_EOF:
            raise VcfFormatError(
                f"{path}: truncated: the BGZF end-of-file marker is missing (the file was "
                "cut short in transfer); copy the complete file again"
            )


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_text(path: str) -> Any:
    """The (inflated) bytes of a text VCF as a stream for Arrow's CSV reader."""
    if _is_gzip(path):
        return igzip.open(path, "rb")
    return pa.input_stream(path, buffer_size=1 << 20)


def _split_small(path: str) -> tuple[bytes, int, bytes] | None:
    """(header text, header lines, records) of a small text VCF, inflated once (None: leave
    the file to read_variants)."""
    _check_bgzf_eof(path)
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = igzip.decompress(data)
        except _GUNZIP_ERRORS:
            return None
    at = data.find(b"\n#CHROM")
    at = data.find(b"\n", at + 1) if at >= 0 else -1
    if at < 0:
        return None
    body = data[at + 1 :]
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return data[: at + 1], data.count(b"\n", 0, at + 1), body
