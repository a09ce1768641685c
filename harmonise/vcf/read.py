"""Reading one VCF/BCF: the engine chosen for the file, its rows normalised."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from harmonise.errors import VcfError
from harmonise.vcf.header import VcfHeader, read_header
from harmonise.vcf.htslib import iter_raw
from harmonise.vcf.normalise import normalise
from harmonise.vcf.records import Engine, ReadStats, SampleRoles
from harmonise.vcf.text import _text_eligible, _variants_text


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
    naming: str | None = None,
) -> Iterator[pa.Table]:
    """Stream normalised ``variants`` columns of one VCF/BCF, batch by batch.

    ``roles`` names the tumour and normal sample columns (default: the first sample is
    the tumour, the second the normal). The caller adds the per-file columns (patient,
    specimens, origin, source, build, fingerprint). ``engine``: ``auto`` (the text engine
    for text VCFs, htslib for BCF, for a reference check and for whatever the text engine
    leaves to it), ``text`` (the text engine only), ``pysam`` (``cyvcf2`` is its old name;
    in-process htslib) or ``bcftools`` (``bcftools query`` streamed into Arrow).
    ``naming``: the manifest's contig naming (``ensembl``/``ucsc``); with it, the records
    are held to ``build``'s chromosome names and lengths even where the header declares
    no contigs (:func:`~harmonise.vcf.reference.contig_rules`).
    """
    header = header or read_header(path)
    roles = _roles_for(header, roles)
    st = stats if stats is not None else ReadStats()
    if _text_eligible(header, roles, engine, reference_fasta):
        yield from _variants_text(header, roles, build, st, engine == "text", naming)
        return
    for raw in iter_raw(header, roles, st, engine, reference_fasta):
        if raw.num_rows:
            yield normalise(raw, header, build, st, naming)
