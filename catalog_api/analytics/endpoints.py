"""Time-to-event endpoints from journeys: (time, event) per patient or per line.

* ``os_from_diagnosis`` — patients anchored at a primary diagnosis (``anchor =
  'primary_diagnosis'``; the anchoring diagnosis is day 0): event at ``death_day``, else
  censored at ``last_known_alive_day``;
* ``os_from_line`` (line N) — patients with a line N: from its ``start_day`` to death,
  else censored at the last known alive day;
* ``ttnt_after_line`` (line N) — time to next treatment: from line N's start to the
  start of line N + 1 or death, whichever comes first (both events, as in the usual
  real-world definition), else censored at the last known alive day.

Per line (for the regimen table): ``time_on_treatment`` — from a line's start to its end
(``end_day``; an ``ongoing`` line is censored at the last known alive day) and
``ttnt`` as above for that line.

A patient or line without the days an endpoint needs, or whose end comes before its
start, is left out and counted in ``excluded``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from catalog_api.analytics.errors import AnalyticsInputError
from catalog_api.analytics.journeys import END_REASONS, Journeys

EndpointKind = Literal["os_from_diagnosis", "os_from_line", "ttnt_after_line"]
ENDPOINTS: tuple[str, ...] = ("os_from_diagnosis", "os_from_line", "ttnt_after_line")
_ONGOING = END_REASONS.index("ongoing")


@dataclass(frozen=True)
class Rows:
    """Rows of one endpoint: ``slots[i]`` had ``time[i]`` days, ``event[i]`` or censored;
    ``excluded`` patients (or lines) of the cohort had no usable times."""

    slots: np.ndarray
    time: np.ndarray
    event: np.ndarray
    excluded: int


def _finish(slots: np.ndarray, time: np.ndarray, event: np.ndarray, eligible: int) -> Rows:
    ok = np.isfinite(time) & (time >= 0)
    return Rows(slots[ok], time[ok], event[ok], eligible - int(ok.sum()))


def _after(j: Journeys, slots: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time from ``start`` to death (event), else to the last known alive day."""
    death = j.death_day[slots]
    alive = j.last_alive_day[slots]
    died = ~np.isnan(death)
    end = np.where(died, death, alive)
    return end - start, died


def endpoint(
    j: Journeys, mask: np.ndarray, kind: str, line: int | None = None, n_cohort: int = 0
) -> Rows:
    """The rows of endpoint ``kind`` for the patients of ``mask`` (a slot mask);
    ``excluded`` counts the cohort's patients (``n_cohort`` of them) left out."""
    if kind == "os_from_diagnosis":
        slots = np.flatnonzero(mask & j.from_diagnosis)
        time, event = _after(j, slots, np.zeros(len(slots)))
        rows = _finish(slots, time, event, len(slots))
        return Rows(rows.slots, rows.time, rows.event, n_cohort - len(rows.slots))
    if kind not in ENDPOINTS:
        raise AnalyticsInputError(f"unknown endpoint {kind!r}; known: {', '.join(ENDPOINTS)}")
    if line is None or line < 1:
        raise AnalyticsInputError(f"endpoint {kind!r} needs line (1 = first line)")
    sel = np.flatnonzero((j.l_line == line) & mask[j.l_slot])
    # one row per patient: the first row of that line number
    slots, first = np.unique(j.l_slot[sel], return_index=True)
    sel = sel[first]
    start = j.l_start[sel]
    if kind == "os_from_line":
        time, event = _after(j, slots, start)
    else:
        time, event = ttnt(j, sel)
    rows = _finish(slots, time, event, len(slots))
    return Rows(rows.slots, rows.time, rows.event, n_cohort - len(rows.slots))


def ttnt(j: Journeys, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time to next treatment of the line rows ``lines``: to the next line's start or
    death (events, whichever first), else censored at the last known alive day."""
    slots = j.l_slot[lines]
    start = j.l_start[lines]
    nxt = j.l_next[lines]
    death = j.death_day[slots]
    first = np.fmin(nxt, death)  # NaN only when both are
    event = ~np.isnan(first)
    end = np.where(event, first, j.last_alive_day[slots])
    return end - start, event


def time_on_treatment(j: Journeys, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time on treatment of the line rows ``lines``: start to end of the line (event);
    an ongoing line is censored at the last known alive day (or its last day so far)."""
    start = j.l_start[lines]
    end = j.l_end[lines]
    ongoing = j.l_reason[lines] == _ONGOING
    alive = j.last_alive_day[j.l_slot[lines]]
    stop = np.where(ongoing, np.fmax(alive, end), end)
    return stop - start, ~ongoing


def line_rows(j: Journeys, lines: np.ndarray, kind: str) -> Rows:
    """Per-line rows (``time_on_treatment`` or ``ttnt``) of the line rows ``lines``."""
    if kind == "time_on_treatment":
        time, event = time_on_treatment(j, lines)
    else:
        time, event = ttnt(j, lines)
    return _finish(j.l_slot[lines], time, event, len(lines))
