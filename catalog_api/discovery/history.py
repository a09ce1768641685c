"""Disclosure state that every replica sees and that survives restarts: the query budget
and the remembered answers of the differencing check.

Kept in the application database (the one store a hub already runs: SQLite under
``ONCOLAKE_HOME`` in the embedded default, PostgreSQL in production), in three tables:

* ``disclosure_queries``: one row per count query charged to a user (the budget counts
  the rows of the sliding window);
* ``disclosure_answers``: one row per number shown to a user (a total, an excluded count,
  a coverage denominator): the patients it counted, as a Roaring bitmap of *stable
  patient numbers*, its size (the differencing check only compares answers whose sizes
  differ by less than the threshold, so it reads only those rows), the query digest and
  the lake version;
* ``disclosure_patients``: the stable numbers: one small integer per patient, keyed by a
  keyed hash of the pseudonym (the pseudonym itself is not stored). The in-memory index
  numbers patients by slots that change when it is rebuilt (after a withdrawal, in
  another process): answers are remembered in stable numbers so that answers from other
  lake versions, processes and restarts can be compared.

A check runs in one transaction per user, serialised across replicas (PostgreSQL: an
advisory transaction lock on the user; SQLite: the first write takes the database's write
lock), so two replicas cannot both let through the two halves of a differencing pair.
Rows older than the retention horizon (``history_days``, default a year) are deleted at
the user's next query.

:class:`MemoryStore` keeps the same state in one process (unit tests, tools).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import sqlalchemy as sa
from pyroaring import BitMap
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from catalog_api.models import Base

#: Keys looked up or inserted per statement when numbering patients.
NUMBER_CHUNK = 5_000

queries_table = sa.Table(
    "disclosure_queries",
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(256), nullable=False),
    sa.Column("at", sa.Float, nullable=False, comment="Unix time of the query."),
    sa.Index("ix_disclosure_queries_user_at", "username", "at"),
)
answers_table = sa.Table(
    "disclosure_answers",
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(256), nullable=False),
    sa.Column("at", sa.Float, nullable=False, comment="Unix time of the answer."),
    sa.Column("digest", sa.String(64), nullable=False, comment="Query digest (SHA-256)."),
    sa.Column("definition", sa.String(64), nullable=False, comment="Definition digest."),
    sa.Column("lake_version", sa.String(256), nullable=False),
    sa.Column("name", sa.String(32), nullable=False, comment="count, excluded or covered."),
    sa.Column("size", sa.Integer, nullable=False, comment="Patients counted."),
    sa.Column("patients", sa.LargeBinary, nullable=False, comment="zlib(Roaring bitmap)."),
    sa.Index("ix_disclosure_answers_user_size", "username", "size"),
    sa.Index("ix_disclosure_answers_at", "at"),
)
#: How many of a remembered number's smallest patients are kept as its marks: the largest
#: disclosure threshold the check supports (see the module doc).
MARKS = 8
marks_table = sa.Table(
    "disclosure_marks",
    Base.metadata,
    sa.Column(
        "answer_id",
        sa.Integer,
        sa.ForeignKey("disclosure_answers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("rank", sa.SmallInteger, primary_key=True, comment="0: the smallest number."),
    sa.Column("username", sa.String(256), nullable=False),
    sa.Column("number", sa.Integer, nullable=False, comment="A stable patient number."),
    sa.Index("ix_disclosure_marks_user_number", "username", "number"),
)
patients_table = sa.Table(
    "disclosure_patients",
    Base.metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(32), nullable=False, unique=True, comment="Keyed hash."),
)


@dataclass(frozen=True)
class Remembered:
    """A number shown to a user earlier: what it counted, on which version, when."""

    at: float
    digest: str
    lake_version: str
    name: str
    patients: BitMap
    #: the cohort definition's digest (without the purpose)
    definition: str = ""


class Transaction(Protocol):
    """One user's disclosure state, locked for one check (see the module doc)."""

    def queries_since(self, since: float) -> tuple[int, float | None]:
        """``(queries made since since, the oldest of them)``."""

    def charge(self, at: float) -> None:
        """Charge one query made at ``at``."""

    def near(self, sets: Mapping[str, BitMap], t: int, since: float) -> dict[str, list[Remembered]]:
        """For each of ``sets`` (by name), the remembered numbers made since ``since`` whose
        patients may differ from it by fewer than ``t``, equal sets
        included: at least those; each a candidate the caller compares exactly."""

    def remember(self, answer: Remembered) -> None:
        """Remember one shown number."""


