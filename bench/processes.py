"""The servers the load benchmark drives, and their clean-up.

Every server is a real process in its own process group (``release-gate
serve``, ``opa run --server``), started through :class:`Servers`, which
stops every group on exit, on Ctrl-C and on failure (SIGTERM, then SIGKILL
after a deadline). PostgreSQL databases are created fresh and dropped on the
same exit path. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = [
    "READY_TIMEOUT_S",
    "ServeUnsupported",
    "Server",
    "Servers",
    "find_opa",
    "pg_database",
    "release_gate_cli",
    "serve_has_workers",
]

READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 15.0
ROOT = Path(__file__).resolve().parent.parent


class ServeUnsupported(RuntimeError):
    """``release-gate serve`` rejected an option the row needs."""


def release_gate_cli() -> str:
    return str(Path(sys.executable).parent / "release-gate")


def find_opa() -> str | None:
    """``$RELEASE_GATE_BENCH_OPA_BIN``, else ``opa`` on PATH, else ``../shared/tools/opa/opa``."""
    configured = os.environ.get("RELEASE_GATE_BENCH_OPA_BIN")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    shared = ROOT.parent / "shared" / "tools" / "opa" / "opa"
    return shutil.which("opa") or (str(shared) if os.access(shared, os.X_OK) else None)


def serve_has_workers() -> bool:
    """Whether this ``release-gate serve`` takes ``--workers``."""
    out = subprocess.run(  # noqa: S603 (our own CLI, fixed arguments)
        [release_gate_cli(), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return "--workers" in out.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def gate_env(*, bundle: Path, state_dir: Path, database_url: str) -> dict[str, str]:
    """Development mode (API keys off, a dev signing key in ``state_dir``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELEASE_GATE_")}
    env.update(
        RELEASE_GATE_POLICIES=str(bundle),
        RELEASE_GATE_STATE_DIR=str(state_dir),
        RELEASE_GATE_DATABASE_URL=database_url,
        RELEASE_GATE_DRAIN_SECONDS="0",  # stop at once on exit: nothing is measured then
    )
    return env


def db_upgrade(env: dict[str, str], log: Path) -> None:
    """``release-gate db upgrade``, as an operator runs it before serving."""
    with log.open("ab") as out:
        subprocess.run(  # noqa: S603 (our own CLI, fixed arguments)
            [release_gate_cli(), "db", "upgrade"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=True,
        )


class Servers:
    """Starts servers and stops every one of them on :meth:`close`."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._servers: list[Server] = []

    def start(
        self,
        name: str,
        command: list[str],
        *,
        port: int,
        env: dict[str, str] | None = None,
        ready_path: str,
    ) -> Server:
        log = self._logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 (fixed argument lists, no shell)
                command,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = Server(name, f"http://127.0.0.1:{port}", process, log)
        self._servers.append(server)
        _wait_ready(server, ready_path)
        return server

    def start_gate(self, name: str, *, env: dict[str, str], workers: int = 1) -> Server:
        """``release-gate serve``, with ``--workers`` only when ``workers`` > 1."""
        port = free_port()
        command = [release_gate_cli(), "serve", "--port", str(port)]
        if workers > 1:
            command += ["--workers", str(workers)]
        return self.start(name, command, port=port, env=env, ready_path="/readyz")

    def start_opa(self, opa: str, bundle: Path) -> Server:
        port = free_port()
        command = [opa, "run", "--server", "--addr", f"127.0.0.1:{port}", "--bundle", str(bundle)]
        return self.start("opa", command, port=port, ready_path="/health?bundles")

    def close(self) -> None:
        for server in reversed(self._servers):
            _signal_group(server.process, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        for server in reversed(self._servers):
            try:
                server.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(server.process, signal.SIGKILL)
                server.process.wait(timeout=_STOP_TIMEOUT_S)
        self._servers.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _tail(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-3000:]
    except OSError:
        return ""


def _wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            output = _tail(server.log)
            if "unrecognized arguments: --workers" in output:
                raise ServeUnsupported("serve has no --workers")
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode}; its log:\n{output}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + path, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(
        f"{server.name} was not ready within {READY_TIMEOUT_S:.0f} s; its log:\n"
        + _tail(server.log)
    )


@contextmanager
def pg_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server of ``server_url``, dropped on exit; yields its URL."""
    base = make_url(server_url)
    name = f"rg_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
