"""Patients' journeys as numpy arrays aligned with the discovery index's slots.

The input contract is ``docs/ingest.md`` ("The columns"): ``patients`` (``anchor``,
``death_day``, ``last_known_alive_day``, ``sex``), ``conditions`` (``kind``,
``diagnosis_day``, ``age_at_diagnosis``, stage), ``lines_of_therapy`` (``line``,
``drugs``, ``regimen_name``, ``start_day``, ``end_day``, ``end_reason``,
``next_line_start_day``) and ``treatments`` (``line_of_therapy``, ``start_year``: the
year a line started is its first drug's). Every ``*_day`` is days from the patient's
anchor. :data:`COLUMNS` is the only place that names them.

A :class:`JourneyStore` keeps one :class:`Journeys` per index state: the rows of each
visible submission are read once (``Lake.read``, only that submission's rows) and
scattered to the slots the index gave its patients, so a cohort's bitmap of slots selects
its journeys without a join. When the index grows by appends, only the new submissions
are read (as the index does); when it is rebuilt (slots renumbered), everything is.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog_api.discovery.index import LakeIndex
from catalog_api.discovery.terms import STAGE_SNOMED
from harmonise.lake import Lake, LakeVersion, arrow_schema
from harmonise.model import TABLES

#: Lake columns read per table (``patient_id`` and ``submission_id`` always).
COLUMNS: dict[str, list[str]] = {
    "patients": ["patient_id", "anchor", "death_day", "last_known_alive_day", "sex"],
    "conditions": [
        "patient_id",
        "kind",
        "diagnosis_day",
        "age_at_diagnosis",
        "stage_group",
        "stage_group_display",
    ],
    "lines_of_therapy": [
        "patient_id",
        "line",
        "drugs",
        "regimen_name",
        "start_day",
        "end_day",
        "end_reason",
        "next_line_start_day",
    ],
    "treatments": ["patient_id", "line_of_therapy", "start_year"],
}
#: Sex codes (``Journeys.sex``), the ``patients.sex`` values; anything else is unknown.
SEXES = ("female", "male", "other", "unknown")
#: Stage codes (``Journeys.stage``): the TNM stage group's top level, or unknown.
STAGES = ("0", "I", "II", "III", "IV", "unknown")
#: End reasons of a line (``lines_of_therapy.end_reason``).
END_REASONS = ("next_line", "progression", "death", "ongoing", "last_contact", "unknown")
_STAGE_RE = re.compile(r"^(?:STAGE\s*)?(IV|III|II|I|0)(?:[A-C][0-9]?|IS)?$")


@dataclass(frozen=True)
class Journeys:
    """Per-slot clinical time and per-line rows of one index state (see the module doc).

    Per slot (arrays of ``n_slots``; NaN or the "unknown" code where not known):
    ``from_diagnosis`` (anchored at a primary diagnosis), ``death_day``,
    ``last_alive_day``, ``diagnosis_day``, ``age``, ``sex``, ``stage``, ``centre``,
    ``country``. Per line (one row per patient and line): ``l_slot``, ``l_line``,
    ``l_regimen`` (a code into ``regimens``), ``l_start``, ``l_end``, ``l_next``,
    ``l_reason``, ``l_year``.
    """

    version_id: str
    n_slots: int
    from_diagnosis: np.ndarray
    death_day: np.ndarray
    last_alive_day: np.ndarray
    diagnosis_day: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    stage: np.ndarray
    centre: np.ndarray
    country: np.ndarray
    l_slot: np.ndarray
    l_line: np.ndarray
    l_regimen: np.ndarray
    l_start: np.ndarray
    l_end: np.ndarray
    l_next: np.ndarray
    l_reason: np.ndarray
    l_year: np.ndarray
    regimens: tuple[str, ...]
    centres: tuple[str, ...]
    countries: tuple[str, ...]

    def cohort_mask(self, slots: np.ndarray) -> np.ndarray:
        """A boolean mask over slots, true for ``slots``."""
        mask = np.zeros(self.n_slots, dtype=bool)
        mask[slots] = True
        return mask

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))


@dataclass
class CodeBooks:
    """Append-only code books shared by every piece of a store."""

    regimens: dict[str, int] = field(default_factory=dict)
    centres: dict[str, int] = field(default_factory=dict)
    countries: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def code(book: dict[str, int], values: Iterable[str]) -> np.ndarray:
        out = [book.setdefault(v, len(book)) for v in values]
        return np.array(out, dtype=np.int32)

    @staticmethod
    def code_array(book: dict[str, int], values: Any) -> np.ndarray:
        """:meth:`code` of an Arrow string array (each distinct value coded once)."""
        return _mapped(values, lambda v: book.setdefault(v, len(book)), np.int32)


def _mapped(values: Any, fn: Any, dtype: Any) -> np.ndarray:
    """``fn`` applied to each distinct value of an Arrow array (nulls as None)."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not len(arr):
        return np.zeros(0, dtype=dtype)
    enc = pc.dictionary_encode(arr, null_encoding="encode")
    table = np.array([fn(v) for v in enc.dictionary.to_pylist()], dtype=dtype)
    return np.asarray(table[enc.indices.to_numpy(zero_copy_only=False)], dtype=dtype)


