"""The load benchmark's results: medians over rounds, as Markdown tables or JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.gate_metrics import STAGES, StageTimes
from bench.rows import Row
from bench.wrk import WrkResult

__all__ = ["Cell", "Cells", "as_json", "as_tables"]


@dataclass
class Cell:
    """One row at one connection count: a result per round, and the gate's own timings."""

    rounds: list[WrkResult] = field(default_factory=list)
    times: StageTimes = field(default_factory=StageTimes)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.rounds)

    def median(self, what: str) -> float:
        values = [
            r.rate if what == "rate" else r.percentile_ms(50 if what == "p50" else 99)
            for r in self.rounds
        ]
        return statistics.median(values) if values else float("nan")


#: row key -> connections -> cell
Cells = dict[str, dict[int, Cell]]


def _round_json(r: WrkResult) -> dict[str, Any]:
    return {
        "decisions_per_s": r.rate,
        "p50_ms": r.percentile_ms(50),
        "p99_ms": r.percentile_ms(99),
        "answers": r.answers,
        "failures": r.failures,
        "first_failure": r.first_failure,
    }


def _cell_json(cell: Cell) -> dict[str, Any]:
    out: dict[str, Any] = {
        "decisions_per_s": cell.median("rate"),
        "p50_ms": cell.median("p50"),
        "p99_ms": cell.median("p99"),
        "failures": cell.failures,
        "rounds": [_round_json(r) for r in cell.rounds],
    }
    if cell.times.decisions > 0:
        out["gate_mean_ms"] = {
            "decision": cell.times.mean_ms(),
            **{stage: cell.times.mean_ms(stage) for stage in STAGES},
        }
    return out


def as_json(rows: Sequence[Row], cells: Cells, meta: dict[str, Any]) -> str:
    out = {
        **meta,
        "rows": [
            {
                "row": row.key,
                "label": row.label,
                "status": row.status,
                **{f"c{c}": _cell_json(cell) for c, cell in cells[row.key].items()},
            }
            for row in rows
        ],
    }
    return json.dumps(out, indent=2)


def _fmt_cell(cell: Cell) -> list[str]:
    if not cell.rounds:
        return ["n/a"] * 3
    mark = " !" if cell.failures else ""
    return [
        f"{cell.median('rate'):,.0f}{mark}",
        f"{cell.median('p50'):.1f}",
        f"{cell.median('p99'):.1f}",
    ]


def _results_table(rows: Sequence[Row], cells: Cells, conns: Sequence[int]) -> list[str]:
    head = ["row"]
    for c in conns:
        head += [f"c{c} decisions/s", f"c{c} p50 ms", f"c{c} p99 ms"]
    head.append("failures")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for row in rows:
        if row.status is not None:
            lines.append(f"| {row.label} | {row.status} |" + " |" * (len(head) - 2))
            continue
        row_cells = [cells[row.key][c] for c in conns]
        values = [v for cell in row_cells for v in _fmt_cell(cell)]
        failures = sum(cell.failures for cell in row_cells)
        shown = f"**{failures} FAILED**" if failures else "0"
        lines.append(f"| {row.label} | " + " | ".join(values) + f" | {shown} |")
        if failures:
            first = next(
                (r.first_failure for c in row_cells for r in c.rounds if r.first_failure), None
            )
            notes.append(f"{row.key}: first failure: {first or 'no answer (socket error)'}")
    return lines + (["", *notes] if notes else [])


def _times_table(rows: Sequence[Row], cells: Cells, conns: Sequence[int]) -> list[str]:
    head = ["row", "conns", "HTTP mean ms", "decision mean ms", *STAGES, "outside the decision"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        for c in conns:
            cell = cells[row.key][c]
            if cell.times.decisions <= 0 or not cell.rounds:
                continue
            # Little's law on a closed loop: mean time in system = connections / throughput
            http_ms = c / statistics.mean(r.rate for r in cell.rounds) * 1000
            decision = cell.times.mean_ms()
            stages = [f"{cell.times.mean_ms(s):.2f}" for s in STAGES]
            lines.append(
                f"| {row.label} | {c} | {http_ms:.1f} | {decision:.1f} | "
                + " | ".join(stages)
                + f" | {http_ms - decision:.1f} |"
            )
    return lines if len(lines) > 2 else []


def as_tables(rows: Sequence[Row], cells: Cells, meta: dict[str, Any]) -> str:
    conns = meta["connections"]
    header = (
        f"{meta['time']}, nproc {meta['nproc']}, load average {meta['loadavg_start']} at start "
        f"and {meta['loadavg_end']} at the end, commit {meta['commit']}; "
        f"{meta['rounds']} rounds of {meta['duration_s']} s per row and connection count, "
        f"one wrk thread, {meta['packets']:,} distinct packets; medians over rounds "
        "(! marks a row with failures)."
    )
    times = _times_table(rows, cells, conns)
    out = [header, "", *_results_table(rows, cells, conns)]
    if times:
        out += [
            "",
            "Where the gate's time goes (means over all rounds, ms per decision, from its "
            "/metrics; HTTP mean = connections / decisions per second; rows with 2 workers "
            "are left out: /metrics is per worker process):",
            "",
            *times,
        ]
    return "\n".join(out)
