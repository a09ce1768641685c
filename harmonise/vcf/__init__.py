"""VCF/BCF → normalised ``variants`` rows as Arrow tables: streaming, validated, columnar.

The package by stage, in the order a file goes through it:

* :mod:`~harmonise.vcf.source`: what a file is (BCF, text, gzip/BGZF), where its header
  ends, whether it is whole, its bytes for the readers;
* :mod:`~harmonise.vcf.header`: the header (:class:`VcfHeader`), by a strict Python
  grammar or by htslib; :mod:`~harmonise.vcf.reference`: its build and contig names
  against the manifest;
* record engines, each yielding exactly :data:`RAW_SCHEMA` (:mod:`~harmonise.vcf.records`,
  the contract): the Arrow text engine (:mod:`~harmonise.vcf.text`, with the FORMAT
  decoding in :mod:`~harmonise.vcf.samples`) for text VCFs, and htslib
  (:mod:`~harmonise.vcf.htslib`: pysam in-process, ``bcftools query`` streamed into Arrow)
  for BCF, a reference check and whatever the text engine leaves to it;
* :mod:`~harmonise.vcf.normalise`: raw rows → ``variants`` rows (alleles checked and
  split, depths and VAF, variant class), with :mod:`~harmonise.vcf.annotate` choosing one
  consequence from ``BCSQ``/``CSQ``/``ANN``;
* the readers: :func:`read_variants` (one file, batch by batch) and :func:`iter_many` /
  :func:`read_many` (:mod:`~harmonise.vcf.many`: a bundle's files, small ones parsed
  together);
* :mod:`~harmonise.vcf.arrow`: the byte-level Arrow helpers the stages share.

Coordinates: ``pos`` is 1-based (VCF POS). Raw rows carry ``rec``, the 0-based record
number in the file, so that every error names the line (``header_lines + rec + 1`` for
text VCF) and the record (``chrom:pos``).
"""

from harmonise.vcf.header import VcfHeader, read_header
from harmonise.vcf.htslib import bcftools_path
from harmonise.vcf.many import FilePiece, VcfSource, iter_many, read_many
from harmonise.vcf.read import read_variants
from harmonise.vcf.records import RAW_SCHEMA, Engine, ReadStats, SampleRoles
from harmonise.vcf.reference import BUILD_LENGTHS, check_reference, contig_naming

__all__ = [
    "BUILD_LENGTHS",
    "RAW_SCHEMA",
    "Engine",
    "FilePiece",
    "ReadStats",
    "SampleRoles",
    "VcfHeader",
    "VcfSource",
    "bcftools_path",
    "check_reference",
    "contig_naming",
    "iter_many",
    "read_header",
    "read_many",
    "read_variants",
]
