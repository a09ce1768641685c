"""The "Treatments and outcomes" view of a cohort (the builder's, or a saved one's).

For a purpose, an endpoint and a grouping it asks the same service functions as
``POST /api/v1/cohorts/treatment-patterns`` and ``POST /api/v1/cohorts/survival``
(``analytics.service``: consent-aware, budget, differencing check, audited) and shows
their disclosed answers: the pathway Sankey, the regimen × line table with time on
treatment and time to next treatment, Kaplan–Meier curves with the number at risk and
the test results. Each chart downloads as SVG, PNG (drawn on the server,
:mod:`.charts_outcomes`) and CSV of the disclosed numbers, as ``data:`` links of the page
itself, so a download is not a second query. Nothing here computes or discloses a number.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from catalog_api import crud
from catalog_api.analytics.outcomes import GROUPINGS
from catalog_api.analytics.service import store_for, survival_query, treatment_patterns_query
from catalog_api.api.deps import IdPath, SessionDep, control_for, ready_engine
from catalog_api.discovery.definition import CohortDefinition
from catalog_api.discovery.errors import DiscoveryError
from catalog_api.governance import policy
from catalog_api.governance.engine import validate_definition, validate_purpose
from catalog_api.governance.errors import ApiError, Invalid
from catalog_api.models import User
from catalog_api.web import charts_outcomes as charts
from catalog_api.web import forms
from catalog_api.web.describe import describe_definition
from catalog_api.web.render import WebRoute, render
from catalog_api.web.session import CSRF_FIELD, CheckedForm, ResearcherWeb

router = APIRouter(route_class=WebRoute, include_in_schema=False)

#: Endpoints the page offers (the survival API's), in words.
ENDPOINTS = {
    "os_from_diagnosis": "Overall survival from diagnosis",
    "os_from_line": "Overall survival from the start of line N",
    "ttnt_after_line": "Time to next treatment (or death) after the start of line N",
}
#: Groupings the page offers ("" = the whole cohort).
GROUPING_WORDS = {
    "": "None: the whole cohort",
    "line1_regimen": "First-line regimen",
    "line2_regimen": "Second-line regimen",
    "line3_regimen": "Third-line regimen",
    "centre": "Centre",
    "sex": "Sex",
    "stage": "Stage group",
}
assert set(GROUPING_WORDS) - {""} == set(GROUPINGS)
DEFAULTS = {
    "purpose_primary": ["health"],
    "endpoint": ["os_from_diagnosis"],
    "line": ["1"],
    "group_by": ["line1_regimen"],
}


def _values(form: Any | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items() if form is not None else ():
        if isinstance(value, str) and key != CSRF_FIELD:
            out.setdefault(key, []).append(value)
    return {**DEFAULTS, **out}


def _choices(form: Any) -> tuple[str, int | None, str | None]:
    """The endpoint, line and grouping of the form, checked."""
    endpoint = forms.text(form, "endpoint", max_length=32) or "os_from_diagnosis"
    if endpoint not in ENDPOINTS:
        raise Invalid(f"Endpoint: {endpoint!r} is not one of {', '.join(ENDPOINTS)}")
    raw = forms.text(form, "line", max_length=2) or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 3:
        raise Invalid(f"Line N: give 1, 2 or 3, not {raw!r}")
    # the builder's link sends no choice: first-line regimen, as the form's default
    group_by = (
        forms.text(form, "group_by", max_length=32) if "group_by" in form else "line1_regimen"
    )
    if group_by not in GROUPING_WORDS:
        raise Invalid(f"Grouping: {group_by!r} is not one of {', '.join(GROUPINGS)}")
    line = None if endpoint == "os_from_diagnosis" else int(raw)
    return endpoint, line, group_by or None


def _axis(endpoint: str, line: int | None) -> tuple[str, str]:
    """The endpoint in words and the time axis's title."""
    if endpoint == "os_from_diagnosis":
        return "Overall survival from diagnosis", "Days from diagnosis"
    words = ENDPOINTS[endpoint].replace("line N", f"line {line}")
    return words, f"Days from the start of line {line}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "cohort"


