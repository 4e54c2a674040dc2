"""The embedded engine: regorus (PyPI ``celine-regorus``) in-process.

Concurrency: a regorus engine is *unsendable* (pyo3 panics when one is used,
or cloned, on a thread other than its creator's) and ``set_input`` mutates it.
So evaluations run on a small pool of dedicated threads, each of which builds
and owns one engine for its whole life; callers hand work to the pool and wait.
Every thread builds its engine at construction (about 1.5 ms each), so a broken
bundle fails at start-up and no request pays for compiling the policies. Input and data go in as
JSON text only: regorus turns a Python ``True`` into ``1.0`` (see ENGINE-NOTES).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
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

__all__ = ["EmbeddedEngine", "first_line"]


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
    """:class:`~release_gate.policy.engine.PolicyEngine` on regorus."""

    name = "regorus"

    def __init__(self, bundle: PolicyBundle, *, threads: int = 2, timeout: float = 10.0) -> None:
        self._bundle = bundle
        self._timeout = timeout
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="regorus")
        try:
            self._warm(threads)
        except BaseException:
            self._pool.shutdown(wait=True)
            raise

    def _warm(self, threads: int) -> None:
        """Start every engine thread and build its engine now: a broken bundle fails at
        start-up, and the first requests do not pay for compiling the policies."""
        started = threading.Barrier(threads, timeout=self._timeout)

        def build() -> None:
            started.wait()  # holds each thread until all exist, so each builds one engine
            self._engine()

        for future in [self._pool.submit(build) for _ in range(threads)]:
            future.result()

    def _engine(self) -> Any:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            engine = build_regorus(self._bundle)
            self._local.engine = engine
        return engine

    def _evaluate_here(self, policy_input_json: str) -> Any:
        engine = self._engine()
        try:
            engine.set_input_json(policy_input_json)
            return engine.eval_rule(ENTRY_POINT)
        except BaseException as exc:  # a Rust panic is pyo3's PanicException, a BaseException
            # The error's traceback keeps this frame alive in a reference cycle that the
            # garbage collector frees on any thread; the engine must not be in it (an
            # unsendable engine dropped on another thread is a pyo3 error).
            del engine
            if isinstance(exc, RuntimeError):
                raise PolicyEngineError(f"policy evaluation failed: {first_line(exc)}") from exc
            if not _is_panic(exc):
                raise
            raise PolicyEngineError(f"policy engine panicked: {first_line(exc)}") from exc

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        try:
            future = self._pool.submit(self._evaluate_here, policy_input_json)
        except RuntimeError as exc:  # the pool is shut down
            raise PolicyEngineError("the embedded engine is shut down") from exc
        try:
            value = future.result(timeout=self._timeout)
        except TimeoutError as exc:
            raise PolicyEngineError(f"policy evaluation timed out after {self._timeout}s") from exc
        return parse_policy_result(
            value, policy_revision=self._bundle.revision, policy_digest=self._bundle.digest
        )

    def status(self) -> EngineStatus:
        return EngineStatus(
            ready=True,
            detail="embedded regorus engine loaded",
            extra={"revision": self._bundle.revision, "digest": self._bundle.digest},
        )

    def close(self) -> None:
        """Stop the engine threads; each engine is dropped on the thread that owns it."""
        self._pool.shutdown(wait=True, cancel_futures=True)
