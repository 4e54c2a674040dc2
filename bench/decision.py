"""In-process decision time, by stage, against the unavoidable crypto and canonicalisation.

For a reference manifest (3 signatures, 2 objections, 4 evidence items) and for
10, 100 and 1,000 objections, it runs the real decision path (``Gate.evaluate``:
regorus engine, SQLite store with WAL and synchronous=FULL in a temp dir, a
real signing key) and prints median and p99 per stage. It then times the floor
no implementation can avoid: the RFC 8785 canonicalisation and SHA-256 of the
manifest, verifying its Ed25519 signatures, and signing one token.

The policy is the repository's rules with the tests' governance data
(``tests/governance.py``), so that the manifest is approved whatever thresholds
the shipped data sets, and figures compare across governance changes.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.config import Settings
from release_gate.decision.canonical import approval_statement, manifest_digest
from release_gate.decision.decide import STAGES
from release_gate.keys.signing import write_private_key
from release_gate.runtime import build_runtime, freeze_startup_heap
from tests.governance import write_bundle
from tests.helpers import DEFAULT_SIGNERS, base_manifest, sign

SIZES = (None, 10, 100, 1000)


def _manifest(objections: int | None) -> dict[str, Any]:
    document = copy.deepcopy(base_manifest(dt.datetime.now(dt.UTC)))
    if objections is not None:
        template = document["objections"][0]
        document["objections"] = [
            {**copy.deepcopy(template), "id": f"OBJ-{i}"} for i in range(objections)
        ]
    return sign(document, *DEFAULT_SIGNERS)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _floor(document: dict[str, Any], token_claims: bytes, key: Ed25519PrivateKey) -> float:
    """One pass of the unavoidable work, in seconds: digest, statements, verifies, one sign.

    The statements are signed here, outside the timing, with one key whose public
    half verifies them (the same cost as the trust store's keys).
    """
    public = key.public_key()
    digest = manifest_digest(document)
    signed = []
    for sig in document["signatures"]:
        statement = approval_statement(
            manifest_digest=digest, subject=sig["subject"], role=sig["role"]
        )
        signed.append((sig, base64.urlsafe_b64encode(key.sign(statement)).rstrip(b"=").decode()))
    started = time.perf_counter()
    digest = manifest_digest(document)
    for sig, value in signed:
        statement = approval_statement(
            manifest_digest=digest, subject=sig["subject"], role=sig["role"]
        )
        public.verify(base64.urlsafe_b64decode(value + "=="), statement)
    key.sign(token_claims)
    return time.perf_counter() - started


def run(*, iterations: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "gate.pem"
        write_private_key(key_file, Ed25519PrivateKey.generate(), force=False)
        settings = Settings(
            policies=write_bundle(Path(tmp) / "policies"),
            state_dir=Path(tmp),
            signing_key_file=key_file,
            database_url=f"sqlite:///{tmp}/b.db",
        )
        runtime = build_runtime(settings)
        freeze_startup_heap()  # as `release-gate serve` does
        try:
            _report(runtime, iterations)
            _concurrent(runtime, iterations)
        finally:
            runtime.close()


def _report(runtime: Any, iterations: int) -> None:
    gate = runtime.require_gate()
    key = Ed25519PrivateKey.generate()
    header = ["manifest", "bytes", *STAGES, "decision", "w/o record", "floor", "ratio"]
    rows = []
    for size in SIZES:
        document = _manifest(size)
        body = json.dumps(document).encode()
        samples = []
        for _ in range(iterations):
            started = time.perf_counter()
            decision = gate.evaluate(body)
            total = time.perf_counter() - started
            assert decision.allow, decision.violations
            samples.append({**decision.timings, "decision": total})
        floor = [_floor(document, body[:600], key) for _ in range(iterations)]
        rows.append(_row(size, len(body), samples, floor))
    print("Decision path, in process: median / p99 ms per stage")
    print("'w/o record' and 'floor' are medians; floor = JCS + SHA-256 of the manifest and the")
    print("approval statements, one Ed25519 verify per signature and one Ed25519 sign")
    print_table(header, rows)


def _row(
    size: int | None, nbytes: int, samples: list[dict[str, float]], floor: list[float]
) -> list[str]:
    def med(name: str) -> float:
        return statistics.median(s[name] for s in samples)

    def p99(name: str) -> float:
        return _percentile([s[name] for s in samples], 0.99)

    cells = [f"{med(s) * 1e3:.3f} / {p99(s) * 1e3:.3f}" for s in (*STAGES, "decision")]
    without = statistics.median(s["decision"] - s["record"] for s in samples)
    floor_median = statistics.median(floor)
    label = "reference" if size is None else f"{size} objections"
    return [
        label,
        str(nbytes),
        *cells,
        f"{without * 1e3:.3f}",
        f"{floor_median * 1e3:.3f}",
        f"{without / floor_median:.2f}x",
    ]


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


#: Threads deciding at once in the concurrent run (as HTTP requests would, 16 connections).
THREADS = 16


def _concurrent(runtime: Any, iterations: int) -> None:
    """Reference manifests decided by THREADS threads at once: what the record costs
    per decision once the store's writer commits them in batches (group commit)."""
    gate = runtime.require_gate()
    appender = runtime.store.appender
    document = _manifest(None)
    body = json.dumps(document).encode()
    total = iterations * 10
    before = (appender.batches, appender.entries, appender.busy_seconds)
    latencies: list[float] = []

    def work(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            assert gate.evaluate(body).allow
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(work, total // THREADS) for _ in range(THREADS)]:
            future.result()
    elapsed = time.perf_counter() - started
    batches = appender.batches - before[0]
    entries = appender.entries - before[1]
    busy = appender.busy_seconds - before[2]
    key = Ed25519PrivateKey.generate()
    floor = statistics.median(_floor(document, body[:600], key) for _ in range(iterations))
    print(f"\nReference manifests, {THREADS} threads at once, {entries} decisions in process")
    print_table(
        [
            "decisions/s",
            "p50 ms",
            "p99 ms",
            "entries/batch",
            "record/decision ms",
            "floor ms",
            "record/floor",
        ],
        [
            [
                f"{entries / elapsed:.0f}",
                f"{statistics.median(latencies) * 1e3:.2f}",
                f"{_percentile(latencies, 0.99) * 1e3:.2f}",
                f"{entries / batches:.1f}",
                f"{busy / entries * 1e3:.3f}",
                f"{floor * 1e3:.3f}",
                f"{busy / entries / floor:.2f}",
            ]
        ],
    )
    print("record/decision = the store writer's busy time (its transactions, lock waits and")
    print("fsync included) divided by the decisions it committed")
