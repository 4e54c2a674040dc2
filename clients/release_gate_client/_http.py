"""Request building and response reading shared by the sync and async clients."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from release_gate_client.errors import (
    ClientError,
    GateHTTPError,
    GateUnavailable,
    Problem,
    ProblemError,
    UnexpectedResponse,
)

__all__ = [
    "USER_AGENT",
    "encode_json",
    "headers",
    "raise_for_status",
    "read_json",
    "request_failed",
]

USER_AGENT = "release-gate-client/0.1.0"
_UNAVAILABLE = frozenset({502, 503, 504})
_OK = frozenset({200})


def headers(api_key: str | None) -> dict[str, str]:
    """Default headers; the API key goes in ``Authorization: Bearer``."""
    result = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if api_key is not None:
        if not api_key or any(ch in api_key for ch in "\r\n"):
            raise ValueError("api_key must be a non-empty single-line string")
        result["Authorization"] = f"Bearer {api_key}"
    return result


def encode_json(body: Mapping[str, Any] | bytes) -> bytes:
    """``bytes`` pass through untouched (the digest covers what the gate receives)."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    untyped: object = body  # callers without type checking pass a str by mistake
    if isinstance(untyped, str):
        raise TypeError(
            "pass the manifest as a dict or as bytes (read the file with open(path, 'rb')); "
            "a str would be sent as a JSON string"
        )
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8")


def request_failed(exc: httpx.HTTPError) -> ClientError:
    """The client error for an exception raised while sending or receiving."""
    if isinstance(exc, httpx.TransportError):
        return GateUnavailable(f"cannot reach the gate: {type(exc).__name__}: {exc}")
    return ClientError(f"request failed: {type(exc).__name__}: {exc}")


def raise_for_status(response: httpx.Response, *, ok: frozenset[int] = _OK) -> None:
    """:class:`GateUnavailable` for 502-504, :class:`GateHTTPError` for another status
    than those in ``ok`` (200)."""
    status = response.status_code
    if status in _UNAVAILABLE:
        problem = _problem(response)
        raise GateUnavailable(_summary(status, problem), status=status, problem=problem)
    if status not in ok:
        problem = _problem(response)
        raise GateHTTPError(_summary(status, problem), status=status, problem=problem)


def read_json(response: httpx.Response, *, ok: frozenset[int] = _OK) -> dict[str, Any]:
    """The JSON object of a 200 answer (or another status in ``ok``); raise the matching
    :class:`ClientError` else."""
    raise_for_status(response, ok=ok)
    try:
        data = json.loads(response.content)
    except ValueError as exc:
        raise UnexpectedResponse(f"the gate's answer is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise UnexpectedResponse("the gate's answer is not a JSON object")
    return data


def _summary(status: int, problem: Problem | None) -> str:
    if problem is None:
        return f"HTTP {status}"
    return f"HTTP {status}: {problem.title}: {problem.detail}".rstrip(": ")


def _problem(response: httpx.Response) -> Problem | None:
    try:
        raw = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    status = raw.get("status")
    return Problem(
        status=status if type(status) is int else response.status_code,
        title=_text(raw.get("title")),
        detail=_text(raw.get("detail")),
        type=_text(raw.get("type")) or "about:blank",
        errors=_problem_errors(raw.get("errors")),
        raw=raw,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _problem_errors(value: object) -> tuple[ProblemError, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        ProblemError(pointer=_text(item.get("pointer")), detail=_text(item.get("detail")))
        for item in value
        if isinstance(item, dict)
    )
