"""The client side of issue 10, against the real gate over real HTTP (uvicorn, and ASGI).

An intake lane verifies a token once (``IntakeVerifier``), reviews the packet and
reports what it decided (``report_outcome``); an evidence change shows through
the client's revocation list as ``token.revoked`` (reason ``evidence.changed``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from release_gate.store.schema import IntakeOutcomeRow
from release_gate_client import (
    AsyncGateClient,
    GateClient,
    GateHTTPError,
    OutcomeReport,
    RevocationFetcher,
    TokenRevoked,
)
from release_gate_client.intake import IntakeVerifier, JtiStore
from tests.deploy._support import ThreadedServer
from tests.feedback._world import LANE, World, digest, event, manifest

ISSUER = "release-gate"


@dataclass
class Lane:
    """An intake lane's tools, pointed at the gate at ``url``."""

    url: str
    intake: IntakeVerifier
    gate: GateClient
    revocations: RevocationFetcher


@pytest.fixture
def lane(world: World, tmp_path: Path) -> Iterator[Lane]:
    with ThreadedServer(world.client.app) as server:
        gate = GateClient(server.url, api_key=world.keys.keys["intake"])
        revocations = RevocationFetcher(
            server.url + "/v1/revocations",
            keys=world.runtime.verification_keys(),
            issuer=ISSUER,
            api_key=world.keys.keys["verifier"],
        )
        store = JtiStore(f"sqlite:///{tmp_path / 'intake.db'}")
        store.create_schema()
        intake = IntakeVerifier(
            store=store,
            keys=world.runtime.verification_keys(),
            issuer=ISSUER,
            audience=LANE,
            revocations=revocations,
            gate=gate,
        )
        try:
            yield Lane(server.url, intake, gate, revocations)
        finally:
            gate.close()
            revocations.close()
            store.close()


class TestReportOutcome:
    def test_the_intake_lane_accepts_then_reports(self, world: World, lane: Lane) -> None:
        approved = world.approve(manifest(world.trust, revision=1))
        claims = lane.intake.accept(approved["token"], packet_digest=approved["packet"]["digest"])
        report = lane.intake.report_outcome(
            claims, outcome="returned", findings=["stale_evidence"], note="timeline is old"
        )
        assert isinstance(report, OutcomeReport)
        assert report.created is True
        again = lane.intake.report_outcome(
            claims.jti, outcome="returned", findings=("stale_evidence",), note="timeline is old"
        )
        assert again == OutcomeReport(report.outcome_id, created=False)
        with pytest.raises(GateHTTPError, match="409") as conflict:
            lane.gate.report_outcome(claims.jti, outcome="accepted")
        assert conflict.value.status == 409
        assert world.count(IntakeOutcomeRow) == 1
        assert world.report()["intake"]["findings"] == {"stale_evidence": 1}

    def test_refusals_are_gate_http_errors(self, world: World, lane: Lane) -> None:
        approved = world.approve(manifest(world.trust, revision=1))
        with pytest.raises(GateHTTPError) as unknown:
            lane.gate.report_outcome("00000000-0000-4000-8000-000000000000", outcome="accepted")
        assert unknown.value.status == 404
        with pytest.raises(GateHTTPError) as bad:
            lane.gate.report_outcome(approved["decision_id"], outcome="returned")
        assert bad.value.status == 422
        assert bad.value.problem is not None
        assert bad.value.problem.errors[0].pointer == "/findings"
        with GateClient(lane.url, api_key=world.keys.keys["verifier"]) as verifier:
            with pytest.raises(GateHTTPError) as forbidden:
                verifier.report_outcome(approved["decision_id"], outcome="accepted")
        assert forbidden.value.status == 403
        assert world.count(IntakeOutcomeRow) == 0

    def test_findings_must_be_a_list_not_a_string(self, lane: Lane) -> None:
        with pytest.raises(TypeError, match="list of findings"):
            lane.gate.report_outcome("t", outcome="returned", findings="stale_evidence")

    def test_an_intake_verifier_without_a_gate_cannot_report(self, tmp_path: Path) -> None:
        verifier = IntakeVerifier(
            store=JtiStore(f"sqlite:///{tmp_path / 'j.db'}"), keys={}, issuer=ISSUER, audience=LANE
        )
        with pytest.raises(ValueError, match="needs IntakeVerifier"):
            verifier.report_outcome("t", outcome="accepted")

    def test_the_async_client_reports_too(self, world: World) -> None:
        approved = world.approve(manifest(world.trust, revision=1))

        async def send() -> OutcomeReport:
            transport = httpx.ASGITransport(app=world.client.app)
            async with AsyncGateClient(
                "http://gate", api_key=world.keys.keys["intake"], transport=transport
            ) as gate:
                return await gate.report_outcome(approved["decision_id"], outcome="accepted")

        report = asyncio.run(asyncio.wait_for(send(), timeout=30))
        assert report.created is True
        assert world.report()["intake"]["accepted"] == 1


class TestEvidenceChangeOffline:
    def test_the_revocation_list_refuses_the_token_with_its_reason(
        self, world: World, lane: Lane
    ) -> None:
        approved = world.approve(manifest(world.trust, revision=1))
        assert world.evidence(event(digest("corrected"))).status_code == 201
        with pytest.raises(TokenRevoked, match=r"evidence\.changed"):
            lane.intake.accept(approved["token"], packet_digest=approved["packet"]["digest"])
        listed = lane.revocations.current()
        assert listed.reasons == {approved["decision_id"]: "evidence.changed"}