def _downloads(scene: charts.Scene | None, csvs: dict[str, str], stem: str) -> list[dict[str, str]]:
    """The download links of one chart: SVG, PNG, and one CSV per table."""
    out = []
    if scene is not None:
        svg = '<?xml version="1.0" encoding="UTF-8"?>\n' + str(scene.svg())
        out.append(
            {
                "label": "SVG",
                "file": f"{stem}.svg",
                "href": charts.data_url("image/svg+xml", svg),
                "kind": "svg",
            }
        )
        out.append(
            {
                "label": "PNG",
                "file": f"{stem}.png",
                "href": charts.data_url("image/png", scene.png()),
                "kind": "png",
            }
        )
    for name, body in csvs.items():
        out.append(
            {
                "label": f"CSV ({name})" if len(csvs) > 1 else "CSV",
                "file": f"{stem}-{name}.csv" if len(csvs) > 1 else f"{stem}.csv",
                "href": charts.data_url("text/csv;charset=utf-8", body),
                "kind": "csv",
            }
        )
    return out


def _any_cell(answer: dict[str, Any]) -> bool:
    return any(e["regimens"] for e in answer["lines"])


def _suppressed_cells(entries: list[dict[str, Any]]) -> int:
    n = 0
    for e in entries:
        n += not isinstance(e["patients"], int)
        n += _suppressed_cells(e.get("next", []))
    return n


def _notes(disclosure: dict[str, Any]) -> list[str]:
    """The disclosure rules in words (the page and every CSV)."""
    t, r = disclosure["threshold"], disclosure["rounding"]
    return [
        f"Counts are rounded to a multiple of {r}; a count below {t} is shown as "
        f"{disclosure['suppressed_as']}.",
        f"Regimens and pathway steps with fewer than {t} patients are merged into 'other'; "
        f"an 'other' below {t} is shown as {disclosure['suppressed_as']} and not drawn.",
        f"Survival curves are computed from event and censoring counts per "
        f"{disclosure['survival_interval_days']}-day interval, each rounded to a multiple of "
        f"{disclosure['survival_count_unit']}; a curve stops where fewer than {t} patients "
        "remain at risk.",
        "Medians and quartiles (also of time on treatment and to next treatment) are read "
        "off those disclosed curves, so they have the interval's resolution.",
        f"Log-rank test and hazard ratio are computed on the exact rows and shown to three "
        f"significant digits, only when every group has at least {t} patients and {t} "
        "events.",
    ]


def _patterns(
    request: Request, session: Session, user: User, definition: CohortDefinition, purpose: Any
) -> dict[str, Any]:
    return treatment_patterns_query(
        session,
        user=user,
        engine=ready_engine(request),
        store=store_for(request.app.state.lake),
        control=control_for(request),
        definition=definition,
        purpose=purpose,
    ).result()


def _survival(
    request: Request,
    session: Session,
    user: User,
    definition: CohortDefinition,
    purpose: Any,
    choices: tuple[str, int | None, str | None],
) -> dict[str, Any]:
    endpoint, line, group_by = choices
    return survival_query(
        session,
        user=user,
        engine=ready_engine(request),
        store=store_for(request.app.state.lake),
        control=control_for(request),
        groups=[("cohort", definition)],
        purpose=purpose,
        endpoint=endpoint,
        line=line,
        group_by=group_by,
    ).result()


def _view(
    request: Request,
    session: Session,
    user: User,
    form: Any | None,
    definition: CohortDefinition,
    context: dict[str, Any],
) -> Response:
    """The page: the form, and with a sent form the two answers drawn."""
    values = _values(form)
    data = definition.model_dump(mode="json", exclude_none=True)
    config = request.app.state.config
    ctx: dict[str, Any] = {
        "primaries": forms.primary_options(),
        "flags": forms.PURPOSE_FLAGS,
        "fv": lambda name: (values.get(name) or [""])[0],
        "fhas": lambda name, value="on": value in values.get(name, []),
        "endpoints": ENDPOINTS,
        "groupings": GROUPING_WORDS,
        "definition_lines": describe_definition(data),
        "definition_json": json.dumps(data, sort_keys=True),
        "threshold": config.disclosure_threshold,
        "rounding": config.disclosure_rounding,
        "error": "",
        "patterns": None,
        "patterns_error": "",
        "survival": None,
        "survival_error": "",
        **context,
    }
    if form is None:
        return render(request, "outcomes.html", ctx)
    try:
        purpose = validate_purpose(forms.purpose_from_form(form))
        choices = _choices(form)
    except ApiError as exc:
        ctx["error"] = str(exc)
        return render(request, "outcomes.html", ctx, status=exc.status_code)
    stem = _slug(context["name"])
    try:
        ctx["patterns"] = _patterns_view(
            _patterns(request, session, user, definition, purpose), stem
        )
    except DiscoveryError as exc:
        ctx["patterns_error"] = str(exc)
    try:
        ctx["survival"] = _survival_view(
            _survival(request, session, user, definition, purpose, choices), choices, stem
        )
    except DiscoveryError as exc:
        ctx["survival_error"] = str(exc)
    status = 200 if ctx["patterns"] or ctx["survival"] else 409
    return render(request, "outcomes.html", ctx, status=status)


