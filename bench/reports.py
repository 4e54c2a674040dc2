"""Lane reports on a store of 100,000 decisions: ``GET /v1/reports/lanes/{lane}``.

The store is seeded through its own append path (``DecisionStore.append``,
``OutcomeStore.record``, ``EvidenceStore.record``: the chain, the state and the
report rows exactly as the gate writes them, batched by the group-commit writer
under many threads) with ``--decisions`` decisions, all in the reported lane
(the worst case: the default 30-day window holds every one of them), spread
over the last 29 days. Per packet, five decisions 1 to 20 minutes apart: two
denials (missing signer and an unaccepted objection; then stale evidence, or
for one packet in ten an agent's signature, for one in twenty an action out of
scope), the approval of revision 1, the approval of revision 2 (which revokes
the first token: ``superseded``) and a denial of revision 1 (``packet.superseded``).
Three in five revision-2 tokens get an intake outcome (one in five of those
returned, with findings); one packet in twenty gets a material evidence event
(``evidence.changed``); failed verifications are one per ten decisions (a plain
count table, bulk-inserted). On PostgreSQL it then runs ``VACUUM ANALYZE`` on the
tables the report reads, as autovacuum does on a running store (a table just
bulk-loaded has no visibility map yet, so every index-only scan would also read
the table; ``--no-vacuum`` shows that case). Then it times ``--requests`` report requests through
the real app (``TestClient``: routing, the auditor's key, the store's aggregates,
JSON), and the store's query alone. Prints the load average before and after.

    python -m bench.reports [--decisions 100000] [--requests 30]

A PostgreSQL row too with ``RELEASE_GATE_TEST_DATABASE_URL`` (a fresh schema,
dropped after).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, text

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.decision.model import Basis, Decision, Facts, PacketRef, PolicyRef, Violation
from release_gate.keys.signing import write_private_key
from release_gate.runtime import build_runtime
from release_gate.store import Store
from release_gate.store.evidence import EvidenceEvent
from release_gate.store.outcomes import IntakeOutcome
from release_gate.store.reports import Window, lane_report
from release_gate.store.schema import VerifyFailureRow
from release_gate.timestamps import format_ns
from tests.databases import database_url, migrate
from tests.feedback._world import LANE, keys_file, write_trust

MINUTE_NS = 60 * 1_000_000_000
SPAN_NS = 29 * 24 * 60 * MINUTE_NS
DECISIONS_PER_PACKET = 5
POLICY = PolicyRef(revision="bench", digest="sha256:" + "b" * 64)


def _sha(text: str) -> str:
    return "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, text).hex * 2


def _manifest(packet: str, revision: int) -> str:
    """A manifest's text as the store keeps it (the report never reads it; the state
    reads its evidence)."""
    evidence = [
        {
            "id": f"EV-{source}",
            "ref": f"{source}/{packet}",
            "source": source,
            "digest": _sha(f"{source}/{packet}"),
            "observed_at": "2026-11-26T08:00:00Z",
        }
        for source in ("incident_timeline", "case_management")
    ]
    return json.dumps(
        {"manifest_version": "1", "packet": {"id": packet, "revision": revision},
         "lane": LANE, "evidence": evidence, "signatures": []}
    )  # fmt: skip


def _decision(packet: str, revision: int, at_ns: int, codes: tuple[str, ...]) -> Decision:
    decision_id = str(uuid.uuid4())
    allow = not codes
    return Decision(
        decision_id=decision_id,
        allow=allow,
        manifest_digest=_sha(f"{packet}@{revision}/{decision_id}"),
        packet=PacketRef(id=packet, revision=revision, digest=_sha(f"{packet}@{revision}")),
        lane=LANE,
        policy=POLICY,
        violations=tuple(Violation(c, f"{c} on {packet}", "") for c in codes),
        warnings=(),
        token=None,
        token_expires_at=int(time.time()) + 86400 if allow else None,
        evaluated_at=format_ns(at_ns),
        basis=Basis(
            manifest_id=f"rm-{packet}-{revision}",
            manifest_text=_manifest(packet, revision),
            supersedes_revision=revision - 1 if revision > 1 else None,
            accepted_objections=(),
            facts=Facts(),
            engine="regorus",
            evaluated_at_ns=at_ns,
        ),
    )


def _second_denial(k: int) -> tuple[str, ...]:
    if k % 20 == 0:
        return ("lane.action_out_of_scope",)
    if k % 10 == 0:
        return ("signers.agent_not_permitted", "signers.missing_role")
    return ("evidence.stale",)


def _packet(store: Store, k: int, start_ns: int) -> str:
    """One packet's five decisions, in order; returns its revision-2 token."""
    packet = f"PKT-BENCH-{k:06d}"
    plan = [
        (1, ("objections.unaccepted", "signers.missing_role")),
        (1, _second_denial(k)),
        (1, ()),
        (2, ()),
        (1, ("packet.superseded",)),
    ]
    token = ""
    gap = (1 + k * 7 % 20) * MINUTE_NS  # 1 to 20 minutes between a packet's decisions
    for step, (revision, codes) in enumerate(plan):
        decision = _decision(packet, revision, start_ns + step * gap, codes)
        store.decisions.append(decision, expected_facts=None)
        token = decision.decision_id if revision == 2 else token
    return token


