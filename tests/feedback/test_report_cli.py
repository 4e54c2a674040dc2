"""``release-gate report lane LANE``: the HTTP report's figures, offline from the store."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from release_gate.cli import main
from tests.feedback._world import LANE, World, manifest


def _story(world: World) -> dict[str, Any]:
    world.evaluate(manifest(world.trust, revision=1, signers=("owner",)))
    approved = world.approve(manifest(world.trust, revision=1))
    body = {"token_id": approved["decision_id"], "outcome": "returned", "findings": ["other"]}
    assert world.outcome(body).status_code == 201
    return approved


def _args(world: World, *extra: str) -> list[str]:
    return [
        "report",
        "lane",
        *extra,
        "--database-url",
        world.runtime.settings.effective_database_url,
        "--policies",
        str(world.trust.policies),
    ]


class TestReportLane:
    def test_json_is_the_http_report(
        self, any_world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _story(any_world)
        served = any_world.report()
        window = ("--since", served["since"], "--until", served["until"])
        assert main(_args(any_world, LANE, *window, "--format", "json")) == 0
        assert json.loads(capsys.readouterr().out) == served

    def test_text_is_a_table_for_people(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _story(world)
        assert main(_args(world, LANE)) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"Lane {LANE}: from ")
        lines = {re.split(r"\s{2,}", line.strip())[0]: line for line in out.splitlines() if line}
        assert lines["Decisions"].endswith("1 allowed, 1 denied")
        assert lines["Packets first approved"].endswith(" 1")
        assert lines["median denials before it"].endswith(" 1")
        assert lines["acceptance rate"].endswith(" 0.0%")
        assert "signers.missing_role" in out
        assert "  other" in out

    def test_an_empty_lane_prints_dashes(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(_args(world, LANE)) == 0
        out = capsys.readouterr().out
        assert "0 allowed, 0 denied" in out
        assert "acceptance rate" in out
        assert out.count(" -\n") == 4  # median, p90, median denials, acceptance rate

    @pytest.mark.parametrize(
        ("extra", "detail"),
        [
            (("no-such-lane",), "not defined in the governance data"),
            ((LANE, "--since", "last week"), "since is not an RFC 3339 timestamp"),
        ],
    )
    def test_refusals_exit_2_with_a_problem(
        self, world: World, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], detail: str
    ) -> None:
        assert main(_args(world, *extra)) == 2
        assert detail in json.loads(capsys.readouterr().out)["detail"]

    def test_an_unmigrated_store_exits_2(
        self, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        args = ["report", "lane", LANE, "--database-url", url]
        assert main([*args, "--policies", str(world.trust.policies)]) == 2
        assert "release-gate db upgrade" in json.loads(capsys.readouterr().out)["detail"]

    def test_the_installed_command(self, world: World) -> None:
        _story(world)
        command = Path(sys.executable).with_name("release-gate")
        done = subprocess.run(
            [str(command), *_args(world, LANE, "--format", "json")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["intake"]["returned"] == 1
