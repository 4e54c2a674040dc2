"""Drive wrk with ``bench/load.lua`` and read what it measured.

One wrk run is one :class:`WrkResult`: the answers wrk received, how many
failed the check (status 200 and the expected text in the body) or never came
(socket errors and timeouts), and the latency histogram, in microseconds, that
wrk's own percentiles come from (it includes wrk's coordinated-omission
correction). Percentiles are ranked as wrk ranks them, so one run's p50 and
p99 are wrk's; several runs at once (one per replica) merge: histograms add,
rates add.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LUA_SCRIPT", "WrkError", "WrkResult", "WrkRun", "find_wrk", "merge", "parse_output"]

LUA_SCRIPT = Path(__file__).with_name("load.lua")
_MARKER = "WRK-RESULT "
#: A request slower than this is a failure (wrk counts it as a timeout).
REQUEST_TIMEOUT_S = 30


class WrkError(RuntimeError):
    """wrk did not run, or printed no result."""


def find_wrk() -> str | None:
    """The wrk binary: ``$RELEASE_GATE_BENCH_WRK_BIN``, else ``wrk`` on PATH."""
    configured = os.environ.get("RELEASE_GATE_BENCH_WRK_BIN")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("wrk")


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one or more simultaneous wrk runs measured."""

    rate: float  # answers per second that passed the check
    answers: int  # answers received (passed or failed)
    failures: int  # answers that failed the check, plus requests that got no answer
    histogram: tuple[tuple[int, int], ...]  # (latency in microseconds, count), ascending
    first_failure: str | None = None
    socket_errors: dict[str, int] = field(default_factory=dict)
    #: p50 and p99 in ms as wrk itself computed them (one run; None when merged)
    wrk_percentiles_ms: tuple[float, float] | None = None

    def percentile_ms(self, p: float) -> float:
        """The ``p``-th percentile latency in ms, ranked as wrk ranks it."""
        total = sum(count for _, count in self.histogram)
        if total == 0:
            return math.nan
        rank = max(1, math.floor(p / 100 * total + 1.0))  # C's round(p/100 * n + 0.5)
        seen = 0
        for value, count in self.histogram:
            seen += count
            if seen >= rank:
                return value / 1000
        return self.histogram[-1][0] / 1000


def parse_output(stdout: str) -> WrkResult:
    """Read the ``WRK-RESULT`` line that ``load.lua``'s ``done()`` prints."""
    lines = [line for line in stdout.splitlines() if line.startswith(_MARKER)]
    if not lines:
        raise WrkError(f"wrk printed no result; its output was:\n{stdout[-2000:]}")
    data: dict[str, Any] = json.loads(lines[-1][len(_MARKER) :])
    sockets = {k: int(v) for k, v in data["socket_errors"].items()}
    duration = data["duration_us"] / 1e6
    passed = data["checked"] - data["failures"]
    return WrkResult(
        rate=passed / duration if duration > 0 else 0.0,
        answers=int(data["checked"]),
        failures=int(data["failures"]) + sum(sockets.values()),
        histogram=tuple((int(v), int(c)) for v, c in data["histogram"]),
        first_failure=data["first_failure"],
        socket_errors=sockets,
        wrk_percentiles_ms=(data["p50_us"] / 1000, data["p99_us"] / 1000),
    )


def merge(results: Sequence[WrkResult]) -> WrkResult:
    """Simultaneous runs against several servers as one: rates and histograms add."""
    buckets: dict[int, int] = {}
    for result in results:
        for value, count in result.histogram:
            buckets[value] = buckets.get(value, 0) + count
    sockets: dict[str, int] = {}
    for result in results:
        for name, count in result.socket_errors.items():
            sockets[name] = sockets.get(name, 0) + count
    return WrkResult(
        rate=sum(r.rate for r in results),
        answers=sum(r.answers for r in results),
        failures=sum(r.failures for r in results),
        histogram=tuple(sorted(buckets.items())),
        first_failure=next((r.first_failure for r in results if r.first_failure), None),
        socket_errors=sockets,
    )


class WrkRun:
    """One wrk process (one thread), started now; :meth:`result` waits for it.

    ``bodies`` is a file of request bodies, one per line, POSTed in turn from
    line ``offset``; without it every request is a GET of ``url``. wrk runs in
    its own process group, so :meth:`kill` stops it whatever it is doing.
    """

    def __init__(
        self,
        wrk: str,
        url: str,
        *,
        connections: int,
        duration: int,
        expect: str,
        bodies: Path | None = None,
        offset: int = 0,
    ) -> None:
        self.duration = duration
        command = [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            f"--timeout={REQUEST_TIMEOUT_S}s",
            "-s",
            str(LUA_SCRIPT),
            url,
            "--",
            expect,
            str(bodies) if bodies else "",
            str(offset),
        ]
        self._process = subprocess.Popen(  # noqa: S603 (a fixed argument list, no shell)
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def result(self) -> WrkResult:
        deadline = self.duration + REQUEST_TIMEOUT_S + 30
        try:
            out, _ = self._process.communicate(timeout=deadline)
        except subprocess.TimeoutExpired as exc:
            self.kill()
            raise WrkError(f"wrk did not finish within {deadline:.0f} s") from exc
        text = out.decode("utf-8", errors="replace")
        if self._process.returncode != 0:
            raise WrkError(f"wrk exited with {self._process.returncode}:\n{text[-2000:]}")
        return parse_output(text)

    def kill(self) -> None:
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._process.wait(timeout=10)
