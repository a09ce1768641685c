"""Disclosed survival curves: a property test that no count below the threshold is ever
shown and the curve stops before a small risk set; rounded against unrounded estimates."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_api.analytics.disclosure import (
    STOP_FOLLOW_UP,
    STOP_GROUP,
    STOP_REASONS,
    STOP_RISK_SET,
    STOP_ROUNDED_RISK_SET,
    disclose_curve,
    disclosed_quantiles,
    interval_ends,
    rounded,
)
from catalog_api.analytics.survival import kaplan_meier
from catalog_api.discovery.disclosure import DisclosureControl, disclose_count


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 400),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([3.0, 60.0, 700.0]),
    p_event=st.floats(0, 1),
    threshold=st.integers(1, 11),
    rounding=st.integers(1, 10),
    interval=st.sampled_from([1, 7, 30, 91]),
)
def test_disclosed_curve_never_shows_a_small_count(
    n: int,
    seed: int,
    scale: float,
    p_event: float,
    threshold: int,
    rounding: int,
    interval: int,
) -> None:
    rng = np.random.default_rng(seed)
    time = np.floor(rng.exponential(scale, n))
    event = rng.random(n) < p_event
    control = DisclosureControl(threshold=threshold, rounding=rounding)
    dc = disclose_curve(time, event, control, interval)
    shown = dc.to_json([0, 180, 365, 730])
    assert shown["stopped_because"] in STOP_REASONS
    if len(time) < threshold:
        assert dc.curve is None and shown["patients"] == f"<{threshold}"
        assert shown["stopped_because"] == STOP_GROUP
        return
    unit = max(rounding, threshold)
    c = dc.curve
    assert c is not None
    for counts in (c.n_event, c.n_censor):
        assert ((counts == 0) | ((counts >= threshold) & (counts % unit == 0))).all()
    assert (c.n_risk >= threshold).all()
    # rounding never draws the curve down to 0: every shown step leaves >= t at risk
    assert (c.n_risk - c.n_event >= threshold).all()
    assert len(c.surv) == 0 or c.surv.min() > 0
    assert all(r["at_risk"] >= threshold for r in shown["at_risk"])
    # the true risk set at every shown interval is at least the threshold too
    ends = interval_ends(time, interval)
    for day in c.time:
        assert (ends >= day).sum() >= threshold
    # why it stops: "risk set" exactly when the true risk set of the first hidden interval
    # is below the threshold; a day (an interval end) and a reason, never a count
    stop = shown["stopped_at_day"]
    if stop is None:
        assert shown["stopped_because"] == STOP_FOLLOW_UP
        assert c.time[-1] == ends.max()  # the last interval with a patient in it is shown
    else:
        assert stop % interval == 0 and stop > (c.time[-1] if len(c.time) else 0)
        true_risk = int((ends >= stop).sum())
        assert (shown["stopped_because"] == STOP_RISK_SET) == (true_risk < threshold)
        assert shown["stopped_because"] in (STOP_RISK_SET, STOP_ROUNDED_RISK_SET)
    for key in ("patients", "events"):
        v = shown[key]
        assert v == f"<{threshold}" or (isinstance(v, int) and v >= threshold)


def test_rounded_curve_is_close_to_the_unrounded_one() -> None:
    # STYLE: compare rounded with unrounded estimates (OpenSAFELY's advice)
    rng = np.random.default_rng(3)
    n = 5000
    te = np.ceil(rng.exponential(500, n))
    tc = np.ceil(rng.exponential(1500, n))
    time, event = np.minimum(te, tc), te <= tc
    exact = kaplan_meier(time, event)
    dc = disclose_curve(time, event, DisclosureControl(threshold=5, rounding=5), 30)
    assert dc.curve is not None
    # at each disclosed interval end, the exact curve a little earlier or at it is close
    s_exact = exact.surv_at(dc.curve.time)
    assert np.abs(s_exact - dc.curve.surv).max() < 0.01
    m_exact = exact.median().time
    m_shown = dc.curve.median().time
    assert m_shown - 30 <= m_exact <= m_shown  # the median at the interval's resolution


def test_curve_stops_before_a_small_risk_set() -> None:
    # 20 patients, the last 4 followed beyond day 1000: the curve must stop before then
    time = np.array([30.0 * (i + 1) for i in range(16)] + [1200, 1300, 1400, 1500])
    event = np.ones(20, dtype=bool)
    dc = disclose_curve(time, event, DisclosureControl(threshold=5, rounding=5), 30)
    assert dc.curve is not None
    assert dc.curve.time[-1] < 1200
    assert dc.stopped_at is not None and dc.stopped_at <= 1200
    assert dc.stopped_because == STOP_RISK_SET


def test_rounding_does_not_draw_a_curve_down_to_zero() -> None:
    # 12 patients: 4 deaths in month 1 (rounded: 5), 3 in month 2 of the 8 left (rounded
    # cumulative 7 -> 5: no step), 3 more in month 3 (cumulative 10, rounded 10: 5 events
    # from a rounded risk set of 5 would show survival 0 while 2 patients live on)
    time = np.array([10.0] * 4 + [40.0] * 3 + [70.0] * 3 + [400.0] * 2)
    event = np.array([True] * 10 + [False] * 2)
    dc = disclose_curve(time, event, DisclosureControl(threshold=5, rounding=5), 30)
    assert dc.curve is not None and dc.curve.surv.min() > 0
    assert dc.stopped_at == 90 and dc.stopped_because == STOP_ROUNDED_RISK_SET


def test_curve_stopped_by_rounding_or_by_the_end_of_follow_up() -> None:
    # 14 patients, rounding 10: 6 deaths in the first month leave a true risk set of 8
    # (>= the threshold 5) but the rounded counts 10 deaths of 10: the rounding stops the
    # curve before its first month (shown, it would fall to 0)
    time = np.array([10.0] * 6 + [100.0] * 8)
    event = np.array([True] * 6 + [False] * 8)
    dc = disclose_curve(time, event, DisclosureControl(threshold=5, rounding=10), 30)
    assert dc.curve is not None and not len(dc.curve.time) and dc.stopped_at == 30
    assert dc.stopped_because == STOP_ROUNDED_RISK_SET
    # 10 patients all leaving in the same month: shown to that month, follow-up ended
    time = np.array([40.0] * 5 + [50.0] * 5)
    dc = disclose_curve(time, time < 45, DisclosureControl(threshold=5, rounding=5), 30)
    shown = dc.to_json([0.0])
    assert shown["shown_until_day"] == 60 and shown["stopped_at_day"] is None
    assert shown["stopped_because"] == STOP_FOLLOW_UP


def test_vectorised_rounding_is_the_count_rule() -> None:
    values = np.arange(0, 200)
    for unit in (1, 2, 5, 7, 10):
        want = [disclose_count(int(v), threshold=0, rounding=unit) for v in values]
        assert rounded(values, unit).tolist() == want


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 300),
    groups=st.integers(1, 6),
    threshold=st.integers(1, 8),
    interval=st.sampled_from([7, 30]),
)
def test_many_groups_quantiles_equal_one_curve_each(
    seed: int, n: int, groups: int, threshold: int, interval: int
) -> None:
    rng = np.random.default_rng(seed)
    time = np.floor(rng.exponential(200, n))
    event = rng.random(n) < 0.7
    group = rng.integers(0, groups, n)
    control = DisclosureControl(threshold=threshold, rounding=5)
    got = disclosed_quantiles(time, event, group, groups, control, interval)
    for g in range(groups):
        dc = disclose_curve(time[group == g], event[group == g], control, interval)
        want = (
            [np.nan] * 3
            if dc.curve is None or not len(dc.curve.time)
            else [dc.curve.quantile(p).time for p in (0.25, 0.5, 0.75)]
        )
        np.testing.assert_array_equal(got[g], np.array(want))
