"""The packet pages: a packet with 1,000 decisions, read from the store and rendered.

The real app in-process (``TestClient``: routing, auth, the story's store reads,
Jinja rendering, headers), on a store seeded through the real decision path:
one packet in one lane with ``--decisions`` decisions (per revision seven
approvals, each superseding the revisions below and so revoking their tokens,
and three denials; every tenth revision held and released), plus the list of
recent packets. Prints median, p95 and max of ``--requests`` page loads after
a warm-up, and the store read and the rendering timed apart. Run:
``python -m bench.ui [--decisions 1000] [--requests 30]``; a PostgreSQL row
too with ``RELEASE_GATE_TEST_DATABASE_URL`` (a fresh schema, dropped after).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.api.ui.render import RuleBook, make_environment
from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.keys.signing import write_private_key
from release_gate.runtime import build_runtime
from release_gate.store.story import read_packet_story
from tests.databases import database_url, migrate
from tests.ui._scenario import ApiKeys, Trust, manifest, objection, write_api_keys, write_trust

PACKET = "PKT-BENCH-1"


def _seed(client: TestClient, trust: Trust, keys: ApiKeys, decisions: int) -> None:
    evaluate = {"content-type": "application/json", **keys.bearer("evaluator")}
    owner = keys.bearer("release_owner")
    accepted = [objection("OBJ-1", "Restoration wording disputed", rationale="Caveat shown.")]
    for i in range(decisions):
        revision, step = 1 + i // 10, i % 10
        signers = ("owner", "comms") if step in (3, 6, 9) else ("owner", "comms", "cs")
        document = manifest(
            trust, revision=revision, packet_id=PACKET, objections=accepted, signers=signers
        )
        response = client.post("/v1/evaluate", content=json.dumps(document), headers=evaluate)
        assert response.status_code == 200, response.text
        if step == 5 and revision % 10 == 0:
            hold = {"packet_id": PACKET, "revision": revision, "reason": "scope check"}
            placed = client.post("/v1/holds", json=hold, headers=owner).json()
            client.delete(f"/v1/holds/{placed['hold_id']}", headers=owner)


def _times(action: Callable[[], Any], requests: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each of ``requests`` calls."""
    action()  # warm-up: templates compiled, caches filled
    wall, cpu = [], []
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def _row(name: str, backend: str, samples: tuple[list[float], list[float]]) -> str:
    wall, cpu = samples
    p95 = statistics.quantiles(wall, n=20)[-1]
    return (
        f"| {name} | {backend} | {statistics.median(wall):.1f} | {p95:.1f} "
        f"| {max(wall):.1f} | {statistics.median(cpu):.1f} |"
    )


def _run(backend: str, args: argparse.Namespace, tmp: Path) -> list[str]:
    trust = write_trust(tmp / f"{backend}-policies")
    keys = write_api_keys(tmp / f"{backend}-keys.json")
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
        client = stack.enter_context(TestClient(create_app(settings, runtime=runtime)))
        started = time.perf_counter()
        _seed(client, trust, keys, args.decisions)
        seconds = time.perf_counter() - started
        print(f"{backend}: seeded {args.decisions} decisions in {seconds:.1f} s")
        auditor = keys.bearer("auditor")

        def page() -> None:
            response = client.get(f"/ui/packets/{PACKET}", headers=auditor)
            assert response.status_code == 200
            assert response.text.count('class="decision ') == args.decisions

        assert runtime.store is not None
        db, env, book = runtime.store.db, make_environment(), RuleBook().load(runtime.bundle)
        story = read_packet_story(db, PACKET, now_s=int(time.time()))
        context = {"story": story, "rules": book, "cursor": None, "superseded": {},
                   "viewer": None, "auth_off_banner": None, "form_token": None}  # fmt: skip
        template = env.get_template("packet.html")
        n = args.requests
        return [
            _row(f"GET /ui/packets/{{id}}, {args.decisions} decisions", backend, _times(page, n)),
            _row("&nbsp;&nbsp;store read (the story)", backend,
                 _times(lambda: read_packet_story(db, PACKET, now_s=int(time.time())), n)),
            _row("&nbsp;&nbsp;rendering (the template)", backend,
                 _times(lambda: template.render(**context), n)),
            _row("GET /ui/ (the list)", backend,
                 _times(lambda: client.get("/ui/", headers=auditor), n)),
        ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ui", description=__doc__)
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
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
            rows += _run(backend, args, Path(tmp))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
