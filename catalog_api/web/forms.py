"""Form fields → the models the API takes (cohort definition, research purpose, request).

The pages post plain HTML forms; these functions turn them into exactly the JSON the API
routes accept, and the same validators (``governance.engine.validate_definition`` /
``validate_purpose``, the pydantic request schemas) check them. A bad value raises
:class:`~catalog_api.governance.errors.Invalid` naming the form field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from catalog_api.discovery.terms import (
    STAGE_SNOMED,
    consequence_label,
    stage_label,
    variant_class_label,
)
from catalog_api.governance.errors import Invalid
from consent import duo, oncotree
from consent.purpose import GENETIC_DUO, METHODS_DUO, PRIMARY_DUO
from harmonise.model import CONSEQUENCE_SEVERITY, DATA_TABLES, TABLES, VARIANT_CLASSES

#: Plain-word explanation of each kind of research (the DUO permission it states).
PRIMARY_WORDS: dict[str, str] = {
    "general": "Any research purpose, including research that is not about health.",
    "health": "Health, medical or biomedical research, on any disease.",
    "disease": "Research on the diseases you name below, and nothing else.",
    "ancestry": "Research on population origins or ancestry.",
}

#: Form checkbox name → (plain words, DUO code or "" when the flag is a commitment only).
PURPOSE_FLAGS: dict[str, tuple[str, str]] = {
    "commercial": ("The use is commercial (data from patients who refused it are left out).", ""),
    "for_profit": ("My organisation is for-profit (not-for-profit-only consents left out).", ""),
    "methods_development": (
        "The work includes developing methods or software (DUO:0000031).",
        METHODS_DUO,
    ),
    "genetic_studies_only": ("The work is limited to genetic studies (DUO:0000038).", GENETIC_DUO),
    "ethics_approval": ("I have ethics (IRB) approval for this project.", ""),
    "collaboration": ("I agree to collaborate with the centres that provide the data.", ""),
    "will_publish": ("I commit to publish the results.", ""),
    "accepts_moratorium": ("I accept the centres' publication moratorium.", ""),
    "will_return_results": ("I will return derived data to the network.", ""),
}

#: The fields a new access request asks for unless the researcher changes them: what a
#: basket analysis (response by tumour type and variant) needs — tumour type, stage, age at
#: diagnosis and sex; the variant's gene, protein change, consequence, class and origin;
#: biomarker results; drugs and lines of therapy; outcomes. Left out by default (data
#: minimisation, GDPR art. 5(1)(c); and a shorter list for the boards to review): codes as
#: given at the centre (the harmonised fields above replace them), read-level metrics
#: (depths, quality, filters), specimen details, event years and the consent records.
#: docs/web.md says the same.
DEFAULT_FIELDS: tuple[str, ...] = (
    "patients.sex",
    "patients.deceased",
    "conditions.kind",
    "conditions.oncotree_code",
    "conditions.stage_group",
    "conditions.stage_group_display",
    "conditions.age_at_diagnosis",
    "variants.gene",
    "variants.protein_change",
    "variants.consequence",
    "variants.variant_class",
    "variants.origin",
    "biomarkers.marker",
    "biomarkers.interpretation",
    "biomarkers.value_numeric",
    "biomarkers.unit",
    "treatments.drug",
    "treatments.line_of_therapy",
    "outcomes.kind",
    "outcomes.display",
    "outcomes.days_from_diagnosis",
)

#: Columns every exported file holds anyway (or that are internal): not offered.
IMPLIED_COLUMNS = ("centre_id", "patient_id", "dataset_id", "submission_id")


@dataclass(frozen=True)
class FieldChoice:
    """One column of the request form: ``table.column``, its documentation, checked."""

    name: str
    column: str
    doc: str
    checked: bool
    default: bool


@dataclass(frozen=True)
class FieldGroup:
    """The request form's columns of one lake table."""

    table: str
    doc: str
    fields: list[FieldChoice]

    @property
    def chosen(self) -> int:
        """How many of the table's columns are ticked."""
        return sum(1 for f in self.fields if f.checked)


def field_groups(chosen: list[str]) -> list[FieldGroup]:
    """Every requestable column, grouped by lake table (``harmonise.model`` order), ticked
    when in ``chosen``."""
    picked = set(chosen)
    out = []
    for table in DATA_TABLES:
        tdef = TABLES[table]
        fields = [
            FieldChoice(
                f"{table}.{c.name}",
                c.name,
                c.doc,
                f"{table}.{c.name}" in picked,
                f"{table}.{c.name}" in DEFAULT_FIELDS,
            )
            for c in tdef.columns
            if c.name not in IMPLIED_COLUMNS
        ]
        if fields:
            out.append(FieldGroup(table, tdef.doc, fields))
    return out


