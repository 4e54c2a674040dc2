"""The impact report (contract section 8): counts, per lane and per code, and examples.

Each replayed decision is :meth:`ImpactReport.add` ed with what the candidate
decided; partial reports (one per chunk, from any process) :meth:`~ImpactReport.merge`
into one, whatever the order, and :meth:`~ImpactReport.to_wire` is the JSON of
``policy impact --format json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from release_gate.store.replay import Recorded

__all__ = ["MAX_EXAMPLES", "ImpactReport"]

#: Changed decisions the report names, newest first.
MAX_EXAMPLES = 20


@dataclass
class _Counts:
    decisions: int = 0
    allow_to_deny: int = 0
    deny_to_allow: int = 0
    codes_changed: int = 0

    def add(self, other: _Counts) -> None:
        self.decisions += other.decisions
        self.allow_to_deny += other.allow_to_deny
        self.deny_to_allow += other.deny_to_allow
        self.codes_changed += other.codes_changed

    def to_wire(self) -> dict[str, int]:
        return {
            "decisions": self.decisions,
            "allow_to_deny": self.allow_to_deny,
            "deny_to_allow": self.deny_to_allow,
            "codes_changed": self.codes_changed,
        }


@dataclass(frozen=True, slots=True)
class _Example:
    seq: int
    decision_id: str
    packet: tuple[str, int]
    lane: str
    before: tuple[bool, frozenset[str]]
    after: tuple[bool, frozenset[str]]

    def to_wire(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "packet": {"id": self.packet[0], "revision": self.packet[1]},
            "lane": self.lane,
            "before": {"allow": self.before[0], "codes": sorted(self.before[1])},
            "after": {"allow": self.after[0], "codes": sorted(self.after[1])},
        }


@dataclass
class ImpactReport:
    """The counts of contract section 8; partial reports of chunks :meth:`merge`."""

    totals: _Counts = field(default_factory=_Counts)
    by_lane: dict[str, _Counts] = field(default_factory=dict)
    by_code: dict[str, list[int]] = field(default_factory=dict)  # code -> [added, removed]
    examples: list[_Example] = field(default_factory=list)

    @property
    def flips(self) -> int:
        return self.totals.allow_to_deny + self.totals.deny_to_allow

    def add(self, recorded: Recorded, *, allow: bool, codes: frozenset[str]) -> None:
        one = _Counts(decisions=1)
        if recorded.allow and not allow:
            one.allow_to_deny = 1
        elif allow and not recorded.allow:
            one.deny_to_allow = 1
        elif codes != recorded.codes:
            one.codes_changed = 1
        self.totals.add(one)
        self.by_lane.setdefault(recorded.lane, _Counts()).add(one)
        for code in codes - recorded.codes:
            self.by_code.setdefault(code, [0, 0])[0] += 1
        for code in recorded.codes - codes:
            self.by_code.setdefault(code, [0, 0])[1] += 1
        if one.allow_to_deny or one.deny_to_allow or one.codes_changed:
            self._example(
                _Example(
                    seq=recorded.seq,
                    decision_id=recorded.decision_id,
                    packet=(recorded.packet_id, recorded.revision),
                    lane=recorded.lane,
                    before=(recorded.allow, recorded.codes),
                    after=(allow, codes),
                )
            )

    def _example(self, example: _Example) -> None:
        if len(self.examples) < MAX_EXAMPLES or example.seq > self.examples[-1].seq:
            self.examples.append(example)
            self.examples.sort(key=lambda e: e.seq, reverse=True)
            del self.examples[MAX_EXAMPLES:]

    def merge(self, other: ImpactReport) -> None:
        self.totals.add(other.totals)
        for lane, counts in other.by_lane.items():
            self.by_lane.setdefault(lane, _Counts()).add(counts)
        for code, (added, removed) in other.by_code.items():
            mine = self.by_code.setdefault(code, [0, 0])
            mine[0] += added
            mine[1] += removed
        for example in other.examples:
            self._example(example)

    def to_wire(self, *, revision: str, digest: str) -> dict[str, Any]:
        totals = self.totals
        return {
            "candidate": {"revision": revision, "digest": digest},
            "decisions": totals.decisions,
            "unchanged": totals.decisions - self.flips - totals.codes_changed,
            "allow_to_deny": totals.allow_to_deny,
            "deny_to_allow": totals.deny_to_allow,
            "codes_changed": totals.codes_changed,
            "by_lane": {lane: c.to_wire() for lane, c in sorted(self.by_lane.items())},
            "by_code": {
                code: {"added": added, "removed": removed}
                for code, (added, removed) in sorted(self.by_code.items())
            },
            "examples": [example.to_wire() for example in self.examples],
        }
