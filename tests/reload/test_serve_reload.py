"""The reload in real ``release-gate serve`` processes: real signals, polling, workers, replicas.

Each gate serves a policy directory of the test's own (:mod:`tests.reload._support`).
The test edits it as a governance owner would, then sends SIGHUP or lets the gate
poll, and waits, with a deadline, on what the gate answers (``/v1/policy``,
``/v1/verify``) or logs. No sleeps.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from release_gate.policy.opa_bundle import build_bundle
from release_gate_client.jwks import JWKSFetcher
from release_gate_client.revocations import RevocationList
from tests.deploy._support import (
    EvaluationLatch,
    GateProcess,
    base_env,
    free_port,
    release_gate_argv,
)
from tests.helpers import LANE, ManifestFactory
from tests.opa_server import running_opa
from tests.reload._support import (
    REVISION_1,
    REVISION_2,
    break_bundle,
    packet,
    policy_dir,
    tighten_timeline,
)

pytestmark = pytest.mark.slow

DEADLINE = 30.0
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = DEADLINE) -> T:
    """``probe()`` until it returns something other than None, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _env(tmp_path: Path, key: Path, policies: Path, url: str, poll: str, **extra: str) -> Any:
    return base_env(
        RELEASE_GATE_POLICIES=str(policies),
        RELEASE_GATE_SIGNING_KEY_FILE=str(key),
        RELEASE_GATE_DATABASE_URL=url,
        RELEASE_GATE_STATE_DIR=str(tmp_path / "state"),
        RELEASE_GATE_POLICY_POLL_SECONDS=poll,
        RELEASE_GATE_DRAIN_SECONDS="0",  # the test stops it: no drain to wait out
        **extra,
    )


def _serve(
    tmp_path: Path,
    key: Path,
    policies: Path,
    url: str,
    *,
    poll: str = "0",
    workers: int = 1,
    **extra: str,
) -> GateProcess:
    port = free_port()
    argv = release_gate_argv("serve", "--port", str(port))
    if workers > 1:
        argv += ["--workers", str(workers)]
    env = _env(tmp_path, key, policies, url, poll, **extra)
    return GateProcess(argv=argv, env=env, port=port, log_dir=tmp_path / f"logs-{port}")


