"""``python -m bench [--iterations N]``: every benchmark, printed as tables."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench import decision, engines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--iterations", type=int, default=300, help="decisions per size")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each engine run")
    parser.add_argument("--opa-url", default=os.environ.get("RELEASE_GATE_BENCH_OPA_URL"))
    parser.add_argument("--only", choices=["decision", "engines"], help="run one benchmark")
    args = parser.parse_args()
    if args.only in (None, "decision"):
        decision.run(iterations=args.iterations)
    if args.only in (None, "engines"):
        with tempfile.TemporaryDirectory() as state:
            engines.run(opa_url=args.opa_url, seconds=args.seconds, state=Path(state))


if __name__ == "__main__":
    main()
