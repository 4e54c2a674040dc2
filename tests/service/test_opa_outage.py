"""The gate on a real OPA through an outage: 503s and no token, then recovery.

A real OPA (``opa run --server --bundle``, ``tests/opa_server.py``) runs the
gate's bundle; the test kills it (SIGKILL, as a crash: its kept-alive
connections are cut) in the middle of a load and starts it again on the same
address, and the gate must answer 503 without a token or a record meanwhile and
recover without a restart. Skipped, saying so, without an ``opa`` binary.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.policy.bundle import load_bundle
from release_gate.policy.opa_bundle import build_bundle
from release_gate.runtime import Runtime, build_runtime
from tests.helpers import ManifestFactory, post_json
from tests.opa_server import OpaServer


@pytest.fixture
def opa(opa_binary: Path, tmp_path: Path, gate_policies: Path) -> Iterator[OpaServer]:
    tarball = build_bundle(gate_policies, tmp_path / "gate.tar.gz", signing_key=None, key_id=None)
    server = OpaServer(opa_binary, "--bundle", str(tarball), log=tmp_path / "opa.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def opa_runtime(settings: Settings, opa: OpaServer) -> Iterator[Runtime]:
    configured = settings.model_copy(
        update={
            "opa_url": opa.url,
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
        opa: OpaServer,
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
        stopper = threading.Timer(0.2, opa.kill)
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
        opa: OpaServer,
        opa_client: TestClient,
        opa_runtime: Runtime,
        make_manifest: ManifestFactory,
    ) -> None:
        manifest = make_manifest()
        stopper = threading.Timer(0.1, opa.kill)
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
