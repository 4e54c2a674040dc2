"""OPA's own Go evaluator, in-process, for tests only.

``opa-golib-python-bindings`` (module ``opa_bindings``) embeds
``github.com/open-policy-agent/opa/v1/rego`` (OPA v1.20.2) as a c-shared
library behind a stdlib-only ctypes wrapper. It lets the test suite evaluate
the bundle on real OPA semantics without an OPA binary or server: the parity
suite compares every decision with the embedded engine (regorus), and
``tests/policy/test_opa_go.py`` runs the Rego unit tests on it (``opa test``).

It is a dev tool, installed by ``make install`` with ``--ignore-requires-python``
(its metadata asks for Python >= 3.14, but the wrapper is plain ctypes), so it
is not a dependency of the service. When it cannot be imported, everything
using it is skipped with :data:`SKIP_REASON`.

It stays next to the real OPA binary of CI because it needs no binary: on a
machine without ``opa`` it is the only OPA the policies meet, and elsewhere it
is a second OPA version. What it does not cover: OPA's HTTP server and bundle
loading (the real-OPA servers of ``tests/parity/conftest.py`` do), and ``opa
check --strict`` (the bridge compiles without strict mode; ``make test`` runs
the real one when it finds ``opa``, and ``tests/policy/test_opa_go.py`` has the
lint that stands in for it).
"""

from __future__ import annotations

import importlib
import json
import threading
from types import ModuleType
from typing import Any

import pytest

from release_gate.policy.bundle import PolicyBundle
from release_gate.policy.engine import (
    ENTRY_POINT,
    EngineStatus,
    PolicyEngineError,
    PolicyResult,
    parse_policy_result,
)

__all__ = ["SKIP_REASON", "OpaGoEngine", "bindings", "load_engine", "opa_go_available"]

SKIP_REASON = (
    "opa_bindings (PyPI opa-golib-python-bindings==0.4.4) is not installed: "
    "run `make install` to get OPA's Go evaluator for the real-OPA checks"
)

#: The pinned version; the checks below were written against its OPA (v1.20.2).
VERSION = "0.4.4"


def _import() -> ModuleType | None:
    try:
        return importlib.import_module("opa_bindings")
    except (ImportError, OSError):  # OSError: the .so cannot load (glibc too old)
        return None


_MODULE = _import()


def opa_go_available() -> bool:
    return _MODULE is not None


def bindings() -> ModuleType:
    """The ``opa_bindings`` module, or skip the calling test with :data:`SKIP_REASON`."""
    if _MODULE is None:
        pytest.skip(SKIP_REASON)
    return _MODULE


def load_engine(modules: dict[str, str], data: dict[str, Any]) -> Any:
    """A raw ``opa_bindings.OpaEngine`` holding ``modules`` (path -> Rego) and ``data``."""
    opa = bindings()
    engine = opa.OpaEngine()
    for path, text in sorted(modules.items()):
        engine.add_policy(path, text)
    # Through JSON text, so the Go side sees exactly the JSON the gate would send.
    engine.add_data(json.loads(json.dumps(data)))
    return engine


class OpaGoEngine:
    """:class:`~release_gate.policy.engine.PolicyEngine` on OPA's Go evaluator."""

    name = "opa-go"

    def __init__(self, bundle: PolicyBundle) -> None:
        self._bundle = bundle
        self._opa = bindings()
        self._lock = threading.Lock()
        try:
            self._engine = load_engine(bundle.modules, bundle.data)
            # Compile now, so a policy OPA rejects fails here rather than on first use.
            self._engine.eval_query("x := 1")
        except self._opa.OpaError as exc:
            raise PolicyEngineError(f"OPA cannot load the policies: {exc}") from exc
        self._path = ENTRY_POINT.removeprefix("data.")

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        value = json.loads(policy_input_json)
        with self._lock:
            try:
                result = self._engine.eval_document(self._path, value)
            except self._opa.OpaUndefinedError:
                result = None
            except self._opa.OpaError as exc:
                raise PolicyEngineError(f"OPA evaluation failed: {exc}") from exc
        return parse_policy_result(
            result, policy_revision=self._bundle.revision, policy_digest=self._bundle.digest
        )

    def status(self) -> EngineStatus:
        return EngineStatus(ready=True, detail=f"opa_bindings {VERSION} (OPA v1.20.2) in-process")

    def close(self) -> None:
        with self._lock:
            self._engine.close()
