"""OpaEngine against what a real OPA cannot be made to do, and without any OPA.

A small HTTP server of our own drops connections, stalls, answers a body that
is not JSON, or leaves out provenance: the failures a real OPA does not produce
on demand. Everything a real OPA can show (500s, undefined and malformed
decisions, foreign or missing bundle revisions, several bundles, bundles not
activated, policies pushed through its APIs) is tested on a real OPA server in
``tests/policy/test_opa_engine_real.py``; decision parity in ``tests/parity``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from release_gate.errors import ConfigurationError
from release_gate.policy.bundle import PolicyBundle
from release_gate.policy.engine import PolicyEngine, PolicyEngineError
from release_gate.policy.opa import OpaEngine, bundle_revision
from tests.governance import GOVERNANCE_FILE

REVISION = "2026.11.26-1"
ALLOW = {"allow": True, "violations": [], "warnings": []}


@dataclass
class FakeOpa:
    """What the server answers (``mode``) and what it saw."""

    mode: str = "good"
    result: Any = field(default_factory=lambda: dict(ALLOW))
    revision: str = REVISION
    drops: int = 0  # close this many connections without an answer before answering
    hits: int = 0
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def provenance(self) -> dict[str, Any]:
        return {"version": "1.9.0", "bundles": {"release-gate": {"revision": self.revision}}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a stalled answer the engine gave up on

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"null")
        with fake.lock:
            fake.hits += 1
            fake.requests.append(("POST", self.path, body))
            drop = fake.mode == "drop" or fake.drops > 0
            fake.drops = max(0, fake.drops - 1)
        if drop:
            self.close_connection = True
            return
        if fake.mode == "slow":
            fake.release.wait(10)
        answers: dict[str, tuple[int, Any]] = {
            "good": (200, {"result": fake.result, "provenance": fake.provenance()}),
            "slow": (200, {"result": fake.result, "provenance": fake.provenance()}),
            "no_provenance": (200, {"result": fake.result}),
            "not_json": (200, b"hello"),
        }
        status, answer = answers[fake.mode]
        self._send(status, answer, "text/plain" if fake.mode == "not_json" else "application/json")

    def do_GET(self) -> None:
        fake = self.server.fake
        path = self.path.split("?", 1)[0]
        with fake.lock:
            fake.requests.append(("GET", self.path, None))
        if path == "/health":
            self._send(200, {})
        elif path == "/v1/data/system/bundles":
            self._send(200, {"result": {}, "provenance": fake.provenance()})
        else:
            self._send(404, {"code": "not_found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpa


@pytest.fixture
def fake() -> FakeOpa:
    return FakeOpa()


@pytest.fixture
def server(fake: FakeOpa) -> Iterator[str]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.fake = fake
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        fake.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def bundle(tmp_path: Path) -> PolicyBundle:
    return PolicyBundle(
        root=tmp_path,
        revision=REVISION,
        roots=("release", "governance"),
        modules={"release/gate.rego": "package release.gate\n"},
        data={"governance": {"lanes": {}, "max": 86400}},
        data_files={str(GOVERNANCE_FILE): '{"lanes": {}, "max": 86400}'},
        digest="sha256:" + "ab" * 32,
    )


@pytest.fixture
def make_engine(server: str, bundle: PolicyBundle) -> Iterator[Any]:
    engines: list[OpaEngine] = []

    def make(url: str = server, **kwargs: Any) -> OpaEngine:
        kwargs.setdefault("timeout", 1.0)
        engine = OpaEngine(url, bundle=bundle, **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


POLICY_INPUT = json.dumps({"manifest": {"lane": "x"}, "facts": {"evidence": [{"age_ns": 2**62}]}})


class TestOpaEngineAgainstAStandIn:
    """Failures a real OPA does not produce on demand."""

    def test_dropped_connections_retried_a_bounded_number_of_times(
        self, make_engine: Any, fake: FakeOpa
    ) -> None:
        fake.mode = "drop"
        with pytest.raises(PolicyEngineError, match=r"unreachable after 3 attempt\(s\)"):
            make_engine(retries=2).evaluate(POLICY_INPUT)
        assert fake.hits == 3

    def test_a_retry_recovers_from_one_dropped_connection(
        self, make_engine: Any, fake: FakeOpa
    ) -> None:
        fake.drops = 1
        assert make_engine(retries=1).evaluate(POLICY_INPUT).allow is True
        assert fake.hits == 2

    def test_timeout_is_engine_error_and_not_retried(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.mode = "slow"
        with pytest.raises(PolicyEngineError, match=r"timed out after 0\.3s"):
            make_engine(timeout=0.3, retries=2).evaluate(POLICY_INPUT)
        assert fake.hits == 1

    def test_body_that_is_not_json_is_engine_error(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.mode = "not_json"
        with pytest.raises(PolicyEngineError, match="without JSON"):
            make_engine().evaluate(POLICY_INPUT)

    def test_answer_without_provenance_is_refused(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.mode = "no_provenance"
        with pytest.raises(PolicyEngineError, match="no provenance"):
            make_engine().evaluate(POLICY_INPUT)

    def test_api_source_accepts_an_answer_without_provenance(
        self, make_engine: Any, fake: FakeOpa
    ) -> None:
        fake.mode = "no_provenance"
        assert make_engine(policy_source="api").evaluate(POLICY_INPUT).allow is True

    @pytest.mark.parametrize("mode", ["not_json", "slow"])
    def test_healthy_opa_that_cannot_decide_is_not_ready(
        self, make_engine: Any, fake: FakeOpa, mode: str
    ) -> None:
        """/health and the bundle's revision are fine, but every evaluation would be a 503."""
        fake.mode = mode
        status = make_engine(timeout=0.3).status()
        assert status.ready is False
        assert "does not answer data.release.gate.decision" in status.detail
        assert status.extra["revision"] == REVISION


