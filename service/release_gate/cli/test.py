"""``release-gate test [POLICY_DIR]``: the Rego unit tests on the embedded engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from release_gate.cli._common import settings_from
from release_gate.policy.rego_tests import run_rego_tests

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "test",
        help="run the Rego unit tests",
        description="Run every test_* rule of the test modules under POLICY_DIR on the embedded "
        "engine, print each result and the policies' line coverage. Exit 1 on any failure or "
        "when no test is found. The same tests run on a real OPA with `opa test POLICY_DIR`.",
    )
    parser.add_argument("policy_dir", nargs="?", type=Path, metavar="POLICY_DIR")
    parser.add_argument(
        "--policies",
        type=Path,
        metavar="DIR",
        help="same as POLICY_DIR (default: $RELEASE_GATE_POLICIES or policies/)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    directory = args.policy_dir or settings_from(args).policies
    return run_rego_tests(directory, out=sys.stdout)
