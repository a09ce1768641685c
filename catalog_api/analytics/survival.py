"""Survival estimators: Kaplan–Meier, the log-rank test, Cox proportional hazards.

Pure functions of explicit inputs (durations, event flags, group labels, covariates)
returning typed records (lifelines' habit), with R's ``survival`` package as the
definition of every number:

* :func:`kaplan_meier` — ``survfit(Surv(time, event) ~ 1, conf.type = "log-log")``: the
  product-limit estimate over every distinct time (events and censorings), Greenwood's
  standard error of the cumulative hazard (R's ``std.err``), the log–log confidence band
  (NA where the estimate is 0 or 1, as R); :meth:`Curve.quantile` is
  ``quantile.survfit`` (median = the first time the curve is at or below 0.5, the midpoint
  of a flat stretch lying exactly on it; its CI read the same way off the band);
* :func:`logrank` — ``survdiff(Surv(time, event) ~ group)`` (rho = 0) for k ≥ 2 groups;
* :func:`cox` — ``coxph(Surv(time, event) ~ x, ties = "efron")``: Newton–Raphson on the
  Efron partial likelihood, Wald confidence intervals of the hazard ratios.

Hand-written on numpy/scipy rather than taken from lifelines: lifelines requires
pandas < 3 (this project runs pandas 3), and its Cox fit costs seconds at 100k patients
where one vectorised Newton step here costs milliseconds; the estimates are tested
against R on the same rows (``tests/catalog_api/test_analytics_survival.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from catalog_api.analytics.errors import AnalyticsInputError

if TYPE_CHECKING:
    from types import ModuleType


def _stats() -> ModuleType:
    """``scipy.stats``, imported on first use (a second of a server's start otherwise)."""
    from scipy import stats

    return stats


#: R's tolerance of ``quantile.survfit`` (``sqrt(.Machine$double.eps)``).
QUANTILE_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class Quantile:
    """A time quantile of a curve with its confidence interval (NaN: not reached)."""

    p: float
    time: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Curve:
    """A Kaplan–Meier curve: one row per distinct time (R's ``survfit`` object)."""

    time: np.ndarray  # distinct times, ascending (float)
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray  # standard error of the cumulative hazard (R's std.err)
    lower: np.ndarray  # log-log band; NaN where surv is 0 or 1
    upper: np.ndarray
    conf_level: float
    start_time: float = 0.0

    @property
    def n(self) -> int:
        """Patients at the start."""
        return int(self.n_risk[0]) if len(self.n_risk) else 0

    @property
    def events(self) -> int:
        """Events in all."""
        return int(self.n_event.sum())

    def quantile(self, p: float) -> Quantile:
        """The time by which a fraction ``p`` has had the event (``quantile.survfit``)."""
        x = np.concatenate([[self.start_time], self.time])
        return Quantile(
            p,
            _findq(x, np.concatenate([[0.0], 1 - self.surv]), p),
            # the lower band reaches p first: it gives the lower limit
            _findq(x, np.concatenate([[0.0], 1 - self.lower]), p),
            _findq(x, np.concatenate([[0.0], 1 - self.upper]), p),
        )

    def median(self) -> Quantile:
        """The median time with its confidence interval."""
        return self.quantile(0.5)

    def at_risk(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """Patients still at risk at each of ``times`` (time ≥ t)."""
        t = np.asarray(times, dtype=float)
        # n_risk[i] holds at time[i]; after the last time nobody is at risk
        pos = np.searchsorted(self.time, t, side="left")
        out = np.zeros(len(t), dtype=np.int64)
        inside = pos < len(self.time)
        out[inside] = self.n_risk[pos[inside]]
        return out

    def surv_at(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """The estimate at each of ``times`` (right-continuous step function)."""
        t = np.asarray(times, dtype=float)
        pos = np.searchsorted(self.time, t, side="right") - 1
        return np.where(pos < 0, 1.0, self.surv[np.maximum(pos, 0)])


def _z(conf_level: float) -> float:
    if not 0 < conf_level < 1:
        raise AnalyticsInputError(f"conf_level must be between 0 and 1, got {conf_level}")
    return float(_stats().norm.ppf(1 - (1 - conf_level) / 2))


def curve_from_counts(
    time: np.ndarray,
    n_risk: np.ndarray,
    n_event: np.ndarray,
    n_censor: np.ndarray,
    conf_level: float = 0.95,
    start_time: float = 0.0,
) -> Curve:
    """The Kaplan–Meier curve of aggregated counts per distinct time (events at a time
    come before censorings at it, as in R). Used for exact rows and for rounded counts."""
    n_risk = np.asarray(n_risk, dtype=np.int64)
    n_event = np.asarray(n_event, dtype=np.int64)
    nr = n_risk.astype(float)
    ne = n_event.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(nr > 0, 1.0 - ne / np.where(nr > 0, nr, 1.0), 1.0)
        surv = np.cumprod(factor)
        term = np.where(ne > 0, ne / (nr * (nr - ne)), 0.0)
        std_err = np.sqrt(np.cumsum(term))
        z = _z(conf_level)
        inner = (surv > 0) & (surv < 1)
        xx = np.where(inner, surv, np.nan)
        loglog = np.log(-np.log(xx))
        se2 = z * std_err / np.log(xx)
        lower = np.exp(-np.exp(loglog - se2))
        upper = np.exp(-np.exp(loglog + se2))
    return Curve(
        np.asarray(time, dtype=float),
        n_risk,
        n_event,
        np.asarray(n_censor, dtype=np.int64),
        surv,
        std_err,
        lower,
        upper,
        conf_level,
        start_time,
    )


def _check(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.shape != e.shape or t.ndim != 1:
        raise AnalyticsInputError(
            f"time and event must be 1-d arrays of one length, got {t.shape} and {e.shape}"
        )
    if len(t) and not np.isfinite(t).all():
        raise AnalyticsInputError("time holds a missing or infinite value; drop those rows first")
    if len(t) and (t < 0).any():
        raise AnalyticsInputError("time holds a negative duration; drop those rows first")
    return t, e.astype(bool)


def kaplan_meier(time: np.ndarray, event: np.ndarray, conf_level: float = 0.95) -> Curve:
    """``survfit(Surv(time, event) ~ 1, conf.type = "log-log")`` of the rows."""
    t, e = _check(time, event)
    if not len(t):
        raise AnalyticsInputError("no rows to estimate a survival curve from")
    order = np.argsort(t, kind="stable")
    t, e = t[order], e[order]
    uniq, first, counts = np.unique(t, return_index=True, return_counts=True)
    d = np.add.reduceat(e.astype(np.int64), first)
    n_risk = len(t) - np.concatenate([[0], np.cumsum(counts)[:-1]])
    return curve_from_counts(uniq, n_risk, d, counts - d, conf_level)


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = QUANTILE_TOLERANCE) -> float:
    """R's ``survival:::findq``: the first ``x`` at which the cumulative ``y`` (= 1 − S,
    NaN where undefined) reaches ``p``; the midpoint with the next step where ``y`` lies
    on ``p`` over a stretch (or with the last time, if it ends there)."""
    finite = ~np.isnan(y)
    if not finite.any() or np.nanmax(y) < p:
        return float("nan")
    xmax = x[-1]
    # R drops duplicated y values (NaN counts as one value), keeping each first
    key = np.where(finite, y, np.inf)
    _, first = np.unique(key, return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)
    pos = np.flatnonzero(ok)  # approx() drops the NaN pairs
    yv = y[ok]

    def index_at(shift: float) -> int | None:
        # approx(y + shift, 1:n, p, method = "constant", f = 1): the first point with
        # y + shift >= p, or none outside the range of y + shift
        yy = yv + shift
        if p < yy[0] or p > yy[-1]:
            return None
        return int(pos[int(np.searchsorted(yy, p, side="left"))])

    i1, i2 = index_at(tol), index_at(-tol)
    if p == 0:
        return float(x[0])
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol and i1 is not None:
        return float((x[i1] + xmax) / 2)
    if i1 is None or i2 is None:
        return float("nan")
    return float((x[i1] + x[i2]) / 2)


# -- log-rank ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogRank:
    """``survdiff``: observed and expected events per group, chi-square, df, p."""

    groups: tuple[str, ...]
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    chisq: float
    df: int
    p: float


def logrank(
    time: np.ndarray, event: np.ndarray, group: np.ndarray, names: Sequence[str] | None = None
) -> LogRank:
    """The log-rank test of equal survival across the groups ``group`` (integer codes
    0..k−1; ``names[i]`` names code i), as ``survdiff(Surv(time, event) ~ group)``."""
    t, e = _check(time, event)
    g = np.asarray(group, dtype=np.int64)
    if g.shape != t.shape:
        raise AnalyticsInputError("group must have one code per row")
    k = int(g.max()) + 1 if len(g) else 0
    if names is not None and len(names) < k:
        raise AnalyticsInputError("names must name every group code")
    if k < 2:
        raise AnalyticsInputError("the log-rank test needs at least two groups")
    labels = tuple(names[:k]) if names is not None else tuple(str(i) for i in range(k))
    n_g = np.bincount(g, minlength=k)
    etimes = np.unique(t[e])
    if not len(etimes):
        zero = np.zeros(k)
        return LogRank(labels, n_g, zero, zero, 0.0, int((n_g > 0).sum()) - 1, 1.0)
    # at risk per group at each event time: rows with time >= t
    risk = np.empty((len(etimes), k))
    deaths = np.empty((len(etimes), k))
    for j in range(k):
        tj = np.sort(t[g == j])
        risk[:, j] = len(tj) - np.searchsorted(tj, etimes, side="left")
        dj = np.sort(t[(g == j) & e])
        deaths[:, j] = np.searchsorted(dj, etimes, "right") - np.searchsorted(dj, etimes, "left")
    n = risk.sum(axis=1)
    d = deaths.sum(axis=1)
    frac = risk / n[:, None]
    observed = deaths.sum(axis=0)
    expected = (d[:, None] * frac).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    # V = sum_t w (diag(frac) - frac frac^T)
    var = np.diag((w[:, None] * frac).sum(axis=0)) - (frac * w[:, None]).T @ frac
    diff = (observed - expected)[1:]
    v = var[1:, 1:]
    try:
        chisq = float(diff @ np.linalg.solve(v, diff))
    except np.linalg.LinAlgError:
        chisq = float(diff @ np.linalg.pinv(v) @ diff)
    df = int((expected > 0).sum()) - 1
    p = float(_stats().chi2.sf(chisq, df)) if df > 0 else 1.0
    return LogRank(labels, n_g, observed, expected, chisq, df, p)


# -- Cox ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cox:
    """``coxph(..., ties = "efron")``: coefficients, their Wald standard errors, hazard
    ratios with confidence intervals, the partial log-likelihoods and tests."""

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    hr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    z: np.ndarray
    p: np.ndarray
    loglik_null: float
    loglik: float
    iterations: int
    n: int
    events: int
    conf_level: float


@dataclass(frozen=True)
class _Blocks:
    """Rows sorted by time descending, grouped by distinct time (a block): the risk set
    of a block is every row up to its end; events are grouped by block too."""

    starts: np.ndarray  # first row of each block
    ev_rows: np.ndarray  # event rows (ascending, hence by block)
    ev_blocks: np.ndarray  # blocks holding events
    ev_starts: np.ndarray  # first event (index into ev_rows) of each of those blocks
    ev_of: np.ndarray  # for each event: its position among ev_blocks
    frac: np.ndarray  # for each event: its rank within its block / the block's events
    block: np.ndarray  # for each row: its block


def _efron(beta: np.ndarray, x: np.ndarray, b: _Blocks) -> tuple[float, np.ndarray, np.ndarray]:
    """Efron partial log-likelihood, score and information at ``beta``.

    The sums over each tied event l of a block are written with per-block scalars
    (sum 1/a_l, f_l/a_l, 1/a_l², f_l/a_l², f_l²/a_l², where a_l = S0 − f_l·D0 and
    f_l = l / d); the risk-set second moments then collapse into one weighted product
    Xᵀ diag(w·R) X, R_i being the sum of those scalars over the blocks whose risk set
    holds row i, so no p × p array per row or per time is built."""
    eta = x @ beta
    w = np.exp(eta)
    xw = x * w[:, None]
    # risk-set sums at the event blocks (prefix sums over the descending order)
    s0 = np.cumsum(np.add.reduceat(w, b.starts))[b.ev_blocks]
    s1 = np.cumsum(np.add.reduceat(xw, b.starts, axis=0), axis=0)[b.ev_blocks]
    # the tied events' own sums per event block
    ew = w[b.ev_rows]
    d0 = np.add.reduceat(ew, b.ev_starts)
    d1 = np.add.reduceat(xw[b.ev_rows], b.ev_starts, axis=0)
    a = s0[b.ev_of] - b.frac * d0[b.ev_of]
    nb = len(b.ev_blocks)

    def per_block(weights: np.ndarray) -> np.ndarray:
        return np.bincount(b.ev_of, weights=weights, minlength=nb)

    inv = 1.0 / a
    sa, sf = per_block(inv), per_block(b.frac * inv)
    inv2 = inv * inv
    c0, c1, c2 = per_block(inv2), per_block(b.frac * inv2), per_block(b.frac**2 * inv2)
    # R_i: sum of sa over the event blocks at or after row i's block (its risk sets)
    at_block = np.zeros(len(b.starts))
    at_block[b.ev_blocks] = sa
    r = np.cumsum(at_block[::-1])[::-1][b.block]
    rw = w * r
    sf_ev = sf[b.ev_of]
    xe = x[b.ev_rows]
    loglik = float(eta[b.ev_rows].sum() - np.log(a).sum())
    score = xe.sum(axis=0) - (x.T @ rw - d1.T @ sf)
    info = x.T @ (x * rw[:, None]) - xe.T @ (xe * (ew * sf_ev)[:, None])
    cross = np.einsum("bi,bj,b->ij", s1, d1, c1)
    info -= (
        np.einsum("bi,bj,b->ij", s1, s1, c0)
        - cross
        - cross.T
        + np.einsum("bi,bj,b->ij", d1, d1, c2)
    )
    return loglik, score, info


def cox(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    names: Sequence[str],
    conf_level: float = 0.95,
    max_iter: int = 30,
) -> Cox:
    """Cox proportional hazards with Efron ties, as R's ``coxph`` (covariates ``x``, one
    column per name; rows with a missing value must be dropped by the caller)."""
    t, e = _check(time, event)
    xm = np.asarray(x, dtype=float)
    if xm.ndim == 1:
        xm = xm[:, None]
    if xm.shape[0] != len(t) or xm.shape[1] != len(names):
        raise AnalyticsInputError(
            f"x must have one row per time and one column per name, got {xm.shape}"
        )
    if not np.isfinite(xm).all():
        raise AnalyticsInputError("a covariate holds a missing value; drop those rows first")
    if not e.any():
        raise AnalyticsInputError("no events: a hazard ratio cannot be estimated")
    # centred, as coxph does (the estimates do not change; exp() stays in range)
    xm = xm - xm.mean(axis=0)
    order = np.lexsort((~e, -t))  # time descending; within a time, order is irrelevant
    t, e, xm = t[order], e[order], xm[order]
    # blocks: one per distinct time (descending); the risk set of a block is the prefix
    starts = np.concatenate([[0], np.flatnonzero(np.diff(t) != 0) + 1])
    block = np.repeat(np.arange(len(starts)), np.diff(np.concatenate([starts, [len(t)]])))
    ev_rows = np.flatnonzero(e)
    ev_block = block[ev_rows]
    ev_starts = np.concatenate([[0], np.flatnonzero(np.diff(ev_block)) + 1])
    ev_of = np.repeat(
        np.arange(len(ev_starts)), np.diff(np.concatenate([ev_starts, [len(ev_rows)]]))
    )
    size = np.diff(np.concatenate([ev_starts, [len(ev_rows)]]))[ev_of]
    rank = np.arange(len(ev_rows)) - ev_starts[ev_of]
    blocks = _Blocks(starts, ev_rows, ev_block[ev_starts], ev_starts, ev_of, rank / size, block)
    beta = np.zeros(xm.shape[1])
    loglik, score, info = _efron(beta, xm, blocks)
    loglik_null = loglik
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError as exc:
            raise AnalyticsInputError(
                "the Cox model cannot be fitted: a covariate is constant or collinear "
                f"({', '.join(names)})"
            ) from exc
        new = beta + step
        ll, sc, inf = _efron(new, xm, blocks)
        halvings = 0
        while (not np.isfinite(ll) or ll < loglik - 1e-12) and halvings < 30:
            step /= 2
            new = beta + step
            ll, sc, inf = _efron(new, xm, blocks)
            halvings += 1
        done = abs(ll - loglik) <= 1e-13 * max(1.0, abs(ll)) and np.abs(step).max() < 1e-10
        beta, loglik, score, info = new, ll, sc, inf
        if done:
            break
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise AnalyticsInputError("the Cox model's information matrix is singular") from exc
    se = np.sqrt(np.diag(cov))
    z = _z(conf_level)
    with np.errstate(over="ignore"):
        hr = np.exp(beta)
        lower = np.exp(beta - z * se)
        upper = np.exp(beta + z * se)
    zval = beta / se
    pval = 2 * _stats().norm.sf(np.abs(zval))
    return Cox(
        tuple(names),
        beta,
        se,
        hr,
        lower,
        upper,
        zval,
        pval,
        loglik_null,
        loglik,
        iterations,
        len(t),
        int(e.sum()),
        conf_level,
    )
