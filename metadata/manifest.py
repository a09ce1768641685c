"""The submission manifest: the mandatory metadata every dataset carries (format version 1).

A submission bundle is ``manifest.json`` plus the files it lists. The manifest says where
the data comes from (centre, data controller, legal basis), how it was produced (specimens,
assays and the genes they cover, platform, reference genome, pipeline fingerprint) and
under which consent (form version, DUO codes, embargo).

Versioning follows pyiceberg's table metadata: each version is a frozen pydantic model with
``format_version: Literal[n]``; :func:`validate_manifest` dispatches on ``format_version``
and wraps pydantic's errors in :class:`~metadata.errors.ManifestValidationError`, which lists
every problem at once with its field path and what to do. Cross-field invariants are named
functions in :data:`CROSS_FIELD_RULES`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import ErrorDetails

from metadata.errors import CrossFieldError, Issue, ManifestFileError, ManifestValidationError

#: Human messages for the patterns used below (pydantic's default repeats the regex).
PATTERN_HINTS: dict[str, str] = {}


def _pattern(regex: str, hint: str) -> str:
    PATTERN_HINTS[regex] = hint
    return regex


ID_RE = _pattern(
    r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$",
    "must be 1-128 characters: letters, digits, '_', '.', ':' or '-', starting with a letter "
    "or digit",
)
CENTRE_ID_RE = _pattern(
    r"^[A-Z][A-Z0-9-]{1,15}$",
    "must be 2-16 upper-case letters, digits or '-', starting with a letter (e.g. 'NKI')",
)
COUNTRY_RE = _pattern(r"^[A-Z]{2}$", "must be an ISO 3166-1 alpha-2 country code, e.g. 'NL'")
EMAIL_RE = _pattern(
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "must be an e-mail address such as 'dpo@centre.example'"
)
SHA256_RE = _pattern(r"^[0-9a-f]{64}$", "must be a SHA-256 digest: 64 lower-case hex digits")
FINGERPRINT_RE = _pattern(
    r"^sha256:[0-9a-f]{64}$",
    "must be 'sha256:' followed by 64 lower-case hex digits (from the pipeline's provenance.json)",
)
DUO_RE = _pattern(r"^DUO:[0-9]{7}$", "must be a DUO CURIE such as 'DUO:0000042'")
GENE_RE = _pattern(r"^[A-Z0-9][A-Za-z0-9-]*$", "must be an HGNC gene symbol such as 'BRAF'")
PATH_RE = _pattern(
    r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$",
    "must be a relative path inside the bundle, such as 'vcf/P1.vcf.gz' (no leading '/' or "
    "'.', no '..', letters, digits, '_', '.', '-' only)",
)
EDAM_RE = _pattern(r"^format_[0-9]{4}$", "must be an EDAM format id such as 'format_3016' (VCF)")

FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Centre(BaseModel):
    """The contributing centre."""

    model_config = FROZEN

    id: Annotated[str, Field(pattern=CENTRE_ID_RE, description="Network-wide centre id.")]
    name: Annotated[str, Field(min_length=1, description="Centre name.")]
    country: Annotated[
        str, Field(pattern=COUNTRY_RE, description="Country, ISO 3166-1 alpha-2 code.")
    ]


class DataController(BaseModel):
    """The data controller (GDPR Art. 4(7)) and who to contact about the dataset."""

    model_config = FROZEN

    name: Annotated[str, Field(min_length=1, description="Legal name of the data controller.")]
    contact_name: Annotated[str, Field(min_length=1, description="Contact person or office.")]
    contact_email: Annotated[str, Field(pattern=EMAIL_RE, description="Contact e-mail address.")]


LegalBasis = Literal["consent", "public_task", "legitimate_interests", "research_exemption"]


class Assay(BaseModel):
    """The sequencing assay; for panels, the genes or regions it covers.

    Coverage is the denominator of coverage-aware counts ("x of N patients whose assay
    covered BRAF"): a panel must say what it covers.
    """

    model_config = FROZEN

    type: Annotated[
        Literal["WGS", "WES", "panel"],
        Field(description="Whole genome, whole exome or targeted panel sequencing."),
    ]
    name: Annotated[str, Field(min_length=1, description="Assay or kit name, e.g. 'TSO500'.")]
    version: Annotated[str, Field(min_length=1, description="Assay or kit version.")]
    covered_genes: Annotated[
        tuple[Annotated[str, Field(pattern=GENE_RE)], ...] | None,
        Field(description="HGNC symbols of the genes the assay covers (panels)."),
    ] = None
    regions_bed: Annotated[
        str | None,
        Field(
            pattern=PATH_RE,
            description="Bundle path of a BED file of covered regions (0-based half-open "
            "start/end, as BED); it must be listed in `files`.",
        ),
    ] = None


class Sample(BaseModel):
    """One sequenced specimen (FHIR Specimen; mCODE has no specimen profile of its own)."""

    model_config = FROZEN

    specimen_id: Annotated[
        str, Field(pattern=ID_RE, description="Pseudonymous specimen id (made at the centre).")
    ]
    patient_id: Annotated[
        str, Field(pattern=ID_RE, description="Pseudonymous patient id (made at the centre).")
    ]
    role: Annotated[Literal["tumour", "normal"], Field(description="Tumour or normal specimen.")]
    sample_type: Annotated[
        Literal["FFPE", "fresh_frozen", "blood", "saliva", "cell_free_dna"],
        Field(description="How the specimen was preserved or what it is."),
    ]
    assay: Assay
    platform: Annotated[
        str, Field(min_length=1, description="Sequencing platform, e.g. 'Illumina NovaSeq 6000'.")
    ]
    collection_year: Annotated[
        int, Field(ge=1950, le=2100, description="Year of collection (year only).")
    ]
    matched_normal: Annotated[
        str | None,
        Field(description="For a tumour in a somatic dataset: specimen_id of its normal."),
    ] = None
    no_normal_reason: Annotated[
        str | None,
        Field(
            min_length=1,
            description="For a tumour without a matched normal: why (e.g. 'tumour-only panel').",
        ),
    ] = None
    vcf_sample: Annotated[
        str | None, Field(description="Sample column name in the VCF, if it differs.")
    ] = None


class Reference(BaseModel):
    """The reference genome the variants are called against."""

    model_config = FROZEN

    build: Annotated[Literal["GRCh37", "GRCh38"], Field(description="Genome build.")]
    contig_naming: Annotated[
        Literal["ensembl", "ucsc"],
        Field(description="Contig names: 'ensembl' (1, 2, X, MT) or 'ucsc' (chr1, chrX, chrM)."),
    ]
    sha256: Annotated[
        str | None, Field(pattern=SHA256_RE, description="SHA-256 of the reference FASTA.")
    ] = None


class Pipeline(BaseModel):
    """The pipeline that produced the results (from its ``provenance.json``)."""

    model_config = FROZEN

    id: Annotated[str, Field(min_length=1, description="Pipeline id, e.g. 'oncolake/dna_seq'.")]
    version: Annotated[str, Field(min_length=1, description="Pipeline version.")]
    fingerprint: Annotated[
        str,
        Field(
            pattern=FINGERPRINT_RE,
            description="Digest of workflow code + tool versions + reference checksum + "
            "parameters.",
        ),
    ]
    harmonised: Annotated[
        bool, Field(description="True when the pipeline ran with the locked tool versions.")
    ]
    tool_versions: Annotated[
        dict[str, str], Field(description="Version of each tool the pipeline ran.")
    ] = Field(default_factory=dict)


#: Bundle folders of the pipeline's somatic results beyond small variants (CONTRACT23), the
#: file name endings each holds, and the data type a file there declares.
RESULT_FOLDERS: dict[str, tuple[tuple[str, ...], str]] = {
    "structural": ((".vcf.gz",), "structural_variants"),
    "copy_number": ((".segments.tsv", ".genes.tsv"), "copy_number"),
    "biomarkers": ((".tmb_msi.json",), "biomarkers"),
}


class FileEntry(BaseModel):
    """One file of the bundle with its checksum."""

    model_config = FROZEN

    path: Annotated[str, Field(pattern=PATH_RE, description="Path inside the bundle.")]
    sha256: Annotated[str, Field(pattern=SHA256_RE, description="SHA-256 of the file.")]
    size: Annotated[int, Field(ge=0, description="Size in bytes.")]
    format: Annotated[
        str,
        Field(
            pattern=EDAM_RE,
            description="EDAM format id: format_3016 VCF, format_3584 bcf, format_3003 BED, "
            "format_3464 JSON, format_3752 CSV/TSV (ndjson FHIR: format_3464).",
        ),
    ]
    specimen_id: Annotated[
        str | None,
        Field(
            pattern=ID_RE,
            description="For a pipeline result file (structural/<name>.vcf.gz, "
            "copy_number/<name>.segments.tsv or .genes.tsv, biomarkers/<name>.tmb_msi.json): "
            "the tumour specimen it was computed on (a specimen_id of samples).",
        ),
    ] = None


DataType = Literal[
    "variants", "clinical", "consent", "qc", "structural_variants", "copy_number", "biomarkers"
]


class ManifestV1(BaseModel):
    """Submission manifest, format version 1: every field is mandatory unless noted."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        title="oncolake submission manifest v1",
    )

    format_version: Literal[1] = Field(description="Version of this manifest format.")
    dataset_id: Annotated[
        str,
        Field(pattern=ID_RE, description="Dataset id; a corrected bundle reuses it."),
    ]
    title: Annotated[str, Field(min_length=1, description="Human-readable dataset title.")]
    centre: Centre
    data_controller: DataController
    legal_basis: Annotated[
        LegalBasis,
        Field(
            description="GDPR legal basis of the processing: 'consent' (Art. 6(1)(a) and "
            "9(2)(a)), 'public_task' (Art. 6(1)(e)), 'legitimate_interests' (Art. 6(1)(f)), "
            "'research_exemption' (Art. 9(2)(j))."
        ),
    ]
    data_types: Annotated[
        tuple[DataType, ...],
        Field(min_length=1, description="Data types present in the bundle."),
    ]
    analysis: Annotated[
        Literal["somatic", "germline", "none"],
        Field(description="Variant analysis: somatic (tumour/normal), germline, or none."),
    ]
    samples: Annotated[
        tuple[Sample, ...], Field(description="Every sequenced specimen of the dataset.")
    ] = ()
    reference: Reference | None = Field(
        default=None, description="Reference genome; required when variants are present."
    )
    pipeline: Pipeline | None = Field(
        default=None, description="Pipeline; required when variants are present."
    )
    consent_form_version: Annotated[
        str, Field(min_length=1, description="Version of the consent form the patients signed.")
    ]
    duo_codes: Annotated[
        tuple[Annotated[str, Field(pattern=DUO_RE)], ...],
        Field(
            min_length=1,
            description="DUO (Data Use Ontology, GA4GH) CURIEs of the dataset's data-use "
            "conditions: permissions such as DUO:0000042 (GRU) and modifiers.",
        ),
    ]
    embargo_until: dt.date | None = Field(
        default=None, description="ISO date before which the dataset is not released."
    )
    files: Annotated[
        tuple[FileEntry, ...], Field(min_length=1, description="Every file of the bundle.")
    ]

    @model_validator(mode="after")
    def _cross_field_rules(self) -> ManifestV1:
        issues = [issue for rule in CROSS_FIELD_RULES for issue in rule(self)]
        if issues:
            raise CrossFieldError(issues)
        return self


