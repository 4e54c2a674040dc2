"""``python -m bench [--iterations N]``: every benchmark, printed as tables."""

from __future__ import annotations

import argparse

from bench import decision


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--iterations", type=int, default=300, help="decisions per size")
    args = parser.parse_args()
    decision.run(iterations=args.iterations)


if __name__ == "__main__":
    main()
