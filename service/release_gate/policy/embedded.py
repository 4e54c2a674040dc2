"""The embedded engine: regorus (PyPI ``celine-regorus``) in-process.

Concurrency: the engine is built and compiled once; each worker thread gets
its own ``clone()`` on first use (``set_input`` mutates an engine, so engines
are never shared between threads). Input and data go in as JSON text only:
regorus turns a Python ``True`` into ``1.0`` (see ENGINE-NOTES).
"""

from __future__ import annotations

import json
import threading
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


def build_regorus(bundle: PolicyBundle) -> Any:
    """A regorus engine holding every module and the data of ``bundle``."""
    engine = regorus.Engine()
    try:
        for path, text in sorted(bundle.modules.items()):
            engine.add_policy(path, text)
        engine.add_data_json(json.dumps(bundle.data))
    except RuntimeError as exc:
        raise PolicyEngineError(f"cannot load policies: {first_line(exc)}") from exc
    return engine


class EmbeddedEngine:
    """:class:`~release_gate.policy.engine.PolicyEngine` on regorus."""

    name = "regorus"

    def __init__(self, bundle: PolicyBundle) -> None:
        self._bundle = bundle
        self._base = build_regorus(bundle)
        self._clone_lock = threading.Lock()
        self._local = threading.local()

    def _engine(self) -> Any:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            with self._clone_lock:
                engine = self._base.clone()
            self._local.engine = engine
        return engine

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        engine = self._engine()
        try:
            engine.set_input_json(policy_input_json)
            value = engine.eval_rule(ENTRY_POINT)
        except RuntimeError as exc:
            raise PolicyEngineError(f"policy evaluation failed: {first_line(exc)}") from exc
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
        """Nothing to release: clones die with their threads."""
