"""Exports: read, withdrawal marks, expiring download links, downloads."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse

from catalog_api import crud
from catalog_api.api.deps import ConfigDep, CurrentUser, IdPath, LakeDep, SessionDep
from catalog_api.governance import exports, policy
from catalog_api.governance.schemas import DownloadLink, ExportPublic

router = APIRouter(prefix="/exports", tags=["exports"])


@router.get("", response_model=list[ExportPublic])
def list_exports(
    session: SessionDep,
    user: CurrentUser,
    config: ConfigDep,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(100, ge=1, le=1000),
) -> list[ExportPublic]:
    """Exports of the caller's requests (all for admins)."""
    rows = crud.list_exports(session, user=user, offset=offset, limit=limit)
    return [exports.export_public(e, user, config) for e in rows]


@router.get("/{export_id}", response_model=ExportPublic)
def read_export(
    export_id: IdPath, session: SessionDep, user: CurrentUser, lake: LakeDep, config: ConfigDep
) -> ExportPublic:
    """One export; checks for withdrawn patients on the current lake and marks it."""
    export = crud.get_export(session, export_id=export_id)
    policy.ensure_can_view_export(user, export)
    exports.check_withdrawals(session, export=export, lake=lake, home=config.home)
    session.commit()
    return exports.export_public(export, user, config)


@router.post("/{export_id}/links", response_model=DownloadLink)
def create_download_link(
    export_id: IdPath, session: SessionDep, user: CurrentUser, config: ConfigDep
) -> DownloadLink:
    """An expiring link to the export (manifest; other files by name), requester only."""
    export = crud.get_export(session, export_id=export_id)
    link = exports.make_link(session, user=user, export=export, config=config)
    session.commit()
    return link


@router.get("/{export_id}/files/{name}", response_class=FileResponse)
def download_file(
    export_id: IdPath,
    session: SessionDep,
    user: CurrentUser,
    config: ConfigDep,
    name: str = Path(max_length=128, pattern=r"^[A-Za-z0-9_.-]+$"),
    token: str = Query(min_length=1, max_length=2048, description="From POST …/links."),
) -> FileResponse:
    """Download one file of an export through an unexpired link (requester only)."""
    export = crud.get_export(session, export_id=export_id)
    path = exports.open_download(
        session, user=user, export=export, name=name, token=token, config=config
    )
    session.commit()
    return FileResponse(path, filename=f"export-{export_id}-{name}")
