"""A real OPA for the tests: find the ``opa`` binary, run ``opa run --server``, kill it.

The binary (a test tool, never a dependency of the gate): ``RELEASE_GATE_TEST_OPA_BIN``
when set, else ``opa`` on ``PATH``, else none, and the tests that need one skip
with :data:`SKIP_REASON`. A ``RELEASE_GATE_TEST_OPA_BIN`` that is not an
executable file is an error, not a skip: whoever set it expects those tests to run.
``make test`` finds the binary the same way for ``opa check --strict`` and ``opa test``.

:func:`running_opa` starts one server on a free ``127.0.0.1`` port (no telemetry,
errors-only log in a file), waits for it with a deadline, and kills it on exit,
so no test leaves a process behind. :class:`OpaServer` can also be killed and
started again on the same port (an outage). Fixtures: ``opa_binary`` in
``tests/conftest.py``; the parity suite's two servers in ``tests/parity/conftest.py``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = [
    "BIN_VARIABLE",
    "SKIP_REASON",
    "OpaBinaryError",
    "OpaServer",
    "find_opa",
    "free_port",
    "running_opa",
]

BIN_VARIABLE = "RELEASE_GATE_TEST_OPA_BIN"
SKIP_REASON = f"no OPA binary: set {BIN_VARIABLE} or put `opa` on PATH to run the real-OPA tests"
START_DEADLINE = 15.0  # seconds for a server to answer its readiness check
STOP_DEADLINE = 5.0  # seconds for a killed or terminated server to be gone
_POLL = 0.02


class OpaBinaryError(RuntimeError):
    """``RELEASE_GATE_TEST_OPA_BIN`` names no executable, or a server did not start."""


def find_opa(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The ``opa`` binary to test with (absolute), or None when there is none."""
    configured = environ.get(BIN_VARIABLE, "").strip()
    if configured:
        path = Path(configured).expanduser().resolve()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise OpaBinaryError(f"{BIN_VARIABLE}={configured} is not an executable file")
        return path
    found = shutil.which("opa", path=environ.get("PATH"))
    return Path(found).resolve() if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class OpaServer:
    """``opa run --server`` on ``127.0.0.1:<port>`` with ``args`` (bundles, ``--set``)."""

    def __init__(
        self, binary: Path, *args: str, log: Path, ready_path: str = "/health?bundles"
    ) -> None:
        self.binary = binary
        self.args = args
        self.log = log
        self.ready_path = ready_path
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (again, on the same port once it has one) and wait until it is ready.

        A port picked here can be taken by someone else before OPA binds it: then
        OPA exits at once and another port is tried, twice at most.
        """
        fixed = self.port != 0
        for _ in range(1 if fixed else 3):
            self.port = self.port if fixed else free_port()
            if self._launch():
                return
        raise OpaBinaryError(f"{self.binary} did not start: {self._log_tail()}")

    def _launch(self) -> bool:
        command = [
            str(self.binary),
            "run",
            "--server",
            f"--addr=127.0.0.1:{self.port}",
            "--disable-telemetry",
            "--log-level=error",
            "--shutdown-grace-period=1",
            *self.args,
        ]
        with self.log.open("ab") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.log.parent
            )
        deadline = time.monotonic() + START_DEADLINE
        with httpx.Client(base_url=self.url, timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    return False
                try:
                    if http.get(self.ready_path).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(_POLL)
        self.kill()
        raise OpaBinaryError(
            f"OPA at {self.url} not ready ({self.ready_path}) after {START_DEADLINE:.0f}s: "
            f"{self._log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL, as a crash: open connections are cut, nothing is flushed."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_DEADLINE)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if OPA is not gone within the deadline."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_DEADLINE)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError as exc:
            return f"(no log: {exc})"


@contextmanager
def running_opa(
    binary: Path, *args: str, log: Path, ready_path: str = "/health?bundles"
) -> Iterator[OpaServer]:
    """A started :class:`OpaServer`, stopped on exit whatever happens."""
    server = OpaServer(binary, *args, log=log, ready_path=ready_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()