# -- cross-field rules: each returns the issues it finds ------------------------------------


def specimen_ids_are_unique(m: ManifestV1) -> list[Issue]:
    """Each specimen id appears once."""
    seen: set[str] = set()
    out: list[Issue] = []
    for i, s in enumerate(m.samples):
        if s.specimen_id in seen:
            out.append(
                Issue(
                    f"samples[{i}].specimen_id",
                    f"specimen {s.specimen_id!r} is listed twice; give each specimen one entry",
                )
            )
        seen.add(s.specimen_id)
    return out


def somatic_tumours_have_normals(m: ManifestV1) -> list[Issue]:
    """In a somatic dataset each tumour names its matched normal, or says why it has none."""
    if m.analysis != "somatic":
        return []
    by_id = {s.specimen_id: s for s in m.samples}
    out: list[Issue] = []
    for i, s in enumerate(m.samples):
        if s.role != "tumour":
            continue
        if s.matched_normal is None:
            if s.no_normal_reason is None:
                out.append(
                    Issue(
                        f"samples[{i}].matched_normal",
                        f"tumour {s.specimen_id!r} of a somatic dataset has no matched normal; "
                        "set matched_normal to the normal's specimen_id, or no_normal_reason "
                        "to say why there is none",
                    )
                )
            continue
        normal = by_id.get(s.matched_normal)
        if normal is None or normal.role != "normal":
            out.append(
                Issue(
                    f"samples[{i}].matched_normal",
                    f"{s.matched_normal!r} is not a normal specimen of this manifest; list it "
                    "in samples with role 'normal'",
                )
            )
        elif normal.patient_id != s.patient_id:
            out.append(
                Issue(
                    f"samples[{i}].matched_normal",
                    f"normal {s.matched_normal!r} belongs to patient {normal.patient_id!r}, "
                    f"not to {s.patient_id!r}; match each tumour with its own patient's normal",
                )
            )
    return out


