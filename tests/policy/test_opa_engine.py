"""OpaEngine's failure handling, against a small real HTTP server that answers as OPA can.

This tests the gate's handling of OPA's answers (timeouts, 500s, undefined
results, foreign revisions), not OPA: the parity suite in ``tests/parity`` runs
against a real OPA.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
DENY = {
    "allow": False,
    "violations": [
        {"code": "lane.unknown", "message": "no such lane", "path": "/lane"},
        {"code": "evidence.stale", "message": "old", "path": "/evidence/0"},
    ],
    "warnings": [],
}


@dataclass
class FakeOpa:
    """What the server answers (``mode``) and what it saw."""

    mode: str = "good"
    result: Any = field(default_factory=lambda: dict(ALLOW))
    revision: str = REVISION
    health_status: int = 200
    held: dict[str, Any] = field(default_factory=dict)  # GET /v1/policies, /v1/data/<key>
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
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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
            "500": (500, {"code": "internal_error", "message": "boom"}),
            "undefined": (200, {"provenance": fake.provenance()}),
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
            body = {} if fake.health_status == 200 else {"error": "bundle not activated"}
            self._send(fake.health_status, body)
        elif path == "/v1/data/system/bundles":
            self._send(200, {"result": {}, "provenance": fake.provenance()})
        elif path == "/v1/policies":
            policies = [{"id": k, "raw": v} for k, v in fake.held.get("policies", {}).items()]
            self._send(200, {"result": policies})
        elif path.startswith("/v1/data/"):
            key = path.removeprefix("/v1/data/")
            self._send(200, {"result": fake.held.get("data", {}).get(key)})
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


class TestOpaEngineEvaluate:
    def test_allow_is_a_policy_result_naming_the_gates_bundle(
        self, make_engine: Any, fake: FakeOpa
    ) -> None:
        engine = make_engine()
        result = engine.evaluate(POLICY_INPUT)
        assert isinstance(engine, PolicyEngine)
        assert result.allow is True
        assert (result.policy_revision, result.policy_digest) == (REVISION, "sha256:" + "ab" * 32)
        method, path, body = fake.requests[-1]
        assert (method, path) == ("POST", "/v1/data/release/gate/decision?provenance=true")
        assert body == {"input": json.loads(POLICY_INPUT)}  # 2**62 arrives exactly

    def test_deny_keeps_every_violation(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.result = DENY
        result = make_engine().evaluate(POLICY_INPUT)
        assert result.allow is False
        assert [v.code for v in result.violations] == ["evidence.stale", "lane.unknown"]

    def test_connection_refused_is_engine_error(self, make_engine: Any) -> None:
        engine = make_engine(f"http://127.0.0.1:{_free_port()}", retries=1)
        with pytest.raises(PolicyEngineError, match=r"unreachable after 2 attempt\(s\)"):
            engine.evaluate(POLICY_INPUT)

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

    def test_http_500_is_engine_error_and_not_retried(
        self, make_engine: Any, fake: FakeOpa
    ) -> None:
        fake.mode = "500"
        with pytest.raises(PolicyEngineError, match="HTTP 500"):
            make_engine(retries=2).evaluate(POLICY_INPUT)
        assert fake.hits == 1

    def test_undefined_decision_is_engine_error(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.mode = "undefined"
        with pytest.raises(PolicyEngineError, match="undefined on OPA"):
            make_engine().evaluate(POLICY_INPUT)

    def test_body_that_is_not_json_is_engine_error(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.mode = "not_json"
        with pytest.raises(PolicyEngineError, match="without JSON"):
            make_engine().evaluate(POLICY_INPUT)

    @pytest.mark.parametrize(
        ("result", "message"),
        [
            ({"allow": "true", "violations": []}, "allow is not a boolean"),
            ({"allow": 1, "violations": []}, "allow is not a boolean"),
            ({"allow": True, "violations": [{"code": "x"}]}, "lacks code"),
            ([], "is not an object"),
            (
                {"allow": True, "violations": [{"code": "a", "message": "", "path": ""}]},
                "allows with violations",
            ),
        ],
    )
    def test_malformed_result_is_engine_error(
        self, make_engine: Any, fake: FakeOpa, result: Any, message: str
    ) -> None:
        fake.result = result
        with pytest.raises(PolicyEngineError, match=message):
            make_engine().evaluate(POLICY_INPUT)

    def test_foreign_bundle_revision_is_refused(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.revision = "2025.01.01-9"
        with pytest.raises(
            PolicyEngineError,
            match=re.escape(
                "OPA evaluated bundle revision '2025.01.01-9', the gate expects '2026.11.26-1'"
            ),
        ):
            make_engine().evaluate(POLICY_INPUT)

    def test_missing_provenance_revision_is_refused(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.mode = "no_provenance"
        with pytest.raises(PolicyEngineError, match="no provenance"):
            make_engine().evaluate(POLICY_INPUT)

    def test_api_source_accepts_a_decision_without_bundle_revision(
        self, make_engine: Any, fake: FakeOpa
    ) -> None:
        fake.mode = "no_provenance"
        assert make_engine(policy_source="api").evaluate(POLICY_INPUT).allow is True

    def test_concurrent_callers_share_one_engine(self, make_engine: Any, fake: FakeOpa) -> None:
        engine = make_engine(timeout=10.0)  # 64 calls on a loaded 2-core CI machine
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: engine.evaluate(POLICY_INPUT).allow, range(64)))
        assert all(results)
        assert fake.hits == 64

    def test_closed_engine_refuses_to_evaluate(self, make_engine: Any) -> None:
        engine = make_engine()
        engine.close()
        engine.close()
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


class TestOpaEngineStatus:
    def test_ready_with_the_active_revision(self, make_engine: Any, fake: FakeOpa) -> None:
        status = make_engine().status()
        assert status.ready is True
        assert status.extra["revision"] == REVISION
        assert ("GET", "/health?bundles=true", None) in fake.requests

    def test_bundle_not_activated_is_not_ready(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.health_status = 500
        status = make_engine().status()
        assert status.ready is False
        assert "HTTP 500" in status.detail
        assert "bundle not activated" in status.detail

    def test_foreign_revision_is_not_ready(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.revision = "old"
        status = make_engine().status()
        assert (status.ready, status.extra["revision"]) == (False, "old")
        assert "the gate expects '2026.11.26-1'" in status.detail

    @pytest.mark.parametrize("mode", ["undefined", "500", "not_json"])
    def test_healthy_opa_that_cannot_decide_is_not_ready(
        self, make_engine: Any, fake: FakeOpa, mode: str
    ) -> None:
        """/health and the bundle's revision are fine, but every evaluation would be a 503."""
        fake.mode = mode
        status = make_engine().status()
        assert status.ready is False
        assert "does not answer data.release.gate.decision" in status.detail
        posts = [r for r in fake.requests if r[0] == "POST"]
        assert posts
        assert posts[-1][2]["input"]["manifest"]["signatures"] == []

    def test_malformed_decision_is_not_ready(self, make_engine: Any, fake: FakeOpa) -> None:
        fake.result = {"allow": "yes", "violations": [], "warnings": []}
        status = make_engine().status()
        assert status.ready is False
        assert "probe input" in status.detail

    def test_unreachable_is_not_ready(self, make_engine: Any) -> None:
        status = make_engine(f"http://127.0.0.1:{_free_port()}").status()
        assert status.ready is False
        assert "OPA at http://127.0.0.1" in status.detail

    def test_api_source_ready_when_opa_holds_the_bundle(
        self, make_engine: Any, fake: FakeOpa, bundle: PolicyBundle
    ) -> None:
        fake.held = {"policies": dict(bundle.modules), "data": dict(bundle.data)}
        assert make_engine(policy_source="api").status().ready is True

    def test_api_source_not_ready_when_a_module_differs(
        self, make_engine: Any, fake: FakeOpa, bundle: PolicyBundle
    ) -> None:
        fake.held = {"policies": {"release/gate.rego": "package other\n"}, "data": bundle.data}
        status = make_engine(policy_source="api").status()
        assert status.ready is False
        assert "release/gate.rego" in status.detail

    def test_api_source_not_ready_when_data_differs(
        self, make_engine: Any, fake: FakeOpa, bundle: PolicyBundle
    ) -> None:
        data = {"governance": {"lanes": {}, "max": 86401}}
        fake.held = {"policies": dict(bundle.modules), "data": data}
        status = make_engine(policy_source="api").status()
        assert (status.ready, status.detail) == (
            False,
            "OPA's data.governance differs from the gate's",
        )