@dataclass
class _Piece:
    """One submission's journeys, by slot (before scattering into full arrays)."""

    slots: np.ndarray
    per_slot: dict[str, np.ndarray]
    lines: dict[str, np.ndarray]


def _f(col: Any) -> np.ndarray:
    """An integer/float column as float64 with NaN for nulls."""
    arr = pc.cast(col, pa.float64())
    return np.asarray(pc.fill_null(arr, float("nan")).to_numpy(zero_copy_only=False))


def stage_code(value: str | None) -> int:
    """The :data:`STAGES` code of a stage group string (``IIIB`` → III, ``Stage IV`` → IV)
    or of a SNOMED CT stage group concept (``1222801008`` → III, by discovery's
    :data:`~catalog_api.discovery.terms.STAGE_SNOMED`)."""
    if value is None:
        return STAGES.index("unknown")
    v = str(value).strip()
    m = _STAGE_RE.match(STAGE_SNOMED.get(v, v).upper())
    return STAGES.index(m.group(1)) if m else STAGES.index("unknown")


def stage_codes(stage: Any) -> np.ndarray:
    """:func:`stage_code` of each value (a list or an Arrow array)."""
    arr = stage if isinstance(stage, pa.Array | pa.ChunkedArray) else pa.array(stage, pa.string())
    return _mapped(arr, stage_code, np.int8)


def condition_stage_codes(code: Any, display: Any) -> np.ndarray:
    """The stage of each condition: its ``stage_group`` (a TNM group or a SNOMED CT
    concept), else its ``stage_group_display`` (``Stage II``) when the code says nothing
    (absent, or a code not in the table), as the discovery index counts it."""
    by_code = stage_codes(code)
    return np.where(by_code == STAGES.index("unknown"), stage_codes(display), by_code)


def regimen_labels(names: pa.Array, drugs: pa.Array) -> pa.Array:
    """The regimen of each line: its library name, else its drugs joined with `` + ``."""
    joined = pc.binary_join(pc.cast(drugs, pa.list_(pa.string())), " + ")
    return pc.coalesce(names, joined, pa.scalar("unknown"))


