"""HTTP load: ``release-gate serve`` and a real OPA server, driven by wrk.

Rows (``--rows``, default all):

  sqlite-1      gate, SQLite store, one uvicorn worker
  sqlite-2      the same with ``serve --workers 2`` (n/a when serve has no --workers)
  pg-1, pg-2    gate on a fresh PostgreSQL database, one and two workers
  pg-replicas   two ``serve`` processes on one PostgreSQL database, each driven
                by its own wrk with half the connections, summed
  opa           ``opa run --server`` on the same bundle, POSTed the policy input
                the gate builds for each manifest, at /v1/data/release/gate/decision
  healthz       GET /healthz on the sqlite-1 gate
  same-packet   the sqlite-1 gate, one packet evaluated ``--prior`` times first,
                then loaded with that packet only

Every gate request is a distinct approvable signed manifest (``--packets``,
cycled) and every answer is checked (status 200 and ``"allow":true``; for
/healthz ``"status":"ok"``). Runs are interleaved: each round runs every row
at every connection count once. Prints medians over rounds; ``--json`` for
machines. Progress goes to stderr. Run: ``python -m bench.load``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from bench import packets
from bench.gate_metrics import scrape
from bench.processes import find_opa
from bench.report import Cell, Cells, as_json, as_tables
from bench.rows import ROWS, Row, RowSetup
from bench.wrk import WrkResult, WrkRun, find_wrk, merge

__all__ = ["main"]

DEFAULT_PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WRK_MISSING = (
    "wrk not found. Install it with `make bench-deps` (Debian/Ubuntu: apt-get install -y wrk), "
    "or point RELEASE_GATE_BENCH_WRK_BIN at a wrk binary."
)


def _say(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    sys.stderr.write(f"[{stamp}] {message}\n")
    sys.stderr.flush()


def _split(connections: int, parts: int) -> list[int]:
    return [connections // parts + (1 if i < connections % parts else 0) for i in range(parts)]


def _measure(row: Row, wrk: str, connections: int, duration: int) -> WrkResult:
    shares = _split(connections, len(row.targets))
    runs: list[WrkRun] = []
    try:
        for i, (target, share) in enumerate(zip(row.targets, shares, strict=True)):
            offset = row.offset + i * target.count // len(row.targets)
            runs.append(
                WrkRun(
                    wrk,
                    target.url,
                    connections=share,
                    duration=duration,
                    expect=target.expect,
                    bodies=target.bodies,
                    offset=offset,
                )
            )
        result = merge([run.result() for run in runs])
    finally:
        for run in runs:
            run.kill()
    row.offset += result.answers
    return result


def _run_rounds(rows: Sequence[Row], wrk: str, args: argparse.Namespace) -> Cells:
    cells = {row.key: {c: Cell() for c in args.connections} for row in rows}
    live = [row for row in rows if row.status is None]
    for round_no in range(1, args.rounds + 1):
        for row in live:
            for connections in args.connections:
                cell = cells[row.key][connections]
                before = scrape(row.metrics)
                result = _measure(row, wrk, connections, args.duration)
                cell.times.add(scrape(row.metrics) - before)
                cell.rounds.append(result)
                flag = f", {result.failures} FAILED" if result.failures else ""
                _say(
                    f"round {round_no}/{args.rounds} {row.key} c{connections}: "
                    f"{result.rate:,.0f}/s p50 {result.percentile_ms(50):.1f} ms "
                    f"p99 {result.percentile_ms(99):.1f} ms{flag}"
                )
    return cells


def _warm_up(rows: Sequence[Row], wrk: str, seconds: int) -> None:
    for row in rows:
        if row.status is None and seconds > 0:
            result = _measure(row, wrk, 4, seconds)
            if result.failures:
                _say(f"warm-up {row.key}: {result.failures} failed: {result.first_failure}")


def _machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 (git from PATH)
        capture_output=True,
        text=True,
        cwd=packets.ROOT,
        check=False,
        timeout=30,
    ).stdout.strip()
    return {
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "commit": commit,
        "python": sys.version.split()[0],
    }


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="rows: " + ", ".join(ROWS),
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument(
        "--connections",
        type=lambda s: [int(c) for c in s.split(",")],
        default=[16, 4],
        help="connection counts, comma-separated (default 16,4)",
    )
    parser.add_argument(
        "--rows",
        type=lambda s: [r.strip() for r in s.split(",") if r.strip()],
        default=list(ROWS),
        help="comma-separated rows to run (default: all)",
    )
    parser.add_argument("--packets", type=int, default=3000, help="distinct packets (3000)")
    parser.add_argument("--prior", type=int, default=1000, help="same-packet prior decisions")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds per row (2)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("RELEASE_GATE_BENCH_DATABASE_URL", DEFAULT_PG_SERVER),
        help="a PostgreSQL server URL; each PostgreSQL row gets a fresh database on it, "
        "dropped on exit (default: $RELEASE_GATE_BENCH_DATABASE_URL or %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    unknown = [r for r in args.rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    if args.rounds < 1 or args.duration < 1 or min(args.connections) < 1 or args.packets < 1:
        parser.error("--rounds, --duration, --connections and --packets must be positive")
    return args


def _on_signal(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _hold_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 2 when wrk is missing, 130 when interrupted."""
    args = _parse_args(argv)
    wrk = find_wrk()
    if wrk is None:
        sys.stderr.write(WRK_MISSING + "\n")
        return 2
    # Ctrl-C and SIGTERM (even when started with SIGINT ignored, as a background job)
    # unwind through every clean-up below.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        return _run(args, wrk)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; every server and bench database was stopped\n")
        return 130


def _run(args: argparse.Namespace, wrk: str) -> int:
    meta = {
        **_machine(),
        "rounds": args.rounds,
        "duration_s": args.duration,
        "connections": args.connections,
        "packets": args.packets,
        "prior": args.prior,
    }
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rg-bench-load-")))
        setup = stack.enter_context(
            RowSetup(tmp, args=args, opa=find_opa(), say=_say, pg_server=args.database_url)
        )
        stack.callback(_hold_signals)  # runs first on the way out: let clean-up finish
        rows = setup.build(args.rows)
        _warm_up(rows, wrk, args.warmup)
        cells = _run_rounds(rows, wrk, args)
    meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print((as_json if args.json else as_tables)(rows, cells, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
