"""Contract section 5: the approval token, checked with PyJWT and the JWKS alone."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from release_gate.runtime import Runtime
from tests.helpers import COMMS, CS, LANE, OWNER
from tests.service._support import TOMAS_CS, Build, evaluate


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def okp_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, lexicographic, no whitespace."""
    required = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    text = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(text.encode()).digest())


def decode_with_jwks(client: TestClient, token: str, *, audience: str = LANE) -> dict[str, Any]:
    jwks = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        audience=audience,
        issuer="release-gate",
        options={"require": ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"]},
    )
    return claims


class TestTokenHeader:
    def test_header_is_eddsa_with_type_and_thumbprint_kid(
        self, client: TestClient, build: Build
    ) -> None:
        token = evaluate(client, build())["token"]
        header = jwt.get_unverified_header(token)
        assert header == {"alg": "EdDSA", "typ": "release-approval+jwt", "kid": header["kid"]}
        jwks = client.get("/.well-known/jwks.json").json()
        matching = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
        assert len(matching) == 1
        assert okp_thumbprint(matching[0]) == header["kid"]

    def test_token_verifies_with_pyjwt_using_only_the_jwks(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        claims = decode_with_jwks(client, evaluate(client, manifest)["token"])
        assert claims["packet_digest"] == manifest["packet"]["digest"]

    def test_jwks_may_be_cached_no_longer_than_a_verifier_refreshes(
        self, client: TestClient
    ) -> None:
        response = client.get("/.well-known/jwks.json")
        assert response.headers["content-type"].startswith("application/jwk-set+json")
        assert response.headers["cache-control"] == "public, max-age=30"

    def test_token_for_another_lane_is_refused_by_pyjwt(
        self, client: TestClient, build: Build
    ) -> None:
        token = evaluate(client, build())["token"]
        with pytest.raises(jwt.InvalidAudienceError, match="Audience"):
            decode_with_jwks(client, token, audience="other-lane")


class TestTokenClaims:
    def test_every_claim_has_its_contract_value(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        manifest = build()
        decision = evaluate(client, manifest)
        claims = decode_with_jwks(client, decision["token"])
        policy = client.get("/v1/policy").json()
        iat = int(now.timestamp())
        assert claims == {
            "iss": "release-gate",
            "aud": LANE,
            "sub": "PKT-TEST-1@3",
            "iat": iat,
            "nbf": iat,
            "exp": iat + 900,
            "jti": decision["decision_id"],
            "manifest_id": manifest["manifest_id"],
            "manifest_digest": decision["manifest_digest"],
            "packet_digest": manifest["packet"]["digest"],
            "signers": [{"subject": s, "role": r} for s, r, _, _ in (OWNER, COMMS, CS)],
            "accepted_objections": ["OBJ-1"],
            "scope": {
                "audience": manifest["audience"],
                "actions": manifest["requested_actions"],
            },
            "policy": {"revision": policy["revision"], "digest": policy["digest"]},
        }
        assert uuid.UUID(decision["decision_id"]).version == 4

    def test_signers_lists_every_valid_signature(self, client: TestClient, build: Build) -> None:
        claims = decode_with_jwks(
            client, evaluate(client, build(signers=(CS, OWNER, TOMAS_CS, COMMS)))["token"]
        )
        assert claims["signers"] == [
            {"subject": s, "role": r} for s, r, _, _ in (CS, OWNER, TOMAS_CS, COMMS)
        ]

    def test_accepted_objections_in_manifest_order(self, client: TestClient, build: Build) -> None:
        def ledger(m: dict[str, Any]) -> None:
            accepted = m["objections"][0]
            m["objections"] = [
                {**accepted, "id": "OBJ-9"},
                m["objections"][1],
                {**accepted, "id": "OBJ-3"},
                {**accepted, "id": "OBJ-5"},
            ]

        claims = decode_with_jwks(client, evaluate(client, build(ledger))["token"])
        assert claims["accepted_objections"] == ["OBJ-9", "OBJ-3", "OBJ-5"]

    def test_scope_echoes_requested_audience_and_actions(
        self, client: TestClient, build: Build
    ) -> None:
        def scope(m: dict[str, Any]) -> None:
            m["audience"] = ["support-leadership", "exec-review-board"]
            m["requested_actions"] = ["attach_to_review_agenda", "route_for_executive_review"]

        claims = decode_with_jwks(client, evaluate(client, build(scope))["token"])
        assert claims["scope"] == {
            "audience": ["support-leadership", "exec-review-board"],
            "actions": ["attach_to_review_agenda", "route_for_executive_review"],
        }

    def test_evaluated_at_is_the_issue_time(
        self, client: TestClient, build: Build, now: dt.datetime
    ) -> None:
        decision = evaluate(client, build())
        evaluated = dt.datetime.fromisoformat(decision["evaluated_at"])
        assert evaluated == now
        assert decode_with_jwks(client, decision["token"])["iat"] == int(now.timestamp())


class TestDecisionRecord:
    def test_allow_is_recorded_with_its_token_id(
        self, client: TestClient, build: Build, runtime: Runtime
    ) -> None:
        assert runtime.store is not None
        decision = evaluate(client, build())
        record = runtime.store.get(decision["decision_id"])
        assert record is not None
        assert record.decision.allow is True
        assert record.decision.token_id == decision["decision_id"]
        assert record.decision.manifest_digest == decision["manifest_digest"]
        assert record.decision.policy.digest == decision["policy"]["digest"]
        assert record.decision.token is None, "a token is never stored"

    def test_deny_is_recorded_without_a_token(
        self, client: TestClient, build: Build, runtime: Runtime
    ) -> None:
        assert runtime.store is not None
        decision = evaluate(client, build(signers=(OWNER,)))
        record = runtime.store.get(decision["decision_id"])
        assert record is not None
        assert record.decision.allow is False
        assert record.decision.token_id is None
        assert record.to_wire()["violations"] == decision["violations"]

    def test_each_evaluation_is_its_own_decision(self, client: TestClient, build: Build) -> None:
        manifest = build()
        first, second = evaluate(client, manifest), evaluate(client, manifest)
        assert first["decision_id"] != second["decision_id"]
        assert first["token"] != second["token"]
