"""bench/impact.py runs end to end on a small store (the figures are taken by hand)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.deploy._support import base_env
from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def test_the_impact_benchmark_seeds_replays_and_prints_its_row() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.impact", "--decisions", "40", "--runs", "1", "--jobs", "2"],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("| sqlite | 40 |")]
    assert row.split("|")[7].strip().isdigit()  # allow -> deny, counted by the real command
