"""The lake layer: Apache Iceberg tables (pyiceberg SQL catalog) for the harmonised model.

Atomic submissions across tables
--------------------------------
Iceberg commits are per table; a submission touches many. The commit point is the
``datasets`` table:

1. every row a submission writes carries its ``submission_id`` (the digest of its
   manifest, so the same bundle always has the same id);
2. the data tables are appended first, one Iceberg commit each; each append records
   ``oncolake.submission-id`` in its snapshot summary, so a retry that finds it in the
   table's history skips that table (exactly once per table);
3. the ``datasets`` row is committed last, in one Iceberg transaction that also removes
   the previous row of the same dataset (a corrected bundle replaces the old one);
4. readers only return rows whose ``submission_id`` the ``datasets`` table records at the
   version they read.

A crash before step 3 leaves rows that no reader sees; re-running the submission commits
it exactly once; maintenance (:class:`LakeMaintenance`) removes rows of submissions that
never reached step 3 (after a grace period, so it never races a commit in flight) and the
rows of replaced submissions.

Tags that stay with data
------------------------
The lake writes its own Parquet data files (:mod:`harmonise.lake.writer`) so that each
carries, in its key-value metadata, the signed tags of every dataset whose rows it holds
(:mod:`consent.tags`), then registers them with Iceberg (``merge_append`` / ``overwrite``
of data files). pyiceberg's copy-on-write delete would drop the tags: deletes and
compaction are therefore done here, file by file, re-signing what they rewrite. Every
read verifies the tags of every file (:mod:`harmonise.lake.verified`).

Lake versions
-------------
A :class:`LakeVersion` is the set of snapshot ids (one per table) that make up "the lake
at a moment". Exports pin a version with Iceberg tags on each table's snapshot, which
snapshot expiry keeps (:mod:`harmonise.lake.pins`).

The modules: ``core`` (:class:`Lake`), ``types`` (the values), ``writer`` (signed data
files), ``verified`` (verified reading), ``history`` (snapshot history), ``bounds`` (file
pruning), ``pins``, ``maintenance``, ``storage`` (the warehouse's files), ``compat``
(pyiceberg internals, in one place).
"""

from harmonise.lake.core import Lake
from harmonise.lake.maintenance import LakeMaintenance, MaintenanceReport
from harmonise.lake.types import (
    KEY_COLUMNS,
    MERGE_PROP,
    OPERATION_PROP,
    PIN_PREFIX,
    SUBMISSION_PROP,
    CommitResult,
    LakeConfig,
    LakeVersion,
    Progress,
    Submission,
    TableRows,
    arrow_schema,
    constant,
)

__all__ = [
    "KEY_COLUMNS",
    "MERGE_PROP",
    "OPERATION_PROP",
    "PIN_PREFIX",
    "SUBMISSION_PROP",
    "CommitResult",
    "Lake",
    "LakeConfig",
    "LakeMaintenance",
    "LakeVersion",
    "MaintenanceReport",
    "Progress",
    "Submission",
    "TableRows",
    "arrow_schema",
    "constant",
]