def variants_need_samples_reference_and_pipeline(m: ManifestV1) -> list[Issue]:
    """A dataset with variants lists its samples, reference genome and pipeline."""
    if "variants" not in m.data_types:
        return []
    out: list[Issue] = []
    if not m.samples:
        out.append(Issue("samples", "variants are present but no sample is listed; add them"))
    if m.reference is None:
        out.append(
            Issue("reference", "variants are present: give the reference build and contig naming")
        )
    if m.pipeline is None:
        out.append(
            Issue(
                "pipeline",
                "variants are present: give the pipeline (fill it from the pipeline's "
                "provenance.json with metadata.provenance.apply_provenance)",
            )
        )
    if m.analysis == "none":
        out.append(Issue("analysis", "variants are present: say 'somatic' or 'germline'"))
    return out


def panel_assays_declare_coverage(m: ManifestV1) -> list[Issue]:
    """A panel assay lists its covered genes or a BED file of its regions."""
    return [
        Issue(
            f"samples[{i}].assay",
            f"panel {s.assay.name!r} does not say what it covers; set covered_genes (HGNC "
            "symbols) or regions_bed (a BED file in the bundle)",
        )
        for i, s in enumerate(m.samples)
        if s.assay.type == "panel" and not s.assay.covered_genes and s.assay.regions_bed is None
    ]