@dataclass(frozen=True)
class PrimaryOption:
    """One kind of research in the purpose fieldset."""

    value: str
    curie: str
    shorthand: str
    label: str
    words: str
    definition: str


def primary_options() -> list[PrimaryOption]:
    """The four kinds of research with their DUO term, label and plain words."""
    out = []
    for value, curie in PRIMARY_DUO.items():
        term = duo.term(curie)
        out.append(
            PrimaryOption(
                value=value,
                curie=curie,
                shorthand=term.shorthand,
                label=term.label,
                words=PRIMARY_WORDS[value],
                definition=term.definition,
            )
        )
    return out


def duo_label(code: str) -> str:
    """``DUO:0000042`` → ``GRU: general research use`` (the code itself if unknown)."""
    try:
        term = duo.term(code)
    except ValueError:
        return code
    return f"{term.shorthand}: {term.label}" if term.shorthand else term.label


def primary_label(primary: str) -> str:
    """``health`` → ``health (HMB: health or medical or biomedical research)``."""
    curie = PRIMARY_DUO.get(primary)
    return f"{primary} ({duo_label(curie)})" if curie else primary


def purpose_words(purpose: dict[str, Any]) -> list[str]:
    """A stated purpose in plain words, one line per statement."""
    primary = str(purpose.get("primary", ""))
    lines = []
    curie = PRIMARY_DUO.get(primary)
    if curie:
        lines.append(f"{PRIMARY_WORDS[primary]} ({duo_label(curie)}, {curie})")
    diseases = purpose.get("disease_codes") or []
    if diseases:
        named = [f"{d} ({oncotree.label(d)})" if oncotree.is_code(d) else str(d) for d in diseases]
        lines.append("Diseases studied: " + ", ".join(named))
    for flag, (words, _code) in PURPOSE_FLAGS.items():
        if purpose.get(flag):
            lines.append(words)
    return lines


# -- parsing ---------------------------------------------------------------------------


