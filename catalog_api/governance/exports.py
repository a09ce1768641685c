"""Exports: Parquet files of an approved request, pinned to the cohort's lake version.

An export holds only the patients of the approved centres whose consent permits the
request's purpose, and only the requested fields (plus ``dataset_id``, ``centre_id`` and
``patient_id``, which tie each row to its tags). One file per table, rows in a fixed
order, written with fixed writer options: re-running an export at the same version gives
byte-identical files whatever was ingested since. Each file carries the signed tags
(``consent.tags.sign_tags``) of the datasets whose rows it holds; ``manifest.json`` lists
every file with its SHA-256 and row count.

Downloads go through expiring links bound to the requester; a revoked or expired
request disables them. Withdrawn patients (no longer in the lake with an active consent)
mark the export.

Consent withdrawal (docs/consent.md): an export is read from its request's pin, which a
withdrawal amends to "that version minus the withdrawn patients", and never holds a
patient of the withdrawal registry, whatever version it reads. Exports made before a
withdrawal are suspended (downloads refused) while it is applied, then re-made without
the patient at the amended pin into the same folder (:func:`remake_after_withdrawal`),
or, when their version can no longer be read, deleted and disabled for good.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.core.config import ApiConfig
from catalog_api.db import utcnow
from catalog_api.discovery.disclosure import disclose_count, sees_exact_counts
from catalog_api.governance import policy
from catalog_api.governance.engine import (
    CohortEngine,
    patients_by_centre,
    validate_definition,
    validate_purpose,
)
from catalog_api.governance.errors import Conflict, Forbidden, Gone, NotFound
from catalog_api.governance.requests import (
    CLOSED,
    approved_centres,
    overall_state,
    pin_name,
    refresh,
)
from catalog_api.governance.schemas import DownloadLink, ExportPublic
from catalog_api.models import AccessRequest, Export, User
from consent.tags import canonical_json, sign_tags
from consent.withdrawal import withdrawn_patients
from harmonise.errors import HarmoniseError, UnknownVersionError
from harmonise.lake import Lake, LakeVersion

MANIFEST = "manifest.json"
MANIFEST_FORMAT_VERSION = 1
KEY_COLUMNS = ("dataset_id", "centre_id", "patient_id")
DEFAULT_LINK_SECONDS = 900
_SALT = "oncolake-export-download"
#: Export states of a consent withdrawal: being re-made (downloads refused meanwhile),
#: and disabled for good (files deleted: its version could not be re-read).
AMENDING = "amending"
WITHDRAWN = "withdrawn"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _dataset_tags(lake: Lake, version: LakeVersion) -> dict[str, dict[str, Any]]:
    rows = lake.read("datasets", version, columns=["dataset_id", "tags_json"]).to_pylist()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["tags_json"]:
            body = json.loads(r["tags_json"])
            out[r["dataset_id"]] = body.get("datasets", {}).get(r["dataset_id"], body)
    return out


def _select_rows(data: pa.Table, keys: set[str]) -> pa.Table:
    centres = data.column("centre_id").to_pylist()
    pids = data.column("patient_id").to_pylist()
    mask = pa.array([f"{c}/{p}" in keys for c, p in zip(centres, pids, strict=True)], pa.bool_())
    return data.filter(mask)


def _sorted(data: pa.Table) -> pa.Table:
    scalar = [
        (f.name, "ascending")
        for f in data.schema
        if not (pa.types.is_list(f.type) or pa.types.is_large_list(f.type))
    ]
    return data.sort_by(scalar) if scalar and data.num_rows else data


def write_files(
    *,
    lake: Lake,
    version: LakeVersion,
    fields: Sequence[str],
    patients: set[str],
    directory: Path,
    tag_key: bytes,
    header: dict[str, Any],
) -> dict[str, Any]:
    """Write the export's Parquet files and manifest into ``directory`` (replaced atomically).

    ``patients`` are ``centre/patient`` keys. Returns the manifest's ``files`` entry.
    """
    by_table: dict[str, list[str]] = defaultdict(list)
    for f in fields:
        table, _, column = f.partition(".")
        if column not in KEY_COLUMNS:
            by_table[table].append(column)
    tags = _dataset_tags(lake, version)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: dict[str, Any] = {}
    for table in sorted(by_table):
        cols = [*KEY_COLUMNS, *sorted(set(by_table[table]))]
        data = _sorted(_select_rows(lake.read(table, version, columns=cols), patients))
        datasets = sorted(set(data.column("dataset_id").to_pylist()))
        kv = sign_tags({d: tags.get(d, {}) for d in datasets}, tag_key)
        name = f"{table}.parquet"
        pq.write_table(
            data.replace_schema_metadata(kv),
            tmp / name,
            compression="zstd",
            use_dictionary=True,
            write_statistics=True,
            version="2.6",
        )
        files[name] = {
            "sha256": _sha256(tmp / name),
            "bytes": (tmp / name).stat().st_size,
            "rows": data.num_rows,
            "datasets": datasets,
        }
    manifest = {"format_version": MANIFEST_FORMAT_VERSION, **header, "files": files}
    (tmp / MANIFEST).write_bytes(canonical_json(manifest) + b"\n")
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return files


def _header(
    req: AccessRequest, version: LakeVersion, centres: Sequence[str], patients: int
) -> dict[str, Any]:
    """The export manifest's header (everything but its files)."""
    return {
        "request_id": req.id,
        "lake_version": json.loads(version.to_json()),
        "centres": list(centres),
        "purpose": req.purpose,
        "fields": req.fields,
        "patients": patients,
    }


