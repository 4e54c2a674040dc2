"""schemathesis against the app's own OpenAPI document: no 5xx, every response as documented.

Bounded (a few examples per operation, no deadline) so the whole suite stays fast.
Each operation gets positive (schema-valid) and negative (schema-breaking) cases.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation import GenerationMode

from release_gate.app import create_app
from release_gate.runtime import Runtime

OPERATIONS = (
    "POST /v1/evaluate",
    "POST /v1/verify",
    "GET /v1/revocations",
    "GET /v1/holds",
    "POST /v1/holds",
    "DELETE /v1/holds/{hold_id}",
    "POST /v1/evidence-events",
    "POST /v1/intake-outcomes",
    "GET /v1/reports/lanes/{lane}",
    "GET /v1/decisions",
    "GET /v1/decisions/head",
    "GET /v1/decisions/{decision_id}",
    "GET /v1/policy",
    "GET /.well-known/jwks.json",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
)
_CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def _checks() -> list[Any]:
    load_all_checks()
    return [CHECKS.get_one(name) for name in _CHECK_NAMES]


@pytest.fixture
def api_schema(runtime: Runtime) -> Any:
    app = create_app(runtime.settings, runtime=runtime)
    app.state.runtime = runtime
    return schemathesis.openapi.from_asgi("/openapi.json", app)


class TestOpenApiFuzz:
    def test_every_operation_is_fuzzed(self, api_schema: Any) -> None:
        labels = {result.ok().label for result in api_schema.get_all_operations()}
        assert labels == set(OPERATIONS)

    @pytest.mark.parametrize(
        ("label", "mode"),
        [(label, GenerationMode.POSITIVE) for label in OPERATIONS]
        + [(label, GenerationMode.NEGATIVE) for label in OPERATIONS if label.startswith("POST")],
    )
    def test_responses_conform(self, api_schema: Any, label: str, mode: GenerationMode) -> None:
        operation = api_schema.find_operation_by_label(label)
        checks = _checks()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def run(case: Any) -> None:
            case.call_and_validate(checks=checks)

        run()
