"""GateClient and AsyncGateClient against a real HTTP server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from release_gate_client import (
    AsyncGateClient,
    ClientError,
    Decision,
    GateClient,
    GateHTTPError,
    GateUnavailable,
    ProblemError,
    UnexpectedResponse,
    Violation,
)
from release_gate_client.models import decision_from_json, verify_result_from_json

from ._support import LANE, PACKET_DIGEST, FakeGate, Recorded, Reply, base_claims
from .test_jwks import unused_local_url

MANIFEST = {"manifest_version": "1", "manifest_id": "rel-1", "note": "caf\u00e9"}
PROBLEM = "application/problem+json"


def decision_body(*, allow: bool = True) -> dict[str, Any]:
    return {
        "decision_id": "6f1c2a8e-4b7d-4e0a-9c1f-2d3e4f5a6b7c",
        "allow": allow,
        "manifest_digest": "sha256:" + "cd" * 32,
        "packet": {"id": "pkt-42", "revision": 3, "digest": PACKET_DIGEST},
        "lane": LANE,
        "policy": {"revision": "2026.11.1", "digest": "sha256:" + "ef" * 32},
        "violations": []
        if allow
        else [{"code": "signers.missing_role", "message": "no legal", "path": "/signatures"}],
        "warnings": [],
        "token": "a.b.c" if allow else None,
        "evaluated_at": "2026-11-26T07:00:00Z",
    }


def invalid_manifest() -> Reply:
    problem = {
        "type": "https://release-gate.example/problems/invalid-manifest",
        "title": "Invalid manifest",
        "status": 422,
        "detail": "1 error",
        "errors": [{"pointer": "/evidence/0/observed_at", "detail": "not a timestamp"}],
    }
    return Reply.json(problem, 422, PROBLEM)


class TestGateClient:
    def test_evaluate_returns_an_allow(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply.json(decision_body())
        with GateClient(gate.url) as client:
            decision = client.evaluate(MANIFEST)
        assert isinstance(decision, Decision)
        assert decision.allow
        assert decision.token == "a.b.c"
        assert decision.packet.revision == 3
        request = gate.requests[0]
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.body) == MANIFEST
        assert "caf\u00e9".encode() in request.body

    def test_evaluate_returns_a_deny_as_a_result(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply.json(decision_body(allow=False))
        with GateClient(gate.url) as client:
            decision = client.evaluate(MANIFEST)
        assert not decision.allow
        assert decision.token is None
        assert decision.violations == (
            Violation(code="signers.missing_role", message="no legal", path="/signatures"),
        )

    def test_evaluate_sends_bytes_untouched(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply.json(decision_body())
        body = b'{ "manifest_version" : "1" }\n'
        with GateClient(gate.url) as client:
            client.evaluate(body)
        assert gate.requests[0].body == body

    def test_evaluate_refuses_a_str_before_sending(self, gate: FakeGate) -> None:
        """A str would go out as a JSON string and come back as a puzzling 422."""
        with GateClient(gate.url) as client, pytest.raises(TypeError, match="'rb'"):
            client.evaluate('{"manifest_version": "1"}')  # type: ignore[arg-type]
        assert gate.requests == []

    def test_sends_the_api_key_as_a_bearer_token(self, gate: FakeGate) -> None:
        gate.routes[("GET", "/.well-known/jwks.json")] = Reply.json({"keys": []})
        with GateClient(gate.url, api_key="s3cret") as client:
            client.jwks()
        assert gate.requests[0].headers["authorization"] == "Bearer s3cret"
        assert gate.requests[0].headers["user-agent"].startswith("release-gate-client/")

    def test_sends_no_authorization_without_an_api_key(self, gate: FakeGate) -> None:
        gate.routes[("GET", "/.well-known/jwks.json")] = Reply.json({"keys": []})
        with GateClient(gate.url) as client:
            assert client.jwks() == {"keys": []}
        assert "authorization" not in gate.requests[0].headers

    @pytest.mark.parametrize("api_key", ["", "a\r\nX-Evil: 1"])
    def test_rejects_an_unusable_api_key(self, api_key: str) -> None:
        with pytest.raises(ValueError, match="api_key must be a non-empty single-line"):
            GateClient("http://127.0.0.1:1", api_key=api_key)

    def test_keeps_a_base_url_prefix(self, gate: FakeGate) -> None:
        gate.routes[("GET", "/gate/v1/policy")] = Reply.json({"engine": "regorus"})
        with GateClient(gate.url + "/gate") as client:
            assert client.policy() == {"engine": "regorus"}

    def test_raises_a_problem_as_gate_http_error(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = invalid_manifest()
        with (
            GateClient(gate.url) as client,
            pytest.raises(GateHTTPError, match="HTTP 422: Invalid manifest: 1 error") as caught,
        ):
            client.evaluate(MANIFEST)
        assert caught.value.status == 422
        assert caught.value.problem is not None
        assert caught.value.problem.errors == (
            ProblemError(pointer="/evidence/0/observed_at", detail="not a timestamp"),
        )
        assert caught.value.code == "client.http_error"

    def test_raises_gate_http_error_without_a_problem_body(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply(401, b"no", "text/plain")
        with GateClient(gate.url) as client, pytest.raises(GateHTTPError, match=r"^HTTP 401$"):
            client.evaluate(MANIFEST)

    @pytest.mark.parametrize("status", [502, 503, 504])
    def test_raises_unavailable_for_gateway_statuses(self, gate: FakeGate, status: int) -> None:
        problem = {"title": "Engine unavailable", "status": status, "detail": "opa down"}
        gate.routes[("POST", "/v1/evaluate")] = Reply.json(problem, status, PROBLEM)
        with (
            GateClient(gate.url) as client,
            pytest.raises(GateUnavailable, match=f"HTTP {status}: Engine unavailable") as caught,
        ):
            client.evaluate(MANIFEST)
        assert caught.value.status == status

    def test_raises_unavailable_when_nothing_listens(self) -> None:
        with (
            GateClient(unused_local_url()) as client,
            pytest.raises(GateUnavailable, match="cannot reach the gate: ConnectError"),
        ):
            client.evaluate(MANIFEST)

    @pytest.mark.parametrize(
        ("body", "why"),
        [
            ({**decision_body(), "token": None}, "token exactly when it allows"),
            ({**decision_body(allow=False), "token": "a.b.c"}, "token exactly when it allows"),
            ({**decision_body(), "allow": "yes"}, r"decision.allow is not a bool"),
            (
                {**decision_body(), "packet": {"id": "p", "revision": True, "digest": "d"}},
                "revision",
            ),
            ({**decision_body(), "violations": [1]}, r"violations\[0\] is not an object"),
            ({**decision_body(), "policy": {"revision": 1, "digest": "d"}}, "string or null"),
            ([], "not a JSON object"),
        ],
    )
    def test_refuses_a_decision_off_contract(self, gate: FakeGate, body: Any, why: str) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply.json(body)
        with GateClient(gate.url) as client, pytest.raises(UnexpectedResponse, match=why):
            client.evaluate(MANIFEST)

    def test_refuses_a_200_that_is_not_json(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply(200, b"<html>", "text/html")
        with GateClient(gate.url) as client, pytest.raises(UnexpectedResponse, match="not JSON"):
            client.evaluate(MANIFEST)

    def test_verify_posts_token_lane_and_digest(self, gate: FakeGate) -> None:
        body = {"valid": True, "reason": None, "claims": base_claims()}
        gate.routes[("POST", "/v1/verify")] = Reply.json(body)
        with GateClient(gate.url) as client:
            result = client.verify("a.b.c", lane=LANE, packet_digest=PACKET_DIGEST)
        assert result.valid
        assert result.claims is not None
        assert result.claims.aud == LANE
        assert json.loads(gate.requests[0].body) == {
            "token": "a.b.c",
            "lane": LANE,
            "packet_digest": PACKET_DIGEST,
        }

    def test_verify_returns_an_invalid_verdict(self, gate: FakeGate) -> None:
        body = {"valid": False, "reason": "token.expired", "claims": None}
        gate.routes[("POST", "/v1/verify")] = Reply.json(body)
        with GateClient(gate.url) as client:
            result = client.verify("a.b.c", lane=LANE, packet_digest=PACKET_DIGEST)
        assert result.to_dict() == body

    @pytest.mark.parametrize(
        ("body", "why"),
        [
            ({"valid": True, "reason": "token.expired", "claims": None}, "a valid result"),
            ({"valid": False, "reason": None, "claims": None}, "a valid result"),
            ({"valid": True, "reason": None, "claims": {"iss": "x"}}, "missing claims"),
            ({"valid": 1, "reason": None, "claims": None}, "result.valid is not a bool"),
        ],
    )
    def test_verify_refuses_a_verdict_off_contract(
        self, gate: FakeGate, body: Any, why: str
    ) -> None:
        gate.routes[("POST", "/v1/verify")] = Reply.json(body)
        with GateClient(gate.url) as client, pytest.raises(UnexpectedResponse, match=why):
            client.verify("a.b.c", lane=LANE, packet_digest=PACKET_DIGEST)

    def test_ignores_a_problem_body_that_is_not_an_object(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply.json(["x"], 400, PROBLEM)
        with (
            GateClient(gate.url) as client,
            pytest.raises(GateHTTPError, match="HTTP 400") as caught,
        ):
            client.evaluate(MANIFEST)
        assert caught.value.problem is None

    def test_wraps_other_httpx_errors_as_client_error(self, gate: FakeGate) -> None:
        broken = Reply(200, b"not gzip", headers={"Content-Encoding": "gzip"})
        gate.routes[("POST", "/v1/evaluate")] = broken
        with (
            GateClient(gate.url) as client,
            pytest.raises(ClientError, match="request failed: DecodingError") as caught,
        ):
            client.evaluate(MANIFEST)
        assert not isinstance(caught.value, GateUnavailable)

    def test_all_client_errors_share_a_root(self, gate: FakeGate) -> None:
        with GateClient(gate.url) as client, pytest.raises(ClientError, match="HTTP 404"):
            client.policy()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class TestAsyncGateClient:
    def test_evaluate_verify_jwks_and_policy(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply.json(decision_body())
        gate.routes[("POST", "/v1/verify")] = Reply.json(
            {"valid": False, "reason": "token.wrong_audience", "claims": None}
        )
        gate.routes[("GET", "/.well-known/jwks.json")] = Reply.json({"keys": []})
        gate.routes[("GET", "/v1/policy")] = Reply.json({"engine": "regorus"})

        async def scenario() -> tuple[Any, ...]:
            async with AsyncGateClient(gate.url, api_key="k") as client:
                return (
                    await client.evaluate(MANIFEST),
                    await client.verify("a.b.c", lane=LANE, packet_digest=PACKET_DIGEST),
                    await client.jwks(),
                    await client.policy(),
                )

        decision, result, jwks, policy = run(scenario())
        assert decision.allow
        assert result.reason == "token.wrong_audience"
        assert jwks == {"keys": []}
        assert policy == {"engine": "regorus"}
        assert all(r.headers["authorization"] == "Bearer k" for r in gate.requests)

    def test_raises_a_problem_as_gate_http_error(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = invalid_manifest()

        async def scenario() -> None:
            async with AsyncGateClient(gate.url) as client:
                await client.evaluate(MANIFEST)

        with pytest.raises(GateHTTPError, match="Invalid manifest"):
            run(scenario())

    def test_raises_unavailable_for_503_and_unreachable(self, gate: FakeGate) -> None:
        gate.routes[("POST", "/v1/evaluate")] = Reply.json({"title": "down"}, 503, PROBLEM)

        async def scenario(url: str) -> None:
            async with AsyncGateClient(url) as client:
                await client.evaluate(MANIFEST)

        with pytest.raises(GateUnavailable, match="HTTP 503: down"):
            run(scenario(gate.url))
        with pytest.raises(GateUnavailable, match="cannot reach the gate"):
            run(scenario(unused_local_url()))

    def test_handles_a_slow_server_as_unavailable(self, gate: FakeGate) -> None:
        def slow(request: Recorded) -> Reply:
            import time

            time.sleep(0.5)
            return Reply.json(decision_body())

        gate.routes[("POST", "/v1/evaluate")] = slow

        async def scenario() -> None:
            async with AsyncGateClient(gate.url, timeout=0.05) as client:
                await client.evaluate(MANIFEST)

        with pytest.raises(GateUnavailable, match="ReadTimeout"):
            run(scenario())


class TestResultParsing:
    def test_decision_from_json_refuses_a_non_object(self) -> None:
        with pytest.raises(UnexpectedResponse, match="decision is not a JSON object"):
            decision_from_json([decision_body()])

    def test_decision_keeps_the_raw_body(self) -> None:
        decision = decision_from_json(decision_body())
        assert decision.raw["lane"] == LANE
        assert decision.policy.revision == "2026.11.1"

    def test_findings_carry_title_and_solution(self) -> None:
        body = decision_body(allow=False)
        explained = {"title": "Required role without a human signature", "solution": "Sign."}
        body["violations"][0].update(explained)
        aging = {"code": "evidence.aging", "message": "m", "path": "/evidence/0"}
        body["warnings"] = [{**aging, "title": "Aging", "solution": ""}]
        decision = decision_from_json(body)
        assert decision.violations == (
            Violation(
                "signers.missing_role",
                "no legal",
                "/signatures",
                title="Required role without a human signature",
                solution="Sign.",
            ),
        )
        assert decision.warnings == (Violation("evidence.aging", "m", "/evidence/0", "Aging", ""),)

    def test_findings_of_an_older_gate_read_without_title_and_solution(self) -> None:
        (violation,) = decision_from_json(decision_body(allow=False)).violations
        assert (violation.title, violation.solution) == ("", "")

    @pytest.mark.parametrize("field", ["title", "solution"])
    def test_title_or_solution_that_is_not_a_string_is_refused(self, field: str) -> None:
        body = decision_body(allow=False)
        body["violations"][0][field] = None
        with pytest.raises(UnexpectedResponse, match=rf"violations\[0\]\.{field} is not a str"):
            decision_from_json(body)

    def test_verify_result_from_json_refuses_a_non_object(self) -> None:
        with pytest.raises(UnexpectedResponse, match="verify result is not a JSON object"):
            verify_result_from_json(None)

    def test_verify_result_claims_must_be_an_object(self) -> None:
        with pytest.raises(UnexpectedResponse, match="payload is not a JSON object"):
            verify_result_from_json({"valid": True, "reason": None, "claims": ["x"]})
