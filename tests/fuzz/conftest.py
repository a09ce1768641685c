"""The fuzz suite's settings: a bounded profile in ``make test`` and a long one by hand.

``HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/fuzz`` runs the long profile (see
``docs/ingest.md``, "Fuzzing"); ``FUZZ_EXAMPLES=N`` sets the examples per target. The
profiles are applied per test (``FUZZ``), not loaded globally, so the suite's other
hypothesis tests keep their own settings.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from hypothesis import HealthCheck, settings

#: Examples per target: ``ci`` keeps the whole suite under a minute; ``long`` is by hand.
PROFILES = {
    "ci": settings(max_examples=100, derandomize=True),
    "long": settings(max_examples=5000),
}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in PROFILES:
    raise RuntimeError(f"HYPOTHESIS_PROFILE={PROFILE!r}; known: {', '.join(PROFILES)}")

#: Per test: hypothesis' own deadline is off (the shared machines' load makes a timing
#: deadline flaky); :func:`within` is the per-example deadline for hangs.
FUZZ = settings(
    PROFILES[PROFILE],
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", PROFILES[PROFILE].max_examples)),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Seconds an example may take before it counts as a hang (a read takes milliseconds).
EXAMPLE_SECONDS = 20.0


class Hang(BaseException):
    """An example ran past :data:`EXAMPLE_SECONDS`."""


@contextmanager
def within(seconds: float = EXAMPLE_SECONDS) -> Iterator[None]:
    """Raise :class:`Hang` in the code under test if it runs past ``seconds``."""

    def alarm(_sig: int, _frame: FrameType | None) -> None:
        raise Hang(f"example still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
