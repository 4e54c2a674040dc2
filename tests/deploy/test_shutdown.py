"""SIGTERM on a real uvicorn process: in-flight evaluations finish and are recorded,
new ones get 503 while draining, and the process exits 0."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy._support import (
    EvaluationLatch,
    GateProcess,
    base_env,
    free_port,
    wait_draining,
    wait_listener_closed,
)
from tests.helpers import ManifestFactory

pytestmark = pytest.mark.slow


def _post(url: str, manifest: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        url + "/v1/evaluate",
        content=json.dumps(manifest).encode(),
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )


def _held_gate(
    tmp_path: Path, signing_key_file: Path, policies: Path, *, drain: str, **env: str
) -> tuple[GateProcess, EvaluationLatch, Path]:
    """A real ``serve`` whose evaluations wait for the latch, the latch, and its SQLite file."""
    port = free_port()
    database = tmp_path / "decisions.db"
    latch = EvaluationLatch(tmp_path / "latch.sock")
    gate = GateProcess(
        argv=[sys.executable, "-m", "tests.deploy._held_gate"],
        env=base_env(
            RELEASE_GATE_POLICIES=str(policies),
            RELEASE_GATE_SIGNING_KEY_FILE=str(signing_key_file),
            RELEASE_GATE_DATABASE_URL=f"sqlite:///{database}",
            RELEASE_GATE_PORT=str(port),
            RELEASE_GATE_DRAIN_SECONDS=drain,
            HELD_GATE_SOCKET=str(latch.path),
            **env,
        ),
        port=port,
        log_dir=tmp_path,
    )
    return gate, latch, database


def _in_flight(
    url: str, manifest: dict[str, Any], **headers: str
) -> tuple[threading.Thread, dict[str, httpx.Response]]:
    answer: dict[str, httpx.Response] = {}
    worker = threading.Thread(
        target=lambda: answer.update(response=_post(url, manifest, **headers))
    )
    worker.start()
    return worker, answer


class TestGracefulShutdown:
    def test_sigterm_drains_finishes_in_flight_and_refuses_new(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        gate_policies: Path,
        make_manifest: ManifestFactory,
    ) -> None:
        gate, latch, database = _held_gate(
            tmp_path, signing_key_file, gate_policies, drain="5", RELEASE_GATE_LOG_FORMAT="json"
        )
        manifest = make_manifest()
        with gate:
            worker, in_flight = _in_flight(gate.url, manifest, **{"X-Request-ID": "in-flight-1"})
            latch.wait_started()
            gate.signal(signal.SIGTERM)
            wait_draining(gate.url)
            refused = _post(gate.url, manifest)
            wait_listener_closed(gate.port)  # the drain ended with the evaluation still held
            latch.release()
            worker.join(timeout=20)
            assert not worker.is_alive(), "the in-flight evaluation got no answer in 20 s"
            assert gate.wait(timeout=20) == 0
        latch.close()
        assert refused.status_code == 503
        assert refused.json()["type"].endswith("/draining")
        assert refused.json().get("token") is None
        decision = in_flight["response"].json()
        assert in_flight["response"].status_code == 200
        assert decision["allow"] is True
        with sqlite3.connect(database) as db:
            rows = db.execute("select decision_id, token_id from decisions").fetchall()
        assert rows == [(decision["decision_id"], decision["decision_id"])]
        lines = [json.loads(line) for line in gate.logs().splitlines() if line.startswith("{")]
        about = [line for line in lines if line.get("request_id") == "in-flight-1"]
        assert about, "the in-flight request left no log line"
        assert all(line.get("decision_id") == decision["decision_id"] for line in about)

    @pytest.mark.parametrize(
        ("drain", "signals"), [("0", 1), ("30", 2)], ids=["no-drain", "second-sigterm"]
    )
    def test_sigterm_exits_0_and_the_in_flight_evaluation_is_recorded(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        gate_policies: Path,
        make_manifest: ManifestFactory,
        drain: str,
        signals: int,
    ) -> None:
        """uvicorn raises a captured signal again once stopped (exit 143); the gate must not."""
        gate, latch, database = _held_gate(tmp_path, signing_key_file, gate_policies, drain=drain)
        with gate:
            worker, in_flight = _in_flight(gate.url, make_manifest())
            latch.wait_started()
            for _ in range(signals - 1):
                gate.signal(signal.SIGTERM)
                wait_draining(gate.url)
            gate.signal(signal.SIGTERM)
            wait_listener_closed(gate.port)  # stopping, with the evaluation still held
            latch.release()
            worker.join(timeout=20)
            assert not worker.is_alive(), "the in-flight evaluation got no answer in 20 s"
            assert gate.wait(timeout=20) == 0
        latch.close()
        decision = in_flight["response"].json()
        assert decision["allow"] is True
        with sqlite3.connect(database) as db:
            rows = db.execute("select decision_id from decisions").fetchall()
        assert rows == [(decision["decision_id"],)]
