"""``evaluate --now`` sees a staged rollout as the gate would have decided at that instant."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Run, write_json
from tests.helpers import ManifestFactory
from tests.levels import EFFECTIVE_ON, EFFECTIVE_ON_NS, write_staged_policies

EFFECTIVE = dt.datetime.fromtimestamp(EFFECTIVE_ON_NS // 1_000_000_000, dt.UTC)


def _short_rationale(manifest: dict[str, Any]) -> None:
    manifest["objections"][0]["residual_acceptance"]["rationale"] = "Fine."


@pytest.fixture
def staged(run: Run, tmp_path: Path, make_manifest: ManifestFactory) -> Callable[[str], Any]:
    """``staged(now)``: (exit code, decision) of a dry run on the staged bundle at ``now``."""
    policies = write_staged_policies(tmp_path / "staged-policies")
    moment = EFFECTIVE - dt.timedelta(hours=1)
    manifest = write_json(tmp_path / "m.json", make_manifest(_short_rationale, now=moment))

    def dry_run(now: str) -> tuple[int, dict[str, Any]]:
        code, out = run("evaluate", str(manifest), "--now", now, "--policies", str(policies))
        return code, json.loads(out)

    return dry_run


class TestStagedRollout:
    @pytest.mark.parametrize("now", ["2026-11-26T08:59:59.999999Z", "2026-11-26T09:59:59+01:00"])
    def test_before_effective_on_the_finding_is_a_warning(
        self, staged: Callable[[str], Any], recorded: Callable[[], int], now: str
    ) -> None:
        code, decision = staged(now)
        assert code == 0
        assert (decision["allow"], decision["violations"], decision["token"]) == (True, [], None)
        (warning,) = decision["warnings"]
        assert warning["code"] == "objections.rationale_too_short"
        assert warning["title"] == "Residual acceptance without a stated reason"
        assert warning["solution"].startswith("Have the release owner say why")
        assert recorded() == 0

    @pytest.mark.parametrize("now", [EFFECTIVE_ON, "2026-11-26T09:00:00Z", "2026-11-26T09:30:00Z"])
    def test_from_effective_on_the_finding_denies(
        self, staged: Callable[[str], Any], now: str
    ) -> None:
        code, decision = staged(now)
        assert code == 1
        assert decision["allow"] is False
        assert [(v["code"], v["path"]) for v in decision["violations"]] == [
            ("objections.rationale_too_short", "/objections/0")
        ]
        assert set(decision["violations"][0]) == {"code", "message", "path", "title", "solution"}
        assert decision["warnings"] == []
