"""Response and request shapes, for the OpenAPI document (and schemathesis)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DecisionOut",
    "PolicyOut",
    "ProblemOut",
    "VerifyIn",
    "VerifyOut",
    "json_body",
    "problem_responses",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ViolationOut(_Out):
    code: str
    message: str
    path: str


class PacketOut(_Out):
    id: str
    revision: int
    digest: str


class PolicyRefOut(_Out):
    revision: str
    digest: str


class DecisionOut(_Out):
    decision_id: str
    allow: bool
    manifest_digest: str
    packet: PacketOut
    lane: str
    policy: PolicyRefOut
    violations: list[ViolationOut]
    warnings: list[ViolationOut]
    token: str | None
    evaluated_at: str


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    token: str = Field(max_length=16384)
    lane: str = Field(min_length=1, max_length=128)
    packet_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class VerifyOut(_Out):
    valid: bool
    reason: str | None
    claims: dict[str, Any] | None


class RuleOut(_Out):
    code: str
    title: str
    description: str
    solution: str | None


class PolicyOut(_Out):
    engine: str
    revision: str
    digest: str
    rules: list[RuleOut]


class ProblemErrorOut(BaseModel):
    pointer: str
    detail: str


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemErrorOut] | None = None


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": model.model_json_schema(ref_template="#/components/schemas/{model}")
                }
            },
        }
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": ProblemOut, "content": {"application/problem+json": {}}}
        for status in statuses
    }