def text(form: FormData, name: str, *, max_length: int = 2000) -> str:
    """A trimmed text field ('' when absent)."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if len(value) > max_length:
        raise Invalid(f"{name}: at most {max_length} characters, got {len(value)}")
    return value


def values(form: FormData, name: str) -> list[str]:
    """Every non-empty value of a multi-valued field (checkboxes, multiple select)."""
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()][:200]


def codes(raw: str) -> list[str]:
    """Comma/space-separated codes, upper-cased."""
    return [c.strip().upper() for c in raw.replace(",", " ").split() if c.strip()]


def number(form: FormData, name: str, label: str, *, integer: bool = False) -> float | None:
    """A numeric field, None when empty; :class:`Invalid` naming ``label`` when not a number."""
    raw = text(form, name, max_length=32)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(f"{label}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise Invalid(f"{label}: {raw!r} is not a finite number")
    if integer:
        if value != int(value):
            raise Invalid(f"{label}: {raw!r} is not a whole number")
        if abs(value) > 1_000_000:
            raise Invalid(f"{label}: {raw!r} is out of range")
    return value


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


#: The leaf criteria the builder offers, in the order of its fieldsets (every leaf type of
#: ``discovery.definition``); each may be negated ("Not") with the checkbox ``not_<kind>``.
LEAF_KINDS: tuple[str, ...] = (
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
    "vital_status",
    "centre",
    "dataset",
    "assay",
    "pipeline",
    "coverage",
)
#: Structural variant types in words (the builder's checkboxes).
SV_TYPE_WORDS = {
    "DEL": "deletion",
    "DUP": "duplication",
    "INV": "inversion",
    "INS": "insertion",
    "BND": "breakend",
}
#: At most this many alternative (OR) groups of criteria.
MAX_GROUPS = 8


def prefix(group: int) -> str:
    """The field-name prefix of builder group ``group`` ('' for the first, ``g2_`` …)."""
    return "" if group == 0 else f"g{group + 1}_"


def group_count(form: FormData) -> int:
    """How many criteria groups the builder form holds (1 … :data:`MAX_GROUPS`)."""
    raw = text(form, "groups", max_length=3)
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_GROUPS:
        raise Invalid(f"groups: {raw!r} is not a number of groups from 1 to {MAX_GROUPS}")
    return int(raw)


def _leaves(form: FormData, p: str) -> list[dict[str, Any]]:
    """The leaves of one group (fields prefixed ``p``), each wrapped in ``not`` if asked."""
    found: dict[str, dict[str, Any]] = {}
    tumours = values(form, f"{p}tumour_codes") + codes(
        text(form, f"{p}tumour_other", max_length=500)
    )
    if tumours:
        found["tumour_type"] = {
            "type": "tumour_type",
            "codes": list(dict.fromkeys(tumours)),
            "descendants": form.get(f"{p}tumour_descendants") == "on",
        }
    variant: dict[str, Any] = {"type": "variant"}
    gene = text(form, f"{p}gene", max_length=64).upper()
    change = text(form, f"{p}protein_change", max_length=64)
    if gene:
        variant["gene"] = gene
    if change:
        variant["protein_change"] = change
    for name in ("consequence", "variant_class"):
        chosen = values(form, f"{p}{name}")
        if chosen:
            variant[name] = chosen
    origin = text(form, f"{p}origin", max_length=16)
    if origin:
        variant["origin"] = origin
    if len(variant) > 1:
        found["variant"] = variant
    marker = text(form, f"{p}biomarker", max_length=64)
    interp = text(form, f"{p}biomarker_interpretation", max_length=32)
    bmin = number(form, f"{p}biomarker_min", "Biomarker minimum value")
    bmax = number(form, f"{p}biomarker_max", "Biomarker maximum value")
    if marker:
        bio: dict[str, Any] = {"type": "biomarker", "marker": marker}
        if interp:
            bio["interpretation"] = [interp]
        if bmin is not None:
            bio["min"] = bmin
        if bmax is not None:
            bio["max"] = bmax
        found["biomarker"] = bio
    elif interp or bmin is not None or bmax is not None:
        raise Invalid("Biomarker: choose the marker the interpretation or value range is about")
    found.update(_genomic_leaves(form, p))
    stages = values(form, f"{p}stage")
    if stages:
        found["stage_group"] = {"type": "stage_group", "values": stages}
    drug = text(form, f"{p}drug", max_length=128).lower()
    line = _int(number(form, f"{p}line_of_therapy", "Line of therapy", integer=True))
    if drug or line is not None:
        treat: dict[str, Any] = {"type": "treatment"}
        if drug:
            treat["drug"] = drug
        if line is not None:
            treat["line_of_therapy"] = line
        found["treatment"] = treat
    amin = _int(number(form, f"{p}age_min", "Minimum age at diagnosis", integer=True))
    amax = _int(number(form, f"{p}age_max", "Maximum age at diagnosis", integer=True))
    if amin is not None or amax is not None:
        age: dict[str, Any] = {"type": "age_at_diagnosis"}
        if amin is not None:
            age["min"] = amin
        if amax is not None:
            age["max"] = amax
        found["age_at_diagnosis"] = age
    for kind, name in (("sex", "sex"), ("centre", "centre"), ("dataset", "dataset")):
        chosen = values(form, f"{p}{name}")
        if chosen:
            found[kind] = {"type": kind, "values": chosen}
    vital = text(form, f"{p}vital_status", max_length=16)
    if vital:
        found["vital_status"] = {"type": "vital_status", "value": vital}
    assay: dict[str, Any] = {"type": "assay"}
    for name in ("assay_type", "assay_name"):
        chosen = values(form, f"{p}{name}")
        if chosen:
            assay[name] = chosen
    if len(assay) > 1:
        found["assay"] = assay
    pipeline: dict[str, Any] = {"type": "pipeline"}
    prints = values(form, f"{p}fingerprint")
    if prints:
        pipeline["fingerprints"] = prints
    harmonised = text(form, f"{p}harmonised", max_length=8)
    if harmonised in ("yes", "no"):
        pipeline["harmonised"] = harmonised == "yes"
    elif harmonised:
        raise Invalid(f"Harmonised pipeline: {harmonised!r} is not yes or no")
    if len(pipeline) > 1:
        found["pipeline"] = pipeline
    cov_gene = text(form, f"{p}coverage_gene", max_length=64).upper()
    cov_depth = number(form, f"{p}coverage_min_depth", "Mean depth over the gene at least")
    if cov_gene or cov_depth is not None:
        if not (cov_gene and cov_depth is not None):
            raise Invalid("Coverage: choose both the gene and the minimum mean depth")
        found["coverage"] = {"type": "coverage", "gene": cov_gene, "min_depth": cov_depth}
    out = []
    for kind in LEAF_KINDS:
        leaf = found.get(kind)
        if leaf is None:
            continue
        out.append(
            {"type": "not", "criterion": leaf} if form.get(f"{p}not_{kind}") == "on" else leaf
        )
    return out


def _genomic_leaves(form: FormData, p: str) -> dict[str, dict[str, Any]]:
    """The fusion, structural-variant, copy-number, TMB and MSI leaves of one group."""
    found: dict[str, dict[str, Any]] = {}
    fgene = text(form, f"{p}fusion_gene", max_length=64).upper()
    partner = text(form, f"{p}fusion_partner", max_length=64).upper()
    if fgene:
        found["fusion"] = {"type": "fusion", "gene": fgene} | (
            {"partner": partner} if partner else {}
        )
    elif partner:
        raise Invalid("Fusion: choose the gene the partner is about")
    sgene = text(form, f"{p}sv_gene", max_length=64).upper()
    kinds = values(form, f"{p}sv_type")
    if sgene:
        found["structural_variant"] = {"type": "structural_variant", "gene": sgene} | (
            {"sv_types": kinds} if kinds else {}
        )
    elif kinds:
        raise Invalid("Structural variant: choose the gene the SV types are about")
    cgene = text(form, f"{p}cn_gene", max_length=64).upper()
    calls = values(form, f"{p}cn_call")
    if cgene or calls:
        if not (cgene and calls):
            raise Invalid("Copy number: choose both the gene and one or more calls")
        found["copy_number"] = {"type": "copy_number", "gene": cgene, "calls": calls}
    tmin = number(form, f"{p}tmb_min", "TMB minimum (mutations/Mb)")
    tmax = number(form, f"{p}tmb_max", "TMB maximum (mutations/Mb)")
    if tmin is not None or tmax is not None:
        found["tmb"] = {"type": "tmb"} | ({"min": tmin} if tmin is not None else {})
        found["tmb"] |= {"max": tmax} if tmax is not None else {}
    msi = values(form, f"{p}msi")
    if msi:
        found["msi"] = {"type": "msi", "status": msi}
    return found


def _json_criteria(raw: str) -> dict[str, Any]:
    """The builder's JSON field: a whole definition or only its criteria."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise Invalid(f"Definition as JSON: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Invalid('Definition as JSON: give an object, e.g. {"type": "variant", …}')
    if "format_version" in data or ("criteria" in data and "type" not in data):
        return data
    return {"format_version": 1, "criteria": data}


