"""The genome build and contig names of a VCF against its manifest: header checks.

A submission whose build or contig naming does not match its manifest is refused
(DESIGN, "Variant input"): the header's ``##reference``/``assembly=`` and the lengths of
its ``##contig`` lines tell GRCh37 from GRCh38; ``chr``-prefixed names are UCSC's.
"""

from __future__ import annotations

from collections.abc import Sequence

from harmonise.errors import ContigError, GenomeBuildError
from harmonise.vcf.header import VcfHeader

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
