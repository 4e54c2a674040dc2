"""The signed revocation list, read by the client; offline ``token.revoked``."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.runtime import Runtime
from release_gate_client import (
    GateUnavailable,
    RevocationList,
    RevocationListError,
    TokenRevoked,
    load_jwks,
    verify_token,
)
from tests.helpers import LANE, ManifestFactory, post_json
from tests.store._flow import evaluate, revision


def _list(gate: TestClient, issuer: str = "release-gate") -> RevocationList:
    response = gate.get("/v1/revocations")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwt")
    keys = load_jwks(gate.get("/.well-known/jwks.json").json())
    return RevocationList.from_jws(response.text, keys=keys, issuer=issuer)


def _verify(gate: TestClient, decision: dict[str, Any], revocations: RevocationList) -> Any:
    keys = load_jwks(gate.get("/.well-known/jwks.json").json())
    return verify_token(
        decision["token"],
        keys=keys,
        issuer="release-gate",
        audience=LANE,
        packet_digest=decision["packet"]["digest"],
        revocations=revocations,
    )


class TestRevocationList:
    def test_superseded_token_is_listed_and_refused_offline(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        old = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        assert _verify(gate, old, _list(gate)).jti == old["decision_id"]
        new = evaluate(gate, revision(make_manifest, 4, supersedes=3))
        revocations = _list(gate)
        assert old["decision_id"] in revocations.revoked
        with pytest.raises(TokenRevoked, match="revoked"):
            _verify(gate, old, revocations)
        assert _verify(gate, new, revocations).jti == new["decision_id"]

    def test_active_hold_is_listed_and_refuses_its_revision(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        decision = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        post_json(gate, "/v1/holds", {"packet_id": "PKT-TEST-1", "revision": 3, "reason": "x"})
        revocations = _list(gate)
        assert [h.revision for h in revocations.holds] == [3]
        with pytest.raises(TokenRevoked):
            _verify(gate, decision, revocations)

    def test_document_is_signed_fresh_and_anchors_the_chain(
        self, gate: TestClient, store_runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        evaluate(gate, revision(make_manifest, 3, supersedes=2))
        revocations = _list(gate)
        now = int(time.time())
        assert revocations.issued_at <= now < revocations.next_update
        assert revocations.chain_head["seq"] == 1
        assert store_runtime.store is not None
        assert revocations.chain_head["hash"] == store_runtime.store.decisions.head().hash

    def test_wrong_issuer_or_tampered_document_is_refused(self, gate: TestClient) -> None:
        with pytest.raises(RevocationListError, match="issuer"):
            _list(gate, issuer="someone-else")
        document = gate.get("/v1/revocations").text
        header, payload, signature = document.split(".")
        keys = load_jwks(gate.get("/.well-known/jwks.json").json())
        forged = f"{header}.{payload[:-2]}AA.{signature}"
        with pytest.raises(RevocationListError, match="does not verify"):
            RevocationList.from_jws(forged, keys=keys, issuer="release-gate")

    def test_expired_list_fails_closed(
        self, gate: TestClient, make_manifest: ManifestFactory
    ) -> None:
        decision = evaluate(gate, revision(make_manifest, 3, supersedes=2))
        revocations = _list(gate)
        keys = load_jwks(gate.get("/.well-known/jwks.json").json())
        later = revocations.next_update + 61
        with pytest.raises(GateUnavailable, match="expired"):
            revocations.check(
                verify_token(
                    decision["token"],
                    keys=keys,
                    issuer="release-gate",
                    audience=LANE,
                    packet_digest=decision["packet"]["digest"],
                ),
                now=later,
            )