def definition_from_form(form: FormData) -> dict[str, Any]:
    """The cohort-builder fields as a cohort definition (``format_version`` 1).

    Within a group every criterion must hold (``and``); a criterion whose "Not" box is
    ticked must not hold (``not``); with several groups, a patient matching any group
    counts (``or``). The JSON field, when filled, is the definition instead (anything the
    API takes, nested as deeply as it likes); filling both is refused.
    """
    groups = []
    for g in range(group_count(form)):
        leaves = _leaves(form, prefix(g))
        if len(leaves) == 1:
            groups.append(leaves[0])
        elif leaves:
            groups.append({"type": "and", "criteria": leaves})
    raw = text(form, "criteria_json", max_length=100_000)
    if raw:
        if groups:
            raise Invalid(
                "Definition as JSON: clear either the JSON or the form's criteria; "
                "the builder counts one definition"
            )
        return _json_criteria(raw)
    out: dict[str, Any] = {"format_version": 1}
    if len(groups) == 1:
        out["criteria"] = groups[0]
    elif groups:
        out["criteria"] = {"type": "or", "criteria": groups}
    return out


def purpose_from_form(form: FormData) -> dict[str, Any]:
    """The purpose fieldset as a research purpose (``consent.purpose`` JSON)."""
    primary = text(form, "purpose_primary", max_length=32) or "health"
    if primary not in PRIMARY_DUO:
        raise Invalid(f"Kind of research: {primary!r} is not one of {', '.join(PRIMARY_DUO)}")
    out: dict[str, Any] = {"primary": primary}
    diseases = codes(text(form, "purpose_diseases", max_length=500))
    if diseases:
        out["disease_codes"] = diseases
    for flag in PURPOSE_FLAGS:
        if form.get(f"purpose_{flag}") == "on":
            out[flag] = True
    return out


