"""HTTP clients for the gate: :class:`GateClient` and :class:`AsyncGateClient`.

Both speak contract section 4 and share one reading of every answer:

* 200: a typed result (:class:`Decision`, :class:`VerifyResult`, a dict); for an
  intake outcome, 201 (recorded) or 200 (already recorded): an :class:`OutcomeReport`;
* 502, 503, 504, or no answer at all: :class:`GateUnavailable`;
* any other status: :class:`GateHTTPError` with the RFC 9457 problem;
* a 200 the contract does not allow: :class:`UnexpectedResponse`.

A deny is a :class:`Decision` with ``allow=False``, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from release_gate_client import _http
from release_gate_client.claims import VerifyResult
from release_gate_client.models import (
    Decision,
    OutcomeReport,
    decision_from_json,
    outcome_report_from_json,
    verify_result_from_json,
)

__all__ = ["JWKS_PATH", "OUTCOMES_PATH", "AsyncGateClient", "GateClient"]

JWKS_PATH = "/.well-known/jwks.json"
OUTCOMES_PATH = "/v1/intake-outcomes"
_JSON = {"Content-Type": "application/json"}
_DEFAULT_TIMEOUT = 10.0
_RECORDED = frozenset({200, 201})


def _verify_body(token: str, lane: str, packet_digest: str) -> bytes:
    return _http.encode_json({"token": token, "lane": lane, "packet_digest": packet_digest})


def _outcome_body(token_id: str, outcome: str, findings: Sequence[str], note: str | None) -> bytes:
    if isinstance(findings, str):  # a str is a sequence of characters, never meant here
        raise TypeError("findings is a list of findings, e.g. ['stale_evidence']")
    body: dict[str, object] = {"token_id": token_id, "outcome": outcome, "findings": [*findings]}
    if note is not None:
        body["note"] = note
    return _http.encode_json(body)


def _outcome_report(response: httpx.Response) -> OutcomeReport:
    data = _http.read_json(response, ok=_RECORDED)
    return outcome_report_from_json(data, created=response.status_code == 201)


class GateClient:
    """A blocking client; use it as a context manager or call :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = _DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers=_http.headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    def evaluate(self, manifest: Mapping[str, Any] | bytes) -> Decision:
        """``POST /v1/evaluate``; ``bytes`` are sent exactly as given."""
        body = _http.encode_json(manifest)
        return decision_from_json(self._send("POST", "/v1/evaluate", body))

    def verify(self, token: str, *, lane: str, packet_digest: str) -> VerifyResult:
        """``POST /v1/verify``: the gate's verdict on ``token`` for this lane and packet."""
        body = _verify_body(token, lane, packet_digest)
        return verify_result_from_json(self._send("POST", "/v1/verify", body))

    def report_outcome(
        self,
        token_id: str,
        *,
        outcome: str,
        findings: Sequence[str] = (),
        note: str | None = None,
    ) -> OutcomeReport:
        """``POST /v1/intake-outcomes`` (role ``intake``): what the lane decided about the
        token ``token_id`` (its ``jti``): ``"accepted"`` (no findings), or ``"returned"``
        with at least one finding. Sending the same outcome again is safe (``created``
        false); a different one for the same token is a :class:`GateHTTPError` 409, an
        unknown token a 404."""
        body = _outcome_body(token_id, outcome, findings, note)
        try:
            response = self._http.request("POST", OUTCOMES_PATH, content=body, headers=_JSON)
        except httpx.HTTPError as exc:
            raise _http.request_failed(exc) from exc
        return _outcome_report(response)

    def jwks(self) -> dict[str, Any]:
        """``GET /.well-known/jwks.json`` as a document (see :func:`load_jwks`)."""
        return self._send("GET", JWKS_PATH, None)

    def policy(self) -> dict[str, Any]:
        """``GET /v1/policy``: engine, revision, digest and rule metadata."""
        return self._send("GET", "/v1/policy", None)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GateClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, method: str, path: str, body: bytes | None) -> dict[str, Any]:
        headers = _JSON if body is not None else None
        try:
            response = self._http.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _http.request_failed(exc) from exc
        return _http.read_json(response)


class AsyncGateClient:
    """The same API as :class:`GateClient` on :class:`httpx.AsyncClient`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = _DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=_http.headers(api_key),
            timeout=timeout,
            transport=transport,
        )

    async def evaluate(self, manifest: Mapping[str, Any] | bytes) -> Decision:
        """``POST /v1/evaluate``; ``bytes`` are sent exactly as given."""
        body = _http.encode_json(manifest)
        return decision_from_json(await self._send("POST", "/v1/evaluate", body))

    async def verify(self, token: str, *, lane: str, packet_digest: str) -> VerifyResult:
        """``POST /v1/verify``: the gate's verdict on ``token`` for this lane and packet."""
        body = _verify_body(token, lane, packet_digest)
        return verify_result_from_json(await self._send("POST", "/v1/verify", body))

    async def report_outcome(
        self,
        token_id: str,
        *,
        outcome: str,
        findings: Sequence[str] = (),
        note: str | None = None,
    ) -> OutcomeReport:
        """``POST /v1/intake-outcomes``: as :meth:`GateClient.report_outcome`."""
        body = _outcome_body(token_id, outcome, findings, note)
        try:
            response = await self._http.request("POST", OUTCOMES_PATH, content=body, headers=_JSON)
        except httpx.HTTPError as exc:
            raise _http.request_failed(exc) from exc
        return _outcome_report(response)

    async def jwks(self) -> dict[str, Any]:
        """``GET /.well-known/jwks.json`` as a document (see :func:`load_jwks`)."""
        return await self._send("GET", JWKS_PATH, None)

    async def policy(self) -> dict[str, Any]:
        """``GET /v1/policy``: engine, revision, digest and rule metadata."""
        return await self._send("GET", "/v1/policy", None)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncGateClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, method: str, path: str, body: bytes | None) -> dict[str, Any]:
        headers = _JSON if body is not None else None
        try:
            response = await self._http.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _http.request_failed(exc) from exc
        return _http.read_json(response)
