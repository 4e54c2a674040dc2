"""Real gate processes: ``release-gate serve`` under uvicorn, on a given store and bundle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

START_TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(db_url: str, key_file: Path, state_dir: Path, policies: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELEASE_GATE_")}
    env.update(
        RELEASE_GATE_DATABASE_URL=db_url,
        RELEASE_GATE_SIGNING_KEY_FILE=str(key_file),
        RELEASE_GATE_POLICIES=str(policies),
        RELEASE_GATE_STATE_DIR=str(state_dir),
    )
    return env


class GateProcess:
    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def _wait_ready(gate: GateProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if gate.process.poll() is not None:
            raise RuntimeError(f"gate exited with {gate.process.returncode}")
        try:
            if httpx.get(f"{gate.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the gate did not become ready")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@contextmanager
def serve(
    db_url: str,
    key_file: Path,
    state_dir: Path,
    *,
    policies: Path,
    workers: int = 1,
    log: Path | None = None,
) -> Iterator[GateProcess]:
    port = _free_port()
    argv = [str(Path(sys.executable).parent / "release-gate"), "serve", "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        argv, env=_env(db_url, key_file, state_dir, policies), stdout=output, stderr=output
    )
    gate = GateProcess(process, f"http://127.0.0.1:{port}")
    try:
        _wait_ready(gate)
        yield gate
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if log is not None:
            output.close()  # type: ignore[union-attr]
