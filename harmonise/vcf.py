"""VCF/BCF → Arrow: columnar, streaming, validated, normalised variant rows.

Two readers produce the same *raw* columns (one row per VCF record, values as text where
VCF has lists), and one vectorised step (:func:`normalise`, DuckDB SQL over Arrow) turns raw
rows into ``variants`` rows: multi-allelic records split, alleles checked, genotype, depth,
allele depths and VAF of the tumour and the normal, and one consequence annotation chosen
from bcftools ``BCSQ``, VEP ``CSQ`` or snpEff ``ANN`` (gene, transcript, SO term, HGVS c./p.
and the short protein change such as ``V600E``).

* ``bcftools`` engine (large files): ``bcftools query`` streams tab-separated text through
  a pipe into pyarrow's multi-threaded CSV reader, batch by batch. htslib decodes, Arrow
  parses; no per-record Python, memory bounded by the batch size.
* ``cyvcf2`` engine (small files): in-process, no process spawn; a Python loop over a few
  hundred records is cheaper than starting ``bcftools``.

``engine="auto"`` picks by file size (:data:`SMALL_FILE_BYTES`). Raw rows of many small
files can be concatenated and normalised in one call.

Coordinates: ``pos`` is 1-based (VCF POS). Raw rows carry ``rec``, the 0-based record
number in the file, so that every error names the line (``header_lines + rec + 1`` for
text VCF) and the record (``chrom:pos``).
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import threading
import zlib
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from isal import igzip, isal_zlib

from harmonise.errors import (
    ContigError,
    GenomeBuildError,
    ReferenceMismatchError,
    VcfError,
    VcfFormatError,
)
from harmonise.model import BCSQ_SO, CONSEQUENCE_SEVERITY, VARIANT_CLASSES

Engine = Literal["auto", "text", "pysam", "bcftools", "cyvcf2"]

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

#: Files up to this size (bytes on disk) are read in-process (cyvcf2); larger ones by
#: ``bcftools query`` streamed into Arrow. See ``bench/ingest``.
SMALL_FILE_BYTES = 2_000_000

#: Rows per Arrow batch on the streaming path (bounds memory).
BATCH_BYTES = 16 << 20

#: Primary chromosome lengths per build (Ensembl names), to tell GRCh37 from GRCh38.
BUILD_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh37": {
        "1": 249250621, "2": 243199373, "3": 198022430, "4": 191154276, "5": 180915260,
        "6": 171115067, "7": 159138663, "8": 146364022, "9": 141213431, "10": 135534747,
        "11": 135006516, "12": 133851895, "13": 115169878, "14": 107349540,
        "15": 102531392, "16": 90354753, "17": 81195210, "18": 78077248, "19": 59128983,
        "20": 63025520, "21": 48129895, "22": 51304566, "X": 155270560, "Y": 59373566,
    },
    "GRCh38": {
        "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
        "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
        "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718,
        "15": 101991189, "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616,
        "20": 64444167, "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415,
    },
}  # fmt: skip

#: The raw columns both readers produce (``t_``: tumour / first sample, ``n_``: normal).
#: The text engine may instead give a sample's AD as two integer columns, ``t_ad_ref`` and
#: ``t_ad_alt`` (``n_``…), when every value has exactly two; its ``t_ad`` is then null.
RAW_SCHEMA = pa.schema(
    [
        ("rec", pa.int64()),
        ("chrom", pa.string()),
        ("pos", pa.int64()),
        ("ref", pa.string()),
        ("alt", pa.string()),
        ("qual", pa.float64()),
        ("filter", pa.string()),
        ("ann", pa.string()),
        ("t_gt", pa.string()),
        ("t_dp", pa.int64()),
        ("t_ad", pa.string()),
        ("n_gt", pa.string()),
        ("n_dp", pa.int64()),
        ("n_ad", pa.string()),
    ]
)

ANNOTATION_FIELDS = ("BCSQ", "CSQ", "ANN")
ANN_FIELDS = [
    "Allele",
    "Annotation",
    "Annotation_Impact",
    "Gene_Name",
    "Gene_ID",
    "Feature_Type",
    "Feature_ID",
    "Transcript_BioType",
    "Rank",
    "HGVS.c",
    "HGVS.p",
    "cDNA.pos/cDNA.length",
    "CDS.pos/CDS.length",
    "AA.pos/AA.length",
    "Distance",
    "ERRORS/WARNINGS/INFO",
]


@dataclass(frozen=True)
class VcfHeader:
    """What ingest needs from a VCF header."""

    path: str
    samples: tuple[str, ...]
    contigs: Mapping[str, int | None]
    infos: Mapping[str, tuple[str, str]]  # id -> (Number, Type)
    formats: Mapping[str, tuple[str, str]]
    annotation: str | None  # BCSQ, CSQ or ANN (the first present, in that order)
    annotation_fields: tuple[str, ...]  # CSQ/ANN sub-field names, BCSQ's fixed ones
    header_lines: int
    assembly: str | None  # from ##reference / ##contig assembly=, if stated
    is_bcf: bool


@dataclass(frozen=True)
class SampleRoles:
    """Which VCF sample columns are the tumour and the normal (either may be absent)."""

    tumour: str | None
    normal: str | None = None


@dataclass
class ReadStats:
    """Counts collected while reading (for the ingest summary)."""

    records: int = 0
    rows: int = 0
    skipped_symbolic: int = 0
    skipped_reference_only: int = 0
    warnings: list[str] = field(default_factory=list)


def _where(header: VcfHeader, rec: int, chrom: Any = None, pos: Any = None) -> str:
    loc = f"record {rec + 1}"
    if not header.is_bcf:
        loc = f"line {header.header_lines + rec + 1} (record {rec + 1}"
        loc += f", {chrom}:{pos})" if chrom is not None else ")"
    elif chrom is not None:
        loc += f" ({chrom}:{pos})"
    return f"{header.path}, {loc}"


# -- header ---------------------------------------------------------------------------------


def _open_cyvcf2(path: str, samples: Sequence[str] | None = None) -> Any:
    from cyvcf2 import VCF

    p = Path(path)
    if not p.exists():
        raise VcfFormatError(f"{path}: no such file")
    if p.stat().st_size == 0:
        raise VcfFormatError(f"{path}: the file is empty (0 bytes); a VCF starts with a header")
    try:
        if samples is not None:
            return VCF(path, strict_gt=False, samples=list(samples), lazy=True)
        return VCF(path, strict_gt=False, lazy=True)
    except Exception as exc:  # cyvcf2 raises bare Exception/OSError on bad headers
        raise VcfFormatError(
            f"{path}, header: not a valid VCF/BCF header ({exc}); check the ##fileformat "
            "line, the ##INFO/##FORMAT meta lines and the #CHROM line (tab-separated)"
        ) from None


_DESC_FORMAT_RE = re.compile(r"Format:\s*([^\"]+)")


def read_header(path: str | Path) -> VcfHeader:
    """Read and check a VCF/BCF header.

    A text VCF header in the plain shape pipelines write is parsed here, in Python, from
    the decompressed header text (a strict grammar; about 20x cheaper than opening the file
    with htslib, which matters for thousands of small files); anything else (BCF, v4.4+,
    a line outside the grammar, a duplicate ID, a Flag with Number≠0, …) is read by htslib
    through cyvcf2, which also refuses what is bad. Both give equal headers on the corpus
    (tests/harmonise/test_ingest_perf_paths.py).
    """
    spath = str(path)
    p = Path(spath)
    if p.exists() and p.stat().st_size > 0:
        is_bcf, lines, text = _sniff(spath)
        if not is_bcf:
            fast = _parse_header_text(spath, text, lines)
            if fast is not None:
                return fast
    else:
        is_bcf, lines = False, 0
    return _read_header_htslib(spath, is_bcf, lines)


def _make_header(
    spath: str,
    samples: Sequence[str],
    contigs: dict[str, int | None],
    infos: dict[str, tuple[str, str]],
    formats: dict[str, tuple[str, str]],
    descriptions: Mapping[str, str],
    assembly: str | None,
    header_lines: int,
    is_bcf: bool,
) -> VcfHeader:
    annotation = next((a for a in ANNOTATION_FIELDS if a in infos), None)
    fields: tuple[str, ...] = ()
    if annotation == "BCSQ":
        fields = (
            "Consequence", "gene", "transcript", "biotype", "strand",
            "amino_acid_change", "dna_change",
        )  # fmt: skip
    elif annotation is not None:
        m = _DESC_FORMAT_RE.search(descriptions.get(annotation, ""))
        if m:
            fields = tuple(f.strip() for f in m.group(1).strip().strip("'").split("|"))
        elif annotation == "ANN":
            fields = tuple(ANN_FIELDS)
        else:
            raise VcfFormatError(
                f"{spath}, header, INFO/{annotation}: the Description does not say "
                "'Format: Allele|Consequence|…'; cannot read the VEP annotation"
            )
    return VcfHeader(
        path=spath,
        samples=tuple(samples),
        contigs=contigs,
        infos=infos,
        formats=formats,
        annotation=annotation,
        annotation_fields=fields,
        header_lines=header_lines,
        assembly=assembly,
        is_bcf=is_bcf,
    )


def _read_header_htslib(spath: str, is_bcf: bool, header_lines: int) -> VcfHeader:
    vcf = _open_cyvcf2(spath)
    try:
        raw = vcf.raw_header
        infos: dict[str, tuple[str, str]] = {}
        formats: dict[str, tuple[str, str]] = {}
        contigs: dict[str, int | None] = {}
        descriptions: dict[str, str] = {}
        for h in vcf.header_iter():
            info = h.info()
            kind = info.get("HeaderType")
            if kind == "INFO":
                infos[info["ID"]] = (info.get("Number", "."), info.get("Type", "String"))
                descriptions[info["ID"]] = info.get("Description", "")
            elif kind == "FORMAT":
                formats[info["ID"]] = (info.get("Number", "."), info.get("Type", "String"))
            elif kind == "CONTIG":
                length = info.get("length")
                contigs[info["ID"]] = int(length) if length and length.isdigit() else None
        # the htslib header records carry the contig ID only: the length and assembly are
        # read from the header text, with the same precedence as _parse_header_text
        references: list[str] = []
        contig_assembly: str | None = None
        for line in raw.splitlines():
            if line.startswith("##reference="):
                references.append(line.split("=", 1)[1])
            elif line.startswith("##contig=<"):
                pairs = dict(_H_PAIR_RE.findall(line[len("##contig=<") : -1]))
                if pairs.get("ID") in contigs and pairs.get("length", "").isdigit():
                    contigs[pairs["ID"]] = int(pairs["length"])
                contig_assembly = contig_assembly or pairs.get("assembly")
        assembly = next(iter(references), None) or contig_assembly
        return _make_header(
            spath, vcf.samples, contigs, infos, formats, descriptions, assembly,
            header_lines, is_bcf,
        )  # fmt: skip
    finally:
        vcf.close()


_H_VALUE = r'(?:"(?:[^"\\]|\\.)*"|[^,"<>\\]*)'
_H_STRUCT_RE = re.compile(rf"^<[A-Za-z0-9_]+={_H_VALUE}(?:,[A-Za-z0-9_]+={_H_VALUE})*>$")
_H_PAIR_RE = re.compile(rf"([A-Za-z0-9_]+)=({_H_VALUE})")
_H_INFO_RE = re.compile(
    r"^<ID=([A-Za-z_][0-9A-Za-z_.]*),Number=(A|R|G|\.|[0-9]+),"
    r'Type=(Integer|Float|String|Character|Flag),Description="((?:[^"\\]|\\.)*)"'
    rf"(?:,[A-Za-z0-9_]+={_H_VALUE})*>$"
)
_H_CONTIG_ID_RE = re.compile(r"^[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*$")
_H_KEY_RE = re.compile(r"^##([A-Za-z0-9_.-]+)=(.*)$")


def _parse_header_text(spath: str, text: bytes, header_lines: int) -> VcfHeader | None:
    """The header of a plain text VCF by a strict grammar; None: leave it to htslib."""
    end = text.rfind(b"\n#CHROM")
    if end < 0:
        return None
    meta = _parse_meta(text[: end + 1], header_lines)
    if meta is None:
        return None
    try:
        chrom_line = text[end + 1 :].decode("utf-8").rstrip("\n")
    except UnicodeDecodeError:
        return None
    if "\n" in chrom_line or "\r" in chrom_line:
        return None
    infos, formats, contigs, descriptions, assembly = meta
    cols = chrom_line.split("\t")
    fixed = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if cols[:8] != fixed or (len(cols) > 8 and cols[8] != "FORMAT") or len(cols) == 9:
        return None
    samples = cols[9:]
    if len(set(samples)) != len(samples) or any(not s or " " in s for s in samples):
        return None
    return _make_header(
        spath, samples, dict(contigs), dict(infos), dict(formats), descriptions, assembly,
        header_lines, False,
    )  # fmt: skip


@functools.lru_cache(maxsize=64)
def _parse_meta(text: bytes, header_lines: int) -> tuple[Any, ...] | None:
    """The ``##`` lines of a header (cached: a centre's files share them, only the #CHROM
    line with the sample names differs)."""
    try:
        lines = text.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    if lines and lines[-1] == "":
        lines.pop()
    lines.append("#CHROM")  # the caller checks the real one
    if len(lines) != header_lines or len(lines) < 2:
        return None
    if any("\r" in ln or "\t" in ln for ln in lines[:-1]):
        return None
    if not re.fullmatch(r"##fileformat=VCFv4\.[0-3]", lines[0]):
        return None
    infos: dict[str, tuple[str, str]] = {}
    formats: dict[str, tuple[str, str]] = {}
    contigs: dict[str, int | None] = {}
    descriptions: dict[str, str] = {}
    contig_assembly: str | None = None
    references: list[str] = []
    for line in lines[1:-1]:
        m = _H_KEY_RE.match(line)
        if m is None:
            return None
        key, value = m.groups()
        if value.startswith("<") and not _H_STRUCT_RE.match(value):
            return None
        if key in ("INFO", "FORMAT"):
            im = _H_INFO_RE.match(value)
            if im is None:
                return None
            ident, number, typ, desc = im.groups()
            table = infos if key == "INFO" else formats
            if ident in table or (typ == "Flag" and (key == "FORMAT" or number != "0")):
                return None
            if "\\" in desc:
                return None
            table[ident] = (number, typ)
            if key == "INFO":
                descriptions[ident] = desc
        elif key == "contig":
            if not value.startswith("<"):
                return None
            pairs = dict(_H_PAIR_RE.findall(value[1:-1]))
            ident = pairs.get("ID", "")
            length = pairs.get("length")
            if not _H_CONTIG_ID_RE.match(ident) or ident in contigs or '"' in value:
                return None
            if length is not None and not length.isdigit():
                return None
            contigs[ident] = int(length) if length is not None else None
            contig_assembly = contig_assembly or pairs.get("assembly")
        elif key == "reference":
            references.append(value)
        elif key in ("FILTER", "ALT") and not value.startswith("<ID="):
            return None
    # ##reference names the build first; a ##contig assembly= only where it is missing
    assembly: str | None = next(iter(references), None) or contig_assembly
    return infos, formats, contigs, descriptions, assembly


def _count_header_lines(path: str) -> int:
    """Lines before the first record in a text VCF (plain or bgzipped); 0 for BCF."""
    return _sniff(path)[1]


def _is_bcf(path: str) -> bool:
    return _sniff(path)[0]


def _sniff(path: str) -> tuple[bool, int, bytes]:
    """(is BCF, header lines, header text) of a VCF, plain or bgzipped: decompresses only as
    far as the first record."""
    with open(path, "rb") as fh:
        pending = fh.read(1 << 16)
        gz = pending[:2] == b"\x1f\x8b"
        if not gz and pending[:2] == b"BC":
            return True, 0, b""
        # ISA-L (python-isal), as the text engine: about twice as fast as zlib, and a
        # bundle's header reads decompress thousands of files
        dec = isal_zlib.decompressobj(31) if gz else None
        buf = bytearray()
        scanned = n = 0
        while True:
            if dec is None:
                buf += pending
                pending = b""
            else:
                try:
                    while pending and len(buf) - scanned < (1 << 16):
                        buf += dec.decompress(pending)
                        pending = dec.unused_data
                        if dec.eof:
                            dec = isal_zlib.decompressobj(31)
                except _INFLATE_ERRORS:
                    return False, n, bytes(buf[:scanned])
                if scanned == 0 and buf[:3] == b"BCF":
                    return True, 0, b""
            while True:
                nl = buf.find(b"\n", scanned)
                if nl < 0:
                    break
                if buf[scanned : scanned + 1] != b"#":
                    return False, n, bytes(buf[:scanned])
                n += 1
                scanned = nl + 1
            if not pending:
                pending = fh.read(1 << 16)
                if not pending:
                    if buf[scanned:].startswith(b"#"):  # a last line without newline
                        return False, n + 1, bytes(buf)
                    return False, n, bytes(buf[:scanned])


def contig_naming(name: str) -> str:
    """``ucsc`` for ``chr``-prefixed names, else ``ensembl``."""
    return "ucsc" if name.startswith("chr") else "ensembl"


def _ensembl(name: str) -> str:
    if name.startswith("chr"):
        name = name[3:]
    return "MT" if name == "M" else name


def check_reference(
    header: VcfHeader,
    build: str,
    naming: str,
    contigs: Sequence[str] | None = None,
) -> None:
    """Refuse a VCF whose header says another build or naming than the manifest's.

    ``contigs`` (from the pipeline's provenance) restricts the allowed contig names.
    """
    known = BUILD_LENGTHS.get(build)
    if known is None:
        raise GenomeBuildError(f"{header.path}: unknown genome build {build!r}; use GRCh37/GRCh38")
    if header.assembly:
        a = header.assembly.lower()
        other = "GRCh38" if build == "GRCh37" else "GRCh37"
        hints = {"GRCh37": ("grch37", "hg19", "b37", "hs37"), "GRCh38": ("grch38", "hg38")}
        if any(h in a for h in hints[other]) and not any(h in a for h in hints[build]):
            raise GenomeBuildError(
                f"{header.path}, header ##reference/##contig assembly: says "
                f"{header.assembly!r} but the manifest says {build}; submit the variants "
                f"called against {build}, or correct reference.build in the manifest"
            )
    for name, length in header.contigs.items():
        if contigs is None and name.startswith(("GL", "KI", "JH", "NC_", "hs37d5", "chrUn")):
            continue
        if contig_naming(name) != naming and _ensembl(name) in known:
            raise ContigError(
                f"{header.path}, header ##contig=<ID={name}>: {naming} contig names were "
                f"declared in the manifest (reference.contig_naming) but the VCF uses "
                f"{contig_naming(name)} names; rename the contigs or fix the manifest"
            )
        expected = known.get(_ensembl(name))
        if length is not None and expected is not None and length != expected:
            which = next(
                (b for b, table in BUILD_LENGTHS.items() if table.get(_ensembl(name)) == length),
                None,
            )
            if which is None:
                # a length of no known build: a reference cut to some regions (test and
                # demo references are), which says nothing about the build
                continue
            raise GenomeBuildError(
                f"{header.path}, header ##contig=<ID={name},length={length}>: the length is "
                f"that of {which}, not of {build} ({expected}) as the manifest says; submit "
                f"variants called against {build}, or correct reference.build"
            )
    if contigs is not None:
        allowed = set(contigs)
        for name in header.contigs:
            if name not in allowed:
                raise ContigError(
                    f"{header.path}, header ##contig=<ID={name}>: not a contig of the "
                    f"reference in the manifest/provenance ({len(allowed)} contigs, e.g. "
                    f"{', '.join(sorted(allowed)[:3])}); call against the declared reference"
                )


# -- raw readers ----------------------------------------------------------------------------


def _gt_string(alleles: Sequence[int], phased: bool) -> str:
    sep = "|" if phased else "/"
    return sep.join("." if a < 0 else str(a) for a in alleles)


def _raw_cyvcf2(header: VcfHeader, roles: SampleRoles, stats: ReadStats) -> pa.Table:
    """All records of a (small) file as raw columns, in-process.

    htslib through pysam: cyvcf2 crashes (segfault) on some malformed records of the
    hts-specs conformance suite (empty FORMAT sub-fields) where pysam raises an error.
    """
    import pysam

    pysam.set_verbosity(0)
    try:
        vcf = pysam.VariantFile(header.path)
    except (OSError, ValueError) as exc:
        raise VcfFormatError(f"{header.path}, header: cannot open ({exc})") from None
    ti = roles.tumour if roles.tumour in header.samples else None
    ni = roles.normal if roles.normal in header.samples else None
    ann_key = header.annotation
    cols: dict[str, list[Any]] = {n: [] for n in RAW_SCHEMA.names}
    rec = -1
    try:
        it = iter(vcf)
        while True:
            try:
                v = next(it)
            except StopIteration:
                break
            rec += 1
            cols["rec"].append(rec)
            cols["chrom"].append(v.chrom)
            cols["pos"].append(v.pos)
            cols["ref"].append(v.ref)
            cols["alt"].append(",".join(v.alts) if v.alts else None)
            cols["qual"].append(v.qual)
            filters = [str(f) for f in v.filter]
            cols["filter"].append(";".join(filters) if filters else None)
            ann = v.info.get(ann_key) if ann_key and ann_key in v.info else None
            if isinstance(ann, tuple):
                ann = ",".join(str(a) for a in ann if a is not None)
            cols["ann"].append(None if ann is None or isinstance(ann, bool) else str(ann))
            fmt = v.format
            for prefix, name in (("t_", ti), ("n_", ni)):
                if name is None:
                    cols[prefix + "gt"].append(None)
                    cols[prefix + "dp"].append(None)
                    cols[prefix + "ad"].append(None)
                    continue
                smp = v.samples[name]
                gt = smp.get("GT") if "GT" in fmt else None
                cols[prefix + "gt"].append(
                    _gt_string([-1 if a is None else a for a in gt], smp.phased) if gt else None
                )
                dp = smp.get("DP") if "DP" in fmt else None
                cols[prefix + "dp"].append(dp if isinstance(dp, int) else None)
                ad = smp.get("AD") if "AD" in fmt else None
                if isinstance(ad, int):
                    ad = (ad,)
                cols[prefix + "ad"].append(
                    ",".join("." if x is None else str(x) for x in ad) if ad else None
                )
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise VcfFormatError(
            f"{_where(header, rec + 1)}: cannot parse the record after "
            f"{'the header' if rec < 0 else 'the previous one'} ({exc}); check it has 8+ "
            "tab-separated columns, a numeric POS and FORMAT values matching the header"
        ) from None
    finally:
        vcf.close()
    stats.records += len(cols["rec"])
    return pa.table(cols, schema=RAW_SCHEMA)


def _query_format(header: VcfHeader, roles: SampleRoles) -> tuple[str, list[str]]:
    ann = f"%INFO/{header.annotation}" if header.annotation else "."
    fmt = f"%CHROM\t%POS\t%REF\t%ALT\t%QUAL\t%FILTER\t{ann}"
    names = ["chrom", "pos", "ref", "alt", "qual", "filter", "ann"]
    samples = [s for s in (roles.tumour, roles.normal) if s]
    if samples:
        dp = "%DP" if "DP" in header.formats else "."
        ad = "%AD" if "AD" in header.formats else "."
        gt = "%GT" if "GT" in header.formats else "."
        fmt += f"[\t{gt}\t{dp}\t{ad}]"
        for prefix in ("t_", "n_")[: len(samples)]:
            names += [prefix + "gt", prefix + "dp", prefix + "ad"]
    return fmt + "\n", names


def bcftools_path() -> str | None:
    """The ``bcftools`` on PATH, or None."""
    return shutil.which("bcftools")


def _iter_raw_bcftools(
    header: VcfHeader,
    roles: SampleRoles,
    stats: ReadStats,
    reference_fasta: str | None = None,
) -> Iterator[pa.Table]:
    """Stream ``bcftools query`` output into Arrow batches of raw rows."""
    exe = bcftools_path()
    if exe is None:
        raise VcfError("bcftools is not on PATH (install it: `make tools`), or use engine=cyvcf2")
    fmt, names = _query_format(header, roles)
    samples = [s for s in (roles.tumour, roles.normal) if s]
    query = [exe, "query", "-f", fmt]
    if samples:
        query += ["-s", ",".join(samples)]
    procs: list[subprocess.Popen[bytes]] = []
    if reference_fasta:
        # REF checked against the reference (error on mismatch), multi-allelics split and
        # indels left-aligned by bcftools norm, streamed as uncompressed BCF.
        norm = subprocess.Popen(
            [exe, "norm", "-f", reference_fasta, "-c", "e", "-m", "-any", "-Ou", header.path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        procs.append(norm)
        proc = subprocess.Popen(
            [*query, "-"], stdin=norm.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert norm.stdout is not None
        norm.stdout.close()
    else:
        proc = subprocess.Popen(
            [*query, header.path], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    procs.append(proc)
    errs: dict[int, bytes] = {}

    def drain(p: subprocess.Popen[bytes]) -> None:
        assert p.stderr is not None
        errs[p.pid] = p.stderr.read()

    drains = [threading.Thread(target=drain, args=(p,), daemon=True) for p in procs]
    for t in drains:
        t.start()
    types = {f.name: f.type for f in RAW_SCHEMA}
    assert proc.stdout is not None
    reader = pacsv.open_csv(
        proc.stdout,
        read_options=pacsv.ReadOptions(column_names=names, block_size=BATCH_BYTES),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types={n: types[n] for n in names},
            null_values=["."],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    offset = 0
    failed: Exception | None = None
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                failed = exc
                break
            n = batch.num_rows
            cols = {f.name: batch.column(f.name) for f in batch.schema}
            cols["rec"] = pa.array(range(offset, offset + n), pa.int64())
            arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in RAW_SCHEMA]
            offset += n
            yield pa.Table.from_arrays(arrays, schema=RAW_SCHEMA)
    finally:
        if failed is not None:
            for p in procs:
                p.kill()
        for p in procs:
            p.wait()
        for t in drains:
            t.join()
        proc.stdout.close()
    stderr = b"".join(errs.get(p.pid, b"") for p in procs).decode(errors="replace")
    error_lines = [ln for ln in stderr.splitlines() if ln.startswith(("[E::", "Error", "[bcf"))]
    if any(p.returncode != 0 for p in procs) or error_lines or failed is not None:
        detail = "; ".join(error_lines[:3]) or (str(failed) if failed else stderr.strip()[:300])
        if reference_fasta and "does not match" in stderr:
            raise ReferenceMismatchError(
                f"{header.path}: REF does not match the reference {reference_fasta}: {detail}"
            )
        raise VcfFormatError(
            f"{header.path}, record {offset + 1}: bcftools cannot read it ({detail}); "
            "the file is malformed or truncated (re-export it with bgzip/bcftools)"
        )
    stats.records += offset
    stats.warnings += [ln for ln in stderr.splitlines() if ln.startswith("[W::")][:5]


def iter_raw(
    header: VcfHeader,
    roles: SampleRoles,
    stats: ReadStats,
    engine: Engine = "auto",
    reference_fasta: str | None = None,
) -> Iterator[pa.Table]:
    """Raw rows of a VCF in batches, with the engine chosen by file size."""
    if engine == "auto":
        big = os.path.getsize(header.path) > SMALL_FILE_BYTES
        engine = "bcftools" if (big or reference_fasta) and bcftools_path() else "cyvcf2"
    _check_bgzf_eof(header.path)
    if engine == "bcftools":
        yield from _iter_raw_bcftools(header, roles, stats, reference_fasta)
    else:
        yield _raw_cyvcf2(header, roles, stats)


def _check_bgzf_eof(path: str) -> None:
    """Refuse a bgzipped file without the BGZF end-of-file block (cut short)."""
    eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - len(eof)))
        if fh.read() != eof:
            raise VcfFormatError(
                f"{path}: truncated: the BGZF end-of-file marker is missing (the file was "
                "cut short in transfer); copy the complete file again"
            )


# -- normalisation (vectorised: pyarrow compute + numpy over the streamed columns) -----------

AA3 = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
    "U": "Sec", "X": "Xaa",
}  # fmt: skip
AA1 = {v: k for k, v in AA3.items()}

_BASES = "^[ACGTNacgtn]+$"
_SYMBOLIC = r"^(\*|<.+>|\.|.*[\[\]].*|\.[ACGTNacgtn]+|[ACGTNacgtn]+\.)$"


@functools.cache
def canonical_transcripts() -> dict[str, str]:
    """Gene → canonical transcript (``harmonise/data/canonical_transcripts.tsv``)."""
    out: dict[str, str] = {}
    text = (Path(__file__).parent / "data" / "canonical_transcripts.tsv").read_text()
    for line in text.splitlines():
        if line and not line.startswith(("#", "gene\t")):
            gene, transcript = line.split("\t")[:2]
            out[gene] = transcript
    return out


def _map(values: pa.Array, table: Mapping[str, Any], typ: pa.DataType = pa.string()) -> pa.Array:
    """Vectorised dictionary lookup (null where the key is unknown)."""
    keys = pa.array(list(table), pa.string())
    vals = pa.array(list(table.values()), typ)
    return pc.take(vals, pc.index_in(values, value_set=keys))


def _np(arr: pa.Array | pa.ChunkedArray, fill: int = 0) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return np.asarray(pc.fill_null(arr, fill).to_numpy(zero_copy_only=False))


def _all_in(data: np.ndarray, allowed: bytes) -> bool:
    """True if every byte of ``data`` (uint8) is one of ``allowed``: ``bytes.translate``
    deleting the allowed bytes leaves nothing (C, about six times faster than a numpy
    table lookup, which makes a bool array as large as the data)."""
    return not data.tobytes().translate(None, allowed)


#: The bytes a value may hold, for :func:`_all_in` (and :func:`_only_bytes`).
_BASE_BYTES = b"ACGTNacgtn"
_INT_BYTES = b"0123456789-"


#: A byte position past the end of any value (Arrow string offsets are int32).
_PAST_END = (1 << 31) - 1


def _string_views(col: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """``col``'s value offsets and its data buffer's bytes as numpy views (no copy), for a
    string or large-string array; None for any other type."""
    width = {pa.string(): np.int32, pa.large_string(): np.int64}.get(col.type)
    if width is None:
        return None
    bufs = col.buffers()
    offsets = np.frombuffer(
        bufs[1], dtype=width, count=len(col) + 1, offset=col.offset * np.dtype(width).itemsize
    )
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def _only_bytes(col: pa.Array | pa.ChunkedArray, allowed: bytes) -> bool:
    """True if every value is non-null, non-empty and made only of ``allowed`` bytes: one
    pass over the string data buffer (:func:`_all_in`, no regex), for the common all-good
    case."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count or not len(col):
        return not len(col)
    views = _string_views(col)
    if views is None:
        return False
    offsets, data = views
    if bool((np.diff(offsets) <= 0).any()):
        return False
    return _all_in(data[offsets[0] : offsets[-1]], allowed)


def _may_contain(col: pa.Array, byte: str) -> bool:
    """False only if no value of the string array ``col`` contains ``byte``: one numpy pass
    over the data buffer, several times faster than a substring kernel per value (a cheap
    test before an exact one that rarely finds anything)."""
    views = None if isinstance(col, pa.ChunkedArray) or not len(col) else _string_views(col)
    if views is None:
        return True
    offsets, data = views
    return bool((data[offsets[0] : offsets[-1]] == ord(byte)).any())


def _idx(where: np.ndarray) -> pa.Array:
    """int64 indices for ``take`` from numpy; negative entries become nulls."""
    where = np.ascontiguousarray(where, dtype=np.int64)
    neg = where < 0
    if neg.any():
        return pa.array(where, mask=neg)
    return pa.Array.from_buffers(pa.int64(), len(where), [None, pa.py_buffer(where)])


def _scatter(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """A string array of length ``n`` with ``values[i]`` at ``rows[i]`` (ascending) and
    nulls elsewhere, built from the buffers (no gather: the values stay in order)."""
    if len(rows) == n:
        return values
    values = pa.concat_arrays([values]) if values.offset else values
    if values.type != pa.string() or values.null_count:
        where = np.full(n, -1, np.int64)
        where[rows] = np.arange(len(rows))
        return pc.take(values, _idx(where))
    bufs = values.buffers()
    voff = np.frombuffer(bufs[1], np.int32, len(values) + 1)
    lens = np.zeros(n, np.int32)
    lens[rows] = np.diff(voff)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(lens, out=offsets[1:])
    offsets += voff[0]
    valid = np.zeros(n, bool)
    valid[rows] = True
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), bufs[2], bitmap, null_count=n - len(rows)
    )