def bundle_paths_are_listed_once(m: ManifestV1) -> list[Issue]:
    """File paths are unique and every BED file an assay names is in ``files``."""
    out: list[Issue] = []
    paths: set[str] = set()
    for i, f in enumerate(m.files):
        if f.path in paths:
            out.append(Issue(f"files[{i}].path", f"{f.path!r} is listed twice; list it once"))
        paths.add(f.path)
    for i, s in enumerate(m.samples):
        bed = s.assay.regions_bed
        if bed is not None and bed not in paths:
            out.append(
                Issue(
                    f"samples[{i}].assay.regions_bed",
                    f"{bed!r} is not in files; add it with its sha256",
                )
            )
    return out


def result_files_name_their_tumour(m: ManifestV1) -> list[Issue]:
    """A pipeline result file (structural/, copy_number/, biomarkers/) is named as
    CONTRACT23 says, names the tumour specimen it was computed on, at most one of each
    kind per specimen, and its data type is declared."""
    tumours = {s.specimen_id for s in m.samples if s.role == "tumour"}
    out: list[Issue] = []
    seen: dict[tuple[str, str], str] = {}
    undeclared: list[str] = []
    for i, f in enumerate(m.files):
        folder = f.path.split("/", 1)[0] if "/" in f.path else ""
        kinds = RESULT_FOLDERS.get(folder)
        if kinds is None:
            if f.specimen_id is not None:
                out.append(
                    Issue(
                        f"files[{i}].specimen_id",
                        "only pipeline result files (structural/, copy_number/, biomarkers/) "
                        "name a specimen; remove it",
                    )
                )
            continue
        endings, data_type = kinds
        ending = next((e for e in endings if f.path.endswith(e)), None)
        if ending is None or f.path.count("/") != 1:
            out.append(
                Issue(
                    f"files[{i}].path",
                    f"{f.path!r}: files in {folder}/ are named {folder}/<name>"
                    f"{' or <name>'.join(endings)} (CONTRACT23)",
                )
            )
            continue
        if f.specimen_id is None or f.specimen_id not in tumours:
            out.append(
                Issue(
                    f"files[{i}].specimen_id",
                    f"{f.path!r} must name the tumour specimen it was computed on (a "
                    f"tumour specimen_id of samples); got {f.specimen_id!r}",
                )
            )
        else:
            key = (f.specimen_id, ending)
            if key in seen:
                out.append(
                    Issue(
                        f"files[{i}].path",
                        f"{f.path!r}: specimen {f.specimen_id!r} already has {seen[key]!r}; "
                        "one file of each kind per specimen",
                    )
                )
            seen[key] = f.path
        if data_type not in m.data_types and data_type not in undeclared:
            undeclared.append(data_type)
            out.append(
                Issue("data_types", f"{f.path!r} is present: add {data_type!r} to data_types")
            )
    return out