def run_export(
    session: Session,
    *,
    user: User,
    req: AccessRequest,
    lake: Lake,
    engine: CohortEngine,
    config: ApiConfig,
) -> Export:
    """Export the approved part of ``req`` at its cohort's lake version (synchronously)."""
    policy.ensure_requester(user, req)
    state = refresh(session, req)
    centres = approved_centres(req)
    if state in CLOSED:
        raise Conflict(f"access request {req.id} is {state.value}; it cannot be exported")
    if not centres:
        raise Conflict(
            f"no centre has approved access request {req.id} yet (state {state.value}); "
            "an export needs at least one approval"
        )
    cv = req.cohort_version
    version = request_version(lake, req)
    definition = validate_definition(cv.definition)
    purpose = validate_purpose(req.purpose)
    try:
        per_centre = patients_by_centre(engine, definition, purpose, version)
    except HarmoniseError as exc:
        raise Conflict(
            f"the lake version {cv.lake_version_id} can no longer be read: {exc}"
        ) from exc
    gone = withdrawn_patients(config.home, "all")
    patients = {
        f"{c}/{p}" for c in centres for p in per_centre.get(c, []) if p not in gone
    }  # a withdrawn patient is never exported, whatever version the request reads
    export = Export(
        request=req,
        state="running",
        lake_version_id=version.id,
        lake_version_json=version.to_json(),
        centres=centres,
        patients=sorted(patients),
        patient_count=len(patients),
    )
    session.add(export)
    session.flush()
    directory = Path(config.exports_dir) / f"export-{export.id}"
    header = _header(req, version, centres, len(patients))
    files = write_files(
        lake=lake,
        version=version,
        fields=req.fields,
        patients=patients,
        directory=directory,
        tag_key=config.tag_signing_key,
        header=header,
    )
    export.directory = str(directory)
    export.files = files
    export.manifest_sha256 = _sha256(directory / MANIFEST)
    export.state = "ready"
    export.finished_at = utcnow()
    audit.record(
        session,
        actor=user,
        action="export.created",
        subject=f"export:{export.id}",
        details={
            "request_id": req.id,
            "lake_version": version.id,
            "centres": centres,
            "patients": len(patients),
            "manifest_sha256": export.manifest_sha256,
        },
    )
    audit.record(
        session,
        actor=user,
        action="access_request.exported",
        subject=f"access_request:{req.id}",
        details={"export_id": export.id, "manifest_sha256": export.manifest_sha256},
    )
    return export


def request_version(lake: Lake, req: AccessRequest) -> LakeVersion:
    """The lake version ``req`` reads: its pin (amended by consent withdrawals since it was
    submitted) when it has one, else its cohort version's."""
    try:
        pinned = lake.pins().get(pin_name(req.id))
    except HarmoniseError:
        pinned = None
    return pinned or LakeVersion.from_json(req.cohort_version.lake_version_json)


def downloads_enabled(export: Export) -> bool:
    """True while the export is ready and its request neither revoked nor expired."""
    return export.state == "ready" and overall_state(export.request) not in CLOSED


def _refuse_withdrawn(session: Session, *, user: User, export: Export, action: str) -> None:
    """Refuse (audited, committed before the refusal) any use of an export that a consent
    withdrawal suspended or disabled."""
    if export.state not in (AMENDING, WITHDRAWN):
        return
    why = (
        "is being re-made without a patient who withdrew consent; try again in a few minutes"
        if export.state == AMENDING
        else "was disabled because a patient in it withdrew consent and its lake version "
        "can no longer be re-read; request a new export"
    )
    audit.record(
        session,
        actor=user,
        action="export.download_refused",
        subject=f"export:{export.id}",
        details={"attempt": action, "state": export.state},
    )
    session.commit()
    raise Gone(f"export {export.id} {why}")


