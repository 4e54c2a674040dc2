"""Shared helpers of the HTTP tests: extra demo signers, posting, problem checks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from release_gate.runtime import Runtime
from tests.helpers import Signer, post_json

Build = Callable[..., dict[str, Any]]

TOMAS_COMMS: Signer = (
    "tomas.lindqvist@example.com",
    "incident_communications_manager",
    "tomas-2026-01",
    "tomas-lindqvist",
)
TOMAS_CS: Signer = (
    "tomas.lindqvist@example.com",
    "customer_success_reviewer",
    "tomas-2026-01",
    "tomas-lindqvist",
)
MARCUS_REVOKED: Signer = (
    "marcus.oyelaran@example.com",
    "incident_communications_manager",
    "marcus-2025-05",
    "marcus-oyelaran-2025-revoked",
)

PROBLEM_MEDIA_TYPE = "application/problem+json"


def evaluate(client: TestClient, manifest: dict[str, Any]) -> dict[str, Any]:
    """POST a manifest; assert a 200 decision and return it."""
    response = post_json(client, "/v1/evaluate", manifest)
    assert response.status_code == 200, response.text
    decision: dict[str, Any] = response.json()
    assert (decision["token"] is not None) == decision["allow"]
    return decision


def found(decision: dict[str, Any]) -> list[tuple[str, str]]:
    """The decision's violations as (code, path) pairs, in the order given."""
    return [(v["code"], v["path"]) for v in decision["violations"]]


def post_raw(
    client: TestClient,
    body: bytes,
    *,
    content_type: str | None = "application/json",
    path: str = "/v1/evaluate",
) -> Any:
    headers = {} if content_type is None else {"content-type": content_type}
    return client.post(path, content=body, headers=headers)


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def assert_problem(response: Any, status: int, *, pointer: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with ``status``; for 400/422 ``errors[]`` names ``pointer``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(problem[member], str)
        assert problem[member]
    assert "token" not in problem
    if status in (400, 422):
        pointers = [e["pointer"] for e in problem["errors"]]
        assert all(isinstance(e["detail"], str) and e["detail"] for e in problem["errors"])
        if pointer is not None:
            assert pointer in pointers, problem
    return problem


def assert_refused(
    client: TestClient,
    runtime: Runtime,
    body: bytes,
    status: int,
    *,
    pointer: str | None = None,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    """The body is refused with ``status``; nothing is recorded."""
    assert runtime.store is not None
    before = runtime.store.count()
    response = post_raw(client, body, content_type=content_type)
    problem = assert_problem(response, status, pointer=pointer)
    assert runtime.store.count() == before
    return problem


def at(moment: dt.datetime, **delta: float) -> str:
    """RFC 3339 UTC of ``moment + delta``."""
    return (moment + dt.timedelta(**delta)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
