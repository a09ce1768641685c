"""The VCF/BCF header: what ingest needs from it (:class:`VcfHeader`), read once per file.

A text VCF header in the plain shape pipelines write is parsed here, in Python, from the
decompressed header text by a strict grammar (opening a file with htslib costs far more
than this parse, which matters for a bundle of thousands of small files). Anything else
(BCF, VCF 4.4+, a line outside the grammar, a duplicate ID, a Flag with Number≠0, …) is
read by htslib through cyvcf2, which also refuses what is bad. The ``##contig`` and
``##reference`` lines, which htslib's header records do not carry whole, are read by the
same grammar in both cases. Both give equal headers over the corpus
(tests/harmonise/test_ingest_perf_paths.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmonise.errors import VcfFormatError
from harmonise.vcf.source import _sniff

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


def read_header(path: str | Path) -> VcfHeader:
    """Read and check a VCF/BCF header (the grammar for a plain text header, else htslib)."""
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


_DESC_FORMAT_RE = re.compile(r"Format:\s*([^\"]+)")
_BCSQ_FIELDS = (
    "Consequence", "gene", "transcript", "biotype", "strand", "amino_acid_change",
    "dna_change",
)  # fmt: skip


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
        fields = _BCSQ_FIELDS
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


# -- the grammar ----------------------------------------------------------------------------

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


def _pairs(value: str) -> dict[str, str]:
    """The ``key=value`` pairs of a structured header value ``<…>``."""
    return dict(_H_PAIR_RE.findall(value[1:-1]))


def _assembly(references: Iterable[str], contig_assemblies: Iterable[str | None]) -> str | None:
    """The build a header names: the first ``##reference``, else the first ``##contig``
    ``assembly=``."""
    first = next(iter(references), None)
    return first or next((a for a in contig_assemblies if a), None)


def _parse_header_text(spath: str, text: bytes, header_lines: int) -> VcfHeader | None:
    """The header of a plain text VCF by a strict grammar; None: leave it to htslib."""
    end = text.rfind(b"\n#CHROM")
    if end < 0:
        return None
    meta_text = text[: end + 1]
    parse = _parse_meta_cached if len(meta_text) <= _CACHED_META_BYTES else _parse_meta
    meta = parse(meta_text, header_lines)
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


def _parse_meta(text: bytes, header_lines: int) -> tuple[Any, ...] | None:
    """The ``##`` lines of a header (:func:`_parse_meta_cached` for the usual sizes)."""
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
    contig_assemblies: list[str | None] = []
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
            pairs = _pairs(value)
            ident = pairs.get("ID", "")
            length = pairs.get("length")
            if not _H_CONTIG_ID_RE.match(ident) or ident in contigs or '"' in value:
                return None
            if length is not None and not length.isdigit():
                return None
            contigs[ident] = int(length) if length is not None else None
            contig_assemblies.append(pairs.get("assembly"))
        elif key == "reference":
            references.append(value)
        elif key in ("FILTER", "ALT") and not value.startswith("<ID="):
            return None
    return infos, formats, contigs, descriptions, _assembly(references, contig_assemblies)


#: ``##`` lines up to this size are cached (a centre's files share them, only the #CHROM
#: line with the sample names differs); a larger header is parsed but not kept.
_CACHED_META_BYTES = 1 << 20
_parse_meta_cached = functools.lru_cache(maxsize=64)(_parse_meta)


# -- htslib ---------------------------------------------------------------------------------


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
        # htslib's header records carry the contig ID only: the length and the assembly
        # come from the header text, read as the grammar reads them
        references: list[str] = []
        contig_assemblies: list[str | None] = []
        for line in raw.splitlines():
            if line.startswith("##reference="):
                references.append(line.split("=", 1)[1])
            elif line.startswith("##contig=<"):
                pairs = _pairs(line[len("##contig=") :])
                if pairs.get("ID") in contigs and pairs.get("length", "").isdigit():
                    contigs[pairs["ID"]] = int(pairs["length"])
                contig_assemblies.append(pairs.get("assembly"))
        return _make_header(
            spath, vcf.samples, contigs, infos, formats, descriptions,
            _assembly(references, contig_assemblies), header_lines, is_bcf,
        )  # fmt: skip
    finally:
        vcf.close()
