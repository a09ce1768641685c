"""Lake maintenance: orphan rows, compaction, snapshot expiry, orphan files (``Lake.maintenance``).

Built on the :class:`~harmonise.lake.Lake` it is given, as pyiceberg's ``MaintenanceTable``
is on its ``Table``: it reads and rewrites through the lake's verified reads and signed
writes, and commits through the lake's file replacement.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import In
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from harmonise.lake import history
from harmonise.lake.storage import modified, strip, warehouse_fs
from harmonise.lake.types import COMMIT_ATTEMPTS, Progress, arrow_schema
from harmonise.lake.writer import align, writer_state
from harmonise.model import DATA_TABLES, TABLES

if TYPE_CHECKING:
    from harmonise.lake.core import Lake

log = logging.getLogger(__name__)


@dataclass
class MaintenanceReport:
    """What :meth:`LakeMaintenance.run` did."""

    orphan_rows_removed: dict[str, int] = field(default_factory=dict)
    files_compacted: dict[str, tuple[int, int]] = field(default_factory=dict)
    snapshots_expired: dict[str, int] = field(default_factory=dict)
    orphan_files_removed: int = 0
    #: Of ``orphan_files_removed``: data files whose writer had died (a killed ingest).
    crashed_writer_files: int = 0


class LakeMaintenance:
    """Compaction, snapshot expiry, orphan rows and orphan files of one lake."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def run(
        self,
        *,
        expire_older_than: dt.timedelta = dt.timedelta(days=7),
        grace: dt.timedelta = dt.timedelta(hours=1),
        target_file_rows: int = 1_000_000,
        progress: Progress | None = None,
    ) -> MaintenanceReport:
        """Remove orphan rows, compact small files, expire snapshots, delete orphan files.

        * rows of submissions the ``datasets`` table does not record (crashed or replaced
          submissions) older than ``grace`` are deleted;
        * each table's files are rewritten into as few as possible (per partition, at most
          ``target_file_rows`` rows each), sorted, with their tags re-signed;
        * snapshots older than ``expire_older_than`` are expired, except pinned ones
          (Iceberg tags) and each table's current snapshot;
        * files under each table's location that no remaining snapshot references and
          that are older than ``grace`` are deleted.

        ``expire_older_than=timedelta(0)`` purges: after a delete, the deleted rows then
        exist in no data file (unless a pinned version holds them), whatever ``grace``:
        files released by expiry were committed and are removed at once. Keep the default
        ``grace`` when other centres may be committing (a withdrawal's purge does).
        """
        say = progress or (lambda _msg: None)
        lake = self.lake
        report = MaintenanceReport()
        now = dt.datetime.now(dt.UTC)
        visible = set(lake.visible_submissions().column("submission_id").to_pylist())
        for name in DATA_TABLES:
            orphans = self._orphan_submissions(name, visible, now - grace)
            if orphans:
                say(f"{name}: removing rows of {len(orphans)} uncommitted submission(s)")
                removed = lake.rewrite_rows(
                    name,
                    In(term="submission_id", literals=orphans),
                    {"submission_id": list(orphans)},
                    "purge",
                )
                report.orphan_rows_removed[name] = removed
        for name in TABLES:
            before, after = self._compact(name, target_file_rows)
            if before != after:
                say(f"{name}: compacted {before} files into {after}")
                report.files_compacted[name] = (before, after)
        released: set[str] = set()
        for name in TABLES:
            tbl = lake.table(name)
            n_before = len(tbl.metadata.snapshots)
            used_before = self._referenced_files(tbl)
            expire(tbl, now - expire_older_than)
            expired_tbl = lake.table(name)
            n_after = len(expired_tbl.metadata.snapshots)
            if n_before != n_after:
                report.snapshots_expired[name] = n_before - n_after
                released |= used_before - self._referenced_files(expired_tbl)
        report.orphan_files_removed, report.crashed_writer_files = self._remove_orphan_files(
            dt.datetime.now(dt.UTC) - grace, released
        )
        say(f"removed {report.orphan_files_removed} orphan file(s)")
        return report

    def expire_history(self, older_than: dt.timedelta) -> dict[str, int]:
        """Expire every table's snapshots older than ``older_than`` (never the current one
        nor pinned ones), without the rest of :meth:`run`; return how many per table.

        pyiceberg copies a table's whole metadata, snapshot list included, several times
        per commit: a long history makes every commit slower. The files the expired
        snapshots released stay until :meth:`run` removes them.
        """
        cutoff = dt.datetime.now(dt.UTC) - older_than
        out: dict[str, int] = {}
        for name in TABLES:
            n = expire(self.lake.table(name), cutoff)
            if n:
                out[name] = n
        return out

    def _orphan_submissions(self, name: str, visible: set[str], before: dt.datetime) -> set[str]:
        tbl = self.lake.table(name)
        if tbl.current_snapshot() is None:
            return set()
        present = set(tbl.scan(selected_fields=("submission_id",)).to_arrow().column(0).to_pylist())
        candidates = present - visible
        if not candidates:
            return set()
        # Only submissions whose rows were appended before the grace period ended: a
        # submission still committing its tables is never touched.
        return candidates - history.appended_since(tbl, candidates, before)

    def _compact(self, name: str, target_rows: int) -> tuple[int, int]:
        lake = self.lake
        for attempt in range(COMMIT_ATTEMPTS):
            tbl = lake.table(name)
            if tbl.current_snapshot() is None:
                return 0, 0
            tasks = list(tbl.scan().plan_files())
            by_part: dict[str, list[DataFile]] = {}
            for t in tasks:
                by_part.setdefault(str(t.file.partition), []).append(t.file)
            old: list[DataFile] = []
            new: list[DataFile] = []
            for files in by_part.values():
                if len(files) < 2:
                    continue
                parts = [lake.read_file(tbl, f.file_path) for f in files]
                data = align(parts, arrow_schema(name, tbl.schema()))
                old += files
                for start in range(0, data.num_rows, target_rows):
                    chunk = data.slice(start, target_rows)
                    new += lake.write_signed(tbl, chunk, f"cp-{uuid.uuid4().hex[:8]}")
            if not old:
                return len(tasks), len(tasks)
            try:
                lake.replace_files(tbl, old, new, "compact")
                return len(tasks), len(tasks) - len(old) + len(new)
            except (CommitFailedException, ValidationException) as exc:
                log.warning("compaction of %s conflicted (%s), retry %d", name, exc, attempt)
        return 0, 0

    @staticmethod
    def _referenced_files(tbl: Table) -> set[str]:
        """Every manifest list, manifest and data file that some snapshot of ``tbl`` uses."""
        referenced: set[str] = set()
        for snap in tbl.metadata.snapshots:
            referenced.add(strip(snap.manifest_list))
            for manifest in snap.manifests(tbl.io):
                referenced.add(strip(manifest.manifest_path))
                for entry in manifest.fetch_manifest_entry(tbl.io, discard_deleted=True):
                    referenced.add(strip(entry.data_file.file_path))
        return referenced

    def _remove_orphan_files(self, before: dt.datetime, released: set[str]) -> tuple[int, int]:
        """Delete unreferenced files; return how many, and how many of them a writer that
        died had left (a SIGKILLed ingest leaves files without a footer).

        A file expiry released is deleted at once (it was committed, so no writer still
        needs it); so is a data file whose writer died (:func:`writer_state`: a process
        of this host that has ended), once the table's metadata, re-read after that was
        seen, still does not reference it (a dead writer commits nothing more). Any other
        file only if older than ``before``: a younger one may belong to a commit in flight.
        """
        fs = warehouse_fs(self.lake.config)
        removed = crashed = 0
        for name in TABLES:
            tbl = self.lake.table(name)
            referenced = self._referenced_files(tbl)
            root = strip(tbl.location()).rstrip("/")
            dead: list[str] = []
            for sub in ("data", "metadata"):
                base = f"{root}/{sub}"
                if not fs.exists(base):
                    continue
                for path in fs.find(base):
                    if path.endswith(".metadata.json") or path in referenced:
                        continue
                    if not (path.endswith(".parquet") or path.endswith(".avro")):
                        continue
                    if path not in released:
                        if path.endswith(".parquet") and writer_state(path) == "dead":
                            dead.append(path)
                            continue
                        if modified(fs, path) >= before:
                            continue
                    fs.rm(path)
                    removed += 1
            if dead:
                referenced = self._referenced_files(self.lake.table(name))
                for path in dead:
                    if path not in referenced:
                        fs.rm(path)
                        removed += 1
                        crashed += 1
        return removed, crashed


def expire(tbl: Table, cutoff: dt.datetime) -> int:
    """Expire ``tbl``'s snapshots older than ``cutoff`` except those a branch or tag names
    (the current snapshot, pinned versions); return how many."""
    protected = {ref.snapshot_id for ref in tbl.metadata.refs.values()}
    cutoff_ms = cutoff.timestamp() * 1000
    ids = [
        s.snapshot_id
        for s in tbl.metadata.snapshots
        if s.timestamp_ms < cutoff_ms and s.snapshot_id not in protected
    ]
    if ids:
        tbl.maintenance.expire_snapshots().by_ids(ids).commit()
    return len(ids)
