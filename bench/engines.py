"""Embedded engine vs OPA, side by side: decisions per second and latency.

Runs the real decision path (dry runs at a fixed instant, so the store is left
out and only the engine differs) for the reference manifest and a
100-objection one, from 1 and 4 client threads. The policy is the repository's
rules with the tests' governance data (``tests/governance.py``). The OPA column
appears when ``--opa-url`` (or ``RELEASE_GATE_BENCH_OPA_URL``) names an OPA
server (``opa run --server``; see docs/opa.md): the benchmark loads that policy
into it through OPA's policy and data APIs, as the parity suite does, and
removes it afterwards. The
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

import httpx

from bench.decision import _manifest, _percentile, print_table
from release_gate.decision.decide import Gate
from release_gate.decision.manifest import Limits
from release_gate.keys.signing import load_or_create_dev_key
from release_gate.keys.tokens import TokenMinter
from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.embedded import EmbeddedEngine
from release_gate.policy.engine import PolicyEngine
from release_gate.policy.governance import load_governance
from release_gate.policy.metadata import policy_rules
from release_gate.policy.opa import OpaEngine
from release_gate.policy.opa_bundle import push_bundle, remove_pushed
from tests.governance import write_bundle


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


def _opa_http(url: str) -> httpx.Client:
    return httpx.Client(base_url=url.rstrip("/"), timeout=10.0)


def _opa(url: str, bundle: PolicyBundle) -> OpaEngine:
    """The OPA server at ``url``, ``bundle`` loaded through its policy and data APIs."""
    with _opa_http(url) as http:
        push_bundle(http, bundle)
    return OpaEngine(url, bundle=bundle, policy_source="api")


def run(*, opa_url: str | None, seconds: float, state: Path) -> None:
    bundle = load_bundle(write_bundle(state / "policies"))
    engines: dict[str, PolicyEngine] = {"regorus": EmbeddedEngine(bundle)}
    from tests.parity.opa_go import OpaGoEngine, opa_go_available

    if opa_go_available():  # OPA v1.20.2's evaluator in-process (no HTTP), a dev tool
        engines["opa-go (in-process)"] = OpaGoEngine(bundle)
    if opa_url:
        engines["opa"] = _opa(opa_url, bundle)
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
        if opa_url:
            with _opa_http(opa_url) as http:
                remove_pushed(http, bundle)
    print("\nEngines: whole decision path (dry run, no store), per client thread count")
    if not opa_url:
        print("(no --opa-url / RELEASE_GATE_BENCH_OPA_URL: OPA column skipped)")
    print_table(["manifest", "threads", "engine", "decisions/s", "median ms", "p99 ms"], rows)
