"""Decisions per second with the durable record: SQLite and PostgreSQL, one and two replicas.

Real ``release-gate serve`` processes (uvicorn), a migrated store, and a
threaded HTTP client posting an approvable manifest (so every request takes
the full path: facts, evaluate, mint, serialized chained append, commit).
Prints a table. Run: ``python -m bench.store [--seconds 5] [--clients 16]``;
PostgreSQL rows need ``RELEASE_GATE_TEST_DATABASE_URL`` (each run uses a fresh
schema, dropped afterwards). The gates run the repository's rules with the tests'
governance data (``tests/governance.py``), which approves the manifest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.keys.signing import write_private_key
from tests.databases import database_url, migrate
from tests.governance import write_bundle
from tests.helpers import DEFAULT_SIGNERS, base_manifest, sign
from tests.store._server import serve


def _drive(urls: list[str], body: bytes, seconds: float, clients: int) -> tuple[int, list[float]]:
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + seconds

    def worker(url: str) -> None:
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = client.post(
                    url + "/v1/evaluate", content=body, headers={"content-type": "application/json"}
                )
                if response.status_code == 200 and response.json()["token"]:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=(urls[i % len(urls)],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors[0], latencies


def _run(backend: str, replicas: int, args: argparse.Namespace, tmp: Path) -> str:
    key = tmp / f"{backend}-{replicas}.pem"
    write_private_key(key, Ed25519PrivateKey.generate(), force=True)
    body = json.dumps(sign(base_manifest(), *DEFAULT_SIGNERS)).encode()
    policies = write_bundle(tmp / f"policies-{backend}-{replicas}")
    with ExitStack() as stack:
        url = stack.enter_context(database_url(backend, tmp / f"{backend}-{replicas}"))
        migrate(url)
        gates = [
            stack.enter_context(
                serve(url, key, tmp / f"state-{backend}-{replicas}-{i}", policies=policies)
            )
            for i in range(replicas)
        ]
        _drive([g.url for g in gates], body, 1.0, args.clients)  # warm-up
        errors, latencies = _drive([g.url for g in gates], body, args.seconds, args.clients)
    rate = len(latencies) / args.seconds
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    return f"| {backend} | {replicas} | {rate:7.1f} | {p50:6.1f} | {p99:6.1f} | {errors} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    backends = ["sqlite"] + (
        ["postgresql"] if os.environ.get("RELEASE_GATE_TEST_DATABASE_URL") else []
    )
    print(f"{args.clients} concurrent clients, {args.seconds:g} s per row, cpus={os.cpu_count()}")
    print("| store | replicas | decisions/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            for replicas in (1, 2):
                print(_run(backend, replicas, args, Path(tmp)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