def _list_parts(col: pa.Array | pa.ChunkedArray, sep: str) -> tuple[pa.Array, np.ndarray]:
    """Split strings on ``sep``: the flat parts and the offsets (numpy)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    lists = pc.split_pattern(col, sep)
    assert isinstance(lists, pa.ListArray)
    offsets = np.asarray(lists.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    flat = lists.values
    if lists.offset or len(flat) != offsets[-1] - offsets[0]:
        flat = lists.flatten()
        offsets = offsets - offsets[0]
    return flat, offsets


def _split_fields(
    col: pa.Array | pa.ChunkedArray,
    sep: str,
    k: int,
    empty_is_null: bool,
    *,
    swap: tuple[str, str] | None = None,
    allowed: bytes | None = None,
    types: Sequence[pa.DataType] | None = None,
    keep: Sequence[int] | None = None,
) -> list[pa.Array | None] | None:
    """The ``k`` ``sep``-separated fields of every value of ``col`` as ``k`` string columns,
    when every value has exactly ``k`` fields and none is null (else None: the caller
    splits with :func:`_list_parts`). One pass of Arrow's CSV parser over the values joined
    by newlines: several times faster than ``split_pattern`` and a gather per field.
    ``empty_is_null``: an empty field is null (else the empty string, as a split gives).

    - ``swap`` = (a, b): byte a is read as b (``(",", ":")``: AD's values are fields too);
    - ``allowed``: every byte must be one of these (else None);
    - ``types``: field ``i`` is parsed as ``types[i]`` ('.' is a null integer, an empty
      integer field is refused). Arrow's integer parser also takes spaces and ``0x``
      prefixes: ``allowed`` keeps them out, so an integer field parses here exactly when
      its text is an integer (or '.');
    - ``keep``: only these fields are converted (the others are None)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count or not len(col) or col.type != pa.string():
        return None
    # each value + "\n": a replace of the empty slice past each value's end, four times
    # faster than a join
    lines = pc.binary_replace_slice(col.view(pa.binary()), _PAST_END, _PAST_END, "\n")
    lines = lines.view(pa.string())
    views = _string_views(lines)
    assert views is not None  # the lines are strings
    offsets, chars = views
    first, stop = int(offsets[0]), int(offsets[-1])
    if allowed is not None and not _all_in(chars[first:stop], allowed + b"\n"):
        return None
    data = lines.buffers()[2].slice(first, stop - first)
    if swap is not None:
        assert "\n" not in swap  # a value is a row
        data = pa.py_buffer(chars[first:stop].tobytes().replace(swap[0].encode(), swap[1].encode()))
    names = [f"f{i}" for i in range(k)]
    include = names if keep is None else [names[i] for i in keep]
    try:
        t = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                column_names=names,
                use_threads=False,
                block_size=max(1 << 20, data.size + 1),  # one block: one chunk per column
            ),
            parse_options=_parse_options(sep),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(zip(names, types or [pa.string()] * k, strict=True)),
                include_columns=include,
                null_values=["."] if types else [""] if empty_is_null else [],
                strings_can_be_null=empty_is_null,
                quoted_strings_can_be_null=False,
                check_utf8=False,  # the values were checked when the line was parsed
            ),
        )
    except pa.ArrowInvalid:  # a value with another number of fields (or not an integer)
        return None
    if t.num_rows != len(col):
        return None
    return [t.column(f).combine_chunks() if f in include else None for f in names]


