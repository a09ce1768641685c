"""Schemathesis against the OpenAPI spec of the governance routes: no server errors.

Bounded (few examples per operation, a deadline) to stay well under a minute.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.catalog_api.conftest import ApiUserFactory

GOVERNANCE = r"^/api/v1/(users|cohorts|access-requests|reviews|exports|audit)"


@pytest.mark.slow
def test_no_server_errors_on_any_input(
    server: str, http: httpx.Client, api_user: ApiUserFactory
) -> None:
    """Every governance operation, fuzzed as an admin+researcher+reviewer: never a 5xx."""
    user = api_user(["admin", "researcher", "reviewer"], centres=["*"])
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json").include(path_regex=GOVERNANCE)
    failures: list[str] = []
    statuses: list[int] = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(
            max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=op.as_strategy())
        def check(case: schemathesis.Case) -> None:
            r = case.call(base_url=server, headers=user.headers)
            statuses.append(r.status_code)
            if r.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {r.status_code} {r.text[:200]}"
                )

        check()
    assert failures == []
    assert len(statuses) > 100 and {400, 404, 422} & set(statuses)  # it really ran
