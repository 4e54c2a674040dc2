"""``release-gate serve``'s exact serving path, with each evaluation held by the test.

Run as ``python -m tests.deploy._held_gate`` (settings from RELEASE_GATE_*). Each
evaluation connects to the Unix socket ``HELD_GATE_SOCKET``, says it started, and
waits until the test sends one byte (:class:`tests.deploy._support.EvaluationLatch`),
so a test sends SIGTERM (or SIGHUP, a reload: only the engine the gate started with is
held) while an evaluation is certainly in flight and lets it finish when it chooses,
with no sleeps. The wait has a deadline: a test that never releases
fails the evaluation instead of hanging the process.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from release_gate.app import create_app
from release_gate.cli.server import run_server
from release_gate.config import Settings
from release_gate.decision.decide import Gate
from release_gate.decision.manifest import Limits
from release_gate.ops.logs import configure_logging
from release_gate.policy.engine import EngineStatus, PolicyEngine, PolicyEngineError, PolicyResult
from release_gate.runtime import build_runtime

HOLD_DEADLINE_SECONDS = 60


class HeldEngine:
    def __init__(self, inner: PolicyEngine, socket_path: str) -> None:
        self._inner = inner
        self._socket_path = socket_path
        self.name = inner.name

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as latch:
            latch.settimeout(HOLD_DEADLINE_SECONDS)
            try:
                latch.connect(self._socket_path)
                latch.sendall(b"started\n")
                if not latch.recv(1):
                    raise PolicyEngineError("the test closed the latch without releasing it")
            except OSError as exc:
                raise PolicyEngineError(f"held evaluation not released: {exc}") from exc
        return self._inner.evaluate(policy_input_json)

    def status(self) -> EngineStatus:
        return self._inner.status()

    def close(self) -> None:
        self._inner.close()


def main() -> int:
    settings = Settings()
    configure_logging(settings.effective_log_format)
    runtime = build_runtime(settings)
    signal.signal(signal.SIGHUP, runtime.reloads.on_signal)  # as serve: SIGHUP reloads
    assert runtime.governance is not None
    assert runtime.engine is not None
    assert runtime.rules is not None
    runtime.gate = Gate(
        governance=runtime.governance,
        engine=HeldEngine(runtime.engine, os.environ["HELD_GATE_SOCKET"]),
        rules=runtime.rules,
        store=runtime.store,
        minter=runtime.minter,
        limits=Limits(),
        max_depth=settings.max_nesting_depth,
    )
    try:
        run_server(create_app(settings, runtime=runtime), settings=settings, drain=runtime.drain)
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
