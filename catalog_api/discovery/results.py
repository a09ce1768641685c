"""What the engine answers: exact counts of one query, before disclosure control.

Never shown to a user as they are: :func:`catalog_api.discovery.disclosure.disclose` turns
a :class:`CountResult` into the answer a user sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyroaring import BitMap


@dataclass(frozen=True)
class Tally:
    """Exact patients per category: ``counts[i]`` in ``names[i]`` (zero for the categories
    without any); ``rank[i]`` is the position of ``names[i]`` in name order."""

    names: np.ndarray  # of str (dtype object)
    rank: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class CountResult:
    """Exact counts of one query (before disclosure control)."""

    version_id: str
    matched: int  # patients matching the definition, any consent
    permitted: BitMap  # of those, patients whose consent permits the purpose
    excluded: int  # matched - permitted
    by_tumour_type: Tally
    by_centre: Tally
    denominator: int | None  # permitted patients whose assay covered the asked genes
    genes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Patients counted: matching and consent-permitted."""
        return len(self.permitted)
