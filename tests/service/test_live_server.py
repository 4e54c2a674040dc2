"""``release-gate serve`` as a real process on a real port, driven with httpx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from release_gate_client import JWKSFetcher, WrongAudience, verify_token
from tests.helpers import LANE, ROOT, ManifestFactory

RELEASE_GATE = Path(sys.executable).with_name("release-gate")
READY_SECONDS = 20  # a loaded 2-CPU machine starts a gate in 2-10 s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_gate(tmp_path: Path, signing_key_file: Path, gate_policies: Path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "RELEASE_GATE_STATE_DIR": str(tmp_path / "state"),
        "RELEASE_GATE_SIGNING_KEY_FILE": str(signing_key_file),
        "RELEASE_GATE_DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
        "RELEASE_GATE_POLICIES": str(gate_policies),
    }
    subprocess.run(
        [str(RELEASE_GATE), "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    process = subprocess.Popen(
        [str(RELEASE_GATE), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate(timeout=5)
                pytest.fail(
                    f"release-gate serve not ready in {READY_SECONDS}s: {err.decode()[-2000:]}"
                )
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.slow
class TestLiveServer:
    def test_evaluate_and_verify_over_real_http(
        self, live_gate: str, make_manifest: ManifestFactory
    ) -> None:
        manifest = make_manifest()
        digest = manifest["packet"]["digest"]
        with httpx.Client(base_url=live_gate, timeout=5) as http:
            example = (ROOT / "manifests" / "examples" / "approved.json").read_bytes()
            response = http.post(
                "/v1/evaluate", content=example, headers={"content-type": "application/json"}
            )
            assert response.status_code == 200
            assert response.json()["manifest_digest"].startswith("sha256:")

            decision = http.post("/v1/evaluate", json=manifest).json()
            assert decision["allow"] is True, decision["violations"]
            token = decision["token"]

            verdict = http.post(
                "/v1/verify", json={"token": token, "lane": LANE, "packet_digest": digest}
            ).json()
            assert verdict["valid"] is True
            assert verdict["claims"]["jti"] == decision["decision_id"]

        with JWKSFetcher(f"{live_gate}/.well-known/jwks.json") as jwks:
            claims = verify_token(
                token, jwks=jwks, issuer="release-gate", audience=LANE, packet_digest=digest
            )
            assert claims.jti == decision["decision_id"]
            assert claims.sub == "PKT-TEST-1@3"
            with pytest.raises(WrongAudience, match="audience"):
                verify_token(
                    token,
                    jwks=jwks,
                    issuer="release-gate",
                    audience="another-lane",
                    packet_digest=digest,
                )

    def test_concurrent_evaluations_each_get_their_own_decision(
        self, live_gate: str, make_manifest: ManifestFactory
    ) -> None:
        allowed, denied = make_manifest(), make_manifest(signers=())
        with httpx.Client(base_url=live_gate, timeout=10) as http:

            def post(i: int) -> dict[str, object]:
                response = http.post("/v1/evaluate", json=allowed if i % 2 else denied)
                assert response.status_code == 200
                body: dict[str, object] = response.json()
                return body

            with ThreadPoolExecutor(max_workers=8) as pool:
                decisions = list(pool.map(post, range(16)))
        assert len({d["decision_id"] for d in decisions}) == 16
        assert [d["allow"] for d in decisions] == [bool(i % 2) for i in range(16)]
        assert all((d["token"] is not None) == d["allow"] for d in decisions)
