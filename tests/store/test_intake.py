"""Single-use intake: exactly one of concurrent presentations wins; replays refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from release_gate_client import TokenReplayed, TokenRevoked, load_jwks
from release_gate_client.intake import IntakeVerifier, JtiStore
from release_gate_client.revocations import RevocationList
from tests.helpers import LANE, ManifestFactory, post_json
from tests.store._flow import evaluate, revision


@pytest.fixture
def jti_store(any_db_url: str) -> Iterator[JtiStore]:
    store = JtiStore(any_db_url)
    store.create_schema()
    yield store
    store.close()


def _intake(gate: TestClient, store: JtiStore, **extra: object) -> IntakeVerifier:
    keys: dict[str, Ed25519PublicKey] = dict(load_jwks(gate.get("/.well-known/jwks.json").json()))
    return IntakeVerifier(store=store, keys=keys, issuer="release-gate", audience=LANE, **extra)  # type: ignore[arg-type]


class TestIntake:
    def test_second_presentation_is_replayed(
        self, gate: TestClient, jti_store: JtiStore, make_manifest: ManifestFactory
    ) -> None:
        decision = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        intake = _intake(gate, jti_store)
        digest = decision["packet"]["digest"]
        assert intake.accept(decision["token"], packet_digest=digest).jti == decision["decision_id"]
        with pytest.raises(TokenReplayed, match="already presented"):
            intake.accept(decision["token"], packet_digest=digest)

    def test_exactly_one_concurrent_presentation_wins(
        self, gate: TestClient, jti_store: JtiStore, make_manifest: ManifestFactory
    ) -> None:
        decision = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        workers = [_intake(gate, jti_store) for _ in range(8)]
        barrier = threading.Barrier(len(workers), timeout=30)
        outcomes: list[str] = []

        def present(intake: IntakeVerifier) -> None:
            barrier.wait()
            try:
                intake.accept(decision["token"], packet_digest=decision["packet"]["digest"])
                outcomes.append("accepted")
            except TokenReplayed:
                outcomes.append("replayed")

        threads = [threading.Thread(target=present, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a presentation still waits after 30 s"
        assert sorted(outcomes) == ["accepted"] + ["replayed"] * 7

    def test_revoked_token_is_refused_before_it_is_claimed(
        self, gate: TestClient, jti_store: JtiStore, make_manifest: ManifestFactory
    ) -> None:
        decision = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        post_json(gate, "/v1/holds", {"packet_id": "PKT-TEST-1", "revision": 3, "reason": "x"})
        keys = load_jwks(gate.get("/.well-known/jwks.json").json())
        revocations = RevocationList.from_jws(
            gate.get("/v1/revocations").text, keys=keys, issuer="release-gate"
        )
        intake = _intake(gate, jti_store, revocations=revocations)
        with pytest.raises(TokenRevoked):
            intake.accept(decision["token"], packet_digest=decision["packet"]["digest"])

    def test_entries_expire_after_exp(self, jti_store: JtiStore) -> None:
        jti_store.claim("a", exp=1_000, now=900)
        jti_store.claim("b", exp=5_000, now=900)
        assert jti_store.purge(now=1_000 + 61) == 1
        jti_store.claim("a", exp=1_000, now=1_100)
        with pytest.raises(TokenReplayed):
            jti_store.claim("b", exp=5_000, now=1_100)
