"""The embedded engine: regorus (PyPI ``celine-regorus``) in-process.

Concurrency: a regorus engine is *unsendable* (pyo3 panics when one is used,
cloned or dropped on a thread other than its creator's) and ``set_input``
mutates it. So evaluations run on a few dedicated threads, each of which builds
and owns one engine for its whole life; callers hand work to them through one
queue and wait. Every thread builds its engine at construction (about 1.5 ms
each), so a broken bundle fails at start-up and no request pays for compiling
the policies. Input and data go in as JSON text only: regorus turns a Python
``True`` into ``1.0`` (see ENGINE-NOTES).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import regorus

from release_gate.policy.bundle import PolicyBundle
from release_gate.policy.engine import (
    ENTRY_POINT,
    EngineStatus,
    PolicyEngineError,
    PolicyResult,
    parse_policy_result,
)

__all__ = ["EmbeddedEngine", "LocalEngine", "first_line"]


def first_line(exc: BaseException) -> str:
    """An engine error without regorus's Rust backtrace."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def _load(engine: Any, bundle: PolicyBundle) -> str | None:
    """Load ``bundle`` into ``engine``; the first line of the error, if any."""
    try:
        for path, text in sorted(bundle.modules.items()):
            engine.add_policy(path, text)
        engine.add_data_json(json.dumps(bundle.data))
    except RuntimeError as exc:
        return first_line(exc)
    return None


def build_regorus(bundle: PolicyBundle) -> Any:
    """A regorus engine holding every module and the data of ``bundle``.

    On failure the half-built engine is dropped here, before the error is
    raised: an exception's traceback keeps its frames' locals alive, and a
    regorus engine released on another thread (where the error is re-raised)
    is a pyo3 error of its own.
    """
    engine = regorus.Engine()
    error = _load(engine, bundle)
    if error is not None:
        del engine
        raise PolicyEngineError(f"cannot load policies: {error}")
    return engine


class EmbeddedEngine:
    """:class:`~release_gate.policy.engine.PolicyEngine` on regorus.

    ``threads`` dedicated threads each build one engine and keep it in a local
    variable of their loop for their whole life: no other reference to it ever
    exists (no thread-local mapping another thread could tear down, no traceback
    that carries it: a failure reaches the caller as a fresh exception), so it is
    always dropped on the thread that built it. ``builder`` is for tests.
    """

    name = "regorus"

    def __init__(
        self,
        bundle: PolicyBundle,
        *,
        threads: int = 2,
        timeout: float = 10.0,
        builder: Callable[[PolicyBundle], Any] = build_regorus,
    ) -> None:
        self._bundle = bundle
        self._timeout = timeout
        self._builder = builder
        self._jobs: queue.SimpleQueue[tuple[str, Future[Any]] | None] = queue.SimpleQueue()
        self._closed = False
        self._threads: list[threading.Thread] = []
        built: list[Future[None]] = []
        for index in range(threads):
            ready: Future[None] = Future()
            thread = threading.Thread(
                target=self._serve, args=(ready,), name=f"regorus-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
            built.append(ready)
        try:  # a broken bundle fails here, at start-up, not on the first request
            for ready in built:
                ready.result(timeout=self._timeout)
        except BaseException:
            self.close()
            raise

    def _serve(self, ready: Future[None]) -> None:
        try:
            engine = self._builder(self._bundle)
        except PolicyEngineError as exc:
            ready.set_exception(PolicyEngineError(exc.detail))
            return
        except BaseException as exc:  # anything else, a panic included: no engine, say why
            ready.set_exception(PolicyEngineError(f"cannot build the engine: {first_line(exc)}"))
            return
        ready.set_result(None)
        while (job := self._jobs.get()) is not None:
            policy_input_json, future = job
            if future.set_running_or_notify_cancel():
                value, error = _evaluate(engine, policy_input_json)
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(PolicyEngineError(error))
        del engine  # on this thread, the one that built it

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        if self._closed:
            raise PolicyEngineError("the embedded engine is shut down")
        future: Future[Any] = Future()
        self._jobs.put((policy_input_json, future))
        try:
            value = future.result(timeout=self._timeout)
        except TimeoutError as exc:
            future.cancel()
            raise PolicyEngineError(f"policy evaluation timed out after {self._timeout}s") from exc
        return parse_policy_result(
            value, policy_revision=self._bundle.revision, policy_digest=self._bundle.digest
        )

    def status(self) -> EngineStatus:
        return EngineStatus(
            ready=not self._closed,
            detail="embedded regorus engine loaded",
            extra={"revision": self._bundle.revision, "digest": self._bundle.digest},
        )

    def close(self) -> None:
        """Stop the engine threads; each engine is dropped on the thread that owns it."""
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=self._timeout)


class LocalEngine:
    """:class:`~release_gate.policy.engine.PolicyEngine` on regorus, on the calling thread.

    For one thread that evaluates many inputs in a row and nothing else (each
    process of ``policy impact``): no hand-off to an engine thread, which on a
    busy machine costs more than the evaluation. Built, used and closed by one
    thread only (regorus engines are unsendable); no timeout. Never for serving.
    """

    name = "regorus"

    def __init__(self, bundle: PolicyBundle) -> None:
        self._bundle = bundle
        self._owner = threading.get_ident()
        self._engine: Any = build_regorus(bundle)

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        if self._engine is None or threading.get_ident() != self._owner:
            raise PolicyEngineError("the local engine is closed, or used off its own thread")
        value, error = _evaluate(self._engine, policy_input_json)
        if error is not None:
            raise PolicyEngineError(error)
        return parse_policy_result(
            value, policy_revision=self._bundle.revision, policy_digest=self._bundle.digest
        )

    def status(self) -> EngineStatus:
        ready = self._engine is not None
        detail = "local regorus engine loaded" if ready else "the local engine is closed"
        return EngineStatus(ready=ready, detail=detail)

    def close(self) -> None:
        """Drop the engine; call it on the thread that built it."""
        if threading.get_ident() == self._owner:
            self._engine = None


def _evaluate(engine: Any, policy_input_json: str) -> tuple[Any, str | None]:
    """The decision value, or the first line of what went wrong (never an exception)."""
    try:
        engine.set_input_json(policy_input_json)
        return engine.eval_rule(ENTRY_POINT), None
    except RuntimeError as exc:
        return None, f"policy evaluation failed: {first_line(exc)}"
    except BaseException as exc:  # a Rust panic is pyo3's PanicException, a BaseException
        if not _is_panic(exc):
            raise
        return None, f"policy engine panicked: {first_line(exc)}"
