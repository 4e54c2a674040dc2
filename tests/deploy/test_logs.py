"""Structured logs: request id in and out, decision id on every line about a decision,
and never a token, a signature or key material."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from release_gate.ops.logs import ContextFilter, JsonFormatter
from release_gate.runtime import Runtime
from tests.helpers import ManifestFactory, post_json


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


class TestRequestId:
    def test_caller_request_id_is_returned_and_logged(
        self, client: TestClient, json_log: io.StringIO
    ) -> None:
        response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"
        assert any(line.get("request_id") == "abc-123" for line in _lines(json_log))

    @pytest.mark.parametrize(
        "given", [b"", b"a b", b"x" * 129, "evil\u202e".encode(), b'json"quote', b"a\tb"]
    )
    def test_unsafe_request_id_is_replaced(self, client: TestClient, given: bytes) -> None:
        response = client.get("/healthz", headers={b"X-Request-ID": given})
        returned = response.headers["x-request-id"]
        assert returned.encode() != given
        assert len(returned) == 36

    def test_request_id_is_generated_when_absent(self, client: TestClient) -> None:
        first = client.get("/healthz").headers["x-request-id"]
        second = client.get("/healthz").headers["x-request-id"]
        assert first != second


class TestNoSecretsInLogs:
    def test_an_allow_logs_ids_but_no_token_signature_or_key(
        self,
        client: TestClient,
        runtime: Runtime,
        make_manifest: ManifestFactory,
        json_log: io.StringIO,
    ) -> None:
        manifest = make_manifest()
        response = client.post(
            "/v1/evaluate",
            content=json.dumps(manifest).encode(),
            headers={"content-type": "application/json", "X-Request-ID": "req-allow"},
        )
        decision = response.json()
        assert decision["allow"] is True
        verify = post_json(
            client,
            "/v1/verify",
            {
                "token": decision["token"],
                "lane": manifest["lane"],
                "packet_digest": manifest["packet"]["digest"],
            },
        )
        assert verify.json()["valid"] is True
        text = json_log.getvalue()
        lines = _lines(json_log)
        about = [line for line in lines if line.get("request_id") == "req-allow"]
        assert len(about) >= 2
        assert all(line["decision_id"] == decision["decision_id"] for line in about)
        private = runtime.signing_key.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        secrets = [
            decision["token"],
            *decision["token"].split("."),
            *(s["signature"] for s in manifest["signatures"]),
            base64.urlsafe_b64encode(private).rstrip(b"=").decode(),
            base64.b64encode(private).decode(),
            "PRIVATE KEY",
        ]
        for secret in secrets:
            assert secret not in text
