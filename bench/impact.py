"""Impact replay: ``release-gate policy impact`` over 10,000 recorded decisions.

Seeds a store with ``--decisions`` decisions made by the real decision path
(``Gate.evaluate``) and recorded through the store's append path, of reference
manifests (3 signatures, 2 objections, 4 evidence items; one packet each, the
incident timeline read between 30 minutes and 5 hours before), on governance
data of the benchmark's own. The candidate is the walkthrough's change
(docs/policy-authors.md): the timeline's maximum age from 21600 to 3600 s, so
about four in five approvals flip to deny. Then it runs the real command, as a
subprocess, ``--runs`` times per ``--jobs`` setting, and prints the wall time
(process start included) with the 1-minute load average as each run starts
(``--max-load L`` waits, at most ``--wait`` s, for the machine to quieten first).

Run: ``python -m bench.impact [--decisions 10000] [--runs 3]``; a PostgreSQL row
too with ``RELEASE_GATE_TEST_DATABASE_URL`` (a fresh schema, dropped after).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.config import Settings
from release_gate.keys.signing import write_private_key
from release_gate.runtime import build_runtime
from tests.databases import database_url, migrate
from tests.governance_data import demo_governance_doc, write_policies
from tests.helpers import DEFAULT_SIGNERS, base_manifest, sha256, sign


def _manifest(index: int, now: dt.datetime) -> bytes:
    document = copy.deepcopy(base_manifest(now))
    document["manifest_id"] = f"rm-bench-{index}"
    document["packet"] = {
        "id": f"PKT-BENCH-{index}",
        "revision": 1,
        "digest": sha256(f"bench packet {index}"),
        "supersedes_revision": None,
    }
    minutes = 30 + (index * 7) % 270  # the timeline read 30 min to 5 h before
    observed = now - dt.timedelta(minutes=minutes)
    document["evidence"][0]["observed_at"] = observed.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(sign(document, *DEFAULT_SIGNERS)).encode()


def _seed(settings: Settings, count: int) -> float:
    """``count`` decisions, each of its own manifest; seconds taken.

    Each is decided by the real decision path (``Gate.evaluate``) at one instant,
    as a dry run, and then recorded through the store's own append path (the
    group-commit writer, 32 callers at once), so the seeding pays for batched
    commits rather than one fsync per decision. (A dry run mints no token, so
    these allows have none; the replay does not read tokens.)
    """
    runtime = build_runtime(settings)
    gate, store = runtime.require_gate(), runtime.store
    assert store is not None
    now = dt.datetime.now(dt.UTC)
    now_ns = int(now.timestamp()) * 1_000_000_000
    started = time.perf_counter()
    try:
        decisions = [gate.evaluate(_manifest(i, now), now_ns=now_ns) for i in range(count)]
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda d: store.append(d, expected_facts=None), decisions))
    finally:
        runtime.close()
    return time.perf_counter() - started


def _candidate(current: Path, target: Path) -> Path:
    data = demo_governance_doc()
    data["lanes"]["exec-customer-review"]["max_evidence_age_seconds"]["incident_timeline"] = 3600
    write_policies(target, data)
    manifest = json.loads((current / ".manifest").read_text(encoding="utf-8"))
    (target / ".manifest").write_text(json.dumps({**manifest, "revision": "bench-candidate"}))
    return target


def _impact(candidate: Path, url: str, jobs: int) -> tuple[float, dict[str, Any]]:
    command = [
        str(Path(sys.executable).with_name("release-gate")),
        "policy",
        "impact",
        "--candidate",
        str(candidate),
        "--database-url",
        url,
        "--format",
        "json",
        "--jobs",
        str(jobs),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELEASE_GATE_")}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 (our own CLI, fixed arguments)
        command, env=env, capture_output=True, check=False, timeout=600
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"policy impact exited {done.returncode}: {done.stdout!r}")
    report: dict[str, Any] = json.loads(done.stdout)
    return seconds, report


def _quiet(max_load: float | None, wait: float) -> float:
    """The 1-minute load average as a run starts; with ``max_load``, first wait (at most
    ``wait`` s) until it is below that."""
    deadline = time.monotonic() + wait
    while max_load is not None and os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def _run(backend: str, args: argparse.Namespace, tmp: Path) -> list[str]:
    policies = write_policies(tmp / f"{backend}-policies", demo_governance_doc())
    candidate = _candidate(policies, tmp / f"{backend}-candidate")
    key = tmp / f"{backend}.pem"
    write_private_key(key, Ed25519PrivateKey.generate(), force=True)
    rows = []
    with ExitStack() as stack:
        url = stack.enter_context(database_url(backend, tmp / backend))
        migrate(url)
        settings = Settings(
            policies=policies,
            state_dir=tmp / f"{backend}-state",
            signing_key_file=key,
            database_url=url,
        )
        seeded = _seed(settings, args.decisions)
        print(f"{backend}: seeded {args.decisions:,} decisions in {seeded:.1f} s", flush=True)
        for jobs in args.jobs:
            times, loads, report = [], [], {}
            for _ in range(args.runs):
                loads.append(_quiet(args.max_load, args.wait))
                seconds, report = _impact(candidate, url, jobs)
                times.append(seconds)
            load = " / ".join(f"{x:.2f}" for x in loads)
            rows.append(
                f"| {backend} | {report['decisions']:,} | {jobs} | {statistics.median(times):.2f} "
                f"| {min(times):.2f} | {max(times):.2f} | {report['allow_to_deny']:,} | {load} |"
            )
            print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[os.cpu_count() or 1, 1])
    parser.add_argument(
        "--max-load",
        type=float,
        help="before each run, wait until the 1-minute load average is below this",
    )
    parser.add_argument("--wait", type=float, default=600.0, help="at most this long (s)")
    args = parser.parse_args()
    backends = ["sqlite"] + (
        ["postgresql"] if os.environ.get("RELEASE_GATE_TEST_DATABASE_URL") else []
    )
    print(f"cpus={os.cpu_count()}, load average at start: {os.getloadavg()}")
    print("| store | decisions | jobs | median s | min s | max s | allow -> deny | load at start |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            _run(backend, args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
