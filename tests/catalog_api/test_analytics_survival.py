"""The survival estimators against R's survival package on the same rows (to 1e-6):
``survfit`` (log-log band, quantiles), ``survdiff`` (k groups), ``coxph`` (Efron ties)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from catalog_api.analytics.errors import AnalyticsInputError
from catalog_api.analytics.survival import cox, kaplan_meier, logrank
from tests.catalog_api.analyticshelpers import RData, run_r

TOL = 1e-6


def _days(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    # whole days, so that ties are common (as in the lake)
    return np.ceil(rng.exponential(scale, n))


def _datasets() -> list[RData]:
    rng = np.random.default_rng(20261203)
    out = [
        # hand-made: ties of events and censorings, a censoring before the first event,
        # the curve ending at 0 (R: NA band, Inf std.err)
        RData(
            "ties_to_zero",
            np.array([1, 2, 2, 3, 5, 6, 6, 8, 8.0]),
            np.array([0, 1, 0, 1, 0, 1, 1, 1, 1]),
            what="km",
        ),
        # the curve lies exactly on 0.5 over a stretch (median = midpoint rule)
        RData(
            "flat_half",
            np.array([1, 2, 3, 4, 5, 6.0]),
            np.array([1, 1, 1, 0, 1, 0]),
            what="km",
        ),
        # the curve ends exactly on 0.5 (midpoint with the last time)
        RData("ends_half", np.array([2, 4, 7.0]), np.array([0, 1, 0]), what="km"),
        # median not reached
        RData("not_reached", np.array([3, 5, 7, 9, 11.0]), np.array([1, 0, 0, 0, 0]), what="km"),
    ]
    # two groups, hazard ratio about 1.6, 30 % censoring, many ties
    n = 600
    g = rng.integers(0, 2, n)
    t_event = _days(rng, n, 400) / np.where(g == 1, 1.6, 1.0)
    t_cens = _days(rng, n, 900)
    time = np.ceil(np.minimum(t_event, t_cens))
    event = t_event <= t_cens
    out.append(RData("two_groups", time, event, g, what="km logrank cox"))
    # three groups for the log-rank test (k > 2), one of them small
    n = 350
    g3 = rng.choice(3, n, p=[0.5, 0.4, 0.1])
    te = _days(rng, n, 300) / np.array([1.0, 1.3, 2.0])[g3]
    tc = _days(rng, n, 700)
    out.append(RData("three_groups", np.ceil(np.minimum(te, tc)), te <= tc, g3, what="km logrank"))
    # adjusted Cox model: group, age (continuous), sex, stage (dummies, reference I)
    n = 900
    g = rng.integers(0, 2, n)
    age = rng.normal(62, 10, n).round()
    male = rng.integers(0, 2, n)
    stage = rng.choice(4, n, p=[0.2, 0.3, 0.3, 0.2])
    lin = 0.4 * g + 0.02 * (age - 62) + 0.2 * male + np.array([0, 0.3, 0.7, 1.2])[stage]
    te = _days(rng, n, 500) / np.exp(lin)
    tc = _days(rng, n, 800)
    cov = {
        "age": age,
        "male": male.astype(float),
        "stage2": (stage == 1).astype(float),
        "stage3": (stage == 2).astype(float),
        "stage4": (stage == 3).astype(float),
    }
    out.append(
        RData(
            "adjusted",
            np.ceil(np.minimum(te, tc)),
            te <= tc,
            g,
            cov,
            what="cox",
            formula="group + age + male + stage2 + stage3 + stage4",
        )
    )
    return out


DATASETS = {d.name: d for d in _datasets()}


@pytest.fixture(scope="module")
def r_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, np.ndarray]]:
    return run_r(list(DATASETS.values()), Path(tmp_path_factory.mktemp("rsurvival")))


def _same(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    ours = np.asarray(ours, dtype=float)
    assert ours.shape == theirs.shape, f"{what}: {ours.shape} vs R {theirs.shape}"
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), f"{what}: NaN where R has NA"
    ok = ~np.isnan(theirs)
    assert np.array_equal(np.isinf(ours[ok]), np.isinf(theirs[ok])), f"{what}: inf differs"
    fin = ok & np.isfinite(theirs)
    np.testing.assert_allclose(ours[fin], theirs[fin], rtol=TOL, atol=TOL, err_msg=what)


@pytest.mark.parametrize(
    "name", [n for n, d in DATASETS.items() if "km" in d.what], ids=lambda n: n
)
def test_kaplan_meier_equals_survfit(name: str, r_results: dict) -> None:
    d, r = DATASETS[name], r_results[name]
    curve = kaplan_meier(d.time, d.event)
    _same(curve.time, r["km.time"], "time")
    _same(curve.n_risk, r["km.n.risk"], "n.risk")
    _same(curve.n_event, r["km.n.event"], "n.event")
    _same(curve.surv, r["km.surv"], "surv")
    _same(curve.std_err, r["km.std.err"], "std.err")
    _same(curve.lower, r["km.lower"], "lower")
    _same(curve.upper, r["km.upper"], "upper")
    qs = [curve.quantile(p) for p in (0.25, 0.5, 0.75)]
    _same(np.array([q.time for q in qs]), r["km.q"], "quantiles")
    _same(np.array([q.lower for q in qs]), r["km.q.lower"], "quantile lower limits")
    _same(np.array([q.upper for q in qs]), r["km.q.upper"], "quantile upper limits")


def test_median_rules_are_exercised(r_results: dict) -> None:
    # the fixtures cover the midpoint rule, the last-point rule and "not reached"
    assert r_results["flat_half"]["km.q"][1] == 4.0
    assert r_results["ends_half"]["km.q"][1] == 5.5
    assert np.isnan(r_results["not_reached"]["km.q"][1])


@pytest.mark.parametrize("name", ["two_groups", "three_groups"])
def test_logrank_equals_survdiff(name: str, r_results: dict) -> None:
    d, r = DATASETS[name], r_results[name]
    assert d.group is not None
    lr = logrank(d.time, d.event, d.group)
    _same(np.array([lr.chisq]), r["lr.chisq"], "chisq")
    assert lr.df == int(r["lr.df"][0])
    _same(np.array([lr.p]), r["lr.p"], "p")
    _same(lr.observed, r["lr.obs"], "observed")
    _same(lr.expected, r["lr.exp"], "expected")


def test_cox_two_groups_equals_coxph(r_results: dict) -> None:
    d, r = DATASETS["two_groups"], r_results["two_groups"]
    assert d.group is not None
    fit = cox(d.time, d.event, d.group.astype(float), ["group"])
    _same(fit.coef, r["cox.coef"], "coef")
    _same(fit.se, r["cox.se"], "se")
    _same(fit.lower, r["cox.lower"], "HR lower")
    _same(fit.upper, r["cox.upper"], "HR upper")
    _same(fit.p, r["cox.p"], "p")
    _same(np.array([fit.loglik_null, fit.loglik]), r["cox.loglik"], "loglik")


def test_cox_adjusted_equals_coxph(r_results: dict) -> None:
    d, r = DATASETS["adjusted"], r_results["adjusted"]
    assert d.group is not None
    names = ["group", *d.covariates]
    x = np.column_stack([d.group.astype(float), *d.covariates.values()])
    fit = cox(d.time, d.event, x, names)
    _same(fit.coef, r["cox.coef"], "coef")
    _same(fit.se, r["cox.se"], "se")
    _same(fit.lower, r["cox.lower"], "HR lower")
    _same(fit.upper, r["cox.upper"], "HR upper")
    _same(np.array([fit.loglik_null, fit.loglik]), r["cox.loglik"], "loglik")


def test_bad_input_is_named() -> None:
    with pytest.raises(AnalyticsInputError, match="negative duration"):
        kaplan_meier(np.array([1.0, -2.0]), np.array([1, 0]))
    with pytest.raises(AnalyticsInputError, match="one length"):
        kaplan_meier(np.array([1.0, 2.0]), np.array([1]))
    with pytest.raises(AnalyticsInputError, match="no rows"):
        kaplan_meier(np.array([]), np.array([]))
    with pytest.raises(AnalyticsInputError, match="two groups"):
        logrank(np.array([1.0, 2.0]), np.array([1, 1]), np.array([0, 0]))
    with pytest.raises(AnalyticsInputError, match="no events"):
        cox(np.array([1.0, 2.0]), np.array([0, 0]), np.array([0.0, 1.0]), ["g"])
    with pytest.raises(AnalyticsInputError, match="constant or collinear"):
        cox(np.array([1.0, 2.0, 3.0]), np.array([1, 1, 0]), np.ones(3), ["g"])
