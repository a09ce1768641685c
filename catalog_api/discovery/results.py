"""What the engine answers: exact counts of one query, before disclosure control.

Never shown to a user as they are: :func:`catalog_api.discovery.disclosure.disclose` turns
a :class:`CountResult` into the answer a user sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pyroaring import BitMap

if TYPE_CHECKING:
    from catalog_api.discovery.index import LakeIndex


@dataclass(frozen=True)
class Tally:
    """Exact patients per category: ``counts[i]`` in ``names[i]`` (zero for the categories
    without any); ``rank[i]`` is the position of ``names[i]`` in name order."""

    names: np.ndarray  # of str (dtype object)
    rank: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class CountResult:
    """Exact counts of one query (before disclosure control), and the patient sets (slots
    of ``index``) behind each number, for the differencing check."""

    version_id: str
    matched: int  # patients matching the definition, any consent
    permitted: BitMap  # of those, patients whose consent permits the purpose
    excluded: int  # matched - permitted
    by_tumour_type: Tally
    by_centre: Tally
    denominator: int | None  # permitted patients whose assay covered the asked genes
    genes: tuple[str, ...] = ()
    index: LakeIndex | None = field(default=None, repr=False, compare=False)
    #: the patients matching (any consent); never changed after the count
    matched_set: BitMap | None = field(default=None, repr=False, compare=False)
    #: patients whose assay covered the asked genes, and those the purpose permits: their
    #: intersection is the patients of ``denominator`` (made only when checked)
    covered_all: BitMap | None = field(default=None, repr=False, compare=False)
    purpose_set: BitMap | None = field(default=None, repr=False, compare=False)

    @property
    def excluded_set(self) -> BitMap:
        """The patients of ``excluded``: matching, but their consent does not permit the
        purpose (made only when checked)."""
        if self.matched_set is None or not self.excluded:
            return BitMap()
        return self.matched_set - self.permitted

    @property
    def covered(self) -> BitMap | None:
        """The patients of ``denominator`` (None when no variant is asked)."""
        if self.covered_all is None or self.purpose_set is None:
            return None
        return self.covered_all & self.purpose_set

    @property
    def total(self) -> int:
        """Patients counted: matching and consent-permitted."""
        return len(self.permitted)
