"""Running an impact replay: the candidate gate, the chunks, the processes.

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
from release_gate.impact.report import ImpactReport
from release_gate.keys.signing import ephemeral_key
from release_gate.keys.tokens import TokenMinter
from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.embedded import LocalEngine
from release_gate.policy.governance import load_governance
from release_gate.policy.metadata import policy_rules
from release_gate.store.db import Database
from release_gate.store.replay import Chunk, ReplayFilter, read_chunk, replay_chunks

__all__ = ["ImpactError", "ReplaySetup", "run_impact"]

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