def pydantic_problems(exc: ValidationError) -> str:
    """A pydantic error as one line naming each field."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


# -- OncoTree options --------------------------------------------------------------------


@dataclass(frozen=True)
class TumourOption:
    """One OncoTree node in the tumour-type list, indented by its depth."""

    code: str
    label: str
    depth: int

    @property
    def text(self) -> str:
        """The option's text: indented by depth (non-breaking spaces), code and name."""
        indent = "\u00a0\u00a0\u00a0" * self.depth + ("\u2514\u00a0" if self.depth else "")
        return f"{indent}{self.code} — {self.label}"


def tumour_options(lake_codes: list[str]) -> list[TumourOption]:
    """The lake's tumour types with every ancestor up to the tissue, as a tree (depth first)."""
    nodes: set[str] = set()
    for code in lake_codes:
        if not oncotree.is_code(code):
            continue
        nodes.add(oncotree.node(code).code)
        nodes.update(a for a in oncotree.ancestors(code) if a != oncotree.ROOT)

    def path(code: str) -> list[str]:
        return [*reversed([a for a in oncotree.ancestors(code) if a != oncotree.ROOT]), code]

    ordered = sorted(nodes, key=lambda c: [oncotree.label(p) for p in path(c)])
    return [TumourOption(c, oncotree.label(c), len(path(c)) - 1) for c in ordered]


# -- builder choices -------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One value a builder control offers, with the words shown for it."""

    value: str
    label: str


def stage_choices(lake_stages: list[str]) -> list[Choice]:
    """The TNM groups 0 … IV (each includes its substages), then the lake's other stage
    values; a SNOMED CT stage concept is offered as its group."""
    out = {v: Choice(v, stage_label(v)) for v in ("0", "I", "II", "III", "IV")}
    for raw in lake_stages:
        value = STAGE_SNOMED.get(raw, raw)
        out.setdefault(value, Choice(value, stage_label(value)))
    return list(out.values())


def builder_choices(terms: dict[str, Any], datasets: list[dict[str, Any]]) -> dict[str, Any]:
    """Every value a builder control offers, labelled (``terms``: the filtering terms by
    criterion type; ``datasets``: the catalogue entries, for centre and pipeline names)."""
    centre_names = {d["centre_id"]: d.get("centre_name") or "" for d in datasets}
    pipelines: dict[str, str] = {}
    for d in datasets:
        if d.get("pipeline_fingerprint"):
            name = " ".join(x for x in (d.get("pipeline_id"), d.get("pipeline_version")) if x)
            pipelines[d["pipeline_fingerprint"]] = name
    titles = {d["dataset_id"]: d.get("title") or "" for d in datasets}
    variant = terms["variant"]
    return {
        "stages": stage_choices([str(s) for s in terms["stage_group"]["terms"]]),
        "consequences": [
            Choice(c, consequence_label(c))
            for c in sorted(variant["consequences"], key=_consequence_rank)
        ],
        "variant_classes": [Choice(v, variant_class_label(v)) for v in VARIANT_CLASSES],
        "origins": [Choice(o, o) for o in variant["origins"]],
        "centres": [
            Choice(c, f"{c} — {centre_names[c]}" if centre_names.get(c) else c)
            for c in terms["centre"]["terms"]
        ],
        "datasets": [
            Choice(d, f"{d} — {titles[d]}" if titles.get(d) else d)
            for d in terms["dataset"]["terms"]
        ],
        "assay_types": [Choice(a, a) for a in terms["assay"]["assay_types"]],
        "assay_names": [Choice(a, a) for a in terms["assay"]["assay_names"]],
        "fingerprints": [
            Choice(f, f"{f[:16]}… ({pipelines[f]})" if pipelines.get(f) else f"{f[:16]}…")
            for f in terms["pipeline"]["fingerprints"]
        ],
        "sexes": [Choice(s, s) for s in terms["sex"]["terms"]],
        "vital_statuses": [Choice(v, v) for v in terms["vital_status"]["terms"]],
        "sv_types": [
            Choice(k, f"{k} ({SV_TYPE_WORDS.get(k, k)})")
            for k in terms["structural_variant"]["sv_types"]
        ],
        "cn_calls": [Choice(c, c.replace("_", " ")) for c in terms["copy_number"]["calls"]],
        "msi": [Choice(m, m) for m in terms["msi"]["terms"]],
    }


def _consequence_rank(term: str) -> tuple[int, str]:
    """Most severe first (``harmonise.model.CONSEQUENCE_SEVERITY``), the rest by name."""
    try:
        return (CONSEQUENCE_SEVERITY.index(term), term)
    except ValueError:
        return (len(CONSEQUENCE_SEVERITY), term)