def _positions(values: Any, value_set: Any) -> np.ndarray:
    """Position of each of ``values`` in ``value_set`` (−1 if absent)."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    pos = pc.index_in(values, value_set=value_set)
    return np.asarray(pc.fill_null(pos, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def build_piece(
    tables: dict[str, pa.Table],
    slot_ids: pa.Array,
    slot_nos: np.ndarray,
    centre: str,
    country: str,
    codes: CodeBooks,
) -> _Piece:
    """One submission's rows (``tables``, as :data:`COLUMNS`) as a piece; the patient id
    ``slot_ids[i]`` has the index slot ``slot_nos[i]`` (rows of other ids are skipped)."""
    pats = tables["patients"]
    at = _positions(pats.column("patient_id"), slot_ids)
    keep = at >= 0
    pats = pats.filter(pa.array(keep))
    slots = slot_nos[at[keep]].astype(np.int64)
    n = len(slots)
    pat_ids = pats.column("patient_id").combine_chunks()
    sex = _mapped(
        pats.column("sex"),
        lambda v: SEXES.index(v) if v in SEXES else SEXES.index("unknown"),
        np.int8,
    )
    anchor = pc.fill_null(pats.column("anchor"), "").to_numpy(zero_copy_only=False)
    per_slot: dict[str, np.ndarray] = {
        "from_diagnosis": anchor == "primary_diagnosis",
        "death_day": _f(pats.column("death_day")),
        "last_alive_day": _f(pats.column("last_known_alive_day")),
        "sex": sex,
        "diagnosis_day": np.full(n, np.nan),
        "age": np.full(n, np.nan),
        "stage": np.full(n, STAGES.index("unknown"), np.int8),
        "centre": np.full(n, codes.code(codes.centres, [centre])[0], np.int32),
        "country": np.full(n, codes.code(codes.countries, [country])[0], np.int32),
    }
    cond = tables["conditions"]
    if cond.num_rows:
        rows = _positions(cond.column("patient_id"), pat_ids)
        ok = rows >= 0
        # the patient's diagnosis: the primary one at the anchor (day 0) first, then the
        # first primary, then any (the basket rule of the index)
        kind = pc.fill_null(cond.column("kind"), "primary").to_numpy(zero_copy_only=False)
        dday = _f(cond.column("diagnosis_day"))
        rank = np.where(kind == "primary", 0, 2) + np.where(dday == 0, 0, 1)
        order = np.lexsort((np.nan_to_num(dday, nan=np.inf), rank, rows))
        order = order[ok[order]]
        first = order[np.unique(rows[order], return_index=True)[1]]
        tgt = rows[first]
        per_slot["diagnosis_day"][tgt] = dday[first]
        per_slot["age"][tgt] = _f(cond.column("age_at_diagnosis"))[first]
        stage = condition_stage_codes(
            cond.column("stage_group"), cond.column("stage_group_display")
        )
        per_slot["stage"][tgt] = stage[first]
    lot = tables["lines_of_therapy"]
    rows = _positions(lot.column("patient_id"), pat_ids)
    ok = rows >= 0
    lot = lot.filter(pa.array(ok)) if lot.num_rows else lot
    rows = rows[ok]
    line = _f(lot.column("line"))
    labels = regimen_labels(lot.column("regimen_name"), lot.column("drugs"))
    year = np.full(len(rows), np.nan)
    tr = tables["treatments"]
    if len(rows) and tr.num_rows:
        # a line's start year: the earliest start year of its drugs
        trows = _positions(tr.column("patient_id"), pat_ids)
        tline = _f(tr.column("line_of_therapy"))
        tyear = _f(tr.column("start_year"))
        good = (trows >= 0) & ~np.isnan(tline) & ~np.isnan(tyear)
        key_t = trows[good] * 1000 + tline[good].astype(np.int64)
        y = tyear[good]
        order = np.lexsort((y, key_t))
        uk, first = np.unique(key_t[order], return_index=True)
        ymin = y[order][first]
        key_l = rows * 1000 + np.nan_to_num(line, nan=-1).astype(np.int64)
        pos = np.searchsorted(uk, key_l)
        hit = (pos < len(uk)) & (uk[np.minimum(pos, len(uk) - 1)] == key_l)
        year[hit] = ymin[pos[hit]]
    lines = {
        "l_slot": slots[rows],
        "l_line": np.nan_to_num(line, nan=0).astype(np.int16),
        "l_regimen": codes.code_array(codes.regimens, labels),
        "l_start": _f(lot.column("start_day")),
        "l_end": _f(lot.column("end_day")),
        "l_next": _f(lot.column("next_line_start_day")),
        "l_reason": _mapped(
            lot.column("end_reason"),
            lambda r: END_REASONS.index(r) if r in END_REASONS else len(END_REASONS) - 1,
            np.int8,
        ),
        "l_year": year,
    }
    return _Piece(slots, per_slot, lines)


_FILL: dict[str, Any] = {
    "from_diagnosis": False,
    "death_day": np.nan,
    "last_alive_day": np.nan,
    "diagnosis_day": np.nan,
    "age": np.nan,
    "sex": SEXES.index("unknown"),
    "stage": STAGES.index("unknown"),
    "centre": -1,
    "country": -1,
}


_SLOT_TYPES: dict[str, Any] = {
    "from_diagnosis": np.bool_,
    "death_day": np.float64,
    "last_alive_day": np.float64,
    "diagnosis_day": np.float64,
    "age": np.float64,
    "sex": np.int8,
    "stage": np.int8,
    "centre": np.int32,
    "country": np.int32,
}


_LINE_TYPES: dict[str, Any] = {
    "l_slot": np.int64,
    "l_line": np.int16,
    "l_regimen": np.int32,
    "l_start": np.float64,
    "l_end": np.float64,
    "l_next": np.float64,
    "l_reason": np.int8,
    "l_year": np.float64,
}


_ALL_TYPES: dict[str, Any] = {**_SLOT_TYPES, **_LINE_TYPES}


def assemble(version_id: str, n_slots: int, pieces: Iterable[_Piece], codes: CodeBooks) -> Journeys:
    """The pieces scattered into one :class:`Journeys` of ``n_slots`` slots."""
    pieces = list(pieces)
    per: dict[str, np.ndarray] = {}
    for name, fill in _FILL.items():
        dtype = pieces[0].per_slot[name].dtype if pieces else np.asarray(fill).dtype
        arr = np.full(n_slots, fill, dtype=dtype)
        for p in pieces:
            arr[p.slots] = p.per_slot[name]
        per[name] = arr
    lines: dict[str, np.ndarray] = {}
    for name, kind in _LINE_TYPES.items():
        parts = [p.lines[name] for p in pieces]
        lines[name] = np.concatenate(parts).astype(kind) if parts else np.zeros(0, kind)

    def names(book: dict[str, int]) -> tuple[str, ...]:
        return tuple(sorted(book, key=book.__getitem__))

    return Journeys(
        version_id,
        n_slots,
        **per,
        **lines,
        regimens=names(codes.regimens),
        centres=names(codes.centres),
        countries=names(codes.countries),
    )


@dataclass(frozen=True)
class IndexState:
    """What the store needs of an index, captured under its lock (cheap: references)."""

    index: LakeIndex
    version: LakeVersion
    generation: int
    n_slots: int
    submissions: dict[str, Any]  # submission id → BitMap of its slots
    infos: dict[str, Any]  # submission id → DatasetInfo

    @classmethod
    def of(cls, idx: LakeIndex) -> IndexState:
        """The state of ``idx`` (call under the indexer's lock)."""
        assert idx.version is not None
        return cls(
            idx,
            idx.version,
            idx.generation,
            len(idx.patient_ids),
            dict(idx.submissions),
            dict(idx.datasets),
        )


#: (index, (generation, version id), journeys, submissions) as readers see them
_Published = tuple[LakeIndex | None, tuple[int, str] | None, Journeys | None, tuple[str, ...]]


class JourneyStore:
    """:class:`Journeys` of the lake at the discovery index's state (see the module doc).

    The arrays grow by appends (capacity doubling, like the index's slots): a
    :class:`Journeys` already handed out stays valid, as appends write only past its
    ends, so bringing the store up to date with a new submission costs that submission's
    rows, not the network's. A rebuilt index (slots renumbered) starts it afresh: from
    the journeys persisted with the index file when there are (:meth:`persisted` /
    ``LakeIndex`` attribute :data:`PERSISTED`), else by reading every submission.
    """

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._lock = threading.Lock()
        self._index: LakeIndex | None = None
        self._subs: dict[str, Any] = {}  # submission id → BitMap of its slots (held)
        self._codes = CodeBooks()
        self._buf: dict[str, np.ndarray] = {}
        self._lines = 0
        self._current: Journeys | None = None
        self._state: tuple[int, str] | None = None  # (generation, version id)
        #: what readers see, replaced as a whole at the end of a sync (read without the
        #: lock, which a sync holds while it reads the lake: minutes for a new index)
        self._published: _Published = (None, None, None, ())
        self.reads = 0  # submissions read (for tests and metrics)
        self.adopted = 0  # journeys taken from a persisted index file
        #: submissions read / to read in the running sync (for "not ready" answers)
        self.progress = (0, 0)

    def matches(self, idx: LakeIndex) -> bool:
        """True if the store holds the journeys of ``idx`` as it is now."""
        index, state, _, _ = self._published
        return (
            index is idx and idx.version is not None and state == (idx.generation, idx.version.id)
        )

    def get(self, idx: LakeIndex) -> Journeys | None:
        """The journeys of ``idx`` as it is now, if the store holds them (else None; never
        waits for a running sync)."""
        index, state, j, _ = self._published
        if index is idx and idx.version is not None and state == (idx.generation, idx.version.id):
            return j
        return None

    def holds(self, idx: LakeIndex) -> bool:
        """True if the store is at some state of ``idx`` (an update costs only new rows)."""
        index, _, j, _ = self._published
        return index is idx and j is not None

    def sync(self, state: IndexState) -> Journeys:
        """The journeys of the index state ``state`` (reading only what changed)."""
        with self._lock:
            key = (state.generation, state.version.id)
            same = self._index is state.index and self._current is not None
            if same and self._state is not None and key[0] <= self._state[0]:
                # already there, or a slower caller's older state of the same index (its
                # generation grows with every update)
                assert self._current is not None
                return self._current
            if self._index is not state.index:  # rebuilt or loaded: slots renumbered
                self._reset()
                self._adopt(state)
            gone = [s for s in self._subs if s not in state.submissions]
            if gone:
                self._drop(gone)
            new = [s for s in state.submissions if s not in self._subs]
            pieces = self._read(state, new) if new else []
            self._current = self._extend(state, pieces)
            self._index = state.index
            self._state = key
            self._published = (state.index, key, self._current, tuple(sorted(self._subs)))
            return self._current

    # -- the arrays ------------------------------------------------------------------------

    def _reset(self) -> None:
        self._subs = {}
        self._codes = CodeBooks()
        self._buf = {}
        self._lines = 0
        self._current = None

    def _grown(self, name: str, need: int, fill: Any, dtype: Any) -> np.ndarray:
        """The buffer ``name`` with room for ``need`` values (a new one when it must grow or
        is read-only: a persisted one, on the index file's pages)."""
        buf = self._buf.get(name)
        if buf is None or len(buf) < need or not buf.flags.writeable:
            cap = max(need, 2 * (len(buf) if buf is not None else 0), 1024)
            grown = np.full(cap, fill, dtype=dtype)
            if buf is not None:
                grown[: len(buf)] = buf
            buf = self._buf[name] = grown
        return buf

    def _extend(self, state: IndexState, pieces: list[tuple[str, _Piece]]) -> Journeys:
        n = state.n_slots
        old_n = self._current.n_slots if self._current is not None else 0
        # a piece's slots below the arrays' end would change what an earlier Journeys
        # shows (never, as slots are appended; then copied first, to be safe)
        low = any(len(p.slots) and int(p.slots.min()) < old_n for _, p in pieces)
        per: dict[str, np.ndarray] = {}
        for name, fill in _FILL.items():
            dtype = _SLOT_TYPES[name]
            if low and name in self._buf:
                self._buf[name] = self._buf[name].copy()
            buf = self._grown(name, n, fill, dtype)
            for _, p in pieces:
                buf[p.slots] = p.per_slot[name]
            per[name] = buf[:n]
        add = sum(len(p.lines["l_slot"]) for _, p in pieces)
        lines: dict[str, np.ndarray] = {}
        for name, kind in _LINE_TYPES.items():
            buf = self._grown(name, self._lines + add, 0, kind)
            at = self._lines
            for _, p in pieces:
                part = p.lines[name]
                buf[at : at + len(part)] = part
                at += len(part)
            lines[name] = buf[: self._lines + add]
        self._lines += add
        for sid, _ in pieces:
            self._subs[sid] = state.submissions[sid]

        def names(book: dict[str, int]) -> tuple[str, ...]:
            return tuple(sorted(book, key=book.__getitem__))

        return Journeys(
            state.version.id,
            n,
            **per,
            **lines,
            regimens=names(self._codes.regimens),
            centres=names(self._codes.centres),
            countries=names(self._codes.countries),
        )

    def _drop(self, gone: list[str]) -> None:
        """Forget replaced submissions' lines (their slots leave every cohort anyway)."""
        dead = np.zeros(len(self._buf["from_diagnosis"]), dtype=bool)
        for sid in gone:
            dead[slots_array(self._subs.pop(sid))] = True
        keep = ~dead[self._buf["l_slot"][: self._lines]]
        for name in _LINE_TYPES:
            self._buf[name] = self._buf[name][: self._lines][keep].copy()
        self._lines = int(keep.sum())

    # -- persistence (with the index file) -------------------------------------------------

    def persisted(self, idx: LakeIndex) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """What to keep with ``idx``'s file: the journeys of a state of ``idx`` (valid for
        any later state of it, as its slots are only appended), or None."""
        index, _, j, subs = self._published  # (no lock: published journeys never change)
        if index is not idx or j is None:
            return None
        meta = {
            "n_slots": j.n_slots,
            "lines": len(j.l_slot),
            "submissions": list(subs),
            "regimens": list(j.regimens),
            "centres": list(j.centres),
            "countries": list(j.countries),
        }
        arrays = {name: getattr(j, name) for name in (*_FILL, *_LINE_TYPES)}
        return meta, arrays

    def _adopt(self, state: IndexState) -> None:
        """Start from the journeys persisted with ``state``'s index file, if they are of
        its slots (a file of this index: its submissions are the index's or fewer)."""
        saved = getattr(state.index, PERSISTED, None)
        if not saved:
            return
        meta, arrays = saved
        subs = meta["submissions"]
        if not set(subs) <= set(state.submissions) or meta["n_slots"] > state.n_slots:
            return
        if any(len(arrays[k]) != meta["n_slots"] for k in _FILL) or any(
            len(arrays[k]) != meta["lines"] for k in _LINE_TYPES
        ):
            return
        self._buf = {k: np.asarray(v, dtype=_ALL_TYPES[k]) for k, v in arrays.items()}
        self._lines = int(meta["lines"])
        self._codes = CodeBooks(
            {v: i for i, v in enumerate(meta["regimens"])},
            {v: i for i, v in enumerate(meta["centres"])},
            {v: i for i, v in enumerate(meta["countries"])},
        )
        self._subs = {s: state.submissions[s] for s in subs}
        n = int(meta["n_slots"])
        self._current = Journeys(
            state.version.id,
            n,
            **{k: self._buf[k][:n] for k in _FILL},
            **{k: self._buf[k][: self._lines] for k in _LINE_TYPES},
            regimens=tuple(meta["regimens"]),
            centres=tuple(meta["centres"]),
            countries=tuple(meta["countries"]),
        )
        self.adopted += 1

    # -- reading the lake ------------------------------------------------------------------

    def _read(self, state: IndexState, submissions: list[str]) -> list[tuple[str, _Piece]]:
        out: list[tuple[str, _Piece]] = []
        self.progress = (0, len(submissions))
        for at in range(0, len(submissions), READ_BATCH):
            batch = submissions[at : at + READ_BATCH]
            out.extend(self._read_batch(state, batch))
            self.progress = (min(at + READ_BATCH, len(submissions)), len(submissions))
        return out

    def _read_batch(self, state: IndexState, submissions: list[str]) -> list[tuple[str, _Piece]]:
        tables = {name: self._read_table(name, state.version, submissions) for name in COLUMNS}
        ids = state.index.patient_ids  # append-only while this index lives
        split = {name: _by_submission(t) for name, t in tables.items()}
        out = []
        for sid in submissions:
            part = {
                name: parts.get(sid, tables[name].schema.empty_table())
                for name, parts in split.items()
            }
            slots = slots_array(state.submissions[sid])
            slot_ids = pa.array([ids[int(s)] for s in slots], pa.string())
            info = state.infos.get(sid)
            centre = info.centre_id if info is not None else "unknown"
            country = (info.row.get("country") if info is not None else None) or "unknown"
            out.append((sid, build_piece(part, slot_ids, slots, centre, country, self._codes)))
            self.reads += 1
        return out

    def _read_table(self, name: str, version: LakeVersion, submissions: list[str]) -> pa.Table:
        """The :data:`COLUMNS` of ``name`` for ``submissions``; a table or column the lake
        does not have yet (a lake from before the journeys schema) reads as nulls."""
        wanted = [*COLUMNS[name], "submission_id"]
        known = set(arrow_schema(name).names) if name in TABLES else set()
        present = [c for c in wanted if c in known]
        if "patient_id" in present and name in TABLES:
            t = self.lake.read(name, version, columns=present, submissions=submissions)
        else:
            t = pa.table({c: pa.array([], pa.string()) for c in ("patient_id", "submission_id")})
        for c in wanted:
            if c not in t.column_names:
                t = t.append_column(c, pa.nulls(t.num_rows, _TYPES.get(c, pa.string())))
        return t


#: Name of the ``LakeIndex`` attribute that holds the journeys read from its file.
PERSISTED = "persisted_journeys"
#: Submissions read per lake read when (re)building (bounds memory, shows progress).
READ_BATCH = 64


def slots_array(bm: Any) -> np.ndarray:
    """The slots of a bitmap as int64 (for indexing)."""
    return np.frombuffer(bm.to_array(), dtype=np.uint32).astype(np.int64)


#: Types of the contract's columns a lake may not have yet (read as nulls).
_TYPES: dict[str, pa.DataType] = {
    "death_day": pa.int32(),
    "last_known_alive_day": pa.int32(),
    "diagnosis_day": pa.int32(),
    "age_at_diagnosis": pa.int32(),
    "line": pa.int32(),
    "line_of_therapy": pa.int32(),
    "start_year": pa.int32(),
    "start_day": pa.int32(),
    "end_day": pa.int32(),
    "next_line_start_day": pa.int32(),
    "drugs": pa.list_(pa.string()),
}


def _by_submission(t: pa.Table) -> dict[str, pa.Table]:
    """The rows of ``t`` per ``submission_id`` (one sort, then slices)."""
    if not t.num_rows:
        return {}
    enc = pc.dictionary_encode(t.column("submission_id")).combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    t = t.take(pa.array(order))
    codes = codes[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(codes)]])
    names = enc.dictionary.to_pylist()
    return {
        str(names[int(codes[a])]): t.slice(int(a), int(b - a))
        for a, b in zip(starts, ends, strict=True)
    }
