"""Errors of the harmonise package: small named classes, one docstring each.

Every class derives from :class:`HarmoniseError` (a ``ValueError``), so the command line
prints the message as one line and the API answers 4xx with the same words.
"""


class HarmoniseError(ValueError):
    """Base class of harmonise/ errors; the message says what, where and how to fix it."""


class LakeConfigError(HarmoniseError):
    """The lake cannot be opened with the given catalog URL or warehouse."""


class LakeNotInitialisedError(HarmoniseError):
    """The lake tables do not exist yet (run ``oncolake lake init``)."""


class SubmissionError(HarmoniseError):
    """A submission cannot be committed as given (rows of the wrong shape, ids missing)."""


class CommitConflictError(HarmoniseError):
    """Concurrent commits kept conflicting after every retry."""


class UnknownVersionError(HarmoniseError):
    """A lake version or snapshot id that the lake does not hold (or no longer holds)."""


class TamperedFileError(HarmoniseError):
    """A data file's signed tags are missing or do not verify; the file is refused."""


# -- ingest: bundles, VCF, FHIR, linking, pseudonymisation (harmonise.bundle, .vcf, .fhir,
# .ingest, .pseudonymise, .verify) ----------------------------------------------------------


class BundleError(HarmoniseError):
    """A submission bundle cannot be read: missing manifest, missing or extra files."""


class ChecksumError(BundleError):
    """A bundle file's SHA-256 or size differs from the manifest: it changed or was cut short."""


class VcfError(HarmoniseError):
    """A VCF/BCF file cannot be ingested; the message names the file, line/record and field."""


class VcfFormatError(VcfError):
    """A VCF/BCF file is malformed (header, record, truncated or not VCF at all)."""


class GenomeBuildError(VcfError):
    """A VCF's genome build (contig lengths or ``##reference``) differs from the manifest."""


class ContigError(VcfError):
    """A VCF record's contig is not a contig of the manifest's reference (naming or build)."""


class ReferenceMismatchError(VcfError):
    """A VCF REF allele differs from the configured reference genome."""


class SampleLinkError(HarmoniseError):
    """A VCF sample, specimen or resource cannot be linked to a manifest specimen/patient."""


class FhirError(HarmoniseError):
    """A clinical (FHIR R4 / mCODE) file or resource is invalid; names file, entry and field."""


class UnknownPatientError(FhirError):
    """A FHIR resource references a patient that the submission does not contain."""


class ConsentMissingError(HarmoniseError):
    """A patient of the submission has no valid consent resource."""


class ConsentWithdrawnError(HarmoniseError):
    """A patient of the submission has withdrawn (or never given) consent."""


class DirectIdentifierError(HarmoniseError):
    """Direct identifiers (names, addresses, telecom, exact dates, notes) found in an export."""


class VerifyError(HarmoniseError):
    """Committed lake rows differ from the source files re-read by an independent reader."""


class ResultFileError(HarmoniseError):
    """A pipeline result file (copy-number TSV, TMB/MSI JSON) is malformed; the message
    names the file, the line or field, and what is expected."""
