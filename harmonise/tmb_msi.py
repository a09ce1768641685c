"""TMB and MSI: the pipeline's ``results/biomarkers/{patient}.tmb_msi.json`` → ``biomarkers``
rows with ``source`` = ``pipeline``.

The document is CONTRACT23's, format ``oncolake.tmb_msi/1`` (frozen pydantic models, unknown
fields refused). Cross-field checks: ``mutations_per_mb`` is ``mutations / callable_mb``
(to the rounding of the printed numbers), ``loci_unstable ≤ loci_evaluated``, and
``status`` is ``MSI-H`` exactly when ``score_percent ≥ threshold_percent``. The first
problem is raised naming the file and the field (and the line for bad JSON).

The pipeline writes ``mutations_per_mb`` null when the callable territory is too small to
measure TMB, and MSI ``score_percent``/``status`` null when too few loci could be
evaluated (cnv23's scripts: ``min_callable_mb``, ``min_loci`` in ``analysis.yaml``); a
null result gives no row, and the specimen's ``analyses`` do not list it (it is not in
the denominator of counts over it).

Rows (the harmonised vocabulary, beside FHIR-reported markers):

* TMB: ``marker`` ``TMB``, LOINC ``94076-7`` (Mutations/Megabase [# Ratio] in Tumor),
  ``value_numeric`` mutations per megabase, ``unit`` the UCUM code ``1/1000000`` (per
  million bases, as the HL7 Genomics Reporting IG's TMB example), ``interpretation``
  ``high`` at or above :data:`TMB_HIGH` (10 mut/Mb: the FDA's 2020 tissue-agnostic
  threshold, KEYNOTE-158), else ``low``;
* MSI: ``marker`` ``MSI``, LOINC ``81695-9``, ``value_code``/``value_display``
  ``LA26203-2``/``MSI-H`` or ``LA26204-0``/``MSS`` (as the demo's FHIR markers),
  ``value_numeric`` the score in percent (unit ``%``), ``interpretation`` ``high`` for
  MSI-H, ``negative`` for MSS.

Each row keeps the pipeline's block (rule, counted classes, loci …) in ``details_json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harmonise.errors import ResultFileError

SCHEMA = "oncolake.tmb_msi/1"
#: TMB-high threshold, mutations per megabase (FDA, pembrolizumab, June 2020).
TMB_HIGH = 10.0
TMB_UNIT = "1/1000000"
LOINC = "http://loinc.org"
MSI_CODES = {"MSI-H": ("LA26203-2", "high"), "MSS": ("LA26204-0", "negative")}
MAX_BYTES = 1 << 20

_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
NonNeg = Annotated[float, Field(ge=0)]


class Tmb(BaseModel):
    """Tumour mutational burden: somatic coding mutations per Mb of callable territory."""

    model_config = _FROZEN
    mutations_per_mb: NonNeg | None
    mutations: Annotated[int, Field(ge=0)]
    callable_mb: NonNeg
    counted: tuple[Annotated[str, Field(min_length=1)], ...]
    rule: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _rate_is_count_over_territory(self) -> Tmb:
        if self.mutations_per_mb is None:  # not measurable (territory too small)
            return self
        if self.callable_mb == 0:
            raise ValueError("mutations_per_mb is given but callable_mb is 0")
        rate = self.mutations / self.callable_mb
        if not math.isclose(rate, self.mutations_per_mb, rel_tol=0.01, abs_tol=0.051):
            raise ValueError(
                f"mutations_per_mb {self.mutations_per_mb} is not mutations / callable_mb "
                f"({self.mutations} / {self.callable_mb} = {rate:.2f})"
            )
        return self


class Msi(BaseModel):
    """Microsatellite instability: the share of unstable loci and the call."""

    model_config = _FROZEN
    score_percent: Annotated[float, Field(ge=0, le=100)] | None
    status: Literal["MSI-H", "MSS"] | None
    loci_evaluated: Annotated[int, Field(ge=0)]
    loci_unstable: Annotated[int, Field(ge=0)]
    threshold_percent: Annotated[float, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _consistent(self) -> Msi:
        if self.loci_unstable > self.loci_evaluated:
            raise ValueError(
                f"loci_unstable {self.loci_unstable} exceeds loci_evaluated {self.loci_evaluated}"
            )
        if (self.score_percent is None) != (self.status is None):
            raise ValueError(
                "score_percent and status are null together (too few loci evaluated) or "
                f"given together; got {self.score_percent} and {self.status}"
            )
        if self.score_percent is None:
            return self
        high = self.score_percent >= self.threshold_percent
        if high != (self.status == "MSI-H"):
            raise ValueError(
                f"status {self.status} disagrees with score_percent {self.score_percent} and "
                f"threshold_percent {self.threshold_percent} (MSI-H iff score ≥ threshold)"
            )
        return self


class TmbMsi(BaseModel):
    """The ``oncolake.tmb_msi/1`` document."""

    model_config = _FROZEN
    schema_: Literal["oncolake.tmb_msi/1"] = Field(alias="schema")
    tmb: Tmb
    msi: Msi
    purity: Annotated[float, Field(ge=0, le=1)] | None


def read_tmb_msi(path: str | Path) -> TmbMsi:
    """Read and check a ``tmb_msi.json``; raise :class:`ResultFileError` naming the file
    and the first bad field."""
    spath = str(path)
    p = Path(spath)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise ResultFileError(f"{spath}: larger than {MAX_BYTES} bytes; not a TMB/MSI record")
        raw = p.read_bytes()
    except OSError as exc:
        raise ResultFileError(f"{spath}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ResultFileError(f"{spath}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ResultFileError(
            f"{spath}, line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise ResultFileError(f"{spath}: a JSON object is expected, got {type(data).__name__}")
    if data.get("schema") != SCHEMA:
        raise ResultFileError(
            f"{spath}, field schema: {data.get('schema')!r}; this oncolake reads {SCHEMA!r}"
        )
    try:
        return TmbMsi.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(document)"
        msg = err["msg"].removeprefix("Value error, ")
        given = err.get("input")
        shown = "" if err["type"] in ("missing", "value_error") else f"; got {given!r}"[:120]
        if err["type"] == "extra_forbidden":
            msg = "unknown field; remove it (CONTRACT23 lists the fields)"
        raise ResultFileError(f"{spath}, field {loc}: {msg}{shown}") from None


def assessed(doc: TmbMsi) -> tuple[str, ...]:
    """What the document measured: ``tmb`` and/or ``msi`` (``specimens.analyses``)."""
    out = ("tmb",) if doc.tmb.mutations_per_mb is not None else ()
    return out + (("msi",) if doc.msi.status is not None else ())


def biomarker_rows(doc: TmbMsi) -> list[dict[str, Any]]:
    """The document's ``biomarkers`` rows (without patient/specimen ids): TMB and MSI,
    each only when measured."""
    t, m = doc.tmb, doc.msi
    out: list[dict[str, Any]] = []
    if t.mutations_per_mb is not None:
        out.append(
            {
                "marker": "TMB",
                "code": "94076-7",
                "code_system": LOINC,
                "value_display": f"{t.mutations_per_mb:g} mutations/Mb",
                "value_numeric": float(t.mutations_per_mb),
                "unit": TMB_UNIT,
                "interpretation": "high" if t.mutations_per_mb >= TMB_HIGH else "low",
                "source": "pipeline",
                "details_json": json.dumps(t.model_dump(mode="json"), sort_keys=True),
            }
        )
    if m.status is not None and m.score_percent is not None:
        code, interp = MSI_CODES[m.status]
        out.append(
            {
                "marker": "MSI",
                "code": "81695-9",
                "code_system": LOINC,
                "value_code": code,
                "value_display": m.status,
                "value_numeric": float(m.score_percent),
                "unit": "%",
                "interpretation": interp,
                "source": "pipeline",
                "details_json": json.dumps(m.model_dump(mode="json"), sort_keys=True),
            }
        )
    return out
