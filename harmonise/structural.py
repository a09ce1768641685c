"""Somatic structural variants and fusions: the pipeline's SV VCF → ``structural_variants`` rows.

The file is the one CONTRACT23 describes: ``results/annotated/sv/{patient}.sv.annotated.vcf.gz``,
delly's somatic calls (``delly filter -f somatic``) in VCF 4.x with symbolic ALTs
``<DEL>``, ``<DUP>``, ``<INV>``, ``<INS>`` (a subtype after ``:``, e.g. ``<DUP:TANDEM>``,
is kept as its base type) and breakend (BND) records; INFO ``SVTYPE``, ``END``, ``CHR2``,
``POS2``, ``PE``, ``SR`` from delly and ``GENE_A``/``GENE_B``/``FUSION`` from the
pipeline's annotation. The header is read and checked by :mod:`harmonise.vcf` (build,
contig naming and lengths against the manifest, as for the small variants); the records
here, by a strict reader that names the file, line and field of the first problem:

* CHROM/POS (and the second breakpoint's CHR2/POS2) on the declared reference;
* the ALT is symbolic or a breakend (a sequence ALT is a small variant and belongs in
  ``variants/``); ``SVTYPE`` agrees with it; DEL/DUP/INV have ``END`` ≥ POS;
* a BND's mate: from the ALT's bracket notation (``t[p[``, ``t]p]``, ``]p]t``, ``[p[t``),
  which must agree with CHR2/POS2 when both are given; records paired by ``MATEID`` must
  name each other and each other's position, and the pair is stored once (the first
  record of the pair in the file);
* ``GENE_A``/``GENE_B`` are comma-separated HGNC symbols; ``FUSION`` is ``A::B`` whose
  partners are genes of the two breakpoints;
* every INFO key is declared in the header; IDs are unique; the sample columns are the
  header's.

The whole file is read and checked before any row is returned (:func:`read_structural`),
so a refused file leaves nothing behind. Coordinates: ``pos``/``pos2`` 1-based as in VCF.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmonise.errors import ContigError, VcfFormatError
from harmonise.vcf import VcfHeader, check_reference, read_header
from harmonise.vcf.reference import ContigRules, contig_problem, contig_rules

#: Structural variant types (``structural_variants.sv_type``).
SV_TYPES: tuple[str, ...] = ("DEL", "DUP", "INV", "INS", "BND")
#: A gene name as the pipeline writes it: an HGNC symbol, or the workflow GFF3's gene
#: name where the gene has no HGNC symbol (Ensembl's ``RP11-34P13.7``, ``Y_RNA`` …); never
#: the separators of the fields it sits in (``,`` ``;`` ``:`` ``=`` ``|``, space).
GENE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SYMBOLIC_RE = re.compile(r"^<([A-Z]+)(?::[A-Za-z0-9_:]+)?>$")
_BASES = r"[ACGTNacgtn]+"
#: Breakend ALTs (VCF 4.3 §5.4): t[p[, t]p], ]p]t, [p[t; p is chrom:pos.
_BND_RE = re.compile(
    rf"^(?:(?P<t1>{_BASES})(?P<b1>[\[\]])(?P<c1>[^\[\]:]+):(?P<p1>[0-9]+)(?P=b1)"
    rf"|(?P<b2>[\[\]])(?P<c2>[^\[\]:]+):(?P<p2>[0-9]+)(?P=b2)(?P<t2>{_BASES}))$"
)
_INT_RE = re.compile(r"^-?[0-9]+$")
#: Longest line read (a structural VCF's records are short): refuses a runaway line.
MAX_LINE = 1 << 20
#: The largest value of an integer field: positions, END and lengths are 64-bit in the
#: lake (and checked against the contig where they are coordinates); PE/SR are 32-bit.
MAX_LONG = (1 << 62) - 1
MAX_INT = (1 << 31) - 1


@dataclass(frozen=True)
class SvRecord:
    """One structural variant (one junction for BND pairs)."""

    sv_id: str | None
    sv_type: str
    chrom: str
    pos: int
    chrom2: str
    pos2: int
    sv_length: int | None
    connection: str | None
    gene_a: tuple[str, ...]
    gene_b: tuple[str, ...]
    fusion: str | None
    filter: str
    qual: float | None
    pe: int | None
    sr: int | None
    caller: str | None
    line: int

    def row(self) -> dict[str, Any]:
        """The record as ``structural_variants`` column values (without the file's
        constants: patient, specimens, build, fingerprint)."""
        partners = self.fusion.split("::") if self.fusion else None
        return {
            "sv_id": self.sv_id,
            "sv_type": self.sv_type,
            "chrom": self.chrom,
            "pos": self.pos,
            "chrom2": self.chrom2,
            "pos2": self.pos2,
            "sv_length": self.sv_length,
            "connection": self.connection,
            "gene_a": list(self.gene_a) or None,
            "gene_b": list(self.gene_b) or None,
            "fusion": self.fusion,
            "fusion_genes": partners,
            "filter": self.filter,
            "qual": self.qual,
            "pe": self.pe,
            "sr": self.sr,
            "caller": self.caller,
        }


@dataclass(frozen=True)
class StructuralFile:
    """A checked structural VCF: its header and records."""

    path: str
    header: VcfHeader
    records: tuple[SvRecord, ...]


def _fail(path: str, line: int, where: str, msg: str) -> VcfFormatError:
    return VcfFormatError(f"{path}, line {line}{where}: {msg}")


def _lines(path: str) -> list[str]:
    """Every line of a plain or gzip/BGZF text VCF (the file is small: whole)."""
    p = Path(path)
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic[:3] == b"BCF":
        raise VcfFormatError(f"{path}: a BCF file; the structural VCF is bgzipped text VCF")
    raw: bytes
    try:
        if magic[:2] == b"\x1f\x8b":
            with gzip.open(p, "rb") as gz:
                raw = gz.read()
        else:
            raw = p.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise VcfFormatError(
            f"{path}: the gzip stream is damaged or cut short ({exc}); submit the file again"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise VcfFormatError(f"{path}, line {line}: not UTF-8 text (byte {exc.start})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _info(
    text: str, path: str, line: int, where: str, declared: Mapping[str, Any]
) -> dict[str, str]:
    if text == ".":
        return {}
    out: dict[str, str] = {}
    for item in text.split(";"):
        key, eq, value = item.partition("=")
        if not key:
            raise _fail(path, line, where, f"field INFO: empty key in {text[:80]!r}")
        if key not in declared:
            raise _fail(
                path, line, where,
                f"field INFO: key {key!r} is not declared in the header (##INFO=<ID={key},…>); "
                "declare it or remove it",
            )  # fmt: skip
        if key in out:
            raise _fail(path, line, where, f"field INFO: key {key!r} is given twice")
        out[key] = value if eq else ""
    return out


def _int(
    value: str | None, path: str, line: int, where: str, field: str, maximum: int = MAX_LONG
) -> int | None:
    """An integer field, refused when it is not an integer or its magnitude exceeds
    ``maximum`` (before Python's own limit on converting long digit strings is reached)."""
    if value is None or value == ".":
        return None
    if not _INT_RE.match(value):
        raise _fail(path, line, where, f"field {field}: {value[:40]!r} is not an integer")
    if len(value.lstrip("-")) > len(str(maximum)) or abs(int(value)) > maximum:
        raise _fail(
            path, line, where, f"field {field}: {value[:40]!r} is out of range (at most {maximum})"
        )
    return int(value)


def _genes(value: str | None, path: str, line: int, where: str, field: str) -> tuple[str, ...]:
    if value is None or value in ("", "."):
        return ()
    genes = tuple(value.split(","))
    for g in genes:
        if not GENE_RE.match(g):
            raise _fail(
                path, line, where,
                f"field INFO/{field}: {g[:70]!r} is not a gene name (comma-separated HGNC "
                "symbols or GFF3 gene names such as 'ETV6,NTRK3')",
            )  # fmt: skip
    return genes


def _check_locus(
    rules: ContigRules, known: Mapping[str, Any], chrom: str, pos: int,
    path: str, line: int, where: str, field: str,
) -> None:  # fmt: skip
    problem = contig_problem(rules, chrom, pos)
    if problem is not None:
        raise ContigError(f"{path}, line {line}{where}: {field}: {problem}")
    if known and chrom not in known and chrom not in rules.lengths:
        raise ContigError(
            f"{path}, line {line}{where}: {field}: contig {chrom!r} is not declared in the "
            "header (##contig) nor a chromosome of the reference"
        )


def read_structural(
    path: str | Path,
    build: str,
    naming: str | None,
    contigs: list[str] | None = None,
) -> StructuralFile:
    """Read and check a structural VCF against the manifest's ``build`` and contig
    ``naming`` (and the provenance's contig names); raise naming the first problem."""
    spath = str(path)
    header = read_header(spath)
    if naming is not None:
        check_reference(header, build, naming, contigs)
    if "SVTYPE" not in header.infos:
        raise VcfFormatError(
            f"{spath}, header: no ##INFO=<ID=SVTYPE,…> line; a structural VCF (delly) "
            "declares SVTYPE"
        )
    rules = contig_rules(header, build, naming)
    lines = _lines(spath)
    n_samples = len(header.samples)
    caller_default: str | None = None
    records: list[SvRecord] = []
    by_id: dict[str, int] = {}
    mates: dict[int, str] = {}
    started = False
    for i, text in enumerate(lines):
        line = i + 1
        if len(text) > MAX_LINE:
            raise _fail(spath, line, "", f"the line is longer than {MAX_LINE} bytes")
        if text.startswith("#"):
            if started:
                raise _fail(spath, line, "", "a header line after the first record")
            if text.startswith("##source=") and caller_default is None:
                caller_default = text.split("=", 1)[1].strip() or None
            continue
        started = True
        if text.endswith("\r"):
            raise _fail(spath, line, "", "the line ends with CR (Windows line end); use LF")
        cols = text.split("\t")
        expected = 8 + (n_samples + 1 if n_samples else 0)
        if len(cols) != expected:
            raise _fail(
                spath, line, "",
                f"{len(cols)} tab-separated columns, expected {expected} (8 fixed, FORMAT and "
                f"{n_samples} sample(s) as the #CHROM line says)",
            )  # fmt: skip
        chrom, pos_s, ident, ref, alt, qual_s, filt, info_s = cols[:8]
        if not _INT_RE.match(pos_s) or len(pos_s) > 18 or int(pos_s) < 1:
            raise _fail(
                spath, line, f", record {chrom}:{pos_s[:20]}", "field POS: not a position ≥ 1"
            )
        pos = int(pos_s)
        where = f", record {chrom}:{pos}"
        _check_locus(rules, header.contigs, chrom, pos, spath, line, where, "field CHROM/POS")
        if not ref or not re.fullmatch(_BASES, ref):
            raise _fail(spath, line, where, f"field REF: {ref[:20]!r} is not a base sequence")
        if "," in alt:
            raise _fail(
                spath, line, where,
                f"field ALT: {alt[:40]!r} has several alleles; one structural allele per record",
            )  # fmt: skip
        info = _info(info_s, spath, line, where, header.infos)
        svtype = info.get("SVTYPE")
        if svtype not in SV_TYPES:
            raise _fail(
                spath, line, where,
                f"field INFO/SVTYPE: {svtype!r} is not one of {', '.join(SV_TYPES)}",
            )  # fmt: skip
        sym = _SYMBOLIC_RE.match(alt)
        bnd = _BND_RE.match(alt)
        connection = info.get("CT") or None
        sv_length: int | None = None
        if sym is not None:
            base = sym.group(1)
            if base == "BND" and svtype == "BND":
                pass  # a symbolic breakend: the mate is in CHR2/POS2
            elif base != svtype:
                raise _fail(
                    spath, line, where,
                    f"field ALT: {alt!r} disagrees with INFO/SVTYPE={svtype}",
                )  # fmt: skip
        elif bnd is not None:
            if svtype != "BND":
                raise _fail(
                    spath, line, where,
                    f"field ALT: {alt!r} is a breakend but INFO/SVTYPE is {svtype}; use SVTYPE=BND",
                )  # fmt: skip
        else:
            raise _fail(
                spath, line, where,
                f"field ALT: {alt[:40]!r} is neither a symbolic allele (<DEL>, <DUP>, <INV>, "
                "<INS>) nor a breakend (t[p[, ]p]t …); sequence-resolved small variants "
                "belong in the small-variant VCF",
            )  # fmt: skip
        end = _int(info.get("END"), spath, line, where, "INFO/END")
        chr2 = info.get("CHR2") or None
        pos2 = _int(info.get("POS2"), spath, line, where, "INFO/POS2")
        if svtype == "BND":
            if bnd is not None:
                alt_chrom = bnd.group("c1") or bnd.group("c2")
                alt_pos = _int(bnd.group("p1") or bnd.group("p2"), spath, line, where,
                               "ALT (the mate's position)")  # fmt: skip
                assert alt_pos is not None
                if (chr2 is not None and chr2 != alt_chrom) or (
                    pos2 is not None and pos2 != alt_pos
                ):
                    raise _fail(
                        spath, line, where,
                        f"fields ALT and INFO/CHR2,POS2: the ALT's mate {alt_chrom}:{alt_pos} "
                        f"differs from CHR2/POS2 {chr2}:{pos2}",
                    )  # fmt: skip
                chr2, pos2 = alt_chrom, alt_pos
            if chr2 is None or pos2 is None:
                raise _fail(
                    spath, line, where,
                    "a BND record needs its mate's position: a breakend ALT (t[p[ …) or "
                    "INFO/CHR2 and INFO/POS2",
                )  # fmt: skip
        else:
            if chr2 is not None and chr2 != chrom:
                raise _fail(
                    spath, line, where,
                    f"field INFO/CHR2: {chr2!r} differs from CHROM for a {svtype}; an "
                    "inter-chromosomal junction is a BND",
                )  # fmt: skip
            chr2 = chrom
            if svtype == "INS":
                pos2 = pos2 or end or pos
                svlen = _int(
                    info.get("SVLEN") or info.get("INSLEN"), spath, line, where, "INFO/SVLEN"
                )
                sv_length = abs(svlen) if svlen is not None else None
            else:
                if end is None:
                    raise _fail(spath, line, where, f"a {svtype} record needs INFO/END")
                if end < pos:
                    raise _fail(spath, line, where, f"field INFO/END: {end} is before POS {pos}")
                pos2 = end
                sv_length = end - pos
        assert pos2 is not None
        _check_locus(rules, header.contigs, chr2, pos2, spath, line, where, "field INFO/CHR2,POS2")
        gene_a = _genes(info.get("GENE_A"), spath, line, where, "GENE_A")
        gene_b = _genes(info.get("GENE_B"), spath, line, where, "GENE_B")
        fusion = info.get("FUSION") or None
        if fusion is not None:
            parts = fusion.split("::")
            if len(parts) != 2 or not all(GENE_RE.match(p) for p in parts):
                raise _fail(
                    spath, line, where,
                    f"field INFO/FUSION: {fusion!r} is not 5PRIME::3PRIME in HGNC notation "
                    "(e.g. ETV6::NTRK3)",
                )  # fmt: skip
            if parts[0] == parts[1]:
                raise _fail(
                    spath, line, where, f"field INFO/FUSION: {fusion!r} joins a gene to itself"
                )
            genes = set(gene_a) | set(gene_b)
            missing = [p for p in parts if p not in genes]
            if missing:
                raise _fail(
                    spath, line, where,
                    f"field INFO/FUSION: partner(s) {', '.join(missing)} of {fusion} are not "
                    "genes of the breakpoints (INFO/GENE_A, INFO/GENE_B)",
                )  # fmt: skip
        qual = None
        if qual_s != ".":
            try:
                qual = float(qual_s)
            except ValueError:
                raise _fail(spath, line, where, f"field QUAL: {qual_s!r} is not a number") from None
        if ident not in (".", ""):
            if ident in by_id:
                raise _fail(
                    spath, line, where,
                    f"field ID: {ident!r} is also the ID of line {records[by_id[ident]].line}",
                )  # fmt: skip
            by_id[ident] = len(records)
        mate = info.get("MATEID")
        if mate:
            if svtype != "BND":
                raise _fail(spath, line, where, "field INFO/MATEID: only BND records have mates")
            mates[len(records)] = mate
        records.append(
            SvRecord(
                sv_id=None if ident in (".", "") else ident,
                sv_type=svtype,
                chrom=chrom,
                pos=pos,
                chrom2=chr2,
                pos2=pos2,
                sv_length=sv_length,
                connection=connection,
                gene_a=gene_a,
                gene_b=gene_b,
                fusion=fusion,
                filter=filt,
                qual=qual,
                pe=_int(info.get("PE"), spath, line, where, "INFO/PE", MAX_INT),
                sr=_int(info.get("SR"), spath, line, where, "INFO/SR", MAX_INT),
                caller=info.get("SVMETHOD") or caller_default,
                line=line,
            )
        )
    if not started and not any(ln.startswith("#CHROM") for ln in lines):
        raise VcfFormatError(f"{spath}: no #CHROM line; not a VCF")
    drop = _pair_mates(spath, records, by_id, mates)
    kept = tuple(r for k, r in enumerate(records) if k not in drop)
    return StructuralFile(spath, header, kept)


def _pair_mates(
    path: str, records: list[SvRecord], by_id: Mapping[str, int], mates: Mapping[int, str]
) -> set[int]:
    """Check MATEID pairs (each names the other, at the other's position); return the
    indices of the second record of each pair (stored once, as its first record)."""
    drop: set[int] = set()
    for k, mate_id in mates.items():
        r = records[k]
        where = f", record {r.chrom}:{r.pos}"
        j = by_id.get(mate_id)
        if j is None:
            raise _fail(path, r.line, where, f"field INFO/MATEID: no record has ID {mate_id!r}")
        m = records[j]
        if mates.get(j) != r.sv_id:
            raise _fail(
                path, r.line, where,
                f"field INFO/MATEID: its mate {mate_id!r} (line {m.line}) does not name "
                f"{r.sv_id!r} as its mate",
            )  # fmt: skip
        if (m.chrom, m.pos) != (r.chrom2, r.pos2) or (r.chrom, r.pos) != (m.chrom2, m.pos2):
            raise _fail(
                path, r.line, where,
                f"field INFO/MATEID: the mate {mate_id!r} (line {m.line}) is at "
                f"{m.chrom}:{m.pos}, not at this breakend's partner {r.chrom2}:{r.pos2}",
            )  # fmt: skip
        if j > k:
            drop.add(j)
    return drop