def _policy(gate: GateProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(gate.url + "/v1/policy", timeout=10).json()
    return body


def _revision_is(gate: GateProcess, revision: str) -> Callable[[], dict[str, Any] | None]:
    return lambda: policy if (policy := _policy(gate))["revision"] == revision else None


def _evaluate(gate: GateProcess, manifest: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        gate.url + "/v1/evaluate",
        content=json.dumps(manifest).encode(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _verify(gate: GateProcess, decision: dict[str, Any]) -> dict[str, Any]:
    body = {"token": decision["token"], "lane": LANE, "packet_digest": decision["packet"]["digest"]}
    response = httpx.post(gate.url + "/v1/verify", json=body, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _revoked(gate: GateProcess, decision: dict[str, Any]) -> Callable[[], bool | None]:
    return lambda: True if _verify(gate, decision)["reason"] == "token.revoked" else None


def _count(gate: GateProcess, pattern: str) -> int:
    return len(re.findall(pattern, gate.logs()))


class TestSighup:
    def test_sighup_swaps_the_policy_without_a_restart(
        self, tmp_path: Path, signing_key_file: Path, db_url: str
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        with _serve(tmp_path, signing_key_file, policies, db_url) as gate:
            assert gate.proc is not None
            pid = gate.proc.pid
            before = _policy(gate)
            assert before["revision"] == REVISION_1
            tighten_timeline(policies)
            assert _policy(gate)["revision"] == REVISION_1  # polling is off: nothing yet
            gate.signal(signal.SIGHUP)
            after = wait_for("the new revision", _revision_is(gate, REVISION_2))
            assert after["digest"] != before["digest"]
            assert "reload_error" not in after
            assert gate.proc.poll() is None
            assert gate.proc.pid == pid
        assert f"policy reloaded: revision {REVISION_1} -> {REVISION_2}" in gate.logs()

    def test_polling_follows_an_edit_without_a_signal(
        self, tmp_path: Path, signing_key_file: Path, db_url: str
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        with _serve(tmp_path, signing_key_file, policies, db_url, poll="0.2") as gate:
            tighten_timeline(policies)
            wait_for("the polled revision", _revision_is(gate, REVISION_2))

    def test_a_broken_bundle_leaves_the_old_one_serving(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        db_url: str,
        make_manifest: ManifestFactory,
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        with _serve(tmp_path, signing_key_file, policies, db_url) as gate:
            break_bundle(policies, "rego")
            gate.signal(signal.SIGHUP)
            policy = wait_for(
                "reload_error", lambda: p if "reload_error" in (p := _policy(gate)) else None
            )
            assert policy["revision"] == REVISION_1
            assert "cannot load policies" in policy["reload_error"]["detail"]
            ready = httpx.get(gate.url + "/readyz", timeout=10)
            assert ready.status_code == 200
            assert ready.json()["reload_error"] == policy["reload_error"]
            decision = _evaluate(gate, make_manifest())
            assert decision["allow"] is True
            assert decision["policy"]["revision"] == REVISION_1
            metrics = httpx.get(gate.url + "/metrics", timeout=10).text
            assert 'release_gate_policy_reloads_total{outcome="failed"} 1.0' in metrics
        assert f"policy reload failed, revision {REVISION_1} keeps serving" in gate.logs()


class TestRecheck:
    def test_a_live_approval_the_new_policy_denies_is_revoked(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        db_url: str,
        make_manifest: ManifestFactory,
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        now = dt.datetime.now(dt.UTC)
        with _serve(tmp_path, signing_key_file, policies, db_url) as gate:
            aged = _evaluate(gate, make_manifest(packet("PKT-S-1", timeline_minutes=120, now=now)))
            fresh = _evaluate(gate, make_manifest(packet("PKT-S-2", timeline_minutes=30, now=now)))
            assert _verify(gate, aged)["valid"] is True
            tighten_timeline(policies)
            gate.signal(signal.SIGHUP)
            wait_for("the approval revoked", _revoked(gate, aged))
            assert _verify(gate, fresh)["valid"] is True
            digest = _policy(gate)["digest"]
            signed = httpx.get(gate.url + "/v1/revocations", timeout=10).text
            jwks = JWKSFetcher.from_document(
                httpx.get(gate.url + "/.well-known/jwks.json", timeout=10).content
            )
        listed = RevocationList.from_jws(signed, jwks=jwks, issuer="release-gate")
        assert listed.revoked == {aged["decision_id"]}
        payload = json.loads(base64.urlsafe_b64decode(signed.split(".")[1] + "=="))
        (entry,) = payload["revoked"]
        assert entry["reason"] == "policy.changed"
        database = db_url.removeprefix("sqlite:///")
        with sqlite3.connect(database) as db:
            causes = db.execute("select jti, reason, cause from revocations").fetchall()
        assert causes == [(aged["decision_id"], "policy.changed", digest)]

    def test_a_decision_in_flight_finishes_on_its_revision_and_is_rechecked_after(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        db_url: str,
        make_manifest: ManifestFactory,
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        now = dt.datetime.now(dt.UTC)
        latch = EvaluationLatch(tmp_path / "latch.sock")
        port = free_port()
        gate = GateProcess(
            argv=[sys.executable, "-m", "tests.deploy._held_gate"],
            env=_env(
                tmp_path,
                signing_key_file,
                policies,
                db_url,
                "0",
                RELEASE_GATE_PORT=str(port),
                HELD_GATE_SOCKET=str(latch.path),
            ),
            port=port,
            log_dir=tmp_path / "logs",
        )
        answer: dict[str, dict[str, Any]] = {}
        held = make_manifest(packet("PKT-S-1", timeline_minutes=120, now=now))
        worker = threading.Thread(target=lambda: answer.update(held=_evaluate(gate, held)))
        with gate:
            worker.start()
            latch.wait_started()
            tighten_timeline(policies)
            gate.signal(signal.SIGHUP)
            wait_for("the new revision", _revision_is(gate, REVISION_2))
            later = _evaluate(gate, make_manifest(packet("PKT-S-2", timeline_minutes=120, now=now)))
            assert later["allow"] is False
            assert later["policy"]["revision"] == REVISION_2
            latch.release()
            worker.join(timeout=DEADLINE)
            in_flight = answer["held"]
            assert in_flight["allow"] is True
            assert in_flight["policy"]["revision"] == REVISION_1
            wait_for("the in-flight approval re-checked", _revoked(gate, in_flight))
        latch.close()


def _rechecked(gate: GateProcess, count: int) -> Callable[[], list[int] | None]:
    """The revoked counts of the first ``count`` re-check log lines, once there are as many."""

    def probe() -> list[int] | None:
        found = re.findall(rf"under revision {REVISION_2}: \d+ denied, (\d+) revoked", gate.logs())
        return [int(n) for n in found] if len(found) >= count else None

    return probe


class TestSeveral:
    def test_two_workers_revoke_each_token_once(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        db_url: str,
        make_manifest: ManifestFactory,
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        now = dt.datetime.now(dt.UTC)
        with _serve(tmp_path, signing_key_file, policies, db_url, workers=2) as gate:
            # /readyz answered for one worker: wait until both loaded the policy
            wait_for(
                "both workers serving", lambda: _count(gate, r"worker \d serving") == 2 or None
            )
            aged = _evaluate(gate, make_manifest(packet("PKT-S-1", timeline_minutes=120, now=now)))
            tighten_timeline(policies)
            gate.signal(signal.SIGHUP)  # the supervisor passes it to each worker
            revoked = wait_for("both workers re-checked", _rechecked(gate, 2))
            assert sorted(revoked) == [0, 1]
            assert _verify(gate, aged)["reason"] == "token.revoked"
        database = db_url.removeprefix("sqlite:///")
        with sqlite3.connect(database) as db:
            assert db.execute("select jti from revocations").fetchall() == [(aged["decision_id"],)]
            assert db.execute("select count(*) from policy_events").fetchone() == (1,)

    def test_two_replicas_on_one_store_revoke_each_token_once(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        any_db_url: str,
        make_manifest: ManifestFactory,
    ) -> None:
        policies = policy_dir(tmp_path / "policies")
        now = dt.datetime.now(dt.UTC)
        first = _serve(tmp_path / "a", signing_key_file, policies, any_db_url)
        second = _serve(tmp_path / "b", signing_key_file, policies, any_db_url)
        with first, second:
            aged = _evaluate(first, make_manifest(packet("PKT-S-1", timeline_minutes=120, now=now)))
            tighten_timeline(policies)
            first.signal(signal.SIGHUP)
            second.signal(signal.SIGHUP)
            one = wait_for("the first replica re-checked", _rechecked(first, 1))
            two = wait_for("the second replica re-checked", _rechecked(second, 1))
            assert sorted(one + two) == [0, 1]
            assert _verify(second, aged)["reason"] == "token.revoked"
            listed = httpx.get(first.url + "/v1/revocations", timeout=10).text
        payload = json.loads(base64.urlsafe_b64decode(listed.split(".")[1] + "=="))
        assert [(e["jti"], e["reason"]) for e in payload["revoked"]] == [
            (aged["decision_id"], "policy.changed")
        ]


class TestOpa:
    def test_the_gate_follows_opas_revision_and_rechecks_when_it_changes(
        self,
        tmp_path: Path,
        signing_key_file: Path,
        db_url: str,
        make_manifest: ManifestFactory,
        opa_binary: Path,
    ) -> None:
        """OPA loads the bundle itself (a tarball, replaced by a restart on the same port);
        the gate reloads its directory, answers 503 while OPA is behind, and re-checks
        the live approvals once OPA evaluates the new revision."""
        policies = policy_dir(tmp_path / "policies")
        now = dt.datetime.now(dt.UTC)
        first = build_bundle(policies, tmp_path / "r1.tar.gz", signing_key=None, key_id=None)
        with running_opa(opa_binary, "--bundle", str(first), log=tmp_path / "opa.log") as opa:
            gate = _serve(
                tmp_path,
                signing_key_file,
                policies,
                db_url,
                poll="0.2",
                RELEASE_GATE_OPA_URL=opa.url,
            )
            with gate:
                aged = _evaluate(
                    gate, make_manifest(packet("PKT-O-1", timeline_minutes=120, now=now))
                )
                assert aged["allow"] is True
                tighten_timeline(policies)
                wait_for("the gate's new revision", _revision_is(gate, REVISION_2))
                wait_for(
                    "the re-check postponed",
                    lambda: True if _count(gate, "postponed") else None,
                )
                assert _verify(gate, aged)["valid"] is True  # OPA still runs the old revision
                second = build_bundle(
                    policies, tmp_path / "r2.tar.gz", signing_key=None, key_id=None
                )
                opa.stop()
                opa.args = ("--bundle", str(second))
                opa.start()
                wait_for("the approval revoked once OPA runs it", _revoked(gate, aged))
                ready = httpx.get(gate.url + "/readyz", timeout=10).json()
                assert ready["checks"]["policy"]["revision"] == REVISION_2
