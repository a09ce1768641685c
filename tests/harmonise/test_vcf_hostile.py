"""Hostile VCFs, generated here: each is read (as pysam reads it) or refused with one line
naming the file and where, and none hangs (issue 19)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import harmonise.vcf.source as vcf_source
from harmonise.errors import HarmoniseError, VcfFormatError
from harmonise.vcf import ReadStats, VcfSource, read_header, read_many, read_variants

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=249250621>\n"
    '##INFO=<ID=X,Number=1,Type=String,Description="x">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\n"
)


def _rec(pos: int | str, alt: str = "T", info: str = ".", chrom: str = "1") -> str:
    return f"{chrom}\t{pos}\t.\tC\t{alt}\t50\tPASS\t{info}\tGT\t0/1\n"


def _bgzip(tmp: Path, name: str, text: str) -> Path:
    plain = tmp / name
    plain.write_text(text)
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    return tmp / f"{name}.gz"


def _outcome(path: Path, engine: str = "auto") -> tuple[str, Any]:
    """("ok", rows) or ("refused", message) of reading ``path``."""
    try:
        tables = list(read_variants(path, engine=engine, stats=ReadStats()))  # type: ignore[arg-type]
    except HarmoniseError as exc:
        message = str(exc)
        assert "\n" not in message and str(path) in message, message
        return "refused", message
    return "ok", pa.concat_tables(tables).to_pylist() if tables else []


# -- issue 19, 1: a line longer than the header scan's read-ahead --------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("a 1 MiB ALT", lambda: HEADER + _rec(200, alt="C" + "A" * (1 << 20)) + _rec(300)),
        ("an 8 MiB INFO", lambda: HEADER + _rec(200, info="X=" + "A" * (8 << 20)) + _rec(300)),
        (
            "a 300 KB header line",
            lambda: (
                HEADER.replace("##contig", "##note=" + "n" * 300_000 + "\n##contig")
                + _rec(200)
                + _rec(300)
            ),
        ),
    ],
)
def test_bgzf_vcf_with_a_long_first_line_is_read_not_spun_on(
    tmp_path: Path, what: str, body: Any
) -> None:
    """Reading the header stopped inflating once 64 KiB sat in its buffer without a newline
    and searched the same bytes forever; now every line length ends the scan, and the file
    reads as pysam reads it, through read_variants and read_many (the ingest path)."""
    path = _bgzip(tmp_path, "long.vcf", body())
    header = read_header(path)
    assert header.samples == ("T",), what
    auto, ref = _outcome(path), _outcome(path, "pysam")
    assert auto[0] == ref[0] == "ok", (auto, ref)
    assert [r["pos"] for r in auto[1]] == [r["pos"] for r in ref[1]] == [200, 300]
    [(rows, stats)] = read_many([VcfSource(str(path))])
    assert rows.column("pos").to_pylist() == [200, 300] and stats.records == 2


@pytest.mark.timeout(60)
def test_header_longer_than_the_bound_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header over MAX_HEADER_BYTES (64 MiB; lowered here) is refused naming the line,
    not held in memory."""
    monkeypatch.setattr(vcf_source, "MAX_HEADER_BYTES", 1 << 20)
    text = HEADER.replace("##contig", "##note=" + "n" * (2 << 20) + "\n##contig") + _rec(200)
    path = _bgzip(tmp_path, "huge.vcf", text)
    with pytest.raises(VcfFormatError, match=r"huge\.vcf\.gz, header line 2: .*longer than 1 MiB"):
        read_header(path)
