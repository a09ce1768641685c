"""The web pages (server-rendered, no JavaScript) for researchers, boards and admins.

Every handler calls the same service, crud and policy functions as the ``/api/v1`` routes
(``discovery.service.count_query``, ``governance.cohorts``, ``governance.requests``,
``governance.review``, ``governance.exports``, ``governance.policy``, ``audit``); nothing
here decides who may do what. Pages (all under ``/web``): sign-in, home, cohort builder,
saved cohorts, dataset catalogue, access requests (form, list, detail with exports), review
queue and the review page of one centre's part, audit log (admins) and a request's trail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlparse

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from catalog_api import crud
from catalog_api.api.deps import (
    ConfigDep,
    IdPath,
    LakeDep,
    SessionDep,
    control_for,
    get_engine,
    ready_engine,
)
from catalog_api.discovery.datasets import dataset_counts, dataset_entries, dataset_qc
from catalog_api.discovery.disclosure import sees_exact_counts
from catalog_api.discovery.errors import DiscoveryError
from catalog_api.discovery.service import count_query
from catalog_api.discovery.terms import filtering_terms
from catalog_api.governance import cohorts, exports, policy, requests, review
from catalog_api.governance.engine import (
    validate_definition,
    validate_purpose,
)
from catalog_api.governance.errors import ApiError, Invalid, NotAuthenticated, NotFound
from catalog_api.governance.schemas import AccessRequestCreate, DecisionCreate
from catalog_api.models import AccessRequest, CentrePart, CentreState, DecisionKind, Role, User
from catalog_api.web import analytics_pages, audit_pages, forms, purge_pages
from catalog_api.web import session as web_session
from catalog_api.web.chart import basket_svg
from catalog_api.web.describe import (
    CentreDatasets,
    describe_definition,
    qc_summary,
)
from catalog_api.web.render import WebRoute, finish, render, tumour_label
from catalog_api.web.session import (
    CheckedForm,
    MaybeUser,
    ResearcherWeb,
    ReviewerWeb,
    WebUser,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)

CentrePath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.*-]+$")]


def _redirect(request: Request, url: str, done: str = "") -> Response:
    if done:
        url += ("&" if "?" in url else "?") + "done=" + quote(done)
    return finish(request, RedirectResponse(url, status_code=303))


def _allowed(check: Callable[..., None], *args: Any) -> bool:
    """True when the policy function ``check`` lets ``args`` through."""
    try:
        check(*args)
    except ApiError:
        return False
    return True


def _safe_next(target: str) -> str:
    if target.startswith("/web/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/web/"


def _kw(request: Request) -> dict[str, int]:
    config = request.app.state.config
    return {"threshold": config.disclosure_threshold, "rounding": config.disclosure_rounding}


# -- sign-in ---------------------------------------------------------------------------


@router.get("/")
def root() -> RedirectResponse:
    """The site's root: the web pages."""
    return RedirectResponse("/web/", status_code=307)


@router.get("/web")
def web_root() -> RedirectResponse:
    """``/web`` → ``/web/``."""
    return RedirectResponse("/web/", status_code=307)


@router.get("/web/sign-in")
def sign_in_page(
    request: Request, user: MaybeUser, next: str = Query("/web/", max_length=500)
) -> Response:
    """The sign-in form (an API token; there are no passwords)."""
    return render(request, "sign_in.html", {"next": _safe_next(next), "error": ""})


@router.post("/web/sign-in")
def sign_in(
    request: Request, form: CheckedForm, session: SessionDep, config: ConfigDep
) -> Response:
    """Check the token as the API does and open a session (cookie)."""
    target = _safe_next(forms.text(form, "next", max_length=500))
    try:
        _user, cookie = web_session.sign_in(
            session, api_token=forms.text(form, "token", max_length=512), config=config
        )
    except NotAuthenticated as exc:
        session.rollback()
        return render(request, "sign_in.html", {"next": target, "error": str(exc)}, status=401)
    session.commit()
    response = RedirectResponse(target, status_code=303)
    web_session.set_cookie(
        response,
        config,
        web_session.SESSION_COOKIE,
        cookie,
        int(web_session.SESSION_TTL.total_seconds()),
    )
    return finish(request, response)