def _holds(export: Export, patients: set[str]) -> bool:
    return any(k.partition("/")[2] in patients for k in export.patients)


def suspend_for_withdrawal(session: Session, *, patients: set[str]) -> list[Export]:
    """Refuse downloads of every export holding ``patients`` until it is re-made (the
    first step of a withdrawal, before the lake is changed); the exports suspended."""
    from sqlalchemy import select

    found = [
        e
        for e in session.execute(select(Export).order_by(Export.id)).scalars()
        if e.state in ("ready", AMENDING) and _holds(e, patients)
    ]
    for e in found:
        if e.state != AMENDING:
            e.state = AMENDING
            audit.record(
                session,
                actor="system",
                action="export.suspended_for_withdrawal",
                subject=f"export:{e.id}",
                details={"withdrawn_patients": sum(
                    1 for k in e.patients if k.partition("/")[2] in patients
                )},
            )  # fmt: skip
    return found


def record_pin_amendment(
    session: Session, *, pin: str, before: str, after: str, rows_removed: dict[str, int]
) -> None:
    """Audit, on the request and its cohort, that a withdrawal moved the request's pin
    from lake version ``before`` to ``after`` (that version minus withdrawn patients)."""
    from sqlalchemy import select

    for req in session.execute(select(AccessRequest)).scalars():
        if pin_name(req.id) != pin:
            continue
        details = {"lake_version_before": before, "lake_version": after, "rows": rows_removed}
        audit.record(
            session,
            actor="system",
            action="access_request.pin_amended",
            subject=f"access_request:{req.id}",
            details=details,
        )
        audit.record(
            session,
            actor="system",
            action="cohort.version_amended",
            subject=f"cohort:{req.cohort_version.cohort_id}",
            details={**details, "cohort_version": req.cohort_version.version},
        )


def remake_after_withdrawal(
    session: Session, *, lake: Lake, config: ApiConfig, patients: set[str]
) -> dict[int, str]:
    """Re-make every suspended export without ``patients`` (and any other withdrawn
    patient) at its request's amended pin, in place; disable it when that version cannot
    be read. Returns the outcome per export id (``remade`` or ``disabled``)."""
    from sqlalchemy import select

    gone = withdrawn_patients(config.home, "all") | patients
    out: dict[int, str] = {}
    rows = session.execute(select(Export).where(Export.state == AMENDING)).scalars().all()
    for export in rows:
        req = export.request
        keep = sorted(k for k in export.patients if k.partition("/")[2] not in gone)
        removed = len(export.patients) - len(keep)
        old_sha = export.manifest_sha256
        directory = Path(export.directory or Path(config.exports_dir) / f"export-{export.id}")
        try:
            version = request_version(lake, req)
            # the header a new export at this version would have: an amended export is
            # byte-identical to one made afresh at the amended pin
            header = _header(req, version, export.centres, len(keep))
            files = write_files(
                lake=lake,
                version=version,
                fields=req.fields,
                patients=set(keep),
                directory=directory,
                tag_key=config.tag_signing_key,
                header=header,
            )
        except (UnknownVersionError, HarmoniseError) as exc:
            shutil.rmtree(directory, ignore_errors=True)
            export.state = WITHDRAWN
            export.files = {}
            export.patients = keep
            export.patient_count = len(keep)
            audit.record(
                session,
                actor="system",
                action="export.disabled_for_withdrawal",
                subject=f"export:{export.id}",
                details={"reason": str(exc)[:300], "patients_removed": removed},
            )
            out[export.id] = "disabled"
            continue
        export.files = files
        export.manifest_sha256 = _sha256(directory / MANIFEST)
        export.lake_version_id = version.id
        export.lake_version_json = version.to_json()
        export.patients = keep
        export.patient_count = len(keep)
        export.state = "ready"
        audit.record(
            session,
            actor="system",
            action="export.amended_for_withdrawal",
            subject=f"export:{export.id}",
            details={
                "patients_removed": removed,
                "lake_version": version.id,
                "manifest_sha256_before": old_sha,
                "manifest_sha256": export.manifest_sha256,
            },
        )
        out[export.id] = "remade"
    return out


