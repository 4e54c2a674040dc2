"""Where a gate's time goes during a run, from its own ``/metrics``.

The gate times each decision (``release_gate_decision_seconds``, the body read
excluded) and each stage of it (``release_gate_decision_stage_seconds``:
parse, canonicalise, verify, facts, evaluate, mint, record). Scraped before and after
a run, the differences give the mean time per decision in each stage; set
beside the HTTP latency, they show how long a request waited outside the
decision (for a worker thread, the event loop, the socket).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from release_gate.decision.decide import STAGES

__all__ = ["STAGES", "StageTimes", "scrape"]

_LINE = re.compile(
    r'^release_gate_decision_(?:stage_)?seconds_(sum|count)(?:\{stage="(\w+)"\})? (\S+)$'
)


@dataclass
class StageTimes:
    """Sums of seconds per stage (``""`` is the whole decision) and the decision count."""

    seconds: dict[str, float] = field(default_factory=dict)
    decisions: float = 0.0

    def __sub__(self, other: StageTimes) -> StageTimes:
        return StageTimes(
            {k: v - other.seconds.get(k, 0.0) for k, v in self.seconds.items()},
            self.decisions - other.decisions,
        )

    def add(self, other: StageTimes) -> None:
        for key, value in other.seconds.items():
            self.seconds[key] = self.seconds.get(key, 0.0) + value
        self.decisions += other.decisions

    def mean_ms(self, stage: str = "") -> float:
        """Mean ms per decision in ``stage`` (the whole decision by default)."""
        if self.decisions <= 0:
            return float("nan")
        return self.seconds.get(stage, 0.0) / self.decisions * 1000


def _parse(text: str) -> StageTimes:
    times = StageTimes()
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        kind, stage, value = match.group(1), match.group(2) or "", float(match.group(3))
        if kind == "sum":
            times.seconds[stage] = value
        elif stage == "":
            times.decisions = value
    return times


def scrape(urls: Iterable[str]) -> StageTimes:
    """The summed decision and stage times of the gates at ``urls`` (their roots)."""
    total = StageTimes()
    with httpx.Client(timeout=30) as client:
        for url in urls:
            response = client.get(url + "/metrics")
            response.raise_for_status()
            total.add(_parse(response.text))
    return total
