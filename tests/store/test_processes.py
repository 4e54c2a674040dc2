"""Real processes: SIGKILL mid-burst loses no token's record; two replicas share one chain."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from release_gate.store import Store
from tests.databases import database_url, migrate, pg_schema_url
from tests.helpers import LANE, ManifestFactory
from tests.store._flow import revision
from tests.store._server import GateProcess, children, serve

pytestmark = pytest.mark.slow

WORKERS = 8
KILL_AFTER_TOKENS = 25
BURST_DEADLINE_SECONDS = 60


def _post(url: str, path: str, body: Any, client: httpx.Client) -> httpx.Response:
    return client.post(
        url + path, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def _burst(
    gate: GateProcess, manifest: dict[str, Any], tokens: list[dict[str, Any]], stop: threading.Event
) -> Callable[[], None]:
    def worker() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    response = _post(gate.url, "/v1/evaluate", manifest, client)
                except httpx.HTTPError:
                    return
                if response.status_code == 200 and response.json()["token"]:
                    tokens.append(response.json())

    return worker


class TestKill:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    def test_sigkill_mid_burst_every_received_token_has_a_committed_record(
        self,
        backend: str,
        tmp_path: Path,
        signing_key_file: Path,
        gate_policies: Path,
        make_manifest: ManifestFactory,
    ) -> None:
        tokens: list[dict[str, Any]] = []
        stop = threading.Event()
        with database_url(backend, tmp_path) as url:
            migrate(url)
            with serve(url, signing_key_file, tmp_path / "state", policies=gate_policies) as gate:
                manifest = revision(make_manifest, 3, supersedes=2)
                threads = [
                    threading.Thread(target=_burst(gate, manifest, tokens, stop))
                    for _ in range(WORKERS)
                ]
                for thread in threads:
                    thread.start()
                deadline = time.monotonic() + BURST_DEADLINE_SECONDS
                while len(tokens) < KILL_AFTER_TOKENS and all(t.is_alive() for t in threads):
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)
                gate.kill()
                stop.set()
                for thread in threads:
                    thread.join(timeout=15)
                assert len(tokens) >= KILL_AFTER_TOKENS, (
                    f"only {len(tokens)} approvals in {BURST_DEADLINE_SECONDS}s: "
                    "is the manifest still approved by this bundle?"
                )
            store = Store(url)
            try:
                assert len(tokens) >= KILL_AFTER_TOKENS
                for decision in tokens:
                    record = store.decisions.get_by_token(decision["decision_id"])
                    assert record is not None, "a token left the gate without a committed record"
                    assert record.decision.manifest_digest == decision["manifest_digest"]
                report = store.verify_chain()
                assert report.ok, report.to_dict()
                assert report.entries >= len(tokens)
            finally:
                store.close()


class TestReplicas:
    def test_two_replicas_one_chain_and_holds_apply_at_once(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        gate_policies: Path,
        make_manifest: ManifestFactory,
    ) -> None:
        with pg_schema_url() as url:
            migrate(url)
            with (
                serve(url, signing_key_file, tmp_path / "a", policies=gate_policies) as a,
                serve(url, signing_key_file, tmp_path / "b", policies=gate_policies) as b,
            ):
                self._drive(a, b, url, make_manifest)

    def _drive(
        self, a: GateProcess, b: GateProcess, url: str, make_manifest: ManifestFactory
    ) -> None:
        manifest = revision(make_manifest, 3, supersedes=2)
        other = revision(make_manifest, 8, supersedes=7, packet_id="PKT-OTHER")
        answered: list[dict[str, Any]] = []
        verdicts: list[str | None] = []

        def worker(gate: GateProcess, doc: dict[str, Any]) -> None:
            with httpx.Client(timeout=10) as client:
                for _ in range(15):
                    decision = _post(gate.url, "/v1/evaluate", doc, client).json()
                    answered.append(decision)
                    if decision["token"]:
                        body = {
                            "token": decision["token"],
                            "lane": LANE,
                            "packet_digest": doc["packet"]["digest"],
                        }
                        verdicts.append(
                            _post(gate.url, "/v1/verify", body, client).json()["reason"]
                        )

        threads = [
            threading.Thread(target=worker, args=(gate, doc))
            for gate in (a, b)
            for doc in (manifest, other, manifest)
        ]
        for thread in threads:
            thread.start()
        with httpx.Client(timeout=10) as client:
            first = _post(a.url, "/v1/evaluate", manifest, client).json()
            hold = _post(
                a.url,
                "/v1/holds",
                {"packet_id": "PKT-TEST-1", "revision": 3, "reason": "scope"},
                client,
            )
            assert hold.status_code == 201
            held = _post(b.url, "/v1/evaluate", manifest, client).json()
            assert [v["code"] for v in held["violations"]] == ["packet.on_hold"]
            body = {
                "token": first["token"],
                "lane": LANE,
                "packet_digest": manifest["packet"]["digest"],
            }
            assert _post(b.url, "/v1/verify", body, client).json()["reason"] == "token.revoked"
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a client still waits after 60 s"
        answered += [first, held]
        store = Store(url)
        try:
            ids = [d["decision_id"] for d in answered]
            assert len(set(ids)) == len(ids) == 6 * 15 + 2
            for decision_id in ids:
                assert store.decisions.get(decision_id) is not None
            report = store.verify_chain()
            assert report.ok, report.to_dict()
            assert report.entries == len(ids) + 1
            assert verdicts
            assert set(verdicts) <= {None, "token.revoked"}
        finally:
            store.close()


class TestWorkers:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    def test_workers_share_one_port_and_one_chain_and_survive_a_killed_worker(
        self,
        backend: str,
        tmp_path: Path,
        signing_key_file: Path,
        gate_policies: Path,
        make_manifest: ManifestFactory,
    ) -> None:
        """``serve --workers 2``: concurrent decisions land in one intact chain; a worker
        killed mid-burst is started again, and every token received has its record."""
        log = tmp_path / "serve.log"
        tokens: list[dict[str, Any]] = []
        stop = threading.Event()
        with database_url(backend, tmp_path) as url:
            migrate(url)
            with serve(
                url,
                signing_key_file,
                tmp_path / "state",
                policies=gate_policies,
                workers=2,
                log=log,
            ) as gate:
                deadline = time.monotonic() + BURST_DEADLINE_SECONDS
                while len(serving_pids(log)) < 2:  # both started serving, as they log
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.05)
                manifest = revision(make_manifest, 3, supersedes=2)
                threads = [
                    threading.Thread(target=_resilient_burst(gate, manifest, tokens, stop))
                    for _ in range(WORKERS)
                ]
                for thread in threads:
                    thread.start()
                while len(tokens) < KILL_AFTER_TOKENS and time.monotonic() < deadline:
                    time.sleep(0.005)
                victim = serving_pids(log)[0]
                assert victim in children_serving(gate)
                os.kill(victim, signal.SIGKILL)
                while "starting it again" not in log.read_text():
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.05)
                after_kill = len(tokens)
                while len(tokens) < after_kill + KILL_AFTER_TOKENS:
                    assert time.monotonic() < deadline, "no approvals after the restart"
                    time.sleep(0.005)
                stop.set()
                for thread in threads:
                    thread.join(timeout=15)
                gate.process.send_signal(signal.SIGTERM)
                assert gate.process.wait(timeout=30) == 0, log.read_text()
            store = Store(url)
            try:
                for decision in tokens:
                    record = store.decisions.get_by_token(decision["decision_id"])
                    assert record is not None, "a token left a worker without a committed record"
                report = store.verify_chain()
                assert report.ok, report.to_dict()
            finally:
                store.close()


def serving_pids(log: Path) -> list[int]:
    """The workers that said they are serving (``worker N serving (pid P)``)."""
    return [int(pid) for pid in re.findall(r"worker \d+ serving \(pid (\d+)\)", log.read_text())]


def children_serving(gate: GateProcess) -> list[int]:
    """The supervisor's worker processes (its children other than the resource tracker)."""
    return [
        pid
        for pid in children(gate.process.pid)
        if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    ]


def _resilient_burst(
    gate: GateProcess, manifest: dict[str, Any], tokens: list[dict[str, Any]], stop: threading.Event
) -> Callable[[], None]:
    """Like ``_burst``, but a connection lost with a killed worker is opened again."""

    def worker() -> None:
        while not stop.is_set():
            with httpx.Client(timeout=10) as client:
                try:
                    while not stop.is_set():
                        response = _post(gate.url, "/v1/evaluate", manifest, client)
                        if response.status_code == 200 and response.json()["token"]:
                            tokens.append(response.json())
                except httpx.HTTPError:
                    continue

    return worker