def _patterns_view(answer: dict[str, Any], stem: str) -> dict[str, Any]:
    notes = _notes(answer["disclosure"])
    scene = charts.pathway_scene(answer)
    drawn = bool(answer["sankey"]["nodes"]) and isinstance(answer["patients_with_a_line"], int)
    return {
        "answer": answer,
        "notes": notes,
        "svg": scene.svg(),
        "suppressed_cells": _suppressed_cells(answer["pathways"].get("first_line", [])),
        "pathway_downloads": _downloads(
            scene if drawn else None,
            {"pathways": charts.pathways_csv(answer, notes)},
            f"{stem}-pathways",
        ),
        "table_downloads": _downloads(
            charts.regimens_scene(answer) if _any_cell(answer) else None,
            {"regimens": charts.regimens_csv(answer, notes)},
            f"{stem}-regimens",
        ),
    }


def _survival_view(
    answer: dict[str, Any], choices: tuple[str, int | None, str | None], stem: str
) -> dict[str, Any]:
    endpoint, line, _ = choices
    notes = _notes(answer["disclosure"])
    tests = charts.tests_sentence(answer)
    heading, axis = _axis(endpoint, line)
    scene = charts.km_scene(answer, title=heading, axis=axis, tests=tests)
    drawn = any(c["points"] for c in answer["curves"])
    return {
        "answer": answer,
        "notes": notes,
        "heading": heading,
        "svg": scene.svg(),
        "tests": tests,
        "downloads": _downloads(
            scene if drawn else None,
            {"curves": charts.km_csv(answer, notes), "tests": charts.tests_csv(answer, notes)},
            f"{stem}-survival",
        ),
    }


@router.post("/web/cohorts/outcomes")
def builder_outcomes(
    request: Request, user: ResearcherWeb, form: CheckedForm, session: SessionDep
) -> Response:
    """Treatments and outcomes of the builder's counted definition (its JSON in the form)."""
    try:
        raw = json.loads(forms.text(form, "definition_json", max_length=100_000))
    except ValueError:
        raise Invalid("the cohort definition of the form is not valid JSON; count again") from None
    definition = validate_definition(raw)
    context = {"name": "cohort from the builder", "action": "/web/cohorts/outcomes"}
    return _view(request, session, user, form, definition, {**context, "cohort": None})


def _saved(session: Session, user: User, cohort_id: int) -> tuple[Any, CohortDefinition]:
    cohort = crud.get_cohort(session, cohort_id=cohort_id)
    policy.ensure_cohort_owner(user, cohort)
    newest = max(cohort.versions, key=lambda v: v.version)
    return cohort, validate_definition(newest.definition)


@router.get("/web/cohorts/{cohort_id}/outcomes")
def cohort_outcomes_form(
    request: Request, cohort_id: IdPath, user: ResearcherWeb, session: SessionDep
) -> Response:
    """The view of a saved cohort (its newest version): the form, no answer yet."""
    cohort, definition = _saved(session, user, cohort_id)
    context = {"name": cohort.name, "action": f"/web/cohorts/{cohort.id}/outcomes"}
    return _view(request, session, user, None, definition, {**context, "cohort": cohort})


@router.post("/web/cohorts/{cohort_id}/outcomes")
def cohort_outcomes(
    request: Request, cohort_id: IdPath, user: ResearcherWeb, form: CheckedForm, session: SessionDep
) -> Response:
    """Treatments and outcomes of a saved cohort's newest version for the form's purpose."""
    cohort, definition = _saved(session, user, cohort_id)
    context = {"name": cohort.name, "action": f"/web/cohorts/{cohort.id}/outcomes"}
    return _view(request, session, user, form, definition, {**context, "cohort": cohort})
