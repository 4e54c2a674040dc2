"""Tamper evidence: the chain verifies, and any edit, deletion or reorder is named."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from release_gate.cli import main
from release_gate.runtime import Runtime
from release_gate.store import ChainReport, Store
from tests.helpers import ManifestFactory
from tests.store._flow import evaluate, revision

ZEROS = "0" * 64


def _three(gate: TestClient, make_manifest: ManifestFactory) -> None:
    for number in (3, 4, 5):
        evaluate(gate, revision(make_manifest, number, supersedes=number - 1))


def _sql(url: str, statement: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def _audit(url: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["audit", "verify", "--database-url", url, *extra])
    return code, json.loads(capsys.readouterr().out)


class TestAuditVerify:
    def test_intact_chain_exits_zero(
        self,
        gate: TestClient,
        make_manifest: ManifestFactory,
        any_db_url: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        _three(gate, make_manifest)
        code, report = _audit(any_db_url, capsys)
        assert code == 0
        assert report["ok"] is True
        assert report["entries"] == 3

    def test_a_long_walk_reports_progress_on_stderr(
        self,
        gate: TestClient,
        make_manifest: ManifestFactory,
        any_db_url: str,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("release_gate.store.chain.PROGRESS_EVERY", 1)
        _three(gate, make_manifest)
        code = main(["audit", "verify", "--database-url", any_db_url])
        captured = capsys.readouterr()
        assert code == 0
        assert json.loads(captured.out)["entries"] == 3
        assert "audit verify: 3 of 3 entries checked (100%)" in captured.err

    def test_edited_record_is_the_first_broken_link(
        self,
        gate: TestClient,
        make_manifest: ManifestFactory,
        any_db_url: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        _three(gate, make_manifest)
        _sql(any_db_url, "UPDATE decisions SET allow = false, token_id = NULL WHERE seq = 2")
        code, report = _audit(any_db_url, capsys)
        assert code == 1
        assert report["first_broken_link"]["seq"] == 2
        assert "altered" in report["first_broken_link"]["problem"]

    def test_edited_manifest_text_is_the_first_broken_link(
        self,
        gate: TestClient,
        make_manifest: ManifestFactory,
        any_db_url: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        _three(gate, make_manifest)
        _sql(any_db_url, "UPDATE decisions SET manifest = manifest || ' ' WHERE seq = 3")
        code, report = _audit(any_db_url, capsys)
        assert code == 1
        assert report["first_broken_link"]["seq"] == 3
        assert "altered" in report["first_broken_link"]["problem"]

    def test_deleted_record_is_reported_missing(
        self,
        gate: TestClient,
        make_manifest: ManifestFactory,
        any_db_url: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        _three(gate, make_manifest)
        _sql(any_db_url, "DELETE FROM decisions WHERE seq = 2")
        code, report = _audit(any_db_url, capsys)
        assert code == 1
        assert report["first_broken_link"]["seq"] == 3
        assert "missing" in report["first_broken_link"]["problem"]

    def test_truncated_tail_is_caught_by_the_head(
        self,
        gate: TestClient,
        make_manifest: ManifestFactory,
        any_db_url: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        _three(gate, make_manifest)
        _sql(any_db_url, "DELETE FROM decisions WHERE seq = 3")
        code, report = _audit(any_db_url, capsys)
        assert code == 1
        assert "head" in report["first_broken_link"]["problem"]

    def test_rewritten_chain_fails_the_anchor(
        self,
        gate: TestClient,
        make_manifest: ManifestFactory,
        any_db_url: str,
        store_runtime: Runtime,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        _three(gate, make_manifest)
        head = gate.get("/v1/decisions/head").json()
        anchor = f"{head['seq']}:{head['hash']}"
        assert _audit(any_db_url, capsys, "--expect-head", anchor)[0] == 0
        _sql(any_db_url, f"UPDATE decisions SET record_hash = '{ZEROS}' WHERE seq = 3")  # noqa: S608
        _sql(any_db_url, f"UPDATE chain_head SET hash = '{ZEROS}'")  # noqa: S608
        code, report = _audit(any_db_url, capsys, "--expect-head", anchor)
        assert code == 1
        assert report["anchor"]["ok"] is False

    def test_unreadable_store_exits_two(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        assert main(["audit", "verify", "--database-url", url]) == 2
        assert "status" in json.loads(capsys.readouterr().out)


class TestVerifyWhileWriting:
    def test_verify_is_right_while_two_replicas_append(self, any_db_url: str) -> None:
        """Head and entries are read in one snapshot: a walk that overlaps commits never
        reports "the chain ends at seq N but the head says N-1" on an untouched chain."""
        replicas = [Store(any_db_url), Store(any_db_url)]
        stop = threading.Event()
        placed = [0, 0]

        def write(index: int) -> None:
            store = replicas[index]
            while not stop.is_set():
                store.holds.place(
                    packet_id=f"PKT-{index}-{placed[index]}",
                    revision=1,
                    lane=None,
                    reason="busy",
                    actor="writer",
                    now_ns=time.time_ns(),
                )
                placed[index] += 1

        writers = [threading.Thread(target=write, args=(i,)) for i in range(2)]
        for writer in writers:
            writer.start()
        auditor = Store(any_db_url)
        try:
            deadline = time.monotonic() + 60
            reports: list[ChainReport] = []
            while len(reports) < 12 and time.monotonic() < deadline:
                reports.append(auditor.verify_chain())
        finally:
            stop.set()
            for writer in writers:
                writer.join(timeout=20)
            for store in (*replicas, auditor):
                store.close()
        assert min(placed) > 0, "both replicas wrote during the walks"
        assert len(reports) == 12
        assert [r.problem for r in reports if not r.ok] == []
