"""RFC 9457 problem details: the one place error bodies are built."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from release_gate.errors import GateError

__all__ = ["PROBLEM_TYPE_BASE", "install_problem_handlers", "problem_response"]

logger = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://release-gate.dev/problems/"
MEDIA_TYPE = "application/problem+json"


def problem_response(
    *,
    status: int,
    title: str,
    detail: str,
    type_suffix: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + type_suffix,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None or status in (400, 422):
        body["errors"] = errors or [{"pointer": "", "detail": detail}]
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def _gate_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GateError)  # noqa: S101 - registered for GateError only
    errors = [{"pointer": e.pointer, "detail": e.detail} for e in exc.errors] or None
    return problem_response(
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        type_suffix=exc.type_suffix,
        errors=errors,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        pointer = "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in loc)
        errors.append({"pointer": pointer, "detail": str(err.get("msg", "invalid"))})
    return problem_response(
        status=422,
        title="Invalid request",
        detail="the request does not match the expected shape",
        type_suffix="invalid-request",
        errors=errors,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    return problem_response(
        status=exc.status_code,
        title=str(exc.detail),
        detail=str(exc.detail),
        type_suffix=f"http-{exc.status_code}",
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        status=500,
        title="Internal error",
        detail="an unexpected error occurred; no decision was made and no token issued",
        type_suffix="internal",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GateError, _gate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
