"""Deployment test support: real gate processes, private trust stores, signed manifests.

- :class:`GateProcess` runs a command (``release-gate serve`` or a test script)
  on a free port and waits for ``/readyz``; logs go to files the test reads.
- :func:`private_policies` writes a test-owned bundle (:mod:`tests.governance`)
  whose signers hold fresh keys instead of the demo keys (production refuses the
  demo keys), and returns the private keys so the test can sign manifests it trusts.
"""

from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.decision.signatures import sign_manifest
from release_gate_client.jwk import public_jwk
from tests.governance import governance_data, write_bundle
from tests.helpers import DEFAULT_SIGNERS, ROOT, Signer, base_manifest

READY_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class GateProcess:
    """A gate in its own process; ``url`` once ready. Use as a context manager."""

    argv: Sequence[str]
    env: Mapping[str, str]
    port: int
    log_dir: Path
    cwd: Path = ROOT
    user: Sequence[str] = ()
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"gate-{self.port}.stderr"

    def logs(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def start(self, *, wait_ready: bool = True) -> GateProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*self.user, *self.argv],
                env=dict(self.env),
                cwd=self.cwd,
                stdout=err,
                stderr=err,
            )
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"gate exited {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"gate not ready in {READY_TIMEOUT}s:\n{self.logs()}")

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self) -> GateProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EvaluationLatch:
    """The test's end of ``tests.deploy._held_gate``'s held evaluations.

    ``wait_started()`` returns once an evaluation is in flight (it blocks on the
    latch); ``release()`` lets it finish. Every wait has a deadline.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen()
        self._held: list[socket.socket] = []

    def wait_started(self, timeout: float = 20.0) -> None:
        self._server.settimeout(timeout)
        try:
            conn, _ = self._server.accept()
            conn.settimeout(timeout)
            started = conn.recv(8)
        except TimeoutError:
            raise AssertionError(f"no evaluation reached the latch in {timeout}s") from None
        assert started == b"started\n"
        self._held.append(conn)

    def release(self) -> None:
        for conn in self._held:
            conn.sendall(b"g")
            conn.close()
        self._held.clear()

    def close(self) -> None:
        self.release()
        self._server.close()


def wait_listener_closed(port: int, timeout: float = 20.0) -> None:
    """Until nothing accepts connections on ``port`` (the server closed its listener)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        except OSError:
            return
        time.sleep(0.02)
    raise AssertionError(f"port {port} still accepts connections after {timeout}s")


def wait_draining(url: str, timeout: float = 20.0) -> None:
    """Until ``/readyz`` answers 503: the gate has taken its SIGTERM."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(url + "/readyz", timeout=5.0).status_code == 503:
            return
        time.sleep(0.02)
    raise AssertionError(f"{url} still ready {timeout}s after SIGTERM")


def base_env(**overrides: str) -> dict[str, str]:
    """A minimal environment: no RELEASE_GATE_* leaks in from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELEASE_GATE_")}
    env.pop("PYTHONPATH", None)
    env.update(overrides)
    return env


def release_gate_argv(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("release-gate")), *args]


@dataclass(frozen=True)
class PrivateTrust:
    """A test-owned bundle whose signers use ``keys`` (key_id -> private key), not demo keys."""

    policies: Path
    keys: dict[str, Ed25519PrivateKey]

    def sign(self, document: dict[str, Any], *signers: Signer) -> dict[str, Any]:
        for subject, role, key_id, _stem in signers:
            document = sign_manifest(
                document, private_key=self.keys[key_id], subject=subject, role=role, key_id=key_id
            )
        return document

    def approved_manifest(self) -> dict[str, Any]:
        return self.sign(copy.deepcopy(base_manifest()), *DEFAULT_SIGNERS)


def private_policies(target: Path) -> PrivateTrust:
    """Write a bundle to ``target``: the tests' governance data, every signer key fresh."""
    data = governance_data()
    keys: dict[str, Ed25519PrivateKey] = {}
    for record in data["signers"].values():
        for key in record["keys"]:
            private = Ed25519PrivateKey.generate()
            keys[key["key_id"]] = private
            key["public_key"] = public_jwk(private.public_key(), kid="-")["x"]
    return PrivateTrust(policies=write_bundle(target, data), keys=keys)


class CountingApp:
    """ASGI wrapper that counts requests per path (to prove a client does not hammer)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: dict[str, int] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.counts[scope["path"]] = self.counts.get(scope["path"], 0) + 1
        await self.app(scope, receive, send)


class ThreadedServer:
    """A real uvicorn server for ``app`` on a free port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