@router.post("/web/sign-out")
def sign_out(
    request: Request, user: WebUser, form: CheckedForm, session: SessionDep, config: ConfigDep
) -> Response:
    """Revoke the session and forget the cookie."""
    web_session.sign_out(session, user=user, token=request.state.web_token)
    session.commit()
    response = RedirectResponse("/web/sign-in?done=" + quote("Signed out"), status_code=303)
    response.delete_cookie(
        web_session.SESSION_COOKIE,
        path="/",
        secure=web_session.cookie_secure(config),
        httponly=True,
        samesite="lax",
    )
    return finish(request, response)


@router.get("/web/")
def home(request: Request, user: WebUser, session: SessionDep, config: ConfigDep) -> Response:
    """What the signed-in user can do, by role."""
    queue = (
        len(requests.review_queue(session, user=user, config=config))
        if user.has_role(Role.reviewer)
        else 0
    )
    mine = crud.list_access_requests(session, user=user, limit=1000)
    return render(
        request,
        "home.html",
        {
            "queue": queue,
            "requests_count": sum(1 for r in mine if r.requester_id == user.id),
            "cohorts_count": len(crud.list_cohorts(session, owner=user, limit=1000)),
        },
    )


# -- cohort builder -------------------------------------------------------------------------


def _form_values(form: FormData | None) -> dict[str, list[str]]:
    if form is None:
        return {"tumour_descendants": ["on"], "purpose_primary": ["health"]}
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key != web_session.CSRF_FIELD:
            out.setdefault(key, []).append(value)
    return out


