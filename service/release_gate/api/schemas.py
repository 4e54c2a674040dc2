"""Response and request shapes, for the OpenAPI document (and schemathesis)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from release_gate.decision.manifest import Manifest

__all__ = [
    "DecisionOut",
    "JwkSetResponse",
    "JwksOut",
    "MetricsResponse",
    "PolicyOut",
    "ProblemOut",
    "ReadyOut",
    "ReloadErrorOut",
    "VerifyIn",
    "VerifyOut",
    "install_openapi",
    "json_body",
    "no_nul",
    "problem_responses",
]


def no_nul(value: str) -> str:
    """Refuse U+0000 in text the store keeps: PostgreSQL text cannot hold it (a 422 here,
    not a 503 from the store)."""
    if "\x00" in value:
        raise ValueError("text may not contain U+0000")
    return value


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ViolationOut(_Out):
    code: str
    message: str
    path: str
    title: str
    solution: str


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
    level: Literal["deny", "warn"]
    effective_on: str | None


class ReloadErrorOut(_Out):
    at: str
    detail: str


class PolicyOut(_Out):
    engine: str
    revision: str
    digest: str
    rules: list[RuleOut]
    reload_error: ReloadErrorOut | None = Field(
        default=None,
        description="Why the last reload failed (the policy above still serves); "
        "absent while the last reload succeeded.",
    )


class ProblemErrorOut(BaseModel):
    pointer: str
    detail: str


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemErrorOut] | None = None


class JwkOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"] | None = None
    use: Literal["sig"] | None = None


class JwksOut(BaseModel):
    keys: list[JwkOut]


class ReadyOut(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, dict[str, Any]]
    reload_error: ReloadErrorOut | None = None


class JwkSetResponse(JSONResponse):
    media_type = "application/jwk-set+json"


class MetricsResponse(Response):
    media_type = "text/plain"


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


MANIFEST_REF = {"$ref": "#/components/schemas/Manifest"}


def install_openapi(app: FastAPI) -> None:
    """Put the manifest's schema (and its nested models) under ``components/schemas``.

    The evaluate route reads its body itself, so FastAPI does not see the model;
    embedding the schema inline would leave its ``#/$defs/...`` references
    dangling at the document root, which breaks every OpenAPI tool.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            manifest = Manifest.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(manifest.pop("$defs", {}))
            schemas["Manifest"] = manifest
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