def years_are_not_in_the_future(m: ManifestV1) -> list[Issue]:
    """Collection years are not later than this year."""
    this_year = dt.date.today().year
    return [
        Issue(
            f"samples[{i}].collection_year",
            f"{s.collection_year} is in the future; give the year the specimen was collected",
        )
        for i, s in enumerate(m.samples)
        if s.collection_year > this_year
    ]


CROSS_FIELD_RULES: tuple[Callable[[ManifestV1], list[Issue]], ...] = (
    specimen_ids_are_unique,
    somatic_tumours_have_normals,
    variants_need_samples_reference_and_pipeline,
    panel_assays_declare_coverage,
    bundle_paths_are_listed_once,
    result_files_name_their_tumour,
    years_are_not_in_the_future,
)

#: The top-level fields each cross-field rule reads. When a manifest also has bad fields,
#: the rules whose fields are all valid still run (on those fields alone), so that one
#: answer lists every problem; a rule reading a bad field waits for it to be fixed.
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    "specimen_ids_are_unique": ("samples",),
    "somatic_tumours_have_normals": ("analysis", "samples"),
    "variants_need_samples_reference_and_pipeline": (
        "data_types",
        "samples",
        "reference",
        "pipeline",
        "analysis",
    ),
    "panel_assays_declare_coverage": ("samples",),
    "bundle_paths_are_listed_once": ("files", "samples"),
    "result_files_name_their_tumour": ("files", "samples", "data_types"),
    "years_are_not_in_the_future": ("samples",),
}

Manifest = ManifestV1
#: Every manifest format version and its model.
MANIFEST_VERSIONS: dict[int, type[ManifestV1]] = {1: ManifestV1}
CURRENT_FORMAT_VERSION = 1


# -- validation ----------------------------------------------------------------------------


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    given = err.get("input")
    if kind == "missing":
        return "required field is missing; add it (`oncolake metadata schema` documents it)"
    if kind == "extra_forbidden":
        return (
            "unknown field; remove it or fix its spelling (`oncolake metadata schema` lists "
            "the allowed fields)"
        )
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
        return f"{hint}; got {given!r}"
    if kind == "too_short" and isinstance(given, list | tuple):
        return f"must list at least {ctx.get('min_length')} item(s); got {given!r}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}; got {given!r}"
    msg = err["msg"]
    return f"{msg[0].lower()}{msg[1:]}; got {given!r}" if given is not None else msg


def _required_parts(loc: tuple[int | str, ...]) -> list[str]:
    """The required fields of the object at ``loc`` of a manifest, if it is one."""
    model: type[BaseModel] = ManifestV1
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        inner = [a for a in getattr(ann, "__args__", (ann,)) if a not in (type(None), Ellipsis)]
        found = inner[0] if len(inner) == 1 else None
        if not (isinstance(found, type) and issubclass(found, BaseModel)):
            return []
        model = found
    return [n for n, f in model.model_fields.items() if f.is_required()]


def issues_of(exc: ValidationError) -> list[Issue]:
    """Every problem in a pydantic ``ValidationError`` as :class:`Issue` objects."""
    out: list[Issue] = []
    for err in exc.errors():
        error = (err.get("ctx") or {}).get("error")
        if isinstance(error, CrossFieldError):
            prefix = _path(err["loc"])
            out += [
                Issue(f"{prefix}.{i.path}" if prefix else i.path, i.message) for i in error.issues
            ]
        else:
            message = _message(err)
            parts = _required_parts(err["loc"]) if err["type"] == "missing" else []
            if parts:
                message = (
                    f"required field is missing; add it, an object with {', '.join(parts)} "
                    "(`oncolake metadata schema` documents it)"
                )
            out.append(Issue(_path(err["loc"]), message))
    return out


#: What ``oncolake submit`` fills into a draft manifest: checked in a draft only if given.
DRAFT_FILLED = ("files", "pipeline", "reference")
#: Sample fields holding the centre's local ids in a draft (submit pseudonymises them).
DRAFT_LOCAL_IDS = ("specimen_id", "patient_id", "matched_normal")


def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    field = model.model_fields[name]
    ann: Any = field.annotation
    if field.metadata:
        ann = Annotated[(ann, *field.metadata)]
    return TypeAdapter(ann)


