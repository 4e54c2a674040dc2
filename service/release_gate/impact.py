"""Impact replay: recorded decisions decided again under a candidate policy, offline.

``release-gate policy impact --candidate DIR`` (contract section 8)::

    candidate   the bundle in DIR, loaded and checked as a reload would (governance
                data, METADATA), compiled on regorus in this process
    chunks      the matching decisions of the store, newest first, cut into chunks
                (release_gate.store.replay): bounded memory
    replay      each decision again as a dry run (Gate.replay: nothing recorded, no
                token) on the manifest as received, the facts and the evaluation
                time stored with it; ``jobs`` processes take chunks side by side
    report      what changed: allow -> deny and back, violation codes added and
                removed, per lane and per code, the newest changed decisions

The candidate always runs on the embedded engine, whichever engine recorded the
decisions: the parity suite holds regorus and OPA to the same decisions, and no
OPA holds the candidate yet. A recorded manifest the candidate cannot decide (an
engine error, or limits tightened since) stops the replay with an
:class:`ImpactError` naming the decision: that change would answer it with a 503.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release_gate.decision.decide import Gate
from release_gate.decision.manifest import Limits
from release_gate.errors import GateError
from release_gate.keys.signing import ephemeral_key
from release_gate.keys.tokens import TokenMinter
from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.embedded import LocalEngine
from release_gate.policy.governance import load_governance
from release_gate.policy.metadata import policy_rules
from release_gate.store.db import Database
from release_gate.store.replay import Chunk, Recorded, ReplayFilter, read_chunk, replay_chunks

__all__ = ["MAX_EXAMPLES", "ImpactError", "ImpactReport", "ReplaySetup", "run_impact"]

#: Changed decisions the report names, newest first.
MAX_EXAMPLES = 20
#: Below this many decisions no second process is worth its start-up (about 1 s).
_PARALLEL_FROM = 1000

Progress = Callable[[int, int], None]


class ImpactError(GateError):
    """The replay could not finish: the report would not be the whole truth."""

    status = 503
    title = "Impact replay failed"
    type_suffix = "impact-failed"


@dataclass(frozen=True, slots=True)
class ReplaySetup:
    """What a replaying process needs (sent to each worker process as it is)."""

    candidate: Path
    database_url: str
    query: ReplayFilter
    limits: Limits = field(default_factory=Limits)
    max_depth: int = 32


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


class _Replayer:
    """One process's candidate gate (regorus, no store, never mints) and store reader."""

    def __init__(self, setup: ReplaySetup, bundle: PolicyBundle | None = None) -> None:
        bundle = bundle or load_bundle(setup.candidate)
        self._query = setup.query
        self._engine = LocalEngine(bundle)
        self._gate = Gate(
            governance=load_governance(bundle.governance),
            engine=self._engine,
            rules=policy_rules(bundle),
            store=None,
            minter=TokenMinter(key=ephemeral_key(), issuer="impact-replay"),
            limits=setup.limits,
            max_depth=setup.max_depth,
        )
        self._db = Database(setup.database_url)

    def replay(self, chunk: Chunk) -> ImpactReport:
        report = ImpactReport()
        for recorded in read_chunk(self._db, self._query, chunk):
            try:
                after = self._gate.replay(
                    recorded.manifest_text,
                    now_ns=recorded.evaluated_at_ns,
                    facts=recorded.facts,
                    digest=recorded.manifest_digest,
                )
            except GateError as exc:
                raise ImpactError(
                    f"decision {recorded.decision_id} cannot be decided under the candidate: "
                    f"{exc.detail}"
                ) from exc
            report.add(recorded, allow=after.allow, codes=frozenset(after.codes))
        return report

    def close(self) -> None:
        self._engine.close()
        self._db.close()


def _take(counter: Any, chunks: list[Chunk]) -> Chunk | None:
    """The next chunk nobody took yet (``counter`` is shared by every process)."""
    with counter.get_lock():
        index: int = counter.value
        if index >= len(chunks):
            return None
        counter.value = index + 1
    chunk: Chunk = chunks[index]
    return chunk


def _worker(
    setup: ReplaySetup, chunks: list[Chunk], counter: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    """A replaying process: takes chunks until none is left; a report (or an error) each."""
    try:
        replayer = _Replayer(setup)
    except GateError as exc:
        results.put(("error", exc.detail))
        return
    try:
        while (chunk := _take(counter, chunks)) is not None:
            results.put(("done", chunk.count, replayer.replay(chunk)))
    except GateError as exc:
        results.put(("error", exc.detail))
    finally:
        replayer.close()


def run_impact(
    setup: ReplaySetup,
    bundle: PolicyBundle,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    chunk_size: int = 250,
    parallel_from: int = _PARALLEL_FROM,
) -> ImpactReport:
    """Replay the decisions ``setup.query`` selects under ``bundle`` (loaded from
    ``setup.candidate``), in this process and, from ``parallel_from`` decisions on,
    ``jobs - 1`` more."""
    db = Database(setup.database_url)
    try:
        chunks = replay_chunks(db, setup.query, size=chunk_size)
    finally:
        db.close()
    total = sum(chunk.count for chunk in chunks)
    report = ImpactReport()
    replayer = _Replayer(setup, bundle)
    try:
        if jobs > 1 and total >= parallel_from:
            _in_parallel(setup, replayer, chunks, report, jobs=jobs, total=total, progress=progress)
        else:
            done = 0
            for chunk in chunks:
                report.merge(replayer.replay(chunk))
                done += chunk.count
                if progress is not None:
                    progress(done, total)
    finally:
        replayer.close()
    return report


def _in_parallel(
    setup: ReplaySetup,
    replayer: _Replayer,
    chunks: list[Chunk],
    report: ImpactReport,
    *,
    jobs: int,
    total: int,
    progress: Progress | None,
) -> None:
    """``jobs - 1`` spawned processes and this one take chunks from one shared counter
    (this one starts at once; a spawned one after about a second of imports)."""
    context = multiprocessing.get_context("spawn")
    counter, results = context.Value("q", 0), context.Queue()
    workers = [
        context.Process(target=_worker, args=(setup, chunks, counter, results), daemon=True)
        for _ in range(jobs - 1)
    ]
    for worker in workers:
        worker.start()
    pending, done = len(chunks), 0
    try:
        while pending:
            message = _poll(results)  # a spawned process's report first, for the progress
            if message is None:
                chunk = _take(counter, chunks)
                if chunk is not None:
                    message = ("done", chunk.count, replayer.replay(chunk))
                else:
                    message = _wait(results, workers)
            if message[0] == "error":
                raise ImpactError(message[1])
            report.merge(message[2])
            pending, done = pending - 1, done + message[1]
            if progress is not None:
                progress(done, total)
    finally:
        for worker in workers:
            if worker.is_alive() and pending:
                worker.terminate()
            worker.join(timeout=10)


def _poll(results: Any) -> Any:
    try:
        return results.get_nowait()
    except queue.Empty:
        return None


def _wait(results: Any, workers: list[Any]) -> Any:
    """The next message of a spawned process (checking every second that one is alive)."""
    while True:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            if not any(worker.is_alive() for worker in workers):
                return ("error", "the replay processes exited before the replay finished")
