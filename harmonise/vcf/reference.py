"""The genome build and contig names of a VCF against its manifest.

A submission whose build or contig naming does not match its manifest is refused
(DESIGN, "Variant input"): the header's ``##reference``/``assembly=`` and the lengths of
its ``##contig`` lines tell GRCh37 from GRCh38; ``chr``-prefixed names are UCSC's
(:func:`check_reference`). The records are held to the same rules whether or not the
header has ``##contig`` lines (:class:`ContigRules`): a primary chromosome named the other
way is refused, and POS may not pass the contig's length (the header's, and the build's).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harmonise.errors import ContigError, GenomeBuildError
from harmonise.vcf.header import VcfHeader


def _build_lengths() -> dict[str, dict[str, int]]:
    """The builds' primary chromosome lengths (``harmonise/data/genome_builds.tsv``)."""
    text = (Path(__file__).parents[1] / "data" / "genome_builds.tsv").read_text()
    rows = [ln.split("\t") for ln in text.splitlines() if ln and not ln.startswith("#")]
    builds = rows[0][1:]
    return {b: {r[0]: int(r[1 + i]) for r in rows[1:]} for i, b in enumerate(builds)}


#: Primary chromosome lengths per build (Ensembl names), to tell GRCh37 from GRCh38 and
#: to bound POS.
BUILD_LENGTHS: dict[str, dict[str, int]] = _build_lengths()


def contig_naming(name: str) -> str:
    """``ucsc`` for ``chr``-prefixed names, else ``ensembl``."""
    return "ucsc" if name.startswith("chr") else "ensembl"


#: Scaffold and decoy names in Ensembl's (and GATK b37's) style; UCSC writes these with a
#: ``chr`` prefix (``chrUn_gl000220``, ``chrUn_KI270302v1``).
_ENSEMBL_SCAFFOLD = (
    r"^(?:(?:GL|KI|JH|KN|KQ|KV|KZ|ML|MU)[0-9]+\.[0-9]+|hs37d5|NC_[0-9]+(?:\.[0-9]+)?)$"
)


def other_naming(naming: str | None) -> str | None:
    """A regex of the contig names written in the other naming than ``naming`` (None: no
    naming stated): under ``ensembl`` every ``chr``-prefixed name; under ``ucsc`` the
    Ensembl-style scaffold and decoy names (the primary chromosomes are the rules'
    ``wrong_names``)."""
    if naming == "ensembl":
        return "^chr"
    if naming == "ucsc":
        return _ENSEMBL_SCAFFOLD
    return None


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
    wrong = other_naming(naming)
    full: list[str] = []  # primaries (not MT, equal in both builds) of the build's length
    cut: list[tuple[str, int, int]] = []  # primaries shorter than the build's, of no build
    for name, length in header.contigs.items():
        if wrong is not None and re.search(wrong, name):
            raise ContigError(
                f"{header.path}, header ##contig=<ID={name}>: {naming} contig names were "
                f"declared in the manifest (reference.contig_naming) but this is a "
                f"{'ucsc' if naming == 'ensembl' else 'ensembl'} name; rename the contigs or "
                "fix the manifest"
            )
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
            if which is None and length < expected:
                # shorter than the build's and of no build: a reference cut to some regions
                # (test and demo references, targeted region files), which says nothing of
                # the build; the records are still held to it (ContigRules)
                cut.append((name, length, expected))
                continue
            if which is None:
                raise GenomeBuildError(
                    f"{header.path}, header ##contig=<ID={name},length={length}>: the length "
                    f"is that of no known build and longer than {build}'s ({expected}), so "
                    f"the VCF was not called against {build} as the manifest says; submit "
                    f"variants called against {build}, or correct reference.build"
                )
            raise GenomeBuildError(
                f"{header.path}, header ##contig=<ID={name},length={length}>: the length is "
                f"that of {which}, not of {build} ({expected}) as the manifest says; submit "
                f"variants called against {build}, or correct reference.build"
            )
        elif length is not None and length == expected and _ensembl(name) != "MT":
            full.append(name)
    if full and cut:
        name, length, expected = cut[0]
        raise GenomeBuildError(
            f"{header.path}, header ##contig=<ID={name},length={length}>: shorter than "
            f"{build}'s ({expected}) beside ##contig=<ID={full[0]}> of {build}'s full length: "
            "a header of the whole build has no cut chromosome (contig lines of two "
            "references?); use the header of the reference the variants were called against"
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


#: Positions past a contig's length N: N + 1 is VCF's telomere position, beyond it nothing.
_TELOMERE = 1


@dataclass(frozen=True)
class ContigRules:
    """What the records' CHROM and POS must satisfy (:func:`contig_rules`)."""

    #: CHROM values refused: the build's primary chromosomes in the other naming.
    wrong_names: frozenset[str]
    #: A regex of the other naming's names (:func:`other_naming`), also refused.
    wrong_pattern: str | None
    #: The longest a contig is (the header's ``length=``, else the build's); POS may be at
    #: most that + 1 (the telomere).
    lengths: Mapping[str, int]
    naming: str | None

    @property
    def empty(self) -> bool:
        return not self.wrong_names and not self.lengths and self.wrong_pattern is None


def contig_rules(header: VcfHeader, build: str, naming: str | None) -> ContigRules:
    """The rules for ``header``'s records: the declared contig lengths, and with the
    manifest's ``naming`` (None: not stated) also the build's chromosome names and
    lengths, which apply whether or not the header has ``##contig`` lines."""
    lengths: dict[str, int] = {}
    wrong: set[str] = set()
    known = BUILD_LENGTHS.get(build) if naming is not None else None
    if known is not None:
        for name, length in known.items():
            ucsc = "chr" + name
            right, other = (name, ucsc) if naming == "ensembl" else (ucsc, name)
            lengths[right] = length
            wrong.add(other)
    for name, declared in header.contigs.items():
        if declared is not None:
            lengths[name] = min(declared, lengths.get(name, declared))
    return ContigRules(frozenset(wrong), other_naming(naming), lengths, naming)


def contig_problem(rules: ContigRules, chrom: str, pos: int) -> str | None:
    """Why a record at ``chrom``:``pos`` breaks ``rules`` (the field and the fix), or None."""
    wrong = chrom in rules.wrong_names
    if not wrong and rules.wrong_pattern is not None:
        wrong = re.search(rules.wrong_pattern, chrom) is not None
    if wrong:
        return (
            f"field CHROM: {chrom!r} is a {contig_naming(chrom)} name but the manifest "
            f"declares {rules.naming} contig names (reference.contig_naming); rename the "
            "contigs or fix the manifest"
        )
    length = rules.lengths.get(chrom)
    if length is not None and pos > length + _TELOMERE:
        return (
            f"field POS: {pos} is past the end of contig {chrom!r} ({length:,} bp); the "
            "record is not on the declared reference"
        )
    return None