def _builder_context(
    request: Request, form: FormData | None, values: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    eng = ready_engine(request)
    with eng.current() as idx:
        terms = filtering_terms(idx)
    by_type = {c["type"]: c for c in terms["criteria"]}
    if values is None:
        values = _form_values(form)
    raw = (values.get("groups") or ["1"])[0]
    groups = int(raw) if raw.isdigit() and 1 <= int(raw) <= forms.MAX_GROUPS else 1
    return {
        "terms": by_type,
        "choices": forms.builder_choices(by_type, dataset_entries(eng)),
        "groups": [forms.prefix(g) for g in range(groups)],
        "max_groups": forms.MAX_GROUPS,
        "lake_version": terms["lake_version"],
        "tumours": forms.tumour_options([t["code"] for t in by_type["tumour_type"]["terms"]]),
        "primaries": forms.primary_options(),
        "flags": forms.PURPOSE_FLAGS,
        "fv": lambda name: (values.get(name) or [""])[0],
        "fhas": lambda name, value="on": value in values.get(name, []),
        "result": None,
        "chart": "",
        "centre_rows": [],
        "definition_json": "",
        "definition_pretty": "",
        "definition_lines": [],
        "error": "",
        **{k: _kw(request)[k] for k in ("threshold", "rounding")},
    }


def _regroup(form: FormData, action: str) -> dict[str, list[str]] | None:
    """The form's values after "add a group" / "remove group n" (None for a count)."""
    values = _form_values(form)
    n = forms.group_count(form)
    if action == "add_group":
        if n >= forms.MAX_GROUPS:
            raise Invalid(f"at most {forms.MAX_GROUPS} alternative groups of criteria")
        values["groups"] = [str(n + 1)]
        values[f"{forms.prefix(n)}tumour_descendants"] = ["on"]
        return values
    if action.startswith("remove_group_") and action[13:].isdigit():
        gone = int(action[13:])
        if not 1 <= gone < n:
            raise Invalid(f"action: there is no group {gone + 1} to remove")
        kept: dict[str, list[str]] = {}
        for key, vals in values.items():
            group = next((g for g in range(n - 1, 0, -1) if key.startswith(forms.prefix(g))), 0)
            if group == gone:
                continue
            if group > gone:
                key = forms.prefix(group - 1) + key[len(forms.prefix(group)) :]
            kept[key] = vals
        kept["groups"] = [str(n - 1)]
        return kept
    if action not in ("", "count"):
        raise Invalid(f"action: {action!r} is not something the builder does")
    return None


def _chart_label(code: str) -> str:
    return "Other tumour types" if code == "other" else tumour_label(code)


def _centre_rows(answer: dict[str, Any]) -> list[tuple[str, Any]]:
    """The per-centre table: no row when the total is suppressed (zero and one to four
    alike), else every shown centre and an "Other centres" row (``<5`` when the answer has
    none: fewer than the threshold holds for zero too, so its absence says nothing)."""
    if not isinstance(answer["count"], int):
        return []
    rows = [(c, n) for c, n in answer["by_centre"].items() if c != "other"]
    rows.append(("other", answer["by_centre"].get("other", answer["disclosure"]["suppressed_as"])))
    return rows


@router.get("/web/cohorts/new")
def builder(
    request: Request,
    user: ResearcherWeb,
    session: SessionDep,
    cohort_id: int | None = Query(None, ge=1, le=2_147_483_647),
) -> Response:
    """The cohort builder: criteria and purpose; no count until the form is sent. With
    ``cohort_id`` (one of the user's cohorts) its newest definition fills the JSON field."""
    values = _form_values(None)
    if cohort_id is not None:
        cohort = crud.get_cohort(session, cohort_id=cohort_id)
        policy.ensure_cohort_owner(user, cohort)
        newest = max(cohort.versions, key=lambda v: v.version)
        stored = validate_definition(newest.definition)
        criteria = stored.model_dump(mode="json", exclude_none=True).get("criteria")
        if criteria is not None:
            values["criteria_json"] = [json.dumps(criteria, indent=2, sort_keys=True)]
    return render(request, "builder.html", _builder_context(request, None, values))


@router.post("/web/cohorts/count")
def builder_count(
    request: Request, user: ResearcherWeb, form: CheckedForm, session: SessionDep
) -> Response:
    """Count the criteria for the purpose (``count_query``: budget, disclosure, audit); or,
    for the form's "add a group" / "remove group" buttons, the form again with one group
    more or less (no count)."""
    regrouped = _regroup(form, forms.text(form, "action", max_length=32))
    if regrouped is not None:
        return render(request, "builder.html", _builder_context(request, None, regrouped))
    ctx = _builder_context(request, form)
    try:
        definition = validate_definition(forms.definition_from_form(form))
        purpose = validate_purpose(forms.purpose_from_form(form))
        answer = count_query(
            session,
            user=user,
            engine=ready_engine(request),
            control=control_for(request),
            definition=definition,
            purpose=purpose,
        )
    except (ApiError, DiscoveryError) as exc:
        ctx["error"] = str(exc)
        return render(request, "builder.html", ctx, status=exc.status_code)
    data = definition.model_dump(mode="json", exclude_none=True)
    ctx.update(
        result=answer,
        chart=basket_svg(
            answer["by_tumour_type"],
            label=_chart_label,
            total=answer["count"],
            suppressed_as=answer["disclosure"]["suppressed_as"],
        ),
        centre_rows=_centre_rows(answer),
        definition_json=json.dumps(data, sort_keys=True),
        definition_pretty=json.dumps(data, indent=2, sort_keys=True),
        definition_lines=describe_definition(data),
    )
    return render(request, "builder.html", ctx)


@router.post("/web/cohorts")
def save_cohort(
    request: Request,
    user: ResearcherWeb,
    form: CheckedForm,
    session: SessionDep,
    lake: LakeDep,
    config: ConfigDep,
) -> Response:
    """Save the counted definition as a new cohort (version 1, pinned to the lake version)."""
    name = forms.text(form, "name", max_length=256)
    if not name:
        raise Invalid("Cohort name: give the cohort a name")
    try:
        definition = json.loads(forms.text(form, "definition_json", max_length=100_000))
    except ValueError:
        raise Invalid("the cohort definition of the form is not valid JSON; count again") from None
    cohort = cohorts.save_cohort(
        session,
        user=user,
        name=name,
        description=forms.text(form, "description", max_length=10_000),
        definition=definition,
        lake=lake,
        engine=get_engine(request),
        config=config,
        control=control_for(request),
    )
    session.commit()
    return _redirect(request, f"/web/cohorts/{cohort.id}", f"Cohort {cohort.name!r} saved")


@router.get("/web/cohorts")
def cohorts_page(request: Request, user: WebUser, session: SessionDep) -> Response:
    """The user's saved cohorts (every cohort for admins)."""
    owner = None if user.has_role(Role.admin) else user
    rows = crud.list_cohorts(session, owner=owner, limit=500)
    return render(request, "cohorts.html", {"cohorts": [cohorts.cohort_public(c) for c in rows]})


@router.get("/web/cohorts/{cohort_id}")
def cohort_page(
    request: Request, cohort_id: IdPath, user: WebUser, session: SessionDep
) -> Response:
    """One saved cohort with its versions."""
    cohort = crud.get_cohort(session, cohort_id=cohort_id)
    policy.ensure_cohort_owner(user, cohort)
    pub = cohorts.cohort_public(cohort)
    versions = [
        {"v": v, "lines": describe_definition(v.definition)} for v in reversed(pub.versions)
    ]
    return render(
        request,
        "cohort.html",
        {
            "cohort": pub,
            "versions": versions,
            "can_request": _allowed(policy.ensure_cohort_writer, user, cohort)
            and user.has_role(Role.researcher),
            **_kw(request),
        },
    )


# -- dataset catalogue ------------------------------------------------------------------------


@router.get("/web/datasets")
def datasets_page(request: Request, user: WebUser) -> Response:
    """Each centre's datasets: metadata, assays, pipeline fingerprint, QC summary."""
    eng = ready_engine(request)
    rows = {i.dataset_id: i.row for i in eng.datasets()}
    kw = _kw(request)
    control = control_for(request)
    measured = dataset_qc(eng)  # the pipeline's QC per specimen, summarised (issue 21)
    centres: dict[str, CentreDatasets] = {}
    for entry in dataset_entries(eng):
        cid = entry["centre_id"]
        exact = sees_exact_counts(user, [cid])
        c = centres.setdefault(
            cid,
            CentreDatasets(cid, entry["centre_name"] or "", entry["country"] or "", exact=exact),
        )
        row = rows.get(entry["dataset_id"], {})
        qc = qc_summary(row)  # exact: for who governs the centre
        if not exact:  # everyone else: discovery's disclosure of the catalogue's counts
            qc.update(dataset_counts(row, control))
        qc["measured"] = measured.get(entry["dataset_id"])
        c.datasets.append({**entry, "qc": qc})
    return render(
        request,
        "datasets.html",
        {"centres": sorted(centres.values(), key=lambda c: c.centre_id), **kw},
    )


# -- access requests ------------------------------------------------------------------------


def _request_form_context(
    session: SessionDep, user: User, values: dict[str, list[str]], error: str = ""
) -> dict[str, Any]:
    mine = crud.list_cohorts(session, owner=user, limit=500)
    return {
        "cohorts": [cohorts.cohort_public(c) for c in mine],
        "primaries": forms.primary_options(),
        "flags": forms.PURPOSE_FLAGS,
        "field_groups": forms.field_groups(values.get("fields", [])),
        "fv": lambda name: (values.get(name) or [""])[0],
        "fhas": lambda name, value="on": value in values.get(name, []),
        "error": error,
    }


@router.get("/web/requests/new")
def request_form(
    request: Request,
    user: ResearcherWeb,
    session: SessionDep,
    cohort_id: int | None = Query(None, ge=1, le=2_147_483_647),
) -> Response:
    """The access-request form for one of the user's saved cohorts."""
    values: dict[str, list[str]] = {
        "purpose_primary": ["health"],
        "duration_days": ["365"],
        "fields": list(forms.DEFAULT_FIELDS),
    }
    if cohort_id is not None:
        values["cohort_id"] = [str(cohort_id)]
    return render(request, "request_new.html", _request_form_context(session, user, values))


@router.post("/web/requests")
def create_request(
    request: Request,
    user: ResearcherWeb,
    form: CheckedForm,
    session: SessionDep,
    lake: LakeDep,
    config: ConfigDep,
) -> Response:
    """Create and submit an access request (``requests.create`` + ``requests.submit``)."""
    values = _form_values(form)
    try:
        purpose = forms.purpose_from_form(form)
        body = AccessRequestCreate(
            cohort_id=forms.text(form, "cohort_id", max_length=12) or 0,
            purpose=purpose,
            title=forms.text(form, "title", max_length=512),
            description=forms.text(form, "description", max_length=20_000),
            institution=forms.text(form, "institution", max_length=512),
            duration_days=forms.text(form, "duration_days", max_length=6) or 0,
            fields=forms.values(form, "fields"),
        )
    except ValidationError as exc:
        session.rollback()
        ctx = _request_form_context(session, user, values, forms.pydantic_problems(exc))
        return render(request, "request_new.html", ctx, status=422)
    except ApiError as exc:
        ctx = _request_form_context(session, user, values, str(exc))
        return render(request, "request_new.html", ctx, status=exc.status_code)
    try:
        req = requests.create(session, user=user, body=body)
        requests.submit(
            session,
            user=user,
            req=req,
            lake=lake,
            engine=get_engine(request),
            config=config,
            control=control_for(request),
        )
    except ApiError as exc:
        session.rollback()
        ctx = _request_form_context(session, user, values, str(exc))
        return render(request, "request_new.html", ctx, status=exc.status_code)
    session.commit()
    return _redirect(request, f"/web/requests/{req.id}", f"Access request {req.id} submitted")


@router.get("/web/requests")
def requests_page(
    request: Request, user: WebUser, session: SessionDep, config: ConfigDep
) -> Response:
    """Requests the user may see (own; their centres' for reviewers; all for admins)."""
    rows = crud.list_access_requests(session, user=user, limit=500)
    return render(
        request,
        "requests.html",
        {"requests": [requests.request_public(r, user, config) for r in rows]},
    )


@router.get("/web/requests/{request_id}")
def request_page(
    request: Request, request_id: IdPath, user: WebUser, session: SessionDep, config: ConfigDep
) -> Response:
    """One request: purpose, cohort, per-centre state, decisions, exports and downloads."""
    req = crud.get_access_request(session, request_id=request_id)
    policy.ensure_can_view_request(user, req)
    requests.refresh(session, req)
    session.commit()
    pub = requests.request_public(req, user, config)
    export_rows = [
        {
            "pub": exports.export_public(e, user, config),
            "can_download": _allowed(policy.ensure_can_download, user, e),
        }
        for e in req.exports
        if _allowed(policy.ensure_can_view_export, user, e)
    ]
    is_requester = req.requester_id == user.id
    return render(
        request,
        "request.html",
        {
            "req": pub,
            "purpose_lines": forms.purpose_words(req.purpose),
            "definition_lines": describe_definition(req.cohort_version.definition),
            "decisions": requests.decisions_public(req, user, config),
            "exports": export_rows,
            "can_export": is_requester and bool(requests.approved_centres(req)),
            "can_trail": _allowed(policy.ensure_can_read_trail, user, req),
            "is_requester": is_requester,
        },
    )


@router.post("/web/requests/{request_id}/exports")
def create_export(
    request: Request,
    request_id: IdPath,
    user: ResearcherWeb,
    form: CheckedForm,
    session: SessionDep,
    lake: LakeDep,
    config: ConfigDep,
) -> Response:
    """Export the approved centres' consenting patients (``exports.run_export``)."""
    req = crud.get_access_request(session, request_id=request_id)
    export = exports.run_export(
        session, user=user, req=req, lake=lake, engine=get_engine(request), config=config
    )
    session.commit()
    return _redirect(request, f"/web/requests/{req.id}", f"Export {export.id} is ready")


@router.post("/web/exports/{export_id}/download")
def download(
    request: Request,
    export_id: IdPath,
    user: WebUser,
    form: CheckedForm,
    session: SessionDep,
    config: ConfigDep,
) -> Response:
    """Download one file of an export (an expiring link made and used at once; audited)."""
    name = forms.text(form, "file", max_length=128)
    if not name or not all(ch.isalnum() or ch in "_.-" for ch in name):
        raise Invalid("file: give the name of one file of the export, e.g. patients.parquet")
    export = crud.get_export(session, export_id=export_id)
    link = exports.make_link(session, user=user, export=export, config=config)
    token = parse_qs(urlparse(link.url).query).get("token", [""])[0]
    path = exports.open_download(
        session, user=user, export=export, name=name, token=token, config=config
    )
    session.commit()
    return finish(request, FileResponse(path, filename=f"export-{export_id}-{name}"))


# -- review ----------------------------------------------------------------------------------


@router.get("/web/reviews")
def review_queue(
    request: Request, user: ReviewerWeb, session: SessionDep, config: ConfigDep
) -> Response:
    """Parts of the reviewer's centres waiting for their decision."""
    items = requests.review_queue(session, user=user, config=config)
    return render(request, "reviews.html", {"items": items})


def _consent_check(
    request: Request, session: SessionDep, user: User, req: AccessRequest, part: CentrePart
) -> dict[str, Any]:
    """Governance's consent check of ``part`` (:func:`review.consent_check`), labelled."""
    check = review.consent_check(
        session,
        user=user,
        req=req,
        part=part,
        engine=get_engine(request),
        datasets=lambda: dataset_entries(ready_engine(request)),
        config=request.app.state.config,
    )

    def labelled(codes: list[str]) -> list[tuple[str, str]]:
        return [(c, forms.duo_label(c)) for c in codes]

    out: dict[str, Any] = {
        "purpose_codes": labelled(check.purpose_codes),
        "permitted": check.permitted,
        "error": check.error,
    }
    if not check.error:
        out["matching"], out["excluded"] = check.matching, check.excluded
        out["datasets"] = [(d, labelled(codes)) for d, codes in check.datasets]
    return out


@router.get("/web/requests/{request_id}/centres/{centre_id}")
def part_page(
    request: Request,
    request_id: IdPath,
    centre_id: CentrePath,
    user: WebUser,
    session: SessionDep,
    config: ConfigDep,
) -> Response:
    """The review page of one centre's part: only for those who may see that part."""
    req = crud.get_access_request(session, request_id=request_id)
    policy.ensure_can_view_request(user, req)
    part = next((p for p in policy.visible_parts(user, req) if p.centre_id == centre_id), None)
    if part is None:
        raise NotFound(
            f"no part of centre {centre_id} in access request {request_id} visible to you"
        )
    requests.refresh(session, req)
    check = _consent_check(request, session, user, req, part)
    session.commit()
    pub = requests.request_public(req, user, config)
    part_pub = next(p for p in pub.parts if p.centre_id == centre_id)
    decided = any(d.reviewer_id == user.id and d.round == part.round for d in part.decisions)
    can_decide = (
        _allowed(policy.ensure_can_decide, user, req, part)
        and part.state == CentreState.under_review
        and not decided
    )
    return render(
        request,
        "part.html",
        {
            **_kw(request),
            "req": pub,
            "part": part_pub,
            "round": part.round,
            "purpose_lines": forms.purpose_words(req.purpose),
            "definition_lines": describe_definition(req.cohort_version.definition),
            "definition_json": req.cohort_version.definition,
            "check": check,
            "history": [
                d for d in requests.decisions_public(req, user, config) if d.centre_id == centre_id
            ],
            "can_decide": can_decide,
            "decided": decided,
            "kinds": [
                (DecisionKind.approve.value, "Approve"),
                (DecisionKind.request_changes.value, "Request changes"),
                (DecisionKind.reject.value, "Reject"),
            ],
            "can_trail": _allowed(policy.ensure_can_read_trail, user, req),
        },
    )


@router.post("/web/requests/{request_id}/centres/{centre_id}/decision")
def decide(
    request: Request,
    request_id: IdPath,
    centre_id: CentrePath,
    user: ReviewerWeb,
    form: CheckedForm,
    session: SessionDep,
) -> Response:
    """Record the reviewer's decision on the part (``requests.decide``)."""
    req = crud.get_access_request(session, request_id=request_id)
    try:
        body = DecisionCreate(
            centre_id=centre_id,
            decision=forms.text(form, "decision", max_length=32),
            comment=forms.text(form, "comment", max_length=10_000),
        )
    except ValidationError as exc:
        raise Invalid(forms.pydantic_problems(exc)) from None
    decision = requests.decide(session, user=user, req=req, body=body)
    session.commit()
    words = DecisionKind(decision.decision).value.replace("_", " ")
    return _redirect(
        request,
        f"/web/requests/{request_id}/centres/{centre_id}",
        f"Your decision ({words}) on centre {centre_id} was recorded",
    )


# the audit log and a request's trail: their own module, on this router
router.include_router(audit_pages.router)
router.include_router(purge_pages.router)
# a cohort's treatments and outcomes: likewise
router.include_router(analytics_pages.router)
