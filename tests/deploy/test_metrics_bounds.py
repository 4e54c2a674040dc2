"""Issue 14: no caller can grow ``/metrics`` (or the access log) without bound.

Reported: ``release_gate_http_requests_total`` was labelled by the method as
sent, so 300 unauthenticated requests with 15,000-character methods grew
``/metrics`` to 10 MB for the life of the process. Every label a caller can
influence now takes its values from a fixed set, anything else counted as
``other``; the access log writes the same bounded method.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.keys.api_keys import ROLES
from release_gate.keys.signing import write_private_key
from release_gate.ops.metrics import (
    EVIDENCE_RESULTS,
    FINDINGS,
    INTAKE_OUTCOMES,
    OTHER,
    REVOCATION_REASONS,
    LabelSet,
    Metrics,
    status_label,
)
from release_gate.policy.metadata import rule_metadata
from release_gate.runtime import Runtime, build_runtime
from release_gate_client import TOKEN_ERRORS
from tests.databases import migrate
from tests.deploy._support import ThreadedServer
from tests.governance_data import demo_governance_doc, write_policies
from tests.helpers import LANE

SERIES = re.compile(r"^(release_gate_\w+)\{", re.MULTILINE)
LONG = 15_000


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    key = tmp_path / "gate.pem"
    write_private_key(key, Ed25519PrivateKey.generate(), force=False)
    url = f"sqlite:///{tmp_path / 'decisions.db'}"
    migrate(url)
    settings = Settings(
        policies=write_policies(tmp_path / "policies", demo_governance_doc()),
        state_dir=tmp_path / "state",
        signing_key_file=key,
        database_url=url,
    )
    built = build_runtime(settings)
    yield built
    built.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime=runtime)) as test_client:
        yield test_client


def _series(text: str, name: str = "release_gate_http_requests_total") -> int:
    return sum(1 for found in SERIES.findall(text) if found == name)


def _hostile_methods(count: int, start: int = 0) -> list[str]:
    return [f"M{i:06d}" + "X" * 64 for i in range(start, start + count)]


class TestLabelSet:
    def test_listed_values_pass_and_anything_else_is_other(self) -> None:
        label = LabelSet({"a", "b"})
        assert [label("a"), label("b"), label("c"), label(""), label(None), label(1)] == [
            "a",
            "b",
            OTHER,
            OTHER,
            OTHER,
            OTHER,
        ]
        assert LabelSet((), other="(none)")("a") == "(none)"

    @pytest.mark.parametrize(
        ("status", "label"),
        [
            *[(200, "200"), (404, "404"), (503, "503"), (418, "4xx"), (299, "2xx"), (599, "5xx")],
            *[
                (99, OTHER),
                (600, OTHER),
                (-1, OTHER),
                ("200", OTHER),
                (200.0, OTHER),
                (True, OTHER),
            ],
        ],
    )
    def test_a_status_is_listed_or_its_class(self, status: object, label: str) -> None:
        assert status_label(status) == label

    def test_reasons_and_roles_are_the_fixed_sets(self) -> None:
        labels = Metrics().labels
        assert labels.reason.values == frozenset(TOKEN_ERRORS)
        assert labels.reason("token.made_up") == OTHER
        assert labels.role.values == ROLES
        assert labels.role("admin") == OTHER
        assert labels.revocation.values == frozenset(REVOCATION_REASONS)
        assert labels.evidence.values == frozenset(EVIDENCE_RESULTS)
        assert labels.intake.values == frozenset(INTAKE_OUTCOMES)
        assert labels.finding.values == frozenset(FINDINGS)
        assert labels.finding("x" * 99) == OTHER
        assert labels.source.values == frozenset()  # until a policy is loaded


class TestAppLabels:
    def test_every_route_and_method_of_the_api_is_listed(self, client: TestClient) -> None:
        app = client.app
        labels = app.state.metrics.labels  # type: ignore[attr-defined]
        paths = app.openapi()["paths"]  # type: ignore[attr-defined]
        assert set(paths) <= labels.route.values
        methods = {m.upper() for operations in paths.values() for m in operations}
        assert methods <= labels.method.values
        assert labels.method("PROPFIND") == OTHER
        assert labels.route("/v1/evaluate/../x") == "(unmatched)"

    def test_lanes_and_codes_come_from_the_loaded_policy(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        labels = client.app.state.metrics.labels  # type: ignore[attr-defined]
        assert runtime.bundle is not None
        assert labels.lane.values == {LANE}
        assert labels.code.values == {rule.code for rule in rule_metadata(runtime.bundle)}
        assert labels.lane("another-lane") == OTHER
        assert labels.code("signers.missing_role") == "signers.missing_role"
        lane = runtime.governance.lanes[LANE] if runtime.governance else None
        assert lane is not None
        assert labels.source.values == set(lane.max_evidence_age_seconds)
        assert labels.source("hallway_chat") == OTHER

    def test_an_unknown_violation_code_is_counted_as_other(self, client: TestClient) -> None:
        metrics: Metrics = client.app.state.metrics  # type: ignore[attr-defined]
        codes = [f"made.up_{i}" for i in range(50)] + ["signers.missing_role"]
        metrics.observe_decision(allow=False, codes=codes, seconds=0.01, stages={"x" * 99: 0.1})
        text = metrics.render().decode()
        assert 'release_gate_violations_total{code="other"} 50.0' in text
        assert 'release_gate_violations_total{code="signers.missing_role"} 1.0' in text
        assert _series(text, "release_gate_violations_total") == 2
        assert "x" * 99 not in text


class TestRequestSeriesStayBounded:
    def test_distinct_methods_paths_and_queries_add_no_series(self, client: TestClient) -> None:
        def burst(start: int) -> None:
            for i, method in enumerate(_hostile_methods(100, start)):
                client.request(method, "/healthz")
                client.get(f"/no/such/path/{start + i}?q={i}")
                client.request(method, f"/v1/holds/{start + i}")

        client.get("/metrics")  # its own series, before counting
        burst(0)
        first = client.get("/metrics").text
        burst(100)
        second = client.get("/metrics").text
        assert _series(second) == _series(first)
        assert _series(second) <= 10
        assert "M000150" not in second
        assert "/no/such" not in second
        other = re.search(r'method="other",route="/healthz",status="405"\} (\S+)', second)
        assert other is not None
        assert float(other.group(1)) == 200

    def test_the_access_log_never_writes_the_method_as_sent(
        self, client: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        method = "Q" * 2000
        with caplog.at_level(logging.INFO, logger="release_gate.access"):
            client.request(method, "/healthz")
            client.get("/healthz")
        lines = [r.getMessage() for r in caplog.records if r.name == "release_gate.access"]
        assert "other /healthz 405" in lines
        assert "GET /healthz 200" in lines
        assert all("QQQQ" not in line for line in lines)


class TestOverRealHttp:
    def test_the_reported_attack_leaves_metrics_small(self, runtime: Runtime) -> None:
        """300 requests with distinct 15,000-character methods to a real uvicorn."""
        app = create_app(runtime.settings, runtime=runtime)
        with ThreadedServer(app) as server:
            for i in range(300):
                method = f"M{i:05d}".encode() + b"X" * LONG
                status = _raw_request(server.port, method + b" /healthz HTTP/1.1\r\n")
                assert status in (b"405", b"400"), status
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                body = _read_all(sock)
        assert len(body) < 64 * 1024
        assert b"XXXX" not in body
        assert _series(body.decode()) <= 5


def _raw_request(port: int, request_line: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request_line + b"Host: x\r\nConnection: close\r\n\r\n")
        return _read_all(sock).split(b" ", 2)[1]


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
