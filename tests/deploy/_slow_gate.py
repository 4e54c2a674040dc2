"""``release-gate serve``'s exact serving path, with a policy engine slowed down.

Run as ``python -m tests.deploy._slow_gate`` (settings from RELEASE_GATE_*;
``SLOW_GATE_SECONDS`` per evaluation) so a test can catch an evaluation in
flight when it sends SIGTERM.
"""

from __future__ import annotations

import os
import sys
import time

from release_gate.app import create_app
from release_gate.cli.server import run_server
from release_gate.config import Settings
from release_gate.decision.decide import Gate
from release_gate.decision.manifest import Limits
from release_gate.ops.logs import configure_logging
from release_gate.policy.engine import EngineStatus, PolicyEngine, PolicyResult
from release_gate.runtime import build_runtime


class SlowEngine:
    def __init__(self, inner: PolicyEngine, delay: float) -> None:
        self._inner = inner
        self._delay = delay
        self.name = inner.name

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        time.sleep(self._delay)
        return self._inner.evaluate(policy_input_json)

    def status(self) -> EngineStatus:
        return self._inner.status()

    def close(self) -> None:
        self._inner.close()


def main() -> int:
    settings = Settings()
    configure_logging(settings.effective_log_format)
    runtime = build_runtime(settings)
    assert runtime.governance is not None
    assert runtime.engine is not None
    runtime.gate = Gate(
        governance=runtime.governance,
        engine=SlowEngine(runtime.engine, float(os.environ["SLOW_GATE_SECONDS"])),
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
