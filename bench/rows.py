"""The load benchmark's rows: which servers each drives, and how they are set up.

:class:`RowSetup` writes the bench bundle and request bodies, starts the
servers the chosen rows need (sharing the SQLite one-worker gate between its
row, /healthz and the same-packet row), checks each peer allows an approvable
request and denies an unapprovable one (so ``"allow":true`` in an answer means
the policy ran), and stops everything on exit. A row that cannot run here gets
a status (``n/a (...)``) instead of failing the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
from sqlalchemy.exc import OperationalError

from bench import packets
from bench.processes import (
    Server,
    Servers,
    ServeUnsupported,
    db_upgrade,
    gate_env,
    pg_database,
    serve_has_workers,
)

__all__ = ["ROWS", "Row", "RowSetup", "Target"]

#: key -> (store, workers, replicas) for the gate rows; the others are special.
_GATES: dict[str, tuple[str, int, int]] = {
    "sqlite-1": ("sqlite", 1, 1),
    "sqlite-2": ("sqlite", 2, 1),
    "pg-1": ("postgresql", 1, 1),
    "pg-2": ("postgresql", 2, 1),
    "pg-replicas": ("postgresql", 1, 2),
}
ROWS: dict[str, str] = {
    "sqlite-1": "SQLite, 1 worker",
    "sqlite-2": "SQLite, 2 workers",
    "pg-1": "PostgreSQL, 1 worker",
    "pg-2": "PostgreSQL, 2 workers",
    "pg-replicas": "PostgreSQL, 2 replicas",
    "opa": "OPA on the gate's policy",
    "healthz": "gate GET /healthz",
    "same-packet": "same packet, {prior:,} prior (SQLite, 1 worker)",
}
_ALLOW = '"allow":true'
_EVALUATE = "/v1/evaluate"
_OPA_DECISION = "/v1/data/release/gate/decision"


@dataclass(frozen=True, slots=True)
class Target:
    """What one wrk process drives: a URL, the bodies it cycles, the text it expects."""

    url: str
    expect: str
    bodies: Path | None
    count: int = 1


@dataclass
class Row:
    key: str
    label: str
    targets: list[Target] = field(default_factory=list)
    status: str | None = None  # why the row cannot run here; None when it runs
    offset: int = 0  # the next body, so each run continues where the last stopped
    metrics: list[str] = field(default_factory=list)  # the gates whose /metrics to read


@dataclass(frozen=True, slots=True)
class _Files:
    bundle: Path
    gate_bodies: Path
    same_packet: Path
    approve_probe: bytes
    deny_probe: bytes


class RowSetup:
    """Builds the rows, owns their servers and databases; a context manager."""

    def __init__(
        self,
        tmp: Path,
        *,
        args: argparse.Namespace,
        opa: str | None,
        pg_server: str,
        say: Callable[[str], None],
    ) -> None:
        self._tmp = tmp
        self._args = args
        self._opa = opa
        self._pg_server = pg_server
        self._say = say
        self._stack = ExitStack()  # databases, dropped after the servers stop
        logs = tmp / "logs"
        logs.mkdir()
        self._servers = Servers(logs)
        self._gates: dict[str, list[Server]] = {}
        self._workers: bool | None = None
        self._files: _Files | None = None
        self._signers = packets.make_signers()
        self._now = dt.datetime.now(dt.UTC)

    def __enter__(self) -> RowSetup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._servers.close()
        finally:
            self._stack.close()

    def build(self, keys: Sequence[str]) -> list[Row]:
        self._files = self._write_files()
        return [self._row(key) for key in keys]

    def _row(self, key: str) -> Row:
        label = ROWS[key].format(prior=self._args.prior)
        self._say(f"setting up {key}")
        try:
            if key in _GATES:
                gates = self._gate(key)
                targets = [self._gate_target(g) for g in gates]
                # /metrics is per process: with N workers a scrape answers from
                # whichever worker accepts it, so before/after differences would
                # mix workers. Only single-worker gates get a stage breakdown.
                single = _GATES[key][1] == 1
                return Row(key, label, targets, metrics=[g.url for g in gates] if single else [])
            if key == "opa":
                return self._opa_row(label)
            if key == "healthz":
                (gate,) = self._gate("sqlite-1")
                return Row(key, label, [Target(gate.url + "/healthz", '"status":"ok"', None)])
            return self._same_packet_row(label)
        except ServeUnsupported as exc:
            return Row(key, label, status=f"n/a ({exc})")
        except OperationalError as exc:
            self._say(f"{key}: PostgreSQL unreachable: {exc.orig}")
            return Row(key, label, status="n/a (no PostgreSQL: see --database-url)")

    def _write_files(self) -> _Files:
        self._say(f"signing {self._args.packets:,} manifests with run-time Ed25519 keys")
        bundle = packets.write_bundle(self._tmp / "bundle", self._signers)
        bodies = [packets.manifest(i, self._signers, self._now) for i in range(self._args.packets)]
        same = packets.manifest(self._args.packets, self._signers, self._now)
        return _Files(
            bundle=bundle,
            gate_bodies=packets.write_bodies(self._tmp / "gate-bodies.jsonl", bodies),
            same_packet=packets.write_bodies(self._tmp / "same-packet.jsonl", [same]),
            approve_probe=packets.manifest(self._args.packets + 1, self._signers, self._now),
            deny_probe=packets.manifest(
                self._args.packets + 2, self._signers, self._now, signed_by=self._signers[:2]
            ),
        )

    def _gate_target(self, gate: Server) -> Target:
        assert self._files is not None
        return Target(gate.url + _EVALUATE, _ALLOW, self._files.gate_bodies, self._args.packets)

    def _gate(self, key: str) -> list[Server]:
        if key in self._gates:
            return self._gates[key]
        assert self._files is not None
        store, workers, replicas = _GATES[key]
        if workers > 1 and not self._serve_has_workers():
            raise ServeUnsupported("serve has no --workers")
        state = self._tmp / key
        state.mkdir()
        if store == "sqlite":
            url = f"sqlite:///{state / 'decisions.db'}"
        else:
            url = self._stack.enter_context(pg_database(self._pg_server))
        env = gate_env(bundle=self._files.bundle, state_dir=state, database_url=url)
        db_upgrade(env, state / "db-upgrade.log")
        gates = []
        for i in range(replicas):  # one after the other: the first creates the dev key
            name = key if replicas == 1 else f"{key}-{i + 1}"
            gate = self._servers.start_gate(name, env=env, workers=workers)
            self._check(gate.url + _EVALUATE, self._files.approve_probe, self._files.deny_probe)
            gates.append(gate)
        self._gates[key] = gates
        return gates

    def _serve_has_workers(self) -> bool:
        if self._workers is None:
            self._workers = serve_has_workers()
        return self._workers

    def _opa_row(self, label: str) -> Row:
        assert self._files is not None
        if self._opa is None:
            return Row(
                "opa",
                label,
                status="n/a (no opa: set RELEASE_GATE_BENCH_OPA_BIN to an OPA binary, "
                "or put opa on PATH)",
            )
        version = _opa_version(self._opa)
        opa = self._servers.start_opa(self._opa, self._files.bundle)
        gate_bodies = self._files.gate_bodies.read_bytes().splitlines()
        inputs = packets.opa_bodies(gate_bodies, bundle=self._files.bundle, now_ns=time.time_ns())
        path = packets.write_bodies(self._tmp / "opa-bodies.jsonl", inputs)
        probes = packets.opa_bodies(
            [self._files.approve_probe, self._files.deny_probe],
            bundle=self._files.bundle,
            now_ns=time.time_ns(),
        )
        self._check(opa.url + _OPA_DECISION, *probes)
        target = Target(opa.url + _OPA_DECISION, _ALLOW, path, len(inputs))
        return Row("opa", f"OPA {version} on the gate's policy", [target])

    def _same_packet_row(self, label: str) -> Row:
        assert self._files is not None
        (gate,) = self._gate("sqlite-1")
        body = self._files.same_packet.read_bytes().strip()
        prior = self._args.prior
        self._say(f"same-packet: evaluating one packet {prior:,} times first")
        url = gate.url + _EVALUATE
        with ThreadPoolExecutor(4) as pool, httpx.Client(timeout=30) as client:
            answers = list(pool.map(lambda _: _post(client, url, body), range(prior)))
        denied = [text for status, text in answers if status != 200 or _ALLOW not in text]
        if denied:
            return Row("same-packet", label, status=f"preparation failed: {denied[0][:200]}")
        target = Target(url, _ALLOW, self._files.same_packet)
        return Row("same-packet", label, [target], metrics=[gate.url])

    def _check(self, url: str, approve: bytes, deny: bytes) -> None:
        """The peer allows an approvable body and denies an unapprovable one."""
        with httpx.Client(timeout=30) as client:
            allowed, denied = _post(client, url, approve), _post(client, url, deny)
        if allowed[0] != 200 or _ALLOW not in allowed[1] or '"allow":false' not in denied[1]:
            raise RuntimeError(
                f"{url} did not decide as expected: approvable -> {allowed}; "
                f"unapprovable -> {denied}"
            )


def _post(client: httpx.Client, url: str, body: bytes) -> tuple[int, str]:
    response = client.post(url, content=body, headers={"content-type": "application/json"})
    return response.status_code, response.text[:300]


def _opa_version(opa: str) -> str:
    out = subprocess.run(  # noqa: S603 (the configured OPA binary, fixed arguments)
        [opa, "version"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for line in out.splitlines():
        if line.startswith("Version:"):
            return "v" + line.split(":", 1)[1].strip()
    return "(unknown version)"
