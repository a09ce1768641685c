"""A reviewer's queue: centre parts of their centres waiting for their decision."""

from __future__ import annotations

from fastapi import APIRouter

from catalog_api.api.deps import ConfigDep, ReviewerUser, SessionDep
from catalog_api.governance import requests
from catalog_api.governance.schemas import ReviewItem

router = APIRouter(prefix="/reviews", tags=["reviews"])


@router.get("", response_model=list[ReviewItem])
def review_queue(session: SessionDep, user: ReviewerUser, config: ConfigDep) -> list[ReviewItem]:
    """Parts of the caller's centres under review that they have not decided (not their own)."""
    return requests.review_queue(session, user=user, config=config)
