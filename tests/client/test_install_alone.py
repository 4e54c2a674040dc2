"""The client installs alone: its wheel and its own dependencies in a fresh virtual
environment, without the service, and it verifies a real token there.

Needs the package registry for the client's dependencies (pinned by
constraints.txt); skipped with the reason when the registry cannot be reached.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.client._support import ISSUER, LANE, NOW, PACKET_DIGEST, make_signer
from tests.helpers import ROOT

pytestmark = pytest.mark.slow

_UNREACHABLE = ("NewConnectionError", "Could not find a version", "No matching distribution")

_SCRIPT = """
import json, sys
from release_gate_client import load_jwks, verify_token
from release_gate_client.errors import TokenError
token, jwks, issuer, lane, digest, now = sys.argv[1:7]
keys = load_jwks(jwks)
claims = verify_token(token, keys=keys, issuer=issuer, audience=lane, packet_digest=digest,
                      now=int(now))
try:
    verify_token(token, keys=keys, issuer=issuer, audience="other-lane",
                 packet_digest=digest, now=int(now))
except TokenError as exc:
    wrong_lane = exc.code
try:
    import release_gate
    service = "importable"
except ImportError:
    service = "absent"
print(json.dumps({"sub": claims.sub, "wrong_lane": wrong_lane, "service": service}))
"""


def _run(argv: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300, cwd=cwd)


def test_client_wheel_installs_and_verifies_without_the_service(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(wheels),
            str(ROOT / "clients"),
        ]
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("release_gate_client-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    python = str(env_dir / "bin" / "python")
    installed = _run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
            str(wheel),
        ]
    )
    if installed.returncode != 0 and any(s in installed.stderr for s in _UNREACHABLE):
        pytest.skip(f"package registry unreachable: {installed.stderr.strip().splitlines()[-1]}")
    assert installed.returncode == 0, installed.stderr
    signer = make_signer()
    token = signer.mint()
    result = _run(
        [
            python,
            "-c",
            _SCRIPT,
            token,
            json.dumps(signer.jwks()),
            ISSUER,
            LANE,
            PACKET_DIGEST,
            str(NOW + 10),
        ],
        cwd=tmp_path,  # not the repository root, whose service/ must not be on the path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "sub": "pkt-42@3",
        "wrong_lane": "token.wrong_audience",
        "service": "absent",
    }