def check_withdrawals(session: Session, *, export: Export, lake: Lake, home: Path) -> list[str]:
    """Mark ``export`` with its patients whose consent was withdrawn since it was made.

    A patient counts as withdrawn when the consent registry (``consent.withdrawal``, under
    ``home``) records a withdrawal for them, or when the current lake no longer holds an
    active consent for them (withdrawal deletes their rows in a new lake version; the
    export's pinned version still holds them).
    """
    if not export.patients:
        return []
    registry = withdrawn_patients(home)
    current = lake.read("consents", None, columns=["centre_id", "patient_id", "status"])
    active = {
        f"{r['centre_id']}/{r['patient_id']}"
        for r in current.to_pylist()
        if (r["status"] or "active") == "active"
    }
    withdrawn = sorted(
        k for k in export.patients if k not in active or k.partition("/")[2] in registry
    )
    newly = sorted(set(withdrawn) - set(export.withdrawn_patients))
    export.withdrawn_patients = withdrawn
    export.withdrawal_checked_at = utcnow()
    if newly:
        audit.record(
            session,
            actor="system",
            action="export.withdrawal_marked",
            subject=f"export:{export.id}",
            details={"withdrawn_patients": len(withdrawn), "new": len(newly)},
        )
    return withdrawn


def export_public(export: Export, user: User, config: ApiConfig) -> ExportPublic:
    """The API view of an export for ``user``: exact for its requester (the patients are
    theirs to read) and for whoever sees every exported centre's counts exactly
    (``sees_exact_counts``: admins, a board of every one of them); for a board of some of
    them, only their own centres named and the counts through the disclosure rule (as
    their view of the request lists only their parts)."""
    exact = export.request.requester_id == user.id or sees_exact_counts(user, export.centres)
    kw = {"threshold": config.disclosure_threshold, "rounding": config.disclosure_rounding}

    def shown(n: int) -> int | str:
        return n if exact else disclose_count(n, **kw)

    return ExportPublic(
        id=export.id,
        request_id=export.request_id,
        state=export.state,
        lake_version_id=export.lake_version_id,
        centres=list(export.centres) if exact else [c for c in export.centres if user.governs(c)],
        files=export.files,
        manifest_sha256=export.manifest_sha256,
        patients=shown(export.patient_count),
        downloads_enabled=downloads_enabled(export),
        affected_by_withdrawal=bool(export.withdrawn_patients),
        withdrawn_patients=shown(len(export.withdrawn_patients)),
        created_at=export.created_at,
        finished_at=export.finished_at,
    )


def _serializer(config: ApiConfig) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config.secret_key, salt=_SALT)


def link_seconds(config: ApiConfig) -> int:
    """How long a download link works (``extra['download_link_seconds']``, default 15 min)."""
    return int(config.extra.get("download_link_seconds", DEFAULT_LINK_SECONDS))


def make_link(session: Session, *, user: User, export: Export, config: ApiConfig) -> DownloadLink:
    """An expiring link to the export's files, usable only by the requester."""
    policy.ensure_can_download(user, export)
    _refuse_withdrawn(session, user=user, export=export, action="link")
    if not downloads_enabled(export):
        raise Gone(
            f"downloads of export {export.id} are disabled (its request is "
            f"{overall_state(export.request).value})"
        )
    token = _serializer(config).dumps({"e": export.id, "u": user.id})
    expires = utcnow().timestamp() + link_seconds(config)
    audit.record(
        session,
        actor=user,
        action="export.link_created",
        subject=f"export:{export.id}",
        details={"seconds": link_seconds(config)},
    )
    return DownloadLink(
        export_id=export.id,
        url=f"/api/v1/exports/{export.id}/files/{MANIFEST}?token={token}",
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC),
    )


def open_download(
    session: Session, *, user: User, export: Export, name: str, token: str, config: ApiConfig
) -> Path:
    """Check the link and the caller; return the file to send (audited)."""
    try:
        data = _serializer(config).loads(token, max_age=link_seconds(config))
    except SignatureExpired as exc:
        raise Gone("the download link has expired; create a new one") from exc
    except BadSignature as exc:
        raise Forbidden("the download link is not valid") from exc
    if not isinstance(data, dict) or data.get("e") != export.id:
        raise Forbidden(f"the download link is not for export {export.id}")
    if data.get("u") != user.id:
        raise Forbidden("the download link belongs to another user")
    policy.ensure_can_download(user, export)
    _refuse_withdrawn(session, user=user, export=export, action=f"download {name}")
    if not downloads_enabled(export):
        raise Gone(
            f"downloads of export {export.id} are disabled (its request is "
            f"{overall_state(export.request).value})"
        )
    if name != MANIFEST and name not in export.files:
        raise NotFound(
            f"export {export.id} has no file {name!r}; files: "
            f"{', '.join([MANIFEST, *export.files])}"
        )
    path = Path(export.directory) / name
    if not path.is_file():
        raise Gone(f"the file {name} of export {export.id} is no longer stored")
    audit.record(
        session,
        actor=user,
        action="export.downloaded",
        subject=f"export:{export.id}",
        details={"file": name},
    )
    return path
