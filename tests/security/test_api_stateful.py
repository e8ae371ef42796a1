"""The whole API walked statefully: schemathesis follows the OpenAPI links (a job's id to
its status, results, items, briefs and cancel; an item's id to view, edit, approve, presence
and withdraw) with an admin key, and no sequence of calls may get a 5xx or an error that is
not the API's own shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import unthrottled_service

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

KEY = "stateful-admin"


@pytest.mark.slow
def test_no_sequence_of_calls_gets_a_server_error(tiny: dict[str, Path], tmp_path: Path) -> None:
    calls: list[tuple[str, str, int]] = []
    with unthrottled_service(tiny, tmp_path / "out", f"{KEY} name=chief role=admin") as app:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        Machine: Any = schema.as_state_machine()

        class Walk(Machine):  # type: ignore[misc]
            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {"headers": {"Authorization": f"Bearer {KEY}"}}

            def validate_response(self, response: Any, case: Any, **_: Any) -> None:
                calls.append((case.method, case.path, response.status_code))
                assert response.status_code < 500, (case.method, case.path, response.text[:300])
                if response.status_code >= 400:
                    assert set(response.json()) == {"error"}, response.text[:300]

        Walk.run(
            settings=settings(
                max_examples=25,
                stateful_step_count=6,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
        )
    reached = {(m, p) for m, p, s in calls if s < 400}
    # The links were followed: a job made, then read through its own id.
    assert ("POST", "/v1/jobs") in reached, sorted(set(calls))[:40]
    assert {p for _, p in reached} & {"/v1/jobs/{job_id}", "/v1/jobs/{job_id}/results"}