def _rules_on_valid_fields(
    model: type[ManifestV1], data: Mapping[str, Any], bad: set[str]
) -> list[Issue]:
    """The cross-field rules whose fields are all valid, run on those fields alone."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in bad:
            continue
        if name in data:
            try:
                values[name] = _field_adapter(model, name).validate_python(data[name])
            except ValidationError:  # valid inside the model only (never expected)
                continue
        elif not field.is_required():
            values[name] = field.get_default(call_default_factory=True)
    partial = model.model_construct(**values)
    out: list[Issue] = []
    for rule in CROSS_FIELD_RULES:
        if all(f in values for f in RULE_FIELDS[rule.__name__]):
            out += rule(partial)
    return out


def manifest_issues(data: Any) -> list[Issue]:
    """Every problem of a manifest (a parsed JSON object), in one list: each missing or bad
    field with its path, then the cross-field rules that its valid fields allow to run.
    Empty when the manifest is valid."""
    if not isinstance(data, Mapping):
        return [Issue("", f"a manifest is a JSON object; got {type(data).__name__}")]
    model = ManifestV1
    out: list[Issue] = []
    version = data.get("format_version")
    if "format_version" not in data:
        out.append(
            Issue(
                "format_version",
                f'required field is missing; add it ("format_version": '
                f"{CURRENT_FORMAT_VERSION}, the version this oncolake writes)",
            )
        )
    elif (
        not isinstance(version, int)
        or isinstance(version, bool)
        or version not in (MANIFEST_VERSIONS)
    ):
        known = ", ".join(str(v) for v in MANIFEST_VERSIONS)
        out.append(
            Issue(
                "format_version",
                f"unknown format version {version!r}; this oncolake reads {known}",
            )
        )
    else:
        model = MANIFEST_VERSIONS[version]
    try:
        model.model_validate(dict(data))
    except ValidationError as exc:
        issues = [i for i in issues_of(exc) if i.path != "format_version"]
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        out += issues
        if bad:  # field errors stopped the model's own cross-field check: run what can run
            out += _rules_on_valid_fields(model, data, bad)
    return out


def validate_manifest(data: Any, where: str = "manifest") -> ManifestV1:
    """Validate a manifest (a parsed JSON object); raise with every problem at once.

    ``where`` names the source (a file path) in the error message.
    """
    issues = manifest_issues(data)
    if issues:
        raise ManifestValidationError(where, issues)
    return MANIFEST_VERSIONS[data["format_version"]].model_validate(dict(data))


def _filled_by_submit(issue: Issue) -> bool:
    if issue.path in DRAFT_FILLED:
        return True
    m = re.fullmatch(r"samples\[\d+\]\.(\w+)", issue.path)
    return m is not None and m.group(1) in DRAFT_LOCAL_IDS and "must be" in issue.message


def validate_draft(data: Any, where: str = "draft manifest") -> None:
    """Validate a draft manifest, the one a centre writes for ``oncolake submit``: as
    :func:`validate_manifest`, except that what submit fills in may be absent
    (:data:`DRAFT_FILLED`: ``files``, and ``pipeline`` and ``reference`` from the
    pipeline's provenance.json) and the samples' ids are the centre's local ids, which
    submit replaces with pseudonyms. Whatever is given is checked."""
    issues = [i for i in manifest_issues(data) if not _filled_by_submit(i)]
    if issues:
        raise ManifestValidationError(where, issues)


def load_json(path: str | Path) -> Any:
    """Read a JSON file, refusing a missing file or bad JSON in one line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestFileError(f"{p}: no such file; give the path of manifest.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestFileError(f"{p}: cannot be read as UTF-8 text ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestFileError(
            f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:  # json's parser recurses per level: "[[[[…" of 100,000
        raise ManifestFileError(f"{p}: JSON nested too deeply to read") from None


def load_manifest(path: str | Path) -> ManifestV1:
    """Read and validate ``manifest.json``."""
    return validate_manifest(load_json(path), where=str(Path(path)))


def manifest_json(manifest: ManifestV1) -> bytes:
    """The canonical JSON of a manifest (sorted keys, no spaces): what its digest covers."""
    data = manifest.model_dump(mode="json", exclude_none=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_digest(manifest: ManifestV1) -> str:
    """SHA-256 (hex) of :func:`manifest_json`: the submission id and the tags' metadata digest."""
    return hashlib.sha256(manifest_json(manifest)).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the current manifest version."""
    schema = ManifestV1.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://oncolake.org/schemas/manifest.v1.schema.json"
    return schema


SCHEMA_PATH = Path(__file__).parent / "schemas" / "manifest.v1.schema.json"


def schema_text() -> str:
    """The committed schema file's expected content (see ``tests/metadata``)."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