class DisclosureStore(Protocol):
    """Where budgets, remembered answers and stable patient numbers are kept."""

    def transaction(
        self, user: str, forget_before: float, conn: sa.Connection | None = None
    ) -> AbstractContextManager[Transaction]:
        """One check's transaction for ``user``, serialised with every other for them
        (on ``conn``, in its transaction, when given); the user's queries and answers made
        before ``forget_before`` are deleted first."""

    def numbers(self, patient_ids: Sequence[str], conn: sa.Connection | None = None) -> np.ndarray:
        """The stable numbers (uint32) of ``patient_ids``, assigned on first sight (on
        ``conn``, in its transaction, when given)."""

    def reset(self, user: str | None = None) -> None:
        """Forget the state of ``user`` (or of everyone): for operators and tests."""


#: Prefixes of breakdown cells' names (as ``catalog_api.discovery.disclosure`` names them).
CELL_KINDS = ("centre:", "tumour:")


def category(name: str) -> str | None:
    """A breakdown cell's category (``centre:C1`` for ``any:centre:C1``); None: a total."""
    bare = name.removeprefix("any:")
    return bare if bare.startswith(CELL_KINDS) else None


def pack(bm: BitMap) -> bytes:
    """A bitmap as stored (Roaring's portable serialisation, zlib-compressed)."""
    return zlib.compress(bm.serialize(), 1)


def unpack(data: bytes) -> BitMap:
    """The bitmap :func:`pack` stored."""
    return BitMap.deserialize(zlib.decompress(data))


def patient_key(secret: bytes, patient_id: str) -> str:
    """The keyed hash that names a patient in ``disclosure_patients`` (no pseudonym is
    stored there: a withdrawal's purge finds none)."""
    return hmac.new(secret, patient_id.encode(), hashlib.sha256).hexdigest()[:32]


# -- in one process -----------------------------------------------------------------------


@dataclass
class _MemoryUser:
    queries: list[float]
    answers: list[Remembered]


class _MemoryTransaction:
    def __init__(self, state: _MemoryUser, cutoff: float) -> None:
        self.state = state
        state.queries = [q for q in state.queries if q >= cutoff]
        state.answers = [a for a in state.answers if a.at >= cutoff]

    def queries_since(self, since: float) -> tuple[int, float | None]:
        recent = [q for q in self.state.queries if q > since]
        return len(recent), min(recent) if recent else None

    def charge(self, at: float) -> None:
        self.state.queries.append(at)

    def near(self, sets: Mapping[str, BitMap], t: int, since: float) -> dict[str, list[Remembered]]:
        out: dict[str, list[Remembered]] = {}
        for name, bm in sets.items():
            n = len(bm)
            out[name] = [
                a for a in self.state.answers if a.at > since and abs(len(a.patients) - n) < t
            ]
        return out

    def remember(self, answer: Remembered) -> None:
        self.state.answers.append(answer)