def _outcome(k: int, token: str) -> IntakeOutcome | None:
    if k % 5 in (3, 4):
        return None
    if k % 5 == 2:
        return IntakeOutcome(token, "returned", ("stale_evidence", "wrong_audience"), None)
    return IntakeOutcome(token, "accepted", (), None)


def seed(store: Store, decisions: int, *, threads: int = 32) -> None:
    now = time.time_ns()
    packets = decisions // DECISIONS_PER_PACKET
    step = (SPAN_NS - DECISIONS_PER_PACKET * 20 * MINUTE_NS) // max(packets, 1)
    start = now - SPAN_NS

    def one(k: int) -> None:
        token = _packet(store, k, start + k * step)
        outcome = _outcome(k, token)
        if outcome is not None:
            store.outcomes.record(outcome, actor="bench-intake", now_ns=time.time_ns())
        if k % 20 == 7:
            changed = EvidenceEvent(
                "incident_timeline", f"incident_timeline/PKT-BENCH-{k:06d}",
                _sha(f"changed {k}"), format_ns(time.time_ns()), True, None,
            )  # fmt: skip
            store.evidence.record(changed, actor="bench-timeline", now_ns=time.time_ns())

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(one, range(packets)):
            pass
    rows = [
        {"lane": LANE, "reason": ("token.revoked", "token.wrong_audience")[i % 2],
         "at_ns": start + i * (SPAN_NS // max(decisions // 10, 1))}
        for i in range(decisions // 10)
    ]  # fmt: skip
    with store.db.engine.begin() as conn:
        conn.execute(insert(VerifyFailureRow), rows)


def _times(action: Callable[[], Any], requests: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each of ``requests`` calls."""
    action()  # warm-up
    wall, cpu = [], []
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def _row(name: str, backend: str, samples: tuple[list[float], list[float]]) -> str:
    wall, cpu = samples
    p95 = statistics.quantiles(wall, n=20, method="inclusive")[-1]
    return (
        f"| {name} | {backend} | {statistics.median(wall):.1f} | {p95:.1f} "
        f"| {max(wall):.1f} | {statistics.median(cpu):.1f} |"
    )


_REPORTED = (
    "decisions",
    "decision_codes",
    "packet_state",
    "intake_outcomes",
    "revocations",
    "verify_failures",
)


def _vacuum(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for table in _REPORTED:
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    finally:
        engine.dispose()
    print("postgresql: VACUUM ANALYZE done (what autovacuum does on a running store)")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def _run(backend: str, args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    trust = write_trust(tmp / f"{backend}-policies")
    keys = keys_file(tmp / f"{backend}-keys.json")
    key_file = tmp / f"{backend}.pem"
    write_private_key(key_file, Ed25519PrivateKey.generate(), force=True)
    with ExitStack() as stack:
        url = stack.enter_context(database_url(backend, tmp))
        migrate(url)
        settings = Settings(
            policies=trust.policies,
            state_dir=tmp / "state",
            signing_key_file=key_file,
            database_url=url,
            api_keys=keys.path,
        )
        runtime = build_runtime(settings)
        stack.callback(runtime.close)
        assert runtime.store is not None
        started = time.perf_counter()
        seed(runtime.store, args.decisions)
        seconds = time.perf_counter() - started
        print(f"{backend}: seeded {args.decisions} decisions in {seconds:.1f} s")
        if backend == "postgresql" and not args.no_vacuum:
            _vacuum(url)
        client = stack.enter_context(TestClient(create_app(settings, runtime=runtime)))
        auditor = keys.bearer("auditor")
        path = f"/v1/reports/lanes/{LANE}"
        report = client.get(path, headers=auditor).json()
        assert report["decisions"]["allow"] + report["decisions"]["deny"] == args.decisions, report
        print(f"{backend}: {json.dumps(report)}")
        db, now = runtime.store.db, time.time_ns()
        week = {"since": format_ns(now - 7 * 24 * 60 * MINUTE_NS)}
        print(f"{backend}: timing, {_load()}")
        n = args.requests
        yield _row(
            f"GET {path} (30 days: {args.decisions:,} decisions)",
            backend,
            _times(lambda: client.get(path, headers=auditor), n),
        )
        yield _row(
            "&nbsp;&nbsp;the store's aggregates alone",
            backend,
            _times(lambda: lane_report(db, LANE, Window.of(now - SPAN_NS - MINUTE_NS, now)), n),
        )
        yield _row("GET ... ?since=7 days ago", backend,
                   _times(lambda: client.get(path, headers=auditor, params=week), n))  # fmt: skip
        print(f"{backend}: done, {_load()}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--no-vacuum", action="store_true", help="skip VACUUM ANALYZE")
    args = parser.parse_args()
    rows = [
        "| what | store | median ms | p95 ms | max ms | CPU median ms |",
        "|---|---|---|---|---|---|",
    ]
    backends = ["sqlite"]
    if os.environ.get("RELEASE_GATE_TEST_DATABASE_URL"):
        backends.append("postgresql")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            rows += list(_run(backend, args, Path(tmp)))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
