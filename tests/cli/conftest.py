"""CLI fixtures: a private state directory, signing key and database for every test."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release_gate.cli import main
from release_gate.store import Store
from tests.databases import migrate

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def gate_env(
    tmp_path: Path, signing_key_file: Path, gate_policies: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """RELEASE_GATE_* pointing into ``tmp_path`` and ``gate_policies``; the cwd is ``tmp_path``."""
    env = {
        "RELEASE_GATE_STATE_DIR": str(tmp_path / "state"),
        "RELEASE_GATE_SIGNING_KEY_FILE": str(signing_key_file),
        "RELEASE_GATE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "RELEASE_GATE_POLICIES": str(gate_policies),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    migrate(env["RELEASE_GATE_DATABASE_URL"])
    return env


@pytest.fixture
def run(gate_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*argv)`` -> (exit code, stdout), in-process."""

    def invoke(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().out

    return invoke


@pytest.fixture
def recorded(gate_env: dict[str, str]) -> Callable[[], int]:
    """How many decisions the CLI's store holds."""

    def count() -> int:
        store = Store(gate_env["RELEASE_GATE_DATABASE_URL"])
        try:
            return store.count()
        finally:
            store.close()

    return count


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
