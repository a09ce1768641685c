"""The cohort definition: a versioned, frozen pydantic model (JSON in the API).

A definition is a tree of criteria combined with ``and`` / ``or`` / ``not``::

    {"format_version": 1,
     "criteria": {"type": "and", "criteria": [
        {"type": "variant", "gene": "BRAF", "protein_change": "V600E"},
        {"type": "tumour_type", "codes": ["BOWEL"]},
        {"type": "not", "criterion": {"type": "stage_group", "values": ["IV"]}}]}}

Leaves (each names what it selects; all fields of one leaf must hold for the same row,
e.g. the same variant or the same treatment):

* ``tumour_type`` – OncoTree codes, with their descendants unless ``descendants`` is false;
* ``variant`` – ``gene``, ``protein_change`` (``V600E``, ``p.V600E``, ``p.Val600Glu``,
  ``BRAF p.V600E``; ``V600*`` or ``V600`` = any change of residue 600; a stop-gain is
  written ``E1250Ter`` or ``p.Glu1250Ter``), ``consequence`` (SO terms),
  ``variant_class``, ``origin`` (somatic / germline);
* ``biomarker`` – ``marker`` with ``interpretation`` values and/or a numeric range
  (``min`` ≤ value ≤ ``max``), e.g. HER2 positive, MSI high, TMB ≥ 10;
* ``fusion`` – a gene fusion called by the pipeline: ``gene`` (any partner), ``gene`` and
  ``partner`` (either orientation), or ``gene`` written ``ETV6::NTRK3`` (5' then 3');
* ``structural_variant`` – a somatic structural variant called by the pipeline with a
  breakpoint in ``gene``, of one of ``sv_types`` (DEL, DUP, INV, INS, BND) if given;
* ``copy_number`` – ``gene`` with one of ``calls`` (amplification, gain, neutral, loss,
  deep_deletion; the calls are exclusive: a deep deletion is not also a loss);
* ``tmb`` – tumour mutational burden (mutations/Mb) in [``min``, ``max``], FHIR-reported
  or computed by the pipeline;
* ``msi`` – microsatellite status (MSI-H, MSI-L, MSS), FHIR-reported or the pipeline's;
* ``coverage`` – a tumour specimen's mean depth over ``gene`` (the pipeline's per-gene
  coverage, ``gene_coverage``) is at least ``min_depth``, e.g. BRAF ≥ 100×;
* ``stage_group`` – TNM stage groups; ``III`` includes ``IIIA``, ``IIIB`` …;
* ``treatment`` – ``drug`` and/or ``line_of_therapy``;
* ``age_at_diagnosis`` – inclusive range in years; ``sex``; ``centre``; ``dataset``;
* ``assay`` – assay types (WGS, WES, panel) and/or names; ``pipeline`` – fingerprints
  and/or harmonised; ``vital_status`` – alive or deceased.

An absent ``criteria`` selects every patient.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from catalog_api.discovery.errors import DefinitionError
from consent.tags import canonical_json
from harmonise.model import CONSEQUENCES, VARIANT_CLASSES

_Frozen = ConfigDict(frozen=True, extra="forbid")


class TumourType(BaseModel):
    """Patients with a diagnosis of one of these OncoTree types (and their descendants)."""

    model_config = _Frozen
    type: Literal["tumour_type"] = "tumour_type"
    codes: list[str] = Field(min_length=1, description="OncoTree codes, e.g. MEL, LUAD, BOWEL.")
    descendants: bool = Field(default=True, description="Include the codes' descendants.")


class Variant(BaseModel):
    """Patients with at least one variant matching every given field (the same variant)."""

    model_config = _Frozen
    type: Literal["variant"] = "variant"
    gene: str | None = Field(default=None, description="HGNC symbol, e.g. BRAF.")
    protein_change: str | None = Field(
        default=None, description="V600E, p.V600E, p.Val600Glu, BRAF p.V600E, V600* (any at 600)."
    )
    consequence: list[str] | None = Field(
        default=None, description="Sequence Ontology terms, e.g. missense_variant."
    )
    variant_class: list[str] | None = Field(
        default=None, description="SNV, MNV, insertion, deletion, indel."
    )
    origin: Literal["somatic", "germline"] | None = Field(default=None)
    #: The normalised form (set once, on validation; the raw fields stay as written, so
    #: that the definition's canonical JSON and digest are those of what the user sent),
    #: or the problems that prevent it.
    _target: VariantTarget | None = PrivateAttr(default=None)
    _problems: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _normalise(self) -> Variant:
        if not any(
            (self.gene, self.protein_change, self.consequence, self.variant_class, self.origin)
        ):
            raise ValueError(
                "a variant criterion needs at least one of gene, protein_change, consequence, "
                "variant_class, origin"
            )
        # values outside the vocabulary are reported with the lake's unknown values (the
        # engine's check: one 400 naming them all), not as a malformed model
        self._target, self._problems = _variant_target(self)
        return self

    @property
    def problems(self) -> tuple[str, ...]:
        """What is wrong with the criterion's values (an unreadable protein change, a gene
        that disagrees with it, terms outside the vocabulary); empty when it is usable."""
        return self._problems

    @property
    def target(self) -> VariantTarget:
        """The criterion normalised: upper-case gene (given or named in the protein change),
        parsed protein change, consequence and class sets checked against the vocabulary.
        :class:`DefinitionError` naming the :attr:`problems` if there are any."""
        if self._target is None:
            raise DefinitionError("; ".join(f"variant: {p}" for p in self._problems))
        return self._target


class Biomarker(BaseModel):
    """Patients with a result of ``marker`` matching the interpretation and/or range."""

    model_config = _Frozen
    type: Literal["biomarker"] = "biomarker"
    marker: str = Field(description="HER2, ER, PR, PD-L1, MSI, TMB …")
    interpretation: list[str] | None = Field(
        default=None, description="positive, negative, high, low, equivocal."
    )
    min: float | None = Field(default=None, description="Numeric value ≥ min (e.g. TMB ≥ 10).")
    max: float | None = Field(default=None, description="Numeric value ≤ max.")

    @model_validator(mode="after")
    def _something_asked(self) -> Biomarker:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


def _gene_symbol(text: str, field: str) -> str:
    g = text.strip().upper()
    if not _GENE.match(g):
        raise ValueError(f"{field} {text!r} is not an HGNC gene symbol (e.g. NTRK1, ERBB2)")
    return g


class Fusion(BaseModel):
    """Patients with a gene fusion of ``gene`` (with ``partner`` if given) called by the
    pipeline (``structural_variants.fusion``; FILTER PASS or none)."""

    model_config = _Frozen
    type: Literal["fusion"] = "fusion"
    gene: str = Field(description="HGNC symbol (NTRK1: any partner), or 5'::3' (ETV6::NTRK3).")
    partner: str | None = Field(default=None, description="The other gene, either orientation.")

    @model_validator(mode="after")
    def _genes(self) -> Fusion:
        if "::" in self.gene:
            if self.partner is not None:
                raise ValueError(
                    f"gene {self.gene!r} names both partners already; drop partner "
                    f"{self.partner!r} or write gene and partner as single symbols"
                )
            five, _, three = self.gene.partition("::")
            _gene_symbol(five, "gene")
            _gene_symbol(three, "gene")
        else:
            _gene_symbol(self.gene, "gene")
        if self.partner is not None:
            _gene_symbol(self.partner, "partner")
        return self

    def keys(self) -> tuple[str | None, tuple[str, ...]]:
        """``(gene, fusions)``: the gene of "any partner", else None and the ``A::B`` names
        that match (both orientations for gene + partner)."""
        g = self.gene.strip().upper()
        if "::" in g:
            five, _, three = g.partition("::")
            return None, (f"{five.strip()}::{three.strip()}",)
        if self.partner is None:
            return g, ()
        p = self.partner.strip().upper()
        return None, (f"{g}::{p}", f"{p}::{g}")


#: Structural variant types (VCF ``SVTYPE``; ``harmonise.structural.SV_TYPES``).
SvType = Literal["DEL", "DUP", "INV", "INS", "BND"]


class StructuralVariant(BaseModel):
    """Patients with a somatic structural variant (``structural_variants``: the pipeline's
    somatic calls; FILTER PASS or none) with a breakpoint in ``gene`` (``gene_a`` or
    ``gene_b``), of one of ``sv_types`` if given (any type when absent)."""

    model_config = _Frozen
    type: Literal["structural_variant"] = "structural_variant"
    gene: str = Field(description="HGNC symbol of a gene at either breakpoint, e.g. NTRK1.")
    sv_types: list[SvType] | None = Field(
        default=None, min_length=1, description="DEL, DUP, INV, INS, BND (absent: any type)."
    )

    @model_validator(mode="before")
    @classmethod
    def _upper_types(cls, data: Any) -> Any:
        kinds = data.get("sv_types") if isinstance(data, dict) else None
        if isinstance(kinds, list):
            data = {**data, "sv_types": [k.upper() if isinstance(k, str) else k for k in kinds]}
        return data

    @model_validator(mode="after")
    def _gene(self) -> StructuralVariant:
        _gene_symbol(self.gene, "gene")
        return self


CopyNumberCall = Literal["amplification", "gain", "neutral", "loss", "deep_deletion"]


class CopyNumber(BaseModel):
    """Patients whose gene-level copy-number call of ``gene`` is one of ``calls``."""

    model_config = _Frozen
    type: Literal["copy_number"] = "copy_number"
    gene: str = Field(description="HGNC symbol, e.g. ERBB2, CDKN2A.")
    calls: list[CopyNumberCall] = Field(
        min_length=1, description="amplification, gain, neutral, loss, deep_deletion."
    )

    @model_validator(mode="after")
    def _gene(self) -> CopyNumber:
        _gene_symbol(self.gene, "gene")
        return self


class Coverage(BaseModel):
    """Patients with a tumour specimen whose mean depth over ``gene`` (the pipeline's
    per-gene coverage: the gene's exons in the assay's regions) is at least ``min_depth``."""

    model_config = _Frozen
    type: Literal["coverage"] = "coverage"
    gene: str = Field(description="HGNC symbol, e.g. BRAF.")
    min_depth: float = Field(ge=0, description="Mean depth ≥ min_depth (e.g. 100).")

    @model_validator(mode="after")
    def _gene(self) -> Coverage:
        _gene_symbol(self.gene, "gene")
        return self


class Tmb(BaseModel):
    """Patients with a TMB result (mutations/Mb, FHIR or pipeline) in [min, max]."""

    model_config = _Frozen
    type: Literal["tmb"] = "tmb"
    min: float | None = Field(default=None, ge=0, description="TMB ≥ min (e.g. 10).")
    max: float | None = Field(default=None, ge=0, description="TMB ≤ max.")

    @model_validator(mode="after")
    def _range(self) -> Tmb:
        if self.min is None and self.max is None:
            raise ValueError("a tmb criterion needs min and/or max (mutations per megabase)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Msi(BaseModel):
    """Patients with a microsatellite-instability result of one of these statuses."""

    model_config = _Frozen
    type: Literal["msi"] = "msi"
    status: list[Literal["MSI-H", "MSI-L", "MSS"]] = Field(min_length=1)


#: How a result reads as an MSI status: (status, LOINC answer code, displays,
#: interpretation), weakest first (a row matching two reads as the later).
MSI_STATUS = (
    ("MSS", "LA26204-0", ["MSS", "STABLE", "MSI-S"], "negative"),
    ("MSI-L", "LA26202-4", ["MSI-L", "MSI-LOW"], "low"),
    ("MSI-H", "LA26203-2", ["MSI-H", "MSI-HIGH"], "high"),
)


class StageGroup(BaseModel):
    """Patients with a diagnosis in one of these TNM stage groups (``III`` ⊇ ``IIIA``)."""

    model_config = _Frozen
    type: Literal["stage_group"] = "stage_group"
    values: list[str] = Field(min_length=1, description="0, I, IA, II, III, IIIB, IV …")


class Treatment(BaseModel):
    """Patients who received ``drug`` (in line ``line_of_therapy`` if given)."""

    model_config = _Frozen
    type: Literal["treatment"] = "treatment"
    drug: str | None = Field(default=None, description="Harmonised drug name, e.g. trastuzumab.")
    line_of_therapy: int | None = Field(default=None, ge=1, le=20)

    @model_validator(mode="after")
    def _something_asked(self) -> Treatment:
        if self.drug is None and self.line_of_therapy is None:
            raise ValueError("a treatment criterion needs drug and/or line_of_therapy")
        return self


class AgeAtDiagnosis(BaseModel):
    """Patients diagnosed at an age within [min, max] years (inclusive)."""

    model_config = _Frozen
    type: Literal["age_at_diagnosis"] = "age_at_diagnosis"
    min: int | None = Field(default=None, ge=0, le=130)
    max: int | None = Field(default=None, ge=0, le=130)

    @model_validator(mode="after")
    def _range(self) -> AgeAtDiagnosis:
        if self.min is None and self.max is None:
            raise ValueError("an age_at_diagnosis criterion needs min and/or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Sex(BaseModel):
    """Patients of one of these administrative genders."""

    model_config = _Frozen
    type: Literal["sex"] = "sex"
    values: list[Literal["female", "male", "other", "unknown"]] = Field(min_length=1)


class Centre(BaseModel):
    """Patients contributed by one of these centres."""

    model_config = _Frozen
    type: Literal["centre"] = "centre"
    values: list[str] = Field(min_length=1, description="Centre ids (see /api/v1/datasets).")


class Dataset(BaseModel):
    """Patients of one of these datasets."""

    model_config = _Frozen
    type: Literal["dataset"] = "dataset"
    values: list[str] = Field(min_length=1, description="Dataset ids (see /api/v1/datasets).")


class Assay(BaseModel):
    """Patients with a specimen sequenced by one of these assay types and/or names."""

    model_config = _Frozen
    type: Literal["assay"] = "assay"
    assay_type: list[str] | None = Field(default=None, description="WGS, WES, panel.")
    assay_name: list[str] | None = Field(default=None, description="e.g. TSO500:1.0.")

    @model_validator(mode="after")
    def _something_asked(self) -> Assay:
        if not self.assay_type and not self.assay_name:
            raise ValueError("an assay criterion needs assay_type and/or assay_name")
        return self


class Pipeline(BaseModel):
    """Patients whose data came from one of these pipeline fingerprints / harmonised runs."""

    model_config = _Frozen
    type: Literal["pipeline"] = "pipeline"
    fingerprints: list[str] | None = Field(default=None, description="Pipeline fingerprints.")
    harmonised: bool | None = Field(default=None, description="Ran with the locked tools.")

    @model_validator(mode="after")
    def _something_asked(self) -> Pipeline:
        if not self.fingerprints and self.harmonised is None:
            raise ValueError("a pipeline criterion needs fingerprints and/or harmonised")
        return self


class VitalStatus(BaseModel):
    """Patients alive or deceased (as recorded)."""

    model_config = _Frozen
    type: Literal["vital_status"] = "vital_status"
    value: Literal["alive", "deceased"]


class And(BaseModel):
    """Every criterion holds."""

    model_config = _Frozen
    type: Literal["and"] = "and"
    criteria: list[Criterion] = Field(min_length=1)


class Or(BaseModel):
    """At least one criterion holds."""

    model_config = _Frozen
    type: Literal["or"] = "or"
    criteria: list[Criterion] = Field(min_length=1)


class Not(BaseModel):
    """The criterion does not hold."""

    model_config = _Frozen
    type: Literal["not"] = "not"
    criterion: Criterion


Leaf = (
    TumourType
    | Variant
    | Biomarker
    | Fusion
    | StructuralVariant
    | CopyNumber
    | Coverage
    | Tmb
    | Msi
    | StageGroup
    | Treatment
    | AgeAtDiagnosis
    | Sex
    | Centre
    | Dataset
    | Assay
    | Pipeline
    | VitalStatus
)
Criterion = Annotated[
    And
    | Or
    | Not
    | TumourType
    | Variant
    | Biomarker
    | Fusion
    | StructuralVariant
    | CopyNumber
    | Coverage
    | Tmb
    | Msi
    | StageGroup
    | Treatment
    | AgeAtDiagnosis
    | Sex
    | Centre
    | Dataset
    | Assay
    | Pipeline
    | VitalStatus,
    Field(discriminator="type"),
]
And.model_rebuild()
Or.model_rebuild()
Not.model_rebuild()

#: The criterion types, for error messages and the filtering-terms listing.
CRITERION_TYPES: tuple[str, ...] = (
    "and",
    "or",
    "not",
    "tumour_type",
    "variant",
    "biomarker",
    "fusion",
    "structural_variant",
    "copy_number",
    "tmb",
    "msi",
    "stage_group",
    "treatment",
    "age_at_diagnosis",
    "sex",
    "centre",
    "dataset",
    "assay",
    "pipeline",
    "vital_status",
)


class CohortDefinitionV1(BaseModel):
    """A cohort definition, format version 1."""

    model_config = _Frozen
    format_version: Literal[1] = 1
    criteria: Criterion | None = Field(default=None, description="Absent: every patient.")

    def canonical(self) -> bytes:
        """Canonical JSON (sorted keys, defaults dropped): identical definitions, same bytes."""
        return canonical_json(self.model_dump(mode="json", exclude_defaults=False))

    def digest(self) -> str:
        """SHA-256 of :meth:`canonical`, to name the definition in audits and refusals."""
        return hashlib.sha256(self.canonical()).hexdigest()

    def leaves(self) -> list[Leaf]:
        """Every leaf criterion, depth first."""
        out: list[Leaf] = []

        def walk(c: Any) -> None:
            if isinstance(c, And | Or):
                for x in c.criteria:
                    walk(x)
            elif isinstance(c, Not):
                walk(c.criterion)
            elif c is not None:
                out.append(c)

        walk(self.criteria)
        return out


#: The current definition model (a union across versions when version 2 comes).
CohortDefinition = CohortDefinitionV1


def describe_errors(exc: ValidationError, root: str = "definition") -> str:
    """One message naming every problem of a pydantic error, with its location."""
    problems = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"] if not _is_union_tag(p))
        path = f"{root}.{loc}" if loc else root
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown field {str(e['loc'][-1])!r}; remove it or fix its spelling"
        elif e["type"] == "union_tag_invalid":
            msg = (
                f"unknown criterion type {e.get('input', {}).get('type')!r}; "
                f"known: {', '.join(CRITERION_TYPES)}"
            )
        problems.append(f"{path}: {msg}")
    return "; ".join(dict.fromkeys(problems))


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in CRITERION_TYPES


def parse_definition(data: Any) -> CohortDefinition:
    """Validate a definition (parsed JSON); :class:`DefinitionError` names every problem."""
    try:
        return CohortDefinition.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(describe_errors(exc)) from None


# -- protein changes ---------------------------------------------------------------------

THREE_TO_ONE = {
    "Ala": "A",
    "Arg": "R",
    "Asn": "N",
    "Asp": "D",
    "Cys": "C",
    "Gln": "Q",
    "Glu": "E",
    "Gly": "G",
    "His": "H",
    "Ile": "I",
    "Leu": "L",
    "Lys": "K",
    "Met": "M",
    "Phe": "F",
    "Pro": "P",
    "Ser": "S",
    "Thr": "T",
    "Trp": "W",
    "Tyr": "Y",
    "Val": "V",
    "Ter": "*",
    "Sec": "U",
    "Xaa": "X",
}
_THREE = re.compile("|".join(THREE_TO_ONE))
_GENE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_SHORT = re.compile(r"^[A-Z*][0-9]+[A-Za-z0-9*_=]*$")


def parse_protein_change(text: str) -> tuple[str | None, str, bool]:
    """``(gene or None, protein change or prefix, is_prefix)`` of a protein-change query.

    ``BRAF p.V600E`` → ``("BRAF", "V600E", False)``; ``p.Val600Glu`` → ``(None, "V600E",
    False)``; ``V600*`` and ``V600`` → ``(None, "V600", True)``; ``E1250Ter`` → the exact
    stop gain ``E1250*``. Raises :class:`DefinitionError` naming the text when it is not one.
    """
    raw = text.strip()
    gene: str | None = None
    parts = raw.split()
    if len(parts) == 2 and _GENE.match(parts[0]):
        gene, raw = parts[0].upper(), parts[1]
    elif len(parts) > 2:
        raise DefinitionError(f"protein_change {text!r}: expected e.g. 'BRAF p.V600E' or 'V600E'")
    body = raw[2:] if raw.startswith("p.") else raw
    body = body.strip("()")
    prefix = body.endswith("*") and not _THREE.search(body)
    if prefix:
        body = body[:-1]
    body = _THREE.sub(lambda m: THREE_TO_ONE[m.group(0)], body)
    if not _SHORT.match(body):
        raise DefinitionError(
            f"protein_change {text!r} is not a protein change; write e.g. 'V600E', 'p.V600E', "
            "'p.Val600Glu', 'BRAF p.V600E' or 'V600*' (any change of residue 600)"
        )
    if re.fullmatch(r"[A-Z*][0-9]+", body):
        prefix = True
    return gene, body, prefix


@dataclass(frozen=True)
class VariantTarget:
    """A variant criterion normalised once, when the definition is validated: what the
    engine matches on (no raw string is parsed again per evaluation)."""

    #: HGNC symbol, upper case: the criterion's gene, else the one its protein change names.
    gene: str | None
    #: The protein change in one-letter form (``V600E``, ``E1250*``), or a residue prefix
    #: (``V600``) when :attr:`prefix`; None when no protein change is asked.
    change: str | None
    prefix: bool
    consequences: frozenset[str]
    classes: frozenset[str]
    origin: str | None

    @property
    def only_gene(self) -> bool:
        """True when nothing but the gene and the protein change is asked."""
        return not (self.consequences or self.classes or self.origin)


def _variant_target(v: Variant) -> tuple[VariantTarget | None, tuple[str, ...]]:
    """``v`` normalised against the one vocabulary of consequences and variant classes
    (:mod:`harmonise.model`), or None and every problem."""
    problems: list[str] = []
    gene = v.gene.upper() if v.gene else None
    change: str | None = None
    prefix = False
    if v.protein_change:
        try:
            named, change, prefix = parse_protein_change(v.protein_change)
        except DefinitionError as exc:
            problems.append(str(exc))
            named = None
        if gene and named and gene != named:
            problems.append(
                f"gene {v.gene!r} and protein_change {v.protein_change!r} name different genes"
            )
        gene = gene or named
    for x in v.consequence or ():
        if x not in CONSEQUENCES:
            problems.append(
                f"unknown consequence {x!r} (Sequence Ontology term, e.g. missense_variant)"
            )
    for x in v.variant_class or ():
        if x not in VARIANT_CLASSES:
            problems.append(
                f"unknown variant_class {x!r}; known: {', '.join(sorted(VARIANT_CLASSES))}"
            )
    if problems:
        return None, tuple(problems)
    target = VariantTarget(
        gene=gene,
        change=change,
        prefix=prefix,
        consequences=frozenset(v.consequence or ()),
        classes=frozenset(v.variant_class or ()),
        origin=v.origin,
    )
    return target, ()