class MemoryStore:
    """The disclosure state of one process (lost on restart: tests and tools only)."""

    def __init__(self) -> None:
        self._users: dict[str, _MemoryUser] = {}
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def transaction(
        self, user: str, forget_before: float, conn: sa.Connection | None = None
    ) -> Iterator[_MemoryTransaction]:
        """See :meth:`DisclosureStore.transaction` (``conn`` is ignored)."""
        with self._lock:
            state = self._users.setdefault(user, _MemoryUser([], []))
            yield _MemoryTransaction(state, forget_before)

    def numbers(self, patient_ids: Sequence[str], conn: sa.Connection | None = None) -> np.ndarray:
        """See :meth:`DisclosureStore.numbers` (``conn`` is ignored)."""
        with self._lock:
            out = np.empty(len(patient_ids), dtype=np.uint32)
            for i, pid in enumerate(patient_ids):
                out[i] = self._numbers.setdefault(pid, len(self._numbers) + 1)
            return out

    def remembered(self, user: str) -> list[Remembered]:
        """The user's remembered answers, oldest first."""
        with self._lock:
            state = self._users.get(user)
            return list(state.answers) if state else []

    def reset(self, user: str | None = None) -> None:
        """See :meth:`DisclosureStore.reset`."""
        with self._lock:
            if user is None:
                self._users.clear()
            else:
                self._users.pop(user, None)


# -- in the application database ----------------------------------------------------------


class _SqlTransaction:
    def __init__(self, conn: sa.Connection, user: str) -> None:
        self.conn = conn
        self.user = user
        self.pending: list[dict[str, object]] = []
        self.pending_marks: list[BitMap] = []

    def queries_since(self, since: float) -> tuple[int, float | None]:
        q = queries_table
        n, oldest = self.conn.execute(
            sa.select(sa.func.count(), sa.func.min(q.c.at)).where(
                q.c.username == self.user, q.c.at > since
            )
        ).one()
        return int(n), oldest

    def charge(self, at: float) -> None:
        self.conn.execute(queries_table.insert().values(username=self.user, at=at))

    def near(self, sets: Mapping[str, BitMap], t: int, since: float) -> dict[str, list[Remembered]]:
        k = max(t, 1)
        if k > MARKS:  # more than the marks cover: every remembered number of a near size
            return {name: self._of_size(len(bm), k, since) for name, bm in sets.items()}
        bottoms = {name: bm[:k] for name, bm in sets.items()}
        wanted = sorted(set(BitMap.union(*bottoms.values()))) if bottoms else []
        a, m = answers_table, marks_table
        # number → [(answer id, size)] of the user's remembered numbers marked by it
        marked: dict[int, list[tuple[int, int]]] = {}
        for i in range(0, len(wanted), NUMBER_CHUNK):
            rows = self.conn.execute(
                sa.select(m.c.number, m.c.answer_id, a.c.size)
                .join(a, a.c.id == m.c.answer_id)
                .where(
                    m.c.username == self.user,
                    m.c.number.in_(wanted[i : i + NUMBER_CHUNK]),
                    m.c.rank < k,
                    a.c.at > since,
                )
            )
            for number, answer_id, size in rows:
                marked.setdefault(int(number), []).append((int(answer_id), int(size)))
        hits: dict[str, set[int]] = {}
        for name, bm in sets.items():
            n = len(bm)
            hits[name] = {
                answer_id
                for number in bottoms[name]
                for answer_id, size in marked.get(number, ())
                if abs(size - n) < k
            }
        ids = sorted(set().union(*hits.values())) if hits else []
        loaded: dict[int, Remembered] = {}
        for i in range(0, len(ids), NUMBER_CHUNK):
            for r in self.conn.execute(
                sa.select(
                    a.c.id,
                    a.c.at,
                    a.c.digest,
                    a.c.lake_version,
                    a.c.name,
                    a.c.patients,
                    a.c.definition,
                ).where(a.c.id.in_(ids[i : i + NUMBER_CHUNK]))
            ):
                loaded[r[0]] = Remembered(r[1], r[2], r[3], r[4], unpack(r[5]), r[6])
        return {name: [loaded[i] for i in sorted(v)] for name, v in hits.items()}

    def _of_size(self, n: int, k: int, since: float) -> list[Remembered]:
        a = answers_table
        rows = self.conn.execute(
            sa.select(
                a.c.at, a.c.digest, a.c.lake_version, a.c.name, a.c.patients, a.c.definition
            ).where(
                a.c.username == self.user, a.c.size.between(n - k + 1, n + k - 1), a.c.at > since
            )
        )
        return [Remembered(r[0], r[1], r[2], r[3], unpack(r[4]), r[5]) for r in rows]

    def remember(self, answer: Remembered) -> None:
        self.pending.append(
            {
                "username": self.user,
                "at": answer.at,
                "digest": answer.digest,
                "definition": answer.definition,
                "lake_version": answer.lake_version,
                "name": answer.name,
                "size": len(answer.patients),
                "patients": pack(answer.patients),
            }
        )
        self.pending_marks.append(answer.patients[:MARKS])

    def flush(self) -> None:
        """Write the remembered answers (one statement for all of them: an answer with a
        breakdown remembers a row per cell)."""
        if not self.pending:
            return
        a = answers_table
        # one executemany, then the new rows' ids by name (the names of one check differ;
        # this user's rows above the highest id before are this check's: checks of one
        # user are serialised). RETURNING in parameter order made SQLite insert row by row.
        before = self.conn.execute(sa.select(sa.func.max(a.c.id))).scalar() or 0
        self.conn.execute(a.insert(), self.pending)
        new = sa.select(a.c.name, a.c.id).where(a.c.id > before, a.c.username == self.user)
        ids: dict[str, int] = {str(name): int(i) for name, i in self.conn.execute(new)}
        rows = [
            (ids[str(answer["name"])], rank, self.user, number)
            for answer, bottom in zip(self.pending, self.pending_marks, strict=True)
            for rank, number in enumerate(bottom)
        ]
        if rows:
            # the driver's executemany directly: MARKS rows per remembered number, a
            # thousand or more per answer with a breakdown (SQLAlchemy's per-row parameters
            # cost as much)
            mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
            self.conn.exec_driver_sql(
                "INSERT INTO disclosure_marks (answer_id, rank, username, number) "
                f"VALUES ({mark}, {mark}, {mark}, {mark})",
                rows,
            )
        self.pending, self.pending_marks = [], []


