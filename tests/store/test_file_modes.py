"""Issue 14: the development store is private, whatever the umask.

Reported: under umask 022, ``.release-gate/decisions.db`` (and ``-wal``,
``-shm``) was created 0644 in a 0755 directory, though it holds every manifest
as received; the signing key beside it was 0600. Now the state directory is
0700 and the store's files 0600; existing looser ones are tightened, with a
warning.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.keys.signing import write_private_key
from release_gate.runtime import build_runtime
from release_gate.store import Database
from tests.deploy._support import GateProcess, base_env, free_port, release_gate_argv
from tests.governance_data import demo_governance_doc, write_policies
from tests.helpers import DEFAULT_SIGNERS, base_manifest, sign

STORE_FILES = ("decisions.db", "decisions.db-wal", "decisions.db-shm")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _manifest() -> bytes:
    return json.dumps(sign(copy.deepcopy(base_manifest()), *DEFAULT_SIGNERS)).encode()


@contextmanager
def _evaluated(settings: Settings) -> Iterator[None]:
    """A gate in this process that has recorded one decision, still open (so the store's
    ``-wal`` and ``-shm`` files exist: SQLite removes them when the last connection closes)."""
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            answer = client.post(
                "/v1/evaluate", content=_manifest(), headers={"content-type": "application/json"}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["allow"] is True
            yield
    finally:
        runtime.close()


@pytest.mark.usefixtures("umask_022")
class TestNewState:
    def test_development_defaults_create_a_private_state(self, tmp_path: Path) -> None:
        """The dev key and the default SQLite store, as ``make run`` makes them."""
        state = tmp_path / ".release-gate"
        policies = write_policies(tmp_path / "policies", demo_governance_doc())
        with _evaluated(Settings(policies=policies, state_dir=state)):
            modes = {name: _mode(state / name) for name in STORE_FILES}
        assert _mode(state) == 0o700
        assert _mode(state / "dev-signing-key.pem") == 0o600
        assert modes == dict.fromkeys(STORE_FILES, 0o600)

    def test_a_real_serve_under_umask_022(self, tmp_path: Path) -> None:
        policies = write_policies(tmp_path / "policies", demo_governance_doc())
        port = free_port()
        gate = GateProcess(
            argv=release_gate_argv("serve", "--port", str(port)),
            env=base_env(RELEASE_GATE_POLICIES=str(policies), RELEASE_GATE_DRAIN_SECONDS="0"),
            port=port,
            log_dir=tmp_path / "logs",
            cwd=tmp_path,
            user=("sh", "-c", 'umask 022 && exec "$0" "$@"'),
        )
        with gate:
            answer = httpx.post(
                gate.url + "/v1/evaluate",
                content=_manifest(),
                headers={"content-type": "application/json"},
                timeout=20.0,
            )
            assert answer.status_code == 200, answer.text
            state = tmp_path / ".release-gate"
            modes = {name: _mode(state / name) for name in STORE_FILES}
        assert _mode(state) == 0o700
        assert modes == dict.fromkeys(STORE_FILES, 0o600)
        assert _mode(state / "dev-signing-key.pem") == 0o600

    def test_an_explicit_sqlite_url_gets_private_directories_and_file(self, tmp_path: Path) -> None:
        database = tmp_path / "made" / "here" / "decisions.db"
        db = Database(f"sqlite:///{database}")
        try:
            db.ping()
        finally:
            db.close()
        assert _mode(tmp_path / "made") == 0o700
        assert _mode(database.parent) == 0o700
        assert _mode(database) == 0o600

    def test_an_existing_directory_of_an_explicit_url_is_left_alone(self, tmp_path: Path) -> None:
        """It may be shared (``/tmp``): only the gate's own files are made private."""
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o755)
        db = Database(f"sqlite:///{shared / 'decisions.db'}")
        db.close()
        assert _mode(shared) == 0o755
        assert _mode(shared / "decisions.db") == 0o600

    def test_a_key_written_into_an_existing_directory_leaves_it_alone(self, tmp_path: Path) -> None:
        """``keygen --out ./gate.pem`` must not change the working directory."""
        work = tmp_path / "work"
        work.mkdir(mode=0o755)
        write_private_key(work / "gate.pem", Ed25519PrivateKey.generate(), force=False)
        write_private_key(work / "new" / "gate.pem", Ed25519PrivateKey.generate(), force=False)
        assert _mode(work) == 0o755
        assert _mode(work / "new") == 0o700
        assert _mode(work / "gate.pem") == 0o600


class TestExistingState:
    def test_loose_files_and_state_directory_are_tightened_with_a_warning(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A store made by an earlier version under umask 022, held open by another process
        (so its ``-wal`` and ``-shm`` files exist)."""
        state = tmp_path / ".release-gate"
        policies = write_policies(tmp_path / "policies", demo_governance_doc())
        settings = Settings(policies=policies, state_dir=state)
        with _evaluated(settings):
            pass
        os.chmod(state, 0o755)  # noqa: S103 - the loose mode an earlier version left
        os.chmod(state / "decisions.db", 0o644)
        other = sqlite3.connect(state / "decisions.db")
        try:
            other.execute("PRAGMA journal_mode=WAL")
            other.execute("SELECT count(*) FROM sqlite_master").fetchall()
            for name in STORE_FILES:
                os.chmod(state / name, 0o644)
            with caplog.at_level(logging.WARNING, logger="release_gate.ops.files"):
                with _evaluated(settings):
                    pass
            modes = {name: _mode(state / name) for name in STORE_FILES}
        finally:
            other.close()
        assert _mode(state) == 0o700
        assert modes == dict.fromkeys(STORE_FILES, 0o600)
        warned = " ".join(r.getMessage() for r in caplog.records)
        assert "mode 0755): changed to 0700" in warned
        assert "decisions.db-wal was open to its group or others (mode 0644)" in warned

    def test_a_private_state_is_not_touched(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        state = tmp_path / ".release-gate"
        policies = write_policies(tmp_path / "policies", demo_governance_doc())
        settings = Settings(policies=policies, state_dir=state)
        with _evaluated(settings):
            pass
        with (
            caplog.at_level(logging.WARNING, logger="release_gate.ops.files"),
            _evaluated(settings),
        ):
            pass
        assert not [r for r in caplog.records if r.name == "release_gate.ops.files"]