class TestOpaEngineWithoutOpa:
    def test_connection_refused_is_engine_error(self, make_engine: Any) -> None:
        engine = make_engine(f"http://127.0.0.1:{_free_port()}", retries=1)
        with pytest.raises(PolicyEngineError, match=r"unreachable after 2 attempt\(s\)"):
            engine.evaluate(POLICY_INPUT)

    def test_unreachable_is_not_ready(self, make_engine: Any) -> None:
        status = make_engine(f"http://127.0.0.1:{_free_port()}").status()
        assert status.ready is False
        assert "OPA at http://127.0.0.1" in status.detail

    def test_closed_engine_refuses_to_evaluate(self, make_engine: Any) -> None:
        engine = make_engine()
        engine.close()
        engine.close()
        assert isinstance(engine, PolicyEngine)
        with pytest.raises(PolicyEngineError, match="closed"):
            engine.evaluate(POLICY_INPUT)
        assert engine.status().ready is False

    @pytest.mark.parametrize("url", ["ftp://opa:8181", "http://opa:8181/prefix", "opa:8181"])
    def test_unusable_url_is_configuration_error(self, bundle: PolicyBundle, url: str) -> None:
        with pytest.raises(ConfigurationError, match="OPA URL"):
            OpaEngine(url, bundle=bundle)


class TestBundleRevision:
    def test_the_only_bundle_is_the_gates(self) -> None:
        assert bundle_revision({"bundles": {"b": {"revision": "r"}}}, bundle_name=None) == "r"

    def test_a_named_bundle_among_several(self) -> None:
        provenance = {"bundles": {"a": {"revision": "x"}, "b": {"revision": "r"}}}
        assert bundle_revision(provenance, bundle_name="b") == "r"

    def test_several_bundles_need_a_name(self) -> None:
        provenance = {"bundles": {"a": {"revision": "x"}, "b": {"revision": "r"}}}
        with pytest.raises(PolicyEngineError, match=r"several bundles \(a, b\)"):
            bundle_revision(provenance, bundle_name=None)

    def test_unknown_name_is_refused(self) -> None:
        with pytest.raises(PolicyEngineError, match="no bundle named 'c'"):
            bundle_revision({"bundles": {"a": {"revision": "x"}}}, bundle_name="c")

    def test_empty_revision_is_refused(self) -> None:
        with pytest.raises(PolicyEngineError, match="without a revision"):
            bundle_revision({"bundles": {"a": {"revision": ""}}}, bundle_name=None)

    def test_legacy_single_bundle_revision(self) -> None:
        assert bundle_revision({"revision": "r"}, bundle_name=None) == "r"