class SqlStore:
    """The disclosure state in the application database (see the module doc)."""

    def __init__(self, engine: Engine, secret: bytes) -> None:
        self.engine = engine
        self._secret = secret
        self._known: dict[str, int] = {}  # patient key → number (numbers never change)
        self._numbers_lock = threading.Lock()

    @contextmanager
    def transaction(
        self, user: str, forget_before: float, conn: sa.Connection | None = None
    ) -> Iterator[_SqlTransaction]:
        """See :meth:`DisclosureStore.transaction`; with ``conn``, inside the caller's
        transaction on that connection (committed or rolled back with it: a governance
        action that writes first must not wait for its own database lock on SQLite)."""
        if conn is not None:
            tx = self._begin(conn, user, forget_before)
            yield tx
            tx.flush()
            return
        with self.engine.begin() as own:
            tx = self._begin(own, user, forget_before)
            yield tx
            tx.flush()

    @staticmethod
    def _begin(conn: sa.Connection, user: str, forget_before: float) -> _SqlTransaction:
        if conn.dialect.name == "postgresql":
            # one check per user at a time across every replica (released at commit)
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(user))))
        # SQLite: this first statement writes, which takes the database's write lock until
        # the commit (had a read come first, two checks could read the same history)
        q, a = queries_table, answers_table
        conn.execute(q.delete().where(q.c.username == user, q.c.at < forget_before))
        # the old answers found by the time index, then the user's among them: written
        # as one condition on (username, at), SQLite reads every answer of the user
        # through the (username, size) index (13 ms at 10,000 remembered numbers, on
        # every check: bench/discovery/bench_disclosure.py)
        # (``username || ''``: an expression no index serves, so the time index is used)
        old = (
            sa.select(a.c.id)
            .where(a.c.at < forget_before, (a.c.username + "") == user)
            .scalar_subquery()
        )
        m = marks_table
        conn.execute(m.delete().where(m.c.answer_id.in_(old)))  # also without SQLite's FKs
        conn.execute(a.delete().where(a.c.id.in_(old)))
        return _SqlTransaction(conn, user)

    def numbers(self, patient_ids: Sequence[str], conn: sa.Connection | None = None) -> np.ndarray:
        """See :meth:`DisclosureStore.numbers` (new keys inserted once, by any replica).

        Without ``conn``, on a connection of its own, committed at once. With ``conn``, in
        the caller's transaction: nothing waits on a write lock the caller holds (SQLite
        has one per database). Only numbers read on a connection of its own are kept in
        memory: those read in the caller's transaction may be its own uncommitted inserts
        (rolled back, another replica gives the number to another patient)."""
        return self.numbers_of_keys(self.keys(patient_ids), conn)

    def keys(self, patient_ids: Sequence[str]) -> list[str]:
        """The keyed hashes of ``patient_ids`` (:func:`patient_key`), as the table holds them
        (the discovery index keeps them, so a restart need not hash every patient again)."""
        return [patient_key(self._secret, p) for p in patient_ids]

    def preload(self) -> int:
        """Read every number the table holds, in one query (a restarted server numbering a
        whole index: one query instead of one per chunk); how many."""
        t = patients_table
        with self._numbers_lock, self.engine.connect() as conn:
            for key, number in conn.execute(sa.select(t.c.key, t.c.number)):
                self._known[key] = int(number)
            return len(self._known)

    def numbers_of_keys(self, keys: Sequence[str], conn: sa.Connection | None = None) -> np.ndarray:
        """:meth:`numbers` of patients given by their keys (:meth:`keys`)."""
        if conn is not None:
            # in the caller's transaction, without the lock: a thread numbering on its own
            # connection under the lock may be waiting for the write lock this caller
            # holds (SQLite), and would wait for it while this waits for the lock
            known = dict(self._known)
            missing = [k for k in dict.fromkeys(keys) if k not in known]
            for i in range(0, len(missing), NUMBER_CHUNK):
                known.update(self._fetch(conn, missing[i : i + NUMBER_CHUNK]))
            return np.fromiter((known[k] for k in keys), dtype=np.uint32, count=len(keys))
        with self._numbers_lock:
            missing = [k for k in dict.fromkeys(keys) if k not in self._known]
            for i in range(0, len(missing), NUMBER_CHUNK):
                with self.engine.begin() as own:
                    self._known.update(self._fetch(own, missing[i : i + NUMBER_CHUNK]))
            known = self._known
            return np.fromiter((known[k] for k in keys), dtype=np.uint32, count=len(keys))

    @staticmethod
    def _fetch(conn: sa.Connection, keys: list[str]) -> dict[str, int]:
        """The numbers of ``keys``, inserting the missing ones on ``conn``."""
        t = patients_table
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(t).on_conflict_do_nothing(index_elements=["key"]),
            [{"key": k} for k in keys],
        )
        select = sa.select(t.c.key, t.c.number).where(t.c.key.in_(keys))
        return {key: int(number) for key, number in conn.execute(select)}

    def reset(self, user: str | None = None) -> None:
        """See :meth:`DisclosureStore.reset`."""
        with self.engine.begin() as conn:
            for t in (queries_table, marks_table, answers_table):
                stmt = t.delete() if user is None else t.delete().where(t.c.username == user)
                conn.execute(stmt)


def _lock_key(user: str) -> int:
    """A signed 64-bit advisory-lock key for ``user``."""
    return int.from_bytes(
        hashlib.sha256(b"disclosure:" + user.encode()).digest()[:8], "big", signed=True
    )
