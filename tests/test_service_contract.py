"""Contract: schemathesis generates requests from the service's own OpenAPI document (with a
key) and none may get a 5xx. (Schemathesis' pytest plugin does not run under pytest 9, so
its strategies are driven by Hypothesis directly.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import unthrottled_service

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

KEY = "contract-key"


@pytest.mark.slow
def test_no_server_errors(tiny: dict[str, Path], tmp_path: Path) -> None:
    with unthrottled_service(tiny, tmp_path / "out", KEY) as app:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        checked: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(
                max_examples=10,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                response = case.call(headers={"Authorization": f"Bearer {KEY}"})
                assert response.status_code < 500, (case.method, case.path, response.text[:300])
                if response.status_code >= 400:
                    assert set(response.json()) == {"error"}, response.text[:300]

            call()
            checked.append(f"{operation.method.upper()} {operation.path}")
        assert "POST /v1/summarize" in checked and "POST /v1/jobs" in checked
