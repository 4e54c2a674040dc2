"""Embedded engine vs OPA, side by side: decisions per second and latency.

Runs the real decision path (dry runs at a fixed instant, so the store is left
out and only the engine differs) for the reference manifest and a
100-objection one, from 1 and 4 client threads. The OPA column appears when
``--opa-url`` (or ``RELEASE_GATE_BENCH_OPA_URL``) names an OPA server that has
the gate's bundle loaded (``opa run --server --bundle``; see docs/opa.md). The
``opa-go (in-process)`` rows are OPA's own Go evaluator (v1.20.2) called
in-process through the dev tool the tests use (tests/parity/opa_go.py): the
cost of OPA's evaluation without its HTTP server.
"""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.decision import _manifest, _percentile, print_table
from release_gate.config import Settings
from release_gate.decision.decide import Gate
from release_gate.decision.manifest import Limits
from release_gate.keys.signing import load_or_create_dev_key
from release_gate.keys.tokens import TokenMinter
from release_gate.policy.bundle import load_bundle
from release_gate.policy.embedded import EmbeddedEngine
from release_gate.policy.engine import PolicyEngine
from release_gate.policy.governance import load_governance
from release_gate.policy.metadata import policy_rules


def _gate(engine: PolicyEngine, bundle: Any, state: Path) -> Gate:
    key = load_or_create_dev_key(state / "bench-key.pem")
    return Gate(
        governance=load_governance(bundle.governance),
        engine=engine,
        rules=policy_rules(bundle),
        store=None,
        minter=TokenMinter(key=key, issuer="bench"),
        limits=Limits(),
        max_depth=32,
    )


def _measure(
    gate: Gate, body: bytes, *, threads: int, seconds: float
) -> tuple[float, float, float]:
    now = time.time_ns()
    latencies: list[float] = []

    def worker() -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            gate.evaluate(body, now_ns=now)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, statistics.median(latencies), _percentile(latencies, 0.99)


def run(*, opa_url: str | None, seconds: float, state: Path) -> None:
    bundle = load_bundle(Settings().policies)
    engines: dict[str, PolicyEngine] = {"regorus": EmbeddedEngine(bundle)}
    from tests.parity.opa_go import OpaGoEngine, opa_go_available

    if opa_go_available():  # OPA v1.20.2's evaluator in-process (no HTTP), a dev tool
        engines["opa-go (in-process)"] = OpaGoEngine(bundle)
    if opa_url:
        from release_gate.policy.opa import OpaEngine

        engines["opa"] = OpaEngine(opa_url, bundle=bundle)
    rows = []
    try:
        for size in (None, 100):
            body = json.dumps(_manifest(size)).encode()
            for threads in (1, 4):
                for name, engine in engines.items():
                    rate, median, p99 = _measure(
                        _gate(engine, bundle, state), body, threads=threads, seconds=seconds
                    )
                    label = "reference" if size is None else f"{size} objections"
                    rows.append(
                        [
                            label,
                            str(threads),
                            name,
                            f"{rate:,.0f}",
                            f"{median * 1e3:.3f}",
                            f"{p99 * 1e3:.3f}",
                        ]
                    )
    finally:
        for engine in engines.values():
            engine.close()
    print("\nEngines: whole decision path (dry run, no store), per client thread count")
    if not opa_url:
        print("(no --opa-url / RELEASE_GATE_BENCH_OPA_URL: OPA column skipped)")
    print_table(["manifest", "threads", "engine", "decisions/s", "median ms", "p99 ms"], rows)
