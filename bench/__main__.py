"""``python -m bench [--iterations N]``: the in-process benchmarks, printed as tables.

``--only load`` runs the HTTP load benchmark instead (``bench/load.py``, which
needs wrk); the arguments after it go to it, e.g.
``python -m bench --only load --rounds 1 --duration 3``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench import decision, engines, load


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--iterations", type=int, default=300, help="decisions per size")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each engine run")
    parser.add_argument("--opa-url", default=os.environ.get("RELEASE_GATE_BENCH_OPA_URL"))
    parser.add_argument(
        "--only",
        choices=["decision", "engines", "load"],
        help="run one benchmark (load: python -m bench.load, not part of the default run)",
    )
    args, rest = parser.parse_known_args()
    if args.only == "load":
        return load.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.only in (None, "decision"):
        decision.run(iterations=args.iterations)
    if args.only in (None, "engines"):
        with tempfile.TemporaryDirectory() as state:
            engines.run(opa_url=args.opa_url, seconds=args.seconds, state=Path(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