def _ints(flat: pa.Array) -> pa.Array:
    """Integer values of text parts; ``.`` or empty → null."""
    if len(flat) and flat.null_count == 0 and _only_bytes(flat, _INT_BYTES):
        try:  # the common case: nothing but integers
            return pc.cast(flat, pa.int64())
        except pa.ArrowInvalid:
            pass
    if len(flat):
        # fast path: digits (and '-') only after '.' → null, cast in one step
        nodot = pc.if_else(pc.equal(flat, "."), pa.scalar(None, pa.string()), flat)
        if _only_bytes(pc.drop_null(nodot), _INT_BYTES):
            try:
                return pc.cast(nodot, pa.int64())
            except pa.ArrowInvalid:
                pass  # e.g. '1-2': the exact rule below decides
    bad = pc.invert(pc.match_substring_regex(flat, r"^-?[0-9]+$"))
    return pc.cast(pc.if_else(bad, pa.scalar(None, pa.string()), flat), pa.int64())


def _ad_depths(col: pa.Array | pa.ChunkedArray, k: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Of the comma list of integers in each row: the sum (null if the row is null or
    empty) and element ``k[i]`` (0-based; null if absent). One split, one parse."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    flat, offsets = _list_parts(col, ",")
    lens = np.diff(offsets)
    if len(flat) == 0:
        return pa.nulls(len(k), pa.int64()), pa.nulls(len(k), pa.int64())
    ints = _ints(flat)
    vals = _np(ints)
    sums = np.add.reduceat(np.append(vals, 0), offsets[:-1]) if len(offsets) > 1 else np.array([])
    valid = pc.and_(pc.is_valid(col), pa.array(lens > 0))
    total = pc.if_else(valid, pa.array(sums, pa.int64()), pa.scalar(None, pa.int64()))
    ok = (lens > k) & (lens > 0)
    got = pc.take(ints, _idx(np.where(ok, offsets[:-1] + k, -1)))
    return total, got


def _sample_depths(t: pa.Table, prefix: str, k: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """:func:`_ad_depths` of a sample's AD, from its two integer columns where the text
    engine gave them (see :data:`RAW_SCHEMA`): the sum, and AD[1] where ``k`` is 1."""
    if prefix + "ad_alt" not in t.column_names:
        return _ad_depths(t[prefix + "ad"], k)
    ref, alt = t[prefix + "ad_ref"].combine_chunks(), t[prefix + "ad_alt"].combine_chunks()
    total = pc.add(pc.fill_null(ref, 0), pc.fill_null(alt, 0))
    if bool((k != 1).any()):
        alt = pc.if_else(pa.array(k == 1), alt, pa.scalar(None, pa.int64()))
    return total, alt


def _first_bad(mask: pa.Array | pa.ChunkedArray) -> int | None:
    """Index of the first True of ``mask`` (nulls count as False), or None."""
    m = _np(pc.cast(mask, pa.int8()) if mask.type == pa.bool_() else mask)
    hits = np.flatnonzero(m)
    return int(hits[0]) if len(hits) else None


def _refuse(header: VcfHeader, raw: pa.Table, i: int, fld: str, hint: str) -> VcfFormatError:
    row = raw.slice(i, 1).to_pylist()[0]
    value = row.get(fld.lower())
    where = _where(header, row["rec"], row["chrom"], row["pos"])
    return VcfFormatError(f"{where}, field {fld}: {value!r}: {hint}")


def _validate(raw: pa.Table, header: VcfHeader, stats: ReadStats) -> pa.Table:
    """Refuse bad CHROM/POS/REF/ALT; drop reference-only records (ALT '.')."""
    if not _only_bytes(raw["ref"], _BASE_BYTES):
        ref_ok = pc.fill_null(pc.match_substring_regex(raw["ref"], _BASES), False)
        bad = _first_bad(pc.invert(ref_ok))
        if bad is not None:
            raise _refuse(header, raw, bad, "REF", "REF must be bases A, C, G, T or N")
    bad = _first_bad(pc.fill_null(pc.less(raw["pos"], 1), True))
    if bad is not None:
        raise _refuse(header, raw, bad, "POS", "POS is 1-based, at least 1")
    if header.contigs:
        known = pc.is_in(raw["chrom"], value_set=pa.array(list(header.contigs), pa.string()))
        bad = _first_bad(pc.invert(known))
        if bad is not None:
            row = raw.slice(bad, 1).to_pylist()[0]
            raise ContigError(
                f"{_where(header, row['rec'], row['chrom'], row['pos'])}, field CHROM: contig "
                f"{row['chrom']!r} is not declared in the header (##contig); declare it or "
                "remove the record"
            )
    has_alt = pc.is_valid(raw["alt"])
    n_ref_only = raw.num_rows - int(pc.sum(pc.cast(has_alt, pa.int64())).as_py() or 0)
    stats.skipped_reference_only += n_ref_only
    return raw.filter(has_alt) if n_ref_only else raw


def _split_alleles(raw: pa.Table) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """One row per ALT allele: the table, ``k`` (1-based allele index) and ``n_alt``."""
    alt = raw["alt"]
    if not pc.any(pc.match_substring(alt, ",")).as_py():
        n = raw.num_rows
        return raw, np.ones(n, np.int64), np.ones(n, np.int64)
    flat, offsets = _list_parts(alt, ",")
    lens = np.diff(offsets)
    parent = np.repeat(np.arange(raw.num_rows), lens)
    k = np.arange(len(flat)) - offsets[:-1][parent] + 1
    out = raw.take(pa.array(parent))
    out = out.set_column(out.schema.get_field_index("alt"), "alt", flat)
    return out, k, lens[parent]


def _recode_gt(gt: pa.Array | pa.ChunkedArray, k: np.ndarray, n_alt: np.ndarray) -> pa.Array:
    """Genotypes of split multi-allelic rows: allele ``k`` → 1, other ALTs → 0."""
    values = gt.to_pylist()
    for i in np.flatnonzero(n_alt > 1):
        g = values[i]
        if g is None:
            continue
        sep = "|" if "|" in g else "/"
        parts = re.split(r"[/|]", g)
        ks = str(int(k[i]))
        values[i] = sep.join(p if p in (".", "0") else ("1" if p == ks else "0") for p in parts)
    return pa.array(values, pa.string())


def _annotations(t: pa.Table, header: VcfHeader) -> dict[str, pa.Array]:
    """One consequence per row from BCSQ/CSQ/ANN, chosen by allele, canonical transcript,
    protein change, severity and (BCSQ) protein length; all vectorised."""
    n = t.num_rows
    names = ["gene", "transcript", "consequence", "hgvs_c", "hgvs_p", "aa"]
    empty = {c: pa.nulls(n, pa.string()) for c in names}
    if header.annotation is None:
        return empty
    ann = t["ann"].combine_chunks()
    if ann.null_count == len(ann):
        return empty
    if pc.any(pc.equal(ann, "")).as_py():
        ann = pc.if_else(pc.equal(ann, ""), pa.scalar(None, pa.string()), ann)
    # split in place (rows without annotation split to nothing: no gather of the rest)
    entries, offsets = _list_parts(ann, ",")
    lens = np.diff(offsets)
    rows = np.flatnonzero(lens > 0)
    if len(rows) == 0:
        return empty
    parent = np.repeat(np.arange(len(rows)), lens[rows])
    if header.annotation == "BCSQ" and pc.any(pc.starts_with(entries, "*")).as_py():
        entries = pc.utf8_ltrim(entries, "*")
    fnames = list(header.annotation_fields)
    wanted = [
        "Consequence", "Annotation", "gene", "SYMBOL", "Gene_Name", "transcript", "Feature",
        "Feature_ID", "amino_acid_change", "dna_change", "Allele", "HGVSc", "HGVS.c",
        "HGVSp", "HGVS.p", "CANONICAL", "PICK",
    ]  # fmt: skip
    index = {fnames.index(w): w for w in wanted if w in fnames}
    last = max(index) if index else 0
    # the sub-fields of every entry: when each entry has exactly the declared fields, one
    # CSV parse (an empty field is null); else one split on '|', where an entry with
    # fewer than last+1 sub-fields is unreadable (all its fields null)
    split = _split_fields(entries, "|", len(fnames), True, keep=sorted(index)) if fnames else None
    if split is None:
        sub, sub_off = _list_parts(entries, "|")
        valid = np.diff(sub_off) > last

    def field(*cands: str) -> pa.Array:
        for c in cands:
            if c in fnames and fnames.index(c) in index:
                if split is not None:
                    got = split[fnames.index(c)]
                    assert got is not None  # kept: it is in index
                    return got
                at = np.where(valid, sub_off[:-1] + fnames.index(c), 0)
                v = pc.take(sub, pa.array(at)) if len(sub) else pa.nulls(len(at), pa.string())
                keep = pc.and_(pa.array(valid), pc.not_equal(v, ""))
                return pc.if_else(keep, v, pa.scalar(None, pa.string()))
        return pa.nulls(len(entries), pa.string())

    alt = pc.take(t["alt"], pa.array(rows[parent]))
    ref = pc.take(t["ref"], pa.array(rows[parent]))
    canon = canonical_transcripts()
    if header.annotation == "BCSQ":
        raw_csq = field("Consequence")
        first = _first_term(raw_csq)
        consequence = pc.coalesce(_map(first, BCSQ_SO), first)
        gene, transcript = field("gene"), field("transcript")
        aa = field("amino_acid_change")
        pos = pc.cast(pc.take(t["pos"], pa.array(rows[parent])), pa.string())
        allele_ok = pc.equal(
            field("dna_change"), pc.binary_join_element_wise(pos, ref, ">", alt, "")
        )
        hgvs_c = pa.nulls(len(entries), pa.string())
        hgvs_p = pa.nulls(len(entries), pa.string())
        skip = pc.starts_with(entries, "@")
    else:
        raw_csq = field("Consequence", "Annotation")
        consequence = _first_term(raw_csq)
        gene = field("SYMBOL", "Gene_Name")
        transcript = field("Feature", "Feature_ID")
        allele = field("Allele")
        trimmed = pc.utf8_slice_codeunits(alt, 1)
        allele_ok = pc.or_(
            pc.equal(allele, alt),
            pc.or_(
                pc.and_(
                    pc.equal(allele, "-"), pc.greater(pc.utf8_length(ref), pc.utf8_length(alt))
                ),
                pc.equal(allele, trimmed),
            ),
        )
        hgvs_c = pc.replace_substring_regex(field("HGVSc", "HGVS.c"), r"^[^:]*:", "")
        hgvs_p = pc.replace_substring(
            pc.replace_substring_regex(field("HGVSp", "HGVS.p"), r"^[^:]*:", ""), "%3D", "="
        )
        aa = pa.nulls(len(entries), pa.string())
        skip = pa.array(np.zeros(len(entries), bool))
        vep_canon = pc.or_(
            pc.equal(pc.fill_null(field("CANONICAL"), ""), "YES"),
            pc.equal(pc.fill_null(field("PICK"), ""), "1"),
        )
    is_canon = pc.equal(transcript, _map(gene, canon))
    if header.annotation != "BCSQ":
        is_canon = pc.or_(pc.fill_null(is_canon, False), vep_canon)
    sev = _np(pc.index_in(consequence, value_set=pa.array(CONSEQUENCE_SEVERITY)), 99)
    no_p = _np(pc.cast(pc.and_(pc.is_null(hgvs_p), pc.is_null(aa)), pa.int64()), 1)
    rank = (
        (1 - _np(pc.cast(pc.fill_null(allele_ok, False), pa.int64()))) * 10**9
        + _np(pc.cast(pc.fill_null(skip, False), pa.int64())) * 10**10
        + (1 - _np(pc.cast(pc.fill_null(is_canon, False), pa.int64()))) * 10**8
        + no_p * 10**7
        + sev * 10**5
    )
    # per row (``parent`` is non-decreasing), the first entry of the lowest rank: O(n)
    starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    sizes = np.diff(np.r_[starts, len(rank)])
    best = rank == np.repeat(np.minimum.reduceat(rank, starts), sizes)
    if header.annotation == "BCSQ":
        # a tie (ranks differ by multiples of 10**5) goes to the longest protein: the
        # leading digits of amino_acid_change, read for the tied entries only
        tied_rows = np.add.reduceat(best.astype(np.int64), starts) > 1
        tied = np.flatnonzero(best & np.repeat(tied_rows, sizes))
        if len(tied):
            aa_tied = pc.fill_null(pc.take(aa, _idx(tied)), "")
            digits = pc.struct_field(pc.extract_regex(aa_tied, r"^(?P<p>[0-9]*)"), "p")
            rank[tied] -= np.minimum(_np(_ints(pc.cast(digits, pa.string()))), 99999)
            best = rank == np.repeat(np.minimum.reduceat(rank, starts), sizes)
    cand = np.flatnonzero(best)
    first_of = cand[np.r_[True, parent[cand][1:] != parent[cand][:-1]]]
    # the chosen entry of each annotated row, scattered back to all rows (others null)
    pick = _idx(first_of)
    at_rows = rows[parent[first_of]]
    fields = {
        "gene": gene, "transcript": transcript, "consequence": consequence,
        "hgvs_c": hgvs_c, "hgvs_p": hgvs_p, "aa": aa,
    }  # fmt: skip
    out = {}
    for c in names:  # a field null in every entry (BCSQ has no HGVS) needs no gather
        v = fields[c]
        out[c] = (
            pa.nulls(n, pa.string())
            if v.null_count == len(v)
            else _scatter(pc.take(v, pick), at_rows, n)
        )
    return out


def _first_term(terms: pa.Array) -> pa.Array:
    """The first of each ``&``-joined list of consequence terms ('' where null)."""
    terms = pc.fill_null(terms, "")
    if not _may_contain(terms, "&"):  # one term each (the split is most of the cost)
        return terms
    return pc.list_element(pc.split_pattern(terms, "&"), 0)


def _protein(hgvs_p: pa.Array, aa: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(hgvs_p three-letter, short one-letter form) from HGVS p. or BCSQ ``600V>600E``."""
    n = len(aa)
    none = pa.nulls(n, pa.string())
    three = short_b = short_h = short_fs = none

    def f(s: pa.Array, name: str) -> pa.Array:
        return pc.struct_field(s, name)

    if aa.null_count < n:  # BCSQ amino_acid_change: 600V>600E, or 600V (synonymous)
        bm = pc.extract_regex(
            pc.fill_null(aa, ""), r"^(?P<p>[0-9]+)(?P<r>[A-Z*])(?:>[0-9]+(?P<v>[A-Z*]))?$"
        )
        r, p, v = f(bm, "r"), f(bm, "p"), f(bm, "v")
        syn = pc.equal(v, "")  # the optional part absent (null where nothing matched)
        three = pc.binary_join_element_wise(
            "p.", _map(r, AA3), p, pc.if_else(syn, "=", _map(v, AA3)), ""
        )
        short_b = pc.binary_join_element_wise(r, p, pc.if_else(syn, "=", v), "")
    if hgvs_p.null_count < n:  # VEP/snpEff HGVS p.
        hm = pc.extract_regex(
            pc.fill_null(hgvs_p, ""),
            r"^p\.\(?(?P<r>[A-Z][a-z]{2})(?P<p>[0-9]+)(?P<v>[A-Z][a-z]{2}|=|\*)\)?$",
        )
        hf = pc.extract_regex(
            pc.fill_null(hgvs_p, ""),
            r"^p\.\(?(?P<r>[A-Z][a-z]{2})(?P<p>[0-9]+)[A-Z][a-z]{2}fs",
        )
        hm_v = f(hm, "v")
        hm_alt = pc.if_else(pc.is_in(hm_v, value_set=pa.array(["=", "*"])), hm_v, _map(hm_v, AA1))
        short_h = pc.binary_join_element_wise(_map(f(hm, "r"), AA1), f(hm, "p"), hm_alt, "")
        short_fs = pc.binary_join_element_wise(_map(f(hf, "r"), AA1), f(hf, "p"), "fs", "")
    out_p = pc.coalesce(hgvs_p, three)
    short = pc.coalesce(short_b, short_h, short_fs)
    return out_p, short


def _protein_sparse(hgvs_p: pa.Array, aa: pa.Array) -> tuple[pa.Array, pa.Array]:
    """:func:`_protein` over the rows that have a protein change only (most have none)."""
    has = pc.or_(pc.is_valid(hgvs_p), pc.is_valid(aa))
    rows = np.flatnonzero(_np(pc.cast(has, pa.int8())))
    n = len(hgvs_p)
    if len(rows) == n:
        return _protein(hgvs_p, aa)
    if len(rows) == 0:
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    idx = pa.array(rows)
    p, short = _protein(pc.take(hgvs_p, idx), pc.take(aa, idx))
    return _scatter(p, rows, n), _scatter(short, rows, n)


_CLASSES = pa.array(VARIANT_CLASSES)


def _variant_class(ref: pa.Array | pa.ChunkedArray, alt: pa.Array | pa.ChunkedArray) -> pa.Array:
    """SNV, MNV, insertion, deletion or indel, from the alleles' lengths and whether they
    share their first base. The alleles are bases (ASCII), each at least one: lengths and
    first bytes are read from the buffers with numpy (a string kernel per test cost
    several times more)."""
    ref = ref.combine_chunks() if isinstance(ref, pa.ChunkedArray) else ref
    alt = alt.combine_chunks() if isinstance(alt, pa.ChunkedArray) else alt
    rv, av = _string_views(ref), _string_views(alt)
    assert rv is not None and av is not None and not ref.null_count and not alt.null_count
    (ro, rd), (ao, ad) = rv, av
    rl, al = np.diff(ro), np.diff(ao)
    assert bool((rl > 0).all() and (al > 0).all())  # checked by _validate and normalise
    anchor = rd[ro[:-1]] == ad[ao[:-1]]
    code = np.select(
        [
            (rl == 1) & (al == 1),
            rl == al,
            (rl == 1) & (al > 1) & anchor,
            (al == 1) & (rl > 1) & anchor,
        ],
        [0, 1, 2, 3],
        4,
    )
    return pc.take(_CLASSES, pa.array(code.astype(np.int8)))


def _empty_to_null(a: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.string()), a)


def normalise(raw: pa.Table, header: VcfHeader, build: str, stats: ReadStats) -> pa.Table:
    """Raw rows → ``variants`` columns (split, checked, depths, VAF, annotation).

    Raises :class:`VcfFormatError` naming the file, line/record and field of the first bad
    value. Symbolic alleles (``<DEL>``, breakends, ``*``) and reference-only records (ALT
    ``.``) are skipped and counted in ``stats``.
    """
    raw = _validate(raw, header, stats)
    t, k, n_alt = _split_alleles(raw)
    alt_up = pc.ascii_upper(t["alt"])
    if _only_bytes(alt_up, _BASE_BYTES):
        n_ok = t.num_rows
    else:
        ok = pc.fill_null(pc.match_substring_regex(alt_up, _BASES), False)
        n_ok = int(pc.sum(pc.cast(ok, pa.int64())).as_py() or 0)
    if n_ok < t.num_rows:
        symbolic = pc.fill_null(pc.match_substring_regex(t["alt"], _SYMBOLIC), False)
        bad = _first_bad(pc.invert(pc.or_(ok, symbolic)))
        if bad is not None:
            raise _refuse(
                header, t, bad, "ALT",
                "ALT must be bases A, C, G, T, N, '*', '.' or a <symbolic> allele",
            )  # fmt: skip
        stats.skipped_symbolic += t.num_rows - n_ok
        keep = np.flatnonzero(_np(pc.cast(ok, pa.int8())))
        t, k, n_alt = t.take(pa.array(keep)), k[keep], n_alt[keep]
        alt_up = pc.take(alt_up, pa.array(keep))
    t = t.set_column(t.schema.get_field_index("alt"), "alt", alt_up)
    ref = pc.ascii_upper(t["ref"])
    t = t.set_column(t.schema.get_field_index("ref"), "ref", ref)
    multi = bool((n_alt > 1).any())
    genotype = _recode_gt(t["t_gt"], k, n_alt) if multi else t["t_gt"]
    ad_sum, alt_depth = _sample_depths(t, "t_", k)
    depth = pc.coalesce(t["t_dp"], ad_sum)
    nad_sum, nalt_depth = _sample_depths(t, "n_", k)
    ndepth = pc.coalesce(t["n_dp"], nad_sum)
    ann = _annotations(t, header)
    hgvs_p, short = _protein_sparse(ann["hgvs_p"], ann["aa"])
    vclass = _variant_class(ref, t["alt"])
    key = pc.binary_join_element_wise(
        build, t["chrom"], pc.cast(t["pos"], pa.string()), ref, t["alt"], ":"
    )

    def vaf(a: pa.Array, d: pa.Array) -> pa.Array:
        v = pc.divide(pc.cast(a, pa.float64()), pc.cast(d, pa.float64()))
        good = pc.and_kleene(pc.is_finite(v), pc.less_equal(v, 1.0))
        return pc.if_else(good, v, pa.scalar(None, pa.float64()))

    has_ann = pc.or_(pc.is_valid(ann["gene"]), pc.is_valid(ann["consequence"]))
    out = pa.table(
        {
            "chrom": t["chrom"],
            "pos": t["pos"],
            "ref": ref,
            "alt": t["alt"],
            "variant_key": key,
            "filter": t["filter"],
            "qual": t["qual"],
            "genotype": genotype,
            "depth": pc.cast(depth, pa.int32()),
            "alt_depth": pc.cast(alt_depth, pa.int32()),
            "vaf": vaf(alt_depth, depth),
            "normal_depth": pc.cast(ndepth, pa.int32()),
            "normal_alt_depth": pc.cast(nalt_depth, pa.int32()),
            "normal_vaf": vaf(nalt_depth, ndepth),
            "gene": ann["gene"],
            "transcript": ann["transcript"],
            "consequence": _empty_to_null(ann["consequence"]),
            "variant_class": vclass,
            "hgvs_c": ann["hgvs_c"],
            "hgvs_p": hgvs_p,
            "protein_change": short,
            "annotation_source": pc.if_else(
                has_ann,
                pa.scalar(header.annotation or "", pa.string()),
                pa.scalar(None, pa.string()),
            ),
        }
    )
    if "_file" in t.column_names:  # read_many: which file each row came from
        out = out.append_column("_file", t["_file"])
    stats.rows += out.num_rows
    return out


# -- the text engine: VCF text straight into Arrow's CSV reader -----------------------------
#
# A text VCF (plain or bgzipped) is tab-separated text: Arrow decompresses it (C++, off the
# GIL) and its CSV reader splits it into columns in parallel; the INFO annotation and the
# tumour/normal FORMAT values are then pulled out with a handful of vectorised kernels per
# batch. Anything this engine does not handle exactly as htslib would (BCF, undeclared or
# odd FORMAT fields, unusual genotypes, a parse error, a bad value) is handed to the
# htslib engines (pysam / bcftools), which read or refuse it as before: the text engine
# never decides that a file is bad. The corpus test compares the two engines row by row.

#: Bytes of VCF text per Arrow CSV block on the streaming text path.
TEXT_BLOCK_BYTES = 1 << 20

#: Rows normalised together on the streaming text path (memory stays bounded by this).
NORMALISE_ROWS = 65_536

#: Files up to this size (bytes on disk) are parsed together by :func:`read_many`.
MANY_FILE_BYTES = 4_000_000

_TEXT_TYPES = {
    "chrom": pa.string(),
    "pos": pa.int64(),
    "ref": pa.string(),
    "alt": pa.string(),
    "qual": pa.float64(),
    "filter": pa.string(),
    "info": pa.string(),
}
_GT_RE = re.compile(r"^(\.|0|[1-9][0-9]*)((/(\.|0|[1-9][0-9]*))*|(\|(\.|0|[1-9][0-9]*))*)$")
_AD_BYTES = b"0123456789,."
#: What a GT:DP:AD sample value may hold for :func:`_typed_sample` (GT is checked after).
_SAMPLE_BYTES = b"0123456789,.:/|-"
_SAMPLE_TYPES = (pa.string(), pa.int64(), pa.int64(), pa.int64())
_GT_DP_AD = ("GT", "DP", "AD")


class _Unsupported(Exception):
    """Input the text engine leaves to htslib (pysam / bcftools)."""


def _text_layout(header: VcfHeader, roles: SampleRoles) -> tuple[list[str], dict[str, Any]]:
    """CSV column names of the file and the types of the columns read."""
    names = ["chrom", "pos", "id", "ref", "alt", "qual", "filter", "info"]
    types: dict[str, Any] = dict(_TEXT_TYPES)
    if header.samples:
        names += ["format"] + [f"s{i}" for i in range(len(header.samples))]
        types["format"] = pa.string()
        for name in (roles.tumour, roles.normal):
            if name is not None:
                types[f"s{header.samples.index(name)}"] = pa.string()
    return names, types


def _parse_options(delimiter: str) -> pacsv.ParseOptions:
    """VCF text as Arrow's CSV parser must see it: fields split on ``delimiter`` only (no
    quoting or escapes), one record a line, an empty line a record."""
    return pacsv.ParseOptions(
        delimiter=delimiter,
        quote_char=False,
        escape_char=False,
        double_quote=False,
        newlines_in_values=False,
        ignore_empty_lines=False,
    )


def _csv_options(
    names: list[str], types: Mapping[str, Any], skip: int, block: int, threads: bool = True
) -> dict[str, Any]:
    return {
        "read_options": pacsv.ReadOptions(
            column_names=names, skip_rows=skip, block_size=block, use_threads=threads
        ),
        "parse_options": _parse_options("\t"),
        "convert_options": pacsv.ConvertOptions(
            column_types=dict(types),
            include_columns=list(types),
            null_values=["."],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            check_utf8=True,
        ),
    }


def _format_positions(fmt: pa.Array, header: VcfHeader) -> dict[str, np.ndarray]:
    """Per row, the position of GT, DP and AD in its FORMAT (-1 where absent)."""
    enc = pc.dictionary_encode(fmt)
    assert isinstance(enc, pa.DictionaryArray)
    codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), np.int64)
    keysets = [str(v).split(":") for v in enc.dictionary.to_pylist()]
    expect = {"GT": ("String", None), "DP": ("Integer", "1"), "AD": ("Integer", None)}
    out: dict[str, np.ndarray] = {}
    for keys in keysets:
        if len(set(keys)) != len(keys) or ("GT" in keys and keys[0] != "GT"):
            raise _Unsupported(f"FORMAT {':'.join(keys)!r}")
    for key, (typ, number) in expect.items():
        table = np.array([ks.index(key) if key in ks else -1 for ks in keysets] + [-1], np.int64)
        if (table >= 0).any():
            declared = header.formats.get(key)
            if declared is None or declared[1] != typ or (number and declared[0] != number):
                raise _Unsupported(f"FORMAT/{key} declared as {declared}")
        out[key] = table[codes]
    return out


def _check_genotypes(gt: pa.Array) -> None:
    """Leave to htslib any genotype other than allele indexes (or '.') joined by '/' or
    '|'; each distinct value is tested once."""
    for g in pc.unique(pc.drop_null(gt)).to_pylist():
        if not _GT_RE.match(g):
            raise _Unsupported(f"genotype {g!r}")


def _typed_sample(col: pa.Array) -> dict[str, pa.Array] | None:
    """The GT:DP:AD values of one sample column with exactly two AD values each, parsed in
    one CSV pass (':' and ',' both split): ``gt``, ``dp`` and the AD integers ``ad_ref``,
    ``ad_alt``; None where any value is otherwise (:func:`_sample_values` then decides)."""
    got = _split_fields(
        col, ":", 4, False, swap=(",", ":"), allowed=_SAMPLE_BYTES, types=_SAMPLE_TYPES
    )
    if got is None:
        return None
    gt, dp, ad_ref, ad_alt = cast("list[pa.Array]", got)
    if pc.any(pc.less(pc.min_element_wise(ad_ref, ad_alt), 0)).as_py():
        return None  # a negative AD: the text path refuses it
    _check_genotypes(gt)
    null_s = pa.nulls(len(col), pa.string())
    return {"gt": gt, "dp": dp, "ad": null_s, "ad_ref": ad_ref, "ad_alt": ad_alt}


def _sample_values(col: pa.Array, at: Mapping[str, np.ndarray]) -> dict[str, pa.Array]:
    """``gt``, ``dp`` and ``ad`` of one sample column, as the pysam engine renders them
    (or, where every value is GT:DP:AD with two AD values, the columns of
    :func:`_typed_sample`)."""
    null_s = pa.scalar(None, pa.string())
    n = len(col)
    # the usual case: every row's FORMAT is GT:DP:AD and every value has its 3 fields
    same = all(len(at[f]) == n and bool((at[f] == i).all()) for i, f in enumerate(_GT_DP_AD))
    fields = None
    if same and n:
        typed = _typed_sample(col)
        if typed is not None:
            return typed
        fields = cast("list[pa.Array] | None", _split_fields(col, ":", 3, empty_is_null=False))
    if fields is None:
        parts, offsets = _list_parts(col, ":")
        lens = np.diff(offsets)

    def get(pos: np.ndarray) -> pa.Array:
        if fields is not None:  # every row has the field, at the same place
            return fields[int(pos[0])]
        ok = (pos >= 0) & (pos < lens)
        if not len(parts) or not ok.any():
            return pa.nulls(len(pos), pa.string())
        return pc.take(parts, _idx(np.where(ok, offsets[:-1] + pos, -1)))

    def present(v: pa.Array, pos: np.ndarray) -> pa.Array:
        """pysam's rendering: '.' where the field is in FORMAT but the value is missing,
        null where FORMAT lacks it."""
        if v.null_count == 0:
            return v
        if bool((pos >= 0).all()):
            return pc.coalesce(v, ".")
        return pc.if_else(pa.array(pos >= 0), pc.coalesce(v, "."), null_s)

    gt_v, dp_v, ad_v = get(at["GT"]), get(at["DP"]), get(at["AD"])
    _check_genotypes(gt_v)
    gt = present(gt_v, at["GT"])
    dp_s = dp_v
    if pc.any(pc.equal(dp_v, ".")).as_py():
        dp_s = pc.if_else(pc.equal(dp_v, "."), null_s, dp_v)
    if not _only_bytes(pc.drop_null(dp_s), _INT_BYTES):
        raise _Unsupported("a non-integer FORMAT/DP")
    try:
        dp = pc.cast(dp_s, pa.int64())
    except pa.ArrowInvalid:
        raise _Unsupported("a non-integer FORMAT/DP") from None
    if not _only_bytes(pc.drop_null(ad_v), _AD_BYTES):
        raise _Unsupported("a FORMAT/AD value other than integers")
    return {"gt": gt, "dp": dp, "ad": present(ad_v, at["AD"])}


def _drop_prefix(values: pa.Array, prefix: str) -> pa.Array:
    """``values`` without their first ``len(prefix.encode())`` bytes: a byte slice,
    several times faster than ``utf8_slice_codeunits``, which walks the code points. What
    is left of a value that starts with ``prefix`` is valid UTF-8; the caller keeps only
    those."""
    cut = pc.binary_slice(values.view(pa.binary()), len(prefix.encode()), _PAST_END)
    return cut.view(pa.string())


def _info_value(info: pa.Array, key: str) -> pa.Array:
    """The value of INFO ``key=`` in each row (its first occurrence), null where absent: one
    split on ``;`` and a prefix test, no regex."""
    n = len(info)
    prefix = key + "="
    if not pc.any(pc.match_substring(info, prefix)).as_py():
        return pa.nulls(n, pa.string())
    if not _may_contain(info, ";"):  # one key each (annotation-only INFO): no split
        null = pa.scalar(None, pa.string())
        return pc.if_else(pc.starts_with(info, prefix), _drop_prefix(info, prefix), null)
    items, offsets = _list_parts(info, ";")  # null rows split to nothing
    hit = np.flatnonzero(_np(pc.cast(pc.starts_with(items, prefix), pa.int8())))
    if not len(hit):
        return pa.nulls(n, pa.string())
    parent = np.searchsorted(offsets, hit, side="right") - 1
    first = np.r_[True, parent[1:] != parent[:-1]]
    hit, parent = hit[first], parent[first]
    values = _drop_prefix(pc.take(items, _idx(hit)), prefix)
    return _scatter(values, parent, n)


def _raw_from_text(t: pa.Table, header: VcfHeader, roles: SampleRoles, rec: np.ndarray) -> pa.Table:
    """Columns read by the CSV reader → raw rows (:data:`RAW_SCHEMA`)."""
    n = t.num_rows
    cols: dict[str, Any] = {"rec": pa.array(rec, pa.int64())}
    for c in ("chrom", "pos", "ref", "alt", "qual", "filter"):
        cols[c] = t[c].combine_chunks()
    if cols["chrom"].null_count or cols["pos"].null_count:
        raise _Unsupported("a missing CHROM or POS")
    for c in [*(k for k, v in _TEXT_TYPES.items() if v == pa.string()), *t.column_names[7:]]:
        if pc.any(pc.equal(t[c], "")).as_py():
            raise _Unsupported(f"an empty {c} field")
    if header.annotation:
        ann = _info_value(t["info"].combine_chunks(), header.annotation)
        ann = pc.if_else(pc.equal(ann, "."), pa.scalar(None, pa.string()), ann)
        if _may_contain(ann, ".") and (  # no '.' at all: no missing entry
            pc.any(pc.match_substring(ann, ",.,")).as_py()
            or pc.any(pc.starts_with(ann, ".,")).as_py()
            or pc.any(pc.ends_with(ann, ",.")).as_py()
        ):
            raise _Unsupported(f"a missing INFO/{header.annotation} entry")
        cols["ann"] = ann
    else:
        cols["ann"] = pa.nulls(n, pa.string())
    at: dict[str, np.ndarray] | None = None
    extra: dict[str, pa.Array] = {}
    for prefix, name in (("t_", roles.tumour), ("n_", roles.normal)):
        if name is None:
            values = {"gt": pa.nulls(n, pa.string()), "dp": pa.nulls(n, pa.int64()),
                      "ad": pa.nulls(n, pa.string())}  # fmt: skip
        else:
            if at is None:
                at = _format_positions(t["format"].combine_chunks(), header)
            col = t[f"s{header.samples.index(name)}"].combine_chunks()
            values = _sample_values(col, at)
        for key, v in values.items():
            (cols if key in ("gt", "dp", "ad") else extra)[prefix + key] = v
    raw = pa.Table.from_arrays([cols[f.name] for f in RAW_SCHEMA], schema=RAW_SCHEMA)
    for key, v in extra.items():
        raw = raw.append_column(key, v)
    return raw


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _iter_text_tables(header: VcfHeader, roles: SampleRoles) -> Iterator[pa.Table]:
    """The columns of a text VCF, read by Arrow, in tables of about :data:`NORMALISE_ROWS`."""
    names, types = _text_layout(header, roles)
    # Arrow skips the header lines within its first block: make the block hold them
    block = max(TEXT_BLOCK_BYTES, 2 * len(_sniff(header.path)[2]) + 4096)
    opts = _csv_options(names, types, header.header_lines, block)
    # gzip/BGZF through ISA-L (python-isal): it inflates about twice as fast as zlib (Arrow's
    # gzip codec), and inflating is the one serial step of this reader
    stream: Any = (
        igzip.open(header.path, "rb")
        if _is_gzip(header.path)
        else pa.input_stream(header.path, buffer_size=1 << 20)
    )
    try:
        try:
            reader = pacsv.open_csv(stream, **opts)
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            raise _Unsupported(str(exc)) from None
        except _READ_ERRORS as exc:
            raise _Unsupported(str(exc)) from None
        pending: list[pa.RecordBatch] = []
        rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except _READ_ERRORS as exc:
                raise _Unsupported(str(exc)) from None
            pending.append(batch)
            rows += batch.num_rows
            if rows >= NORMALISE_ROWS:
                yield pa.Table.from_batches(pending)
                pending, rows = [], 0
        if rows:
            yield pa.Table.from_batches(pending)
    finally:
        stream.close()


def _text_batch(
    t: pa.Table, rec0: int, header: VcfHeader, roles: SampleRoles, build: str
) -> tuple[pa.Table, ReadStats]:
    """One table of VCF columns → normalised rows (run on a worker thread: Arrow and numpy
    kernels release the GIL, so batches are normalised on all cores while Arrow reads)."""
    raw = _raw_from_text(t, header, roles, np.arange(rec0, rec0 + t.num_rows))
    part = ReadStats(records=t.num_rows)
    return normalise(raw, header, build, part), part


def _merge(into: ReadStats, part: ReadStats) -> None:
    into.records += part.records
    into.rows += part.rows
    into.skipped_symbolic += part.skipped_symbolic
    into.skipped_reference_only += part.skipped_reference_only
    into.warnings += part.warnings


def _text_eligible(
    header: VcfHeader, roles: SampleRoles, engine: Engine, reference_fasta: str | None
) -> bool:
    if engine == "text":
        return True
    # every sample column is the tumour's or the normal's (others are not read, so their
    # validity is left to htslib)
    mapped = {roles.tumour, roles.normal} - {None}
    return (
        engine == "auto"
        and not reference_fasta
        and not header.is_bcf
        and set(header.samples) <= mapped
    )


def _variants_text(
    header: VcfHeader, roles: SampleRoles, build: str, stats: ReadStats, strict: bool
) -> Iterator[pa.Table]:
    """Normalised rows through the text engine; from the first record it does not handle
    on, the htslib engines read the rest (and refuse what is bad, with their message)."""
    _check_bgzf_eof(header.path)
    done = 0
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="vcf-text") as pool:
        queue: deque[Future[tuple[pa.Table, ReadStats]]] = deque()
        try:
            rec = 0
            for t in _iter_text_tables(header, roles):
                queue.append(pool.submit(_text_batch, t, rec, header, roles, build))
                rec += t.num_rows
                while len(queue) > workers:  # in order; at most workers+1 batches in flight
                    out, part = queue.popleft().result()
                    _merge(stats, part)
                    done += part.records
                    yield out
            while queue:
                out, part = queue.popleft().result()
                _merge(stats, part)
                done += part.records
                yield out
            return
        except (_Unsupported, VcfError, pa.ArrowException) as exc:
            if strict:
                if isinstance(exc, VcfError):
                    raise
                raise VcfFormatError(
                    f"{header.path}: the text engine cannot read it ({exc})"
                ) from None
        finally:
            for f in queue:
                f.cancel()
    rest = ReadStats()
    for raw in iter_raw(header, roles, rest, "auto"):
        if done:
            raw = raw.filter(pc.greater_equal(raw["rec"], done))
        if raw.num_rows:
            yield normalise(raw, header, build, rest)
    rest.records -= done
    _merge(stats, rest)


# -- the public readers ---------------------------------------------------------------------


def _roles_for(header: VcfHeader, roles: SampleRoles | None) -> SampleRoles:
    if roles is None:
        s = header.samples
        roles = SampleRoles(s[0] if s else None, s[1] if len(s) > 1 else None)
    for name in (roles.tumour, roles.normal):
        if name is not None and name not in header.samples:
            raise VcfError(
                f"{header.path}, header #CHROM line: no sample column {name!r} (samples: "
                f"{', '.join(header.samples) or 'none'})"
            )
    return roles


def read_variants(
    path: str | Path,
    roles: SampleRoles | None = None,
    build: str = "GRCh38",
    engine: Engine = "auto",
    reference_fasta: str | None = None,
    stats: ReadStats | None = None,
    header: VcfHeader | None = None,
) -> Iterator[pa.Table]:
    """Stream normalised ``variants`` columns of one VCF/BCF, batch by batch.

    ``roles`` names the tumour and normal sample columns (default: the first sample is
    the tumour, the second the normal). The caller adds the per-file columns (patient,
    specimens, origin, source, build, fingerprint). ``engine``: ``auto`` (the text engine
    for text VCFs, htslib for BCF, for a reference check and for whatever the text engine
    leaves to it), ``text`` (the text engine only), ``pysam``/``cyvcf2`` (in-process
    htslib) or ``bcftools`` (``bcftools query`` streamed into Arrow).
    """
    header = header or read_header(path)
    roles = _roles_for(header, roles)
    st = stats if stats is not None else ReadStats()
    if _text_eligible(header, roles, engine, reference_fasta):
        yield from _variants_text(header, roles, build, st, strict=engine == "text")
        return
    legacy: Engine = "cyvcf2" if engine == "pysam" else engine
    for raw in iter_raw(header, roles, st, legacy, reference_fasta):
        if raw.num_rows:
            yield normalise(raw, header, build, st)


@dataclass(frozen=True)
class VcfSource:
    """One VCF to read with :func:`read_many` (``header`` if it was read already)."""

    path: str
    roles: SampleRoles | None = None
    header: VcfHeader | None = None


def _split_small(path: str) -> tuple[bytes, int, bytes] | None:
    """(header text, header lines, records) of a small text VCF, decompressed once (None:
    leave the file to read_variants)."""
    _check_bgzf_eof(path)
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = igzip.decompress(data)  # ISA-L: about twice as fast as zlib
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


def _small(src: VcfSource) -> tuple[VcfHeader, bytes | None]:
    """The header (given, parsed from the text, or by htslib) and the records of a file."""
    got = _split_small(src.path) if src.path.endswith((".vcf", ".vcf.gz")) else None
    header = src.header
    if header is None and got is not None:
        header = _parse_header_text(src.path, got[0], got[1])
    if header is None:
        header = read_header(src.path)
    if got is None or got[1] != header.header_lines or header.is_bcf:
        return header, None
    return header, got[2]


def _group_key(header: VcfHeader, roles: SampleRoles) -> tuple[Any, ...]:
    """Files with equal keys are parsed and normalised together."""
    at = tuple(header.samples.index(r) if r else None for r in (roles.tumour, roles.normal))
    fmts = tuple(header.formats.get(k) for k in ("GT", "DP", "AD"))
    return (header.annotation, header.annotation_fields, tuple(header.contigs), at, fmts,
            len(header.samples))  # fmt: skip


def _read_group(
    members: Sequence[tuple[int, VcfHeader, SampleRoles, bytes]], build: str
) -> tuple[pa.Table, np.ndarray, list[ReadStats]]:
    """Parse the bodies of several small VCFs at once and normalise them together: the
    rows (ordered by member), each row's member index, and each member's read counts."""
    header, roles = members[0][1], members[0][2]
    counts = np.array([m[3].count(b"\n") for m in members], np.int64)
    total = int(counts.sum())
    names, types = _text_layout(header, roles)
    if total:
        data = pa.py_buffer(b"".join(m[3] for m in members))
        t = pacsv.read_csv(data, **_csv_options(names, types, 0, 4 << 20, threads=False))
    else:
        t = pa.table({k: pa.array([], v) for k, v in types.items()})
    if t.num_rows != total:
        raise _Unsupported("the record count differs from the line count")
    file = np.repeat(np.arange(len(members)), counts)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rec = np.arange(total) - np.repeat(starts, counts)
    raw = _raw_from_text(t, header, roles, rec)
    raw = raw.append_column("_file", pa.array(file, pa.int64()))
    alleles = _np(pc.add(pc.count_substring(raw["alt"], ","), 1))
    has_alt = _np(pc.cast(pc.is_valid(raw["alt"]), pa.int8())).astype(bool)
    out = normalise(raw, header, build, ReadStats())
    fcol = _np(out["_file"])
    out = out.drop_columns(["_file"])
    rows = np.bincount(fcol, minlength=len(members))
    ref_only = np.bincount(file[~has_alt], minlength=len(members))
    allele_n = np.bincount(file[has_alt], weights=alleles[has_alt], minlength=len(members))
    stats = [
        ReadStats(
            records=int(counts[j]),
            rows=int(rows[j]),
            skipped_symbolic=int(allele_n[j]) - int(rows[j]),
            skipped_reference_only=int(ref_only[j]),
        )
        for j in range(len(members))
    ]
    return out, fcol, stats


def _empty_variants() -> pa.Table:
    raw = pa.Table.from_arrays([pa.array([], f.type) for f in RAW_SCHEMA], schema=RAW_SCHEMA)
    header = VcfHeader("", (), {}, {}, {}, None, (), 0, None, False)
    return normalise(raw, header, "GRCh38", ReadStats())


#: A piece of :func:`iter_many`: rows, and the index (into the sources) of the file each
#: row came from: one ``int`` for rows of one file, an int64 array for a group's rows.
FilePiece = tuple[pa.Table, int | np.ndarray]


def iter_many(
    sources: Sequence[VcfSource],
    build: str = "GRCh38",
    engine: Engine = "auto",
    reference_fasta: str | None = None,
    stats: Sequence[ReadStats] | None = None,
) -> Iterator[FilePiece]:
    """Stream the normalised ``variants`` columns of many VCFs as :data:`FilePiece` s.

    Small text VCFs (up to :data:`MANY_FILE_BYTES`) with the same layout are not read one
    by one: their bodies are concatenated and parsed by one Arrow CSV read and one
    :func:`normalise` per ~:data:`NORMALISE_ROWS` rows, on worker threads while the next
    headers are read; the per-file cost is a header read and a decompression. Larger
    files, BCF, a reference check or anything the text engine leaves to htslib are
    streamed through :func:`read_variants`, batch by batch; so is every file of a group
    that fails, so that the error names the right file, line and field. Memory holds a
    few groups or batches, whatever the number and size of the files. ``stats`` (one per
    source) receive each file's read counts. Pieces come in no particular file order.
    """
    st = list(stats) if stats is not None else [ReadStats() for _ in sources]
    if len(st) != len(sources):
        raise ValueError("iter_many: one ReadStats per source")
    groups: dict[tuple[Any, ...], list[tuple[int, VcfHeader, SampleRoles, bytes]]] = {}
    sizes: dict[tuple[Any, ...], int] = {}
    workers = max(1, min(4, os.cpu_count() or 1))

    def run(chunk: list[tuple[int, VcfHeader, SampleRoles, bytes]]) -> Any:
        try:
            return _read_group(chunk, build)
        except (_Unsupported, VcfError, pa.ArrowException):
            return None  # each file alone: the text engine, then htslib, decides

    def one(i: int, header: VcfHeader, roles: SampleRoles) -> Iterator[FilePiece]:
        for t in read_variants(header.path, roles, build, engine, reference_fasta, st[i], header):
            yield t, i

    def finish(
        chunk: list[tuple[int, VcfHeader, SampleRoles, bytes]], job: Future[Any]
    ) -> Iterator[FilePiece]:
        got = job.result()
        if got is None:
            for m in chunk:
                yield from one(m[0], m[1], m[2])
            return
        out, fcol, parts = got
        for m, part in zip(chunk, parts, strict=True):
            _merge(st[m[0]], part)
        index = np.array([m[0] for m in chunk], np.int64)
        if out.num_rows:
            yield out, index[fcol]

    with ThreadPoolExecutor(workers, thread_name_prefix="vcf-many") as pool:
        jobs: deque[tuple[list[tuple[int, VcfHeader, SampleRoles, bytes]], Future[Any]]]
        jobs = deque()
        try:
            for i, src in enumerate(sources):
                small = engine == "auto" and not reference_fasta
                small = small and os.path.getsize(src.path) <= MANY_FILE_BYTES
                if small:
                    header, body = _small(src)
                else:
                    header, body = src.header or read_header(src.path), None
                roles = _roles_for(header, src.roles)
                if not _text_eligible(header, roles, engine, reference_fasta):
                    body = None
                if body is None:
                    yield from one(i, header, roles)
                    continue
                key = _group_key(header, roles)
                groups.setdefault(key, []).append((i, header, roles, body))
                sizes[key] = sizes.get(key, 0) + len(body)
                if sizes[key] >= NORMALISE_ROWS * 100:  # ~100 bytes a record
                    chunk = groups.pop(key)
                    sizes[key] = 0
                    jobs.append((chunk, pool.submit(run, chunk)))
                while len(jobs) > workers:  # bounded: at most workers+1 groups held
                    yield from finish(*jobs.popleft())
            jobs += [(chunk, pool.submit(run, chunk)) for chunk in groups.values()]
            while jobs:
                yield from finish(*jobs.popleft())
        finally:
            for _, job in jobs:
                job.cancel()


def read_many(
    sources: Sequence[VcfSource],
    build: str = "GRCh38",
    engine: Engine = "auto",
    reference_fasta: str | None = None,
) -> list[tuple[pa.Table, ReadStats]]:
    """Normalised ``variants`` columns (and read counts) of many VCFs, file by file, in
    the order of ``sources``: :func:`iter_many` gathered in memory."""
    stats = [ReadStats() for _ in sources]
    parts: list[list[pa.Table]] = [[] for _ in sources]
    for table, file in iter_many(sources, build, engine, reference_fasta, stats):
        if isinstance(file, int):
            parts[file].append(table)
            continue
        # a group's rows are ordered by file: one slice per file
        cut = np.flatnonzero(np.diff(file)) + 1
        for lo, hi in zip(np.r_[0, cut], np.r_[cut, len(file)], strict=True):
            parts[int(file[lo])].append(table.slice(int(lo), int(hi - lo)))
    return [
        (pa.concat_tables(p) if p else _empty_variants(), s)
        for p, s in zip(parts, stats, strict=True)
    ]
