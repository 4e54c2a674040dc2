"""Impact replay: recorded decisions decided again under a candidate policy, offline.

``release-gate policy impact --candidate DIR`` (contract section 8; the command
in :mod:`release_gate.cli.policy`). :mod:`.run` replays, :mod:`.report` counts.
"""

from __future__ import annotations

from release_gate.impact.report import MAX_EXAMPLES, ImpactReport
from release_gate.impact.run import ImpactError, ReplaySetup, run_impact

__all__ = ["MAX_EXAMPLES", "ImpactError", "ImpactReport", "ReplaySetup", "run_impact"]
