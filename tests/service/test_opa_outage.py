"""The gate on the OPA engine through an OPA outage: 503s and no token, then recovery.

The OPA here is a small stand-in of our own that answers OPA's data API
(``POST /v1/data/release/gate/decision?provenance=true``, ``/health``,
``/v1/data/system/bundles``) by evaluating the real policies on the embedded
engine. It tests the gate's handling of an OPA that dies mid-load and comes
back on the same address (no restart of the gate), not OPA itself: decision
parity with a real OPA is the parity suite's job (tests/parity).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.embedded import EmbeddedEngine
from release_gate.runtime import Runtime, build_runtime
from tests.helpers import ManifestFactory, post_json


class _StandIn(ThreadingHTTPServer):
    """Tracks its open connections, so that stopping it is like killing a process."""

    daemon_threads = True
    allow_reuse_address = True
    engine: EmbeddedEngine
    revision: str

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def kill(self) -> None:
        """Stop accepting and cut every open (kept-alive) connection."""
        self.shutdown()
        self.server_close()
        with self.connections_lock:
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
            self.connections.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StandIn

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _provenance(self) -> dict[str, Any]:
        return {
            "version": "stand-in",
            "bundles": {"release-gate": {"revision": self.server.revision}},
        }

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        policy_input = json.loads(self.rfile.read(length))["input"]
        result = self.server.engine.evaluate(json.dumps(policy_input))
        decision = {
            "allow": result.allow,
            "violations": [_as_dict(v) for v in result.violations],
            "warnings": [_as_dict(v) for v in result.warnings],
        }
        self._send({"result": decision, "provenance": self._provenance()})

    def do_GET(self) -> None:
        if self.path.startswith("/health"):
            self._send({})
        else:
            self._send({"result": {}, "provenance": self._provenance()})


def _as_dict(violation: Any) -> dict[str, str]:
    return {"code": violation.code, "message": violation.message, "path": violation.path}


class StandInOpa:
    """Start, stop and restart the stand-in on one port."""

    def __init__(self, bundle: PolicyBundle) -> None:
        self._engine = EmbeddedEngine(bundle)
        self._revision = bundle.revision
        self._httpd: _StandIn | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> None:
        httpd = _StandIn(("127.0.0.1", self.port))
        httpd.engine = self._engine
        httpd.revision = self._revision
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None and self._thread is not None:
            self._httpd.kill()
            self._thread.join(5)
            self._httpd = None

    def close(self) -> None:
        self.stop()
        self._engine.close()


@pytest.fixture
def opa(gate_policies: Path) -> Iterator[StandInOpa]:
    stand_in = StandInOpa(load_bundle(gate_policies))
    stand_in.start()
    yield stand_in
    stand_in.close()


@pytest.fixture
def opa_runtime(settings: Settings, opa: StandInOpa) -> Iterator[Runtime]:
    configured = settings.model_copy(
        update={
            "opa_url": f"http://127.0.0.1:{opa.port}",
            "opa_timeout_seconds": 2.0,
            "opa_retries": 1,
        }
    )
    runtime = build_runtime(configured)
    yield runtime
    runtime.close()


@pytest.fixture
def opa_client(opa_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(opa_runtime.settings, runtime=opa_runtime)) as client:
        yield client


def _burst(client: TestClient, body: dict[str, Any], count: int) -> list[Any]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: post_json(client, "/v1/evaluate", body), range(count)))


class TestOpaOutage:
    def test_dies_mid_load_then_recovers_without_restarting_the_gate(
        self,
        opa: StandInOpa,
        opa_client: TestClient,
        opa_runtime: Runtime,
        make_manifest: ManifestFactory,
    ) -> None:
        manifest = make_manifest()
        before = post_json(opa_client, "/v1/evaluate", manifest)
        assert before.status_code == 200
        assert before.json()["allow"] is True
        assert (
            before.json()["policy"]["revision"]
            == load_bundle(opa_runtime.settings.policies).revision
        )

        outage: list[Any] = []
        stopper = threading.Timer(0.2, opa.stop)
        stopper.start()
        while stopper.is_alive() or not outage or outage[-1].status_code == 200:
            outage.extend(_burst(opa_client, manifest, 4))
            assert len(outage) < 2000, "the outage never showed"
        stopper.join(timeout=10)
        statuses = {r.status_code for r in outage}
        assert statuses <= {200, 503}
        for response in outage:
            body = response.json()
            if response.status_code == 503:
                assert "token" not in body
                assert body["type"].endswith("engine-unavailable")
            else:
                assert body["allow"] is True
                assert body["token"]
        assert opa_client.get("/readyz").status_code == 503

        assert opa_runtime.store is not None
        recorded = opa_runtime.store.count()
        after_outage = post_json(opa_client, "/v1/evaluate", manifest)
        assert after_outage.status_code == 503
        assert opa_runtime.store.count() == recorded  # no decision, no record, no token

        opa.start()  # same port
        recovered = _burst(opa_client, manifest, 8)
        assert [r.status_code for r in recovered] == [200] * 8
        assert all(r.json()["allow"] is True and r.json()["token"] for r in recovered)
        assert opa_client.get("/readyz").status_code == 200

    def test_every_token_minted_around_the_outage_has_a_record(
        self,
        opa: StandInOpa,
        opa_client: TestClient,
        opa_runtime: Runtime,
        make_manifest: ManifestFactory,
    ) -> None:
        manifest = make_manifest()
        stopper = threading.Timer(0.1, opa.stop)
        stopper.start()
        responses = _burst(opa_client, manifest, 40)
        stopper.join(timeout=10)
        opa.start()
        responses += _burst(opa_client, manifest, 4)
        assert opa_runtime.store is not None
        for response in responses:
            body = response.json()
            if response.status_code == 200:
                record = opa_runtime.store.get(body["decision_id"])
                assert record is not None
                assert record.decision.token_id == body["decision_id"]
                assert record.decision.basis.engine == "opa"
            else:
                assert response.status_code == 503
                assert "token" not in body
