"""docs/policy-authors.md's loop, run as written.

Every ``sh`` block marked ``<!-- walkthrough -->`` in the section "The loop"
runs, in order, with bash, in a directory holding a ``policies/`` of the test's
own (:mod:`tests.reload._support`: the demo signers, a 6 h timeline maximum),
against a real ``release-gate serve`` on it that recorded two approvals: one
whose incident timeline is 2 hours old (the change revokes it) and one of 30
minutes (it stays). The variables the walkthrough reads (``GATE``,
``GATE_PID``, ``CANDIDATE``) come from the test; the blocks keep them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.databases import migrate
from tests.deploy._support import GateProcess, base_env, free_port, release_gate_argv
from tests.helpers import LANE, ROOT, ManifestFactory
from tests.reload._support import packet, policy_dir
from tests.reload.test_serve_reload import wait_for

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "policy-authors.md"
BLOCK = re.compile(r"<!-- walkthrough -->\n```sh\n(.*?)```", re.DOTALL)
NEW_REVISION = "2026.12.01-1"


def walkthrough() -> list[str]:
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 7, "the walkthrough's blocks changed: update this test with them"
    return blocks


def _post(gate: GateProcess, path: str, body: Any) -> dict[str, Any]:
    response = httpx.post(
        gate.url + path,
        content=json.dumps(body).encode(),
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _verify(gate: GateProcess, decision: dict[str, Any]) -> dict[str, Any]:
    body = {"token": decision["token"], "lane": LANE, "packet_digest": decision["packet"]["digest"]}
    return _post(gate, "/v1/verify", body)


def _revision(gate: GateProcess) -> str:
    revision: str = httpx.get(gate.url + "/v1/policy", timeout=10).json()["revision"]
    return revision


def test_the_walkthrough_commands_do_what_it_says(
    tmp_path: Path, signing_key_file: Path, make_manifest: ManifestFactory
) -> None:
    blocks = walkthrough()
    repo = tmp_path / "repo"
    policies = policy_dir(repo / "policies")
    url = f"sqlite:///{tmp_path / 'decisions.db'}"
    migrate(url)
    port = free_port()
    gate = GateProcess(
        argv=release_gate_argv("serve", "--port", str(port)),
        env=base_env(
            RELEASE_GATE_POLICIES=str(policies),
            RELEASE_GATE_SIGNING_KEY_FILE=str(signing_key_file),
            RELEASE_GATE_DATABASE_URL=url,
            RELEASE_GATE_STATE_DIR=str(tmp_path / "state"),
            RELEASE_GATE_POLICY_POLL_SECONDS="0",  # the walkthrough's SIGHUP reloads it
            RELEASE_GATE_DRAIN_SECONDS="0",
        ),
        port=port,
        log_dir=tmp_path / "logs",
    )
    now = dt.datetime.now(dt.UTC)
    with gate:
        assert gate.proc is not None
        aged = _post(
            gate, "/v1/evaluate", make_manifest(packet("PKT-W-1", timeline_minutes=120, now=now))
        )
        fresh = _post(
            gate, "/v1/evaluate", make_manifest(packet("PKT-W-2", timeline_minutes=30, now=now))
        )
        env = base_env(
            GATE=gate.url,
            GATE_PID=str(gate.proc.pid),
            CANDIDATE=str(tmp_path / "work" / "policies"),
            RELEASE_GATE_DATABASE_URL=url,
            PATH=f"{Path(sys.executable).parent}:{base_env()['PATH']}",
        )
        outputs = []
        for block in blocks:
            done = subprocess.run(
                ["bash", "-e", "-c", block],
                cwd=repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)
            if "kill -HUP" in block:  # the reload, then the re-check, before the next step
                wait_for(
                    "the walkthrough's revision", lambda: _revision(gate) == NEW_REVISION or None
                )
                wait_for("the re-check", lambda: _verify(gate, aged)["valid"] is False or None)
        _, written, edited, impact, _, _, checked = outputs
        assert (
            "FAIL data.release.timeline_test.test_stale_denied_when_timeline_is_two_hours_old"
            in written
        )
        for name in (
            "denied_when_timeline_is_two_hours_old",
            "allowed_when_timeline_is_half_an_hour_old",
        ):
            assert f"PASS data.release.timeline_test.test_stale_{name}" in edited
        assert re.search(r"allow -> deny +1\n", impact)
        assert aged["decision_id"] in impact
        assert "1 live approvals would be revoked" in impact
        assert re.search(rf"^{re.escape(NEW_REVISION)} sha256:[0-9a-f]{{64}} None$", checked, re.M)
        assert 'release_gate_policy_reloads_total{outcome="ok"} 1.0' in checked
        assert "release_gate_policy_revocations_total 1.0" in checked
        assert _verify(gate, aged)["reason"] == "token.revoked"
        assert _verify(gate, fresh)["valid"] is True
    assert (policies / "tests" / "timeline_test.rego").is_file()
